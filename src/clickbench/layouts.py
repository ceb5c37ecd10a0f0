"""Dataset layouts: find the samples of every supported layout in its folders.

Layouts (``dataset.layout`` in the config; ``root`` is ``dataset.root``; how each reads
its masks is in :mod:`clickbench.loading`):

``fish``
    Kaggle "A Large Scale Fish Dataset": ``<root>/<Class>/<Class>/NNNNN.png`` with masks
    ``<root>/<Class>/<Class> GT/NNNNN.png``, paired by file stem. The download unpacks as
    ``Fish_Dataset/Fish_Dataset/<Class>/...``; ``root`` may be the download folder, the outer
    or the inner ``Fish_Dataset`` (detected by :func:`fish_class_root`). The mask-less
    originals in ``NA_Fish_Dataset/<Class>/`` are found by :func:`clickbench.native.find_native`.
``grabcut``
    RITM's GrabCut: ``<root>/data_GT/<name>.{jpg,JPG,bmp,png}``, masks
    ``<root>/boundary_GT/<name>.bmp``: 255 object, 0 background, 128 ignore band.
``berkeley``
    RITM reads Berkeley with the GrabCut reader from ``images/`` + ``masks/``; ``img/`` + ``gt/``
    is accepted too. Same mask values as GrabCut.
``davis``, ``coco_mval``
    RITM's ``DavisDataset``: ``<root>/img/*.jpg``, ``<root>/gt/*.png``.
``generic``
    ``<root>/<images_dir>/<stem>.{png,jpg,jpeg,bmp,tif,tiff}`` with masks
    ``<root>/<masks_dir>/<stem><mask_suffix>``. One class named after the dataset, unless
    ``images_dir`` holds sub-folders: then each sub-folder is a class and its masks are in
    ``<masks_dir>/<Class>/``. Masks are binary like the fish masks (0/255, or 0/1).
``instances``, ``sbd``, ``pascal_voc``, ``coco_json``
    one mask (or annotation file) holds several objects; each object is a sample
    (:mod:`clickbench.instances`).

Single-class layouts name their class after the dataset (``dataset.name``).

Discovery returns samples sorted by ``(class, image_id)``, never in file-system order. Files
that are not part of the layout (``README.txt``, ``license.txt``, ``.DS_Store``, a mask
without an image...) are not used but are listed in :attr:`Discovery.stray` so that a caller
can report them; :func:`discover` logs them as a warning.
"""

from __future__ import annotations

import logging
from pathlib import Path

from clickbench import config
from clickbench.errors import BadInputError
from clickbench.samples import Discovery, Sample, Stray, check_slugs

log = logging.getLogger(__name__)

#: layouts with one object per mask file
SINGLE_OBJECT_LAYOUTS = ("fish", "grabcut", "davis", "berkeley", "coco_mval", "generic")
#: layouts where one mask file (or annotation file) holds several objects, one sample each
INSTANCE_LAYOUTS = ("instances", "sbd", "pascal_voc", "coco_json")
LAYOUTS = SINGLE_OBJECT_LAYOUTS + INSTANCE_LAYOUTS
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
FISH_DIR = "Fish_Dataset"
NATIVE_DIR = "NA_Fish_Dataset"
FISH_GT_SUFFIX = " GT"


def fish_dirs(class_root: str | Path, cls: str) -> tuple[Path, Path]:
    """The fish layout's image and mask folders of class ``cls``:
    ``<class_root>/<cls>/<cls>/`` and ``<class_root>/<cls>/<cls> GT/`` (the one place that
    spells them: the reader, the demo generator and the workflow's demo plan use it)."""
    cdir = Path(class_root) / cls
    return cdir / cls, cdir / f"{cls}{FISH_GT_SUFFIX}"


def _is_image_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS and not _hidden(path)


def _hidden(path: Path) -> bool:
    return path.name.startswith(".")


def _stray_reason(path: Path, expected: str) -> str:
    if _hidden(path):
        return "hidden file" if path.is_file() else "hidden folder"
    if path.is_dir():
        return f"folder not part of the layout (expected {expected})"
    return f"not part of the layout (expected {expected})"


def _list_images(folder: Path, expected: str, stray: list[Stray]) -> dict[str, Path]:
    """Image files of ``folder`` by stem; everything else goes to ``stray``.

    Two files with one stem (``a.png`` and ``a.jpg``) are ambiguous: an error naming both.
    """
    by_stem: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if not _is_image_file(path):
            stray.append(Stray(path, _stray_reason(path, expected)))
            continue
        if path.stem in by_stem:
            raise BadInputError(
                path,
                f"two files share the name {path.stem!r} ({by_stem[path.stem].name} and "
                f"{path.name}); images and masks are paired by name, so keep one",
            )
        by_stem[path.stem] = path
    return by_stem


def _pair(
    cls: str,
    images: dict[str, Path],
    masks: dict[str, Path],
    expected_mask,
    stray: list[Stray],
) -> list[Sample]:
    """Samples for ``images``; masks with no image go to ``stray``."""
    samples = [
        Sample(cls, stem, path, masks.get(stem), expected_mask(stem, path))
        for stem, path in images.items()
    ]
    for stem, path in masks.items():
        if stem not in images:
            stray.append(Stray(path, f"mask without an image (no image named {stem!r})"))
    return samples


def _require_dir(path: Path, what: str) -> None:
    if not path.is_dir():
        problem = "is a file, not a folder" if path.exists() else "folder not found"
        raise BadInputError(path, f"{what} {problem}")


def _is_fish_class_dir(path: Path) -> bool:
    return (
        path.is_dir()
        and not _hidden(path)
        and path.name not in (FISH_DIR, NATIVE_DIR)
        and (path / path.name).is_dir()
    )


def fish_class_root(root: str | Path) -> Path:
    """The folder that holds the fish class folders, given any accepted ``root``.

    ``root`` may be the inner ``Fish_Dataset/Fish_Dataset``, the outer ``Fish_Dataset`` or the
    folder the download was unpacked in; the first of ``root``, ``root/Fish_Dataset``,
    ``root/Fish_Dataset/Fish_Dataset`` holding a ``<Class>/<Class>/`` folder is returned.
    """
    root = Path(root)
    _require_dir(root, "dataset")
    for cand in (root, root / FISH_DIR, root / FISH_DIR / FISH_DIR):
        if cand.is_dir() and any(_is_fish_class_dir(p) for p in cand.iterdir()):
            return cand
    raise BadInputError(
        root,
        "no fish class folders found: expected <root>/<Class>/<Class>/NNNNN.png with masks in "
        f"<root>/<Class>/<Class>{FISH_GT_SUFFIX}/ (root may be Fish_Dataset/ or "
        "Fish_Dataset/Fish_Dataset/)",
    )


def _scan_fish(root: Path, stray: list[Stray]) -> list[Sample]:
    class_root = fish_class_root(root)
    # files beside the Fish_Dataset nesting (README, license) are reported too
    level = root
    while level != class_root:
        nxt = level / FISH_DIR
        for path in sorted(level.iterdir()):
            if path.name not in (FISH_DIR, NATIVE_DIR):
                stray.append(Stray(path, _stray_reason(path, f"{FISH_DIR}/")))
        level = nxt
    samples: list[Sample] = []
    for cdir in sorted(class_root.iterdir()):
        if cdir.name == NATIVE_DIR and cdir.is_dir():
            continue  # read by find_native
        if not _is_fish_class_dir(cdir):
            stray.append(Stray(cdir, _stray_reason(cdir, "<Class>/<Class>/ folders")))
            continue
        cls = cdir.name
        img_dir, gt_dir = fish_dirs(class_root, cls)
        for path in sorted(cdir.iterdir()):
            if path not in (img_dir, gt_dir):
                stray.append(Stray(path, _stray_reason(path, f"{cls}/ and {gt_dir.name}/")))
        images = _list_images(img_dir, "image files", stray)
        masks = _list_images(gt_dir, "mask files", stray) if gt_dir.is_dir() else {}
        samples += _pair(cls, images, masks, lambda stem, p, d=gt_dir: d / p.name, stray)
    return samples


def _scan_single(
    root: Path, cls: str, img_dir: Path, mask_dir: Path, mask_ext: str, stray: list[Stray]
) -> list[Sample]:
    _require_dir(img_dir, "image")
    _require_dir(mask_dir, "mask")
    for path in sorted(root.iterdir()):
        if path not in (img_dir, mask_dir):
            stray.append(Stray(path, _stray_reason(path, f"{img_dir.name}/ and {mask_dir.name}/")))
    images = _list_images(img_dir, "image files", stray)
    masks = _list_images(mask_dir, "mask files", stray)
    return _pair(cls, images, masks, lambda stem, p: mask_dir / f"{stem}{mask_ext}", stray)


def _scan_benchmark(root: Path, layout: str, name: str, stray: list[Stray]) -> list[Sample]:
    _require_dir(root, "dataset")
    if layout == "grabcut":
        dirs, ext = ("data_GT", "boundary_GT"), ".bmp"
    elif layout == "berkeley":
        dirs, ext = ("images", "masks"), ".png"
        if not (root / "images").is_dir() and (root / "img").is_dir():
            dirs = ("img", "gt")
    else:  # davis, coco_mval
        dirs, ext = ("img", "gt"), ".png"
    return _scan_single(root, name, root / dirs[0], root / dirs[1], ext, stray)


def _scan_generic(root: Path, cfg: dict, stray: list[Stray]) -> list[Sample]:
    _require_dir(root, "dataset")
    cfg = config.with_defaults("dataset", cfg)
    img_dir = root / cfg["images_dir"]
    mask_dir = root / cfg["masks_dir"]
    suffix = cfg["mask_suffix"]
    _require_dir(img_dir, "image")
    _require_dir(mask_dir, "mask")
    class_dirs = [p for p in sorted(img_dir.iterdir()) if p.is_dir() and not _hidden(p)]
    if class_dirs:
        groups = [(p.name, p, mask_dir / p.name) for p in class_dirs]
        for path in sorted(img_dir.iterdir()):
            if path not in class_dirs:
                stray.append(Stray(path, _stray_reason(path, "class folders only")))
    else:
        groups = [(cfg["name"], img_dir, mask_dir)]
    samples: list[Sample] = []
    for cls, idir, mdir in groups:
        files = [p for p in sorted(idir.iterdir()) if p.is_file() and not _hidden(p)]
        mask_files = (
            [p for p in sorted(mdir.iterdir()) if p.is_file() and not _hidden(p)]
            if mdir.is_dir()
            else []
        )
        if idir == mdir:  # masks beside their images: a_mask.png is a mask when a.* exists
            stems = {p.stem for p in files}
            mask_files = [
                p
                for p in files
                if p.name.endswith(suffix) and p.name[: -len(suffix)] in stems - {p.stem}
            ]
            files = [p for p in files if p not in mask_files]
        for path in sorted(idir.iterdir()):
            if _hidden(path) or (path.is_dir() and path not in (mdir,)):
                stray.append(Stray(path, _stray_reason(path, "image files")))
        images: dict[str, Path] = {}
        for path in files:
            if path.suffix.lower() not in IMAGE_EXTENSIONS:
                stray.append(Stray(path, _stray_reason(path, "image files")))
            elif path.stem in images:
                raise BadInputError(
                    path,
                    f"two files share the name {path.stem!r} ({images[path.stem].name} and "
                    f"{path.name}); images and masks are paired by name, so keep one",
                )
            else:
                images[path.stem] = path
        if mdir.is_dir() and mdir != idir:
            stray += [Stray(p, "hidden file") for p in sorted(mdir.iterdir()) if _hidden(p)]
        by_name = {p.name: p for p in mask_files}
        masks = {s: by_name[f"{s}{suffix}"] for s in images if f"{s}{suffix}" in by_name}
        used = {p.name for p in masks.values()}
        for name, path in by_name.items():
            if name not in used:
                stray.append(Stray(path, f"mask without an image (no image for a {suffix!r} mask)"))
        samples += _pair(cls, images, masks, lambda stem, p, d=mdir: d / f"{stem}{suffix}", [])
    return samples


def scan(dataset_cfg: dict, cache_dir: str | Path | None = None) -> Discovery:
    """Find every sample of the dataset described by ``dataset_cfg`` (the ``dataset:`` block).

    ``cache_dir``: where the object ids of instance masks are remembered between runs
    (:class:`clickbench.instances.ObjectIndex`); ``None`` reads every mask each time.

    Samples are sorted by ``(class, image_id)``; ``dataset.classes``, when given, keeps only
    those classes (a class that does not exist is an error listing the ones found). Raises
    :class:`BadInputError` for a missing root or layout folder, two classes with one slug,
    two files with one stem in a folder, or an unreadable annotation file (``coco_json``).
    """
    layout = dataset_cfg["layout"]
    root = Path(dataset_cfg["root"])
    stray: list[Stray] = []
    if layout == "fish":
        samples = _scan_fish(root, stray)
    elif layout in ("grabcut", "davis", "berkeley", "coco_mval"):
        samples = _scan_benchmark(root, layout, dataset_cfg["name"], stray)
    elif layout == "generic":
        samples = _scan_generic(root, dataset_cfg, stray)
    elif layout in INSTANCE_LAYOUTS:
        from clickbench import instances

        if layout == "coco_json":
            samples = instances.scan_coco(root, dataset_cfg, stray)
        else:
            index = instances.ObjectIndex.for_dataset(cache_dir, layout, root)
            scanner = instances.scan_instances if layout == "instances" else instances.scan_named
            samples = scanner(root, dataset_cfg, stray, index)
            index.save()
    else:
        raise BadInputError(root, f"unknown dataset layout {layout!r}; known: {', '.join(LAYOUTS)}")
    found = sorted({s.cls for s in samples})
    check_slugs(found, root)
    wanted = dataset_cfg.get("classes")
    if wanted:
        missing = [c for c in wanted if c not in found]
        if missing:
            raise BadInputError(
                root,
                f"dataset.classes names {', '.join(map(repr, missing))}, not found; "
                f"classes present: {', '.join(map(repr, found)) or '(none)'}",
            )
        samples = [s for s in samples if s.cls in set(wanted)]
    samples.sort(key=lambda s: (s.cls, s.image_id))
    stray.sort(key=lambda s: str(s.path))
    return Discovery(root, tuple(samples), tuple(stray))


def discover(dataset_cfg: dict, cache_dir: str | Path | None = None) -> list[Sample]:
    """The samples of :func:`scan`, sorted by ``(class, image_id)``; stray files are logged."""
    found = scan(dataset_cfg, cache_dir)
    for item in found.stray:
        log.warning("not used: %s (%s)", item.path, item.reason)
    return list(found.samples)

"""Dataset readers: find the samples of every supported layout, load and validate them.

Layouts (``dataset.layout`` in the config; ``root`` is ``dataset.root``):

``fish``
    Kaggle "A Large Scale Fish Dataset": ``<root>/<Class>/<Class>/NNNNN.png`` with masks
    ``<root>/<Class>/<Class> GT/NNNNN.png``, paired by file stem. The download unpacks as
    ``Fish_Dataset/Fish_Dataset/<Class>/...``; ``root`` may be the download folder, the outer
    or the inner ``Fish_Dataset`` (detected by :func:`fish_class_root`). The mask-less
    originals in ``NA_Fish_Dataset/<Class>/`` are found by :func:`find_native`.
``grabcut``
    RITM's GrabCut: ``<root>/data_GT/<name>.{jpg,JPG,bmp,png}``, masks
    ``<root>/boundary_GT/<name>.bmp``: 255 object, 0 background, 128 ignore band.
``berkeley``
    RITM reads Berkeley with the GrabCut reader from ``images/`` + ``masks/``; ``img/`` + ``gt/``
    is accepted too. Same mask values as GrabCut.
``davis``, ``coco_mval``
    RITM's ``DavisDataset``: ``<root>/img/*.jpg``, ``<root>/gt/*.png``; the mask is decoded to
    colour (a palette PNG through its palette) and foreground is "largest channel > 0".
``generic``
    ``<root>/<images_dir>/<stem>.{png,jpg,jpeg,bmp,tif,tiff}`` with masks
    ``<root>/<masks_dir>/<stem><mask_suffix>``. One class named after the dataset, unless
    ``images_dir`` holds sub-folders: then each sub-folder is a class and its masks are in
    ``<masks_dir>/<Class>/``. Masks are binary like the fish masks (0/255, or 0/1).

Single-class layouts name their class after the dataset (``dataset.name``).

Every sample is one image; its id is the file stem. Discovery returns samples sorted by
``(class, image_id)``, never in file-system order. Files that are not part of the layout
(``README.txt``, ``license.txt``, ``.DS_Store``, a mask without an image...) are not used but
are listed in :attr:`Discovery.stray` so that a caller can report them; :func:`discover` logs
them as a warning.

Loading (:func:`load_image`, :func:`load_ground_truth`, :func:`load_sample`) validates the
files and raises :class:`~clickbench.errors.BadInputError` naming the file and the problem.
:func:`try_load` applies the ``on_bad_input`` policy (``error`` raises, ``skip`` returns a
:class:`Skipped` record for the caller's skip table).

Arrays: images ``(H, W, 3) uint8`` RGB; ground truth ``gt (H, W) bool`` and ``ignore (H, W)
bool`` or ``None``; indices are ``(row, col)``. Sizes in messages read ``width x height``.
"""

from __future__ import annotations

import logging
import re
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from clickbench.errors import BadInputError

log = logging.getLogger(__name__)

LAYOUTS = ("fish", "grabcut", "davis", "berkeley", "coco_mval", "generic")
ON_BAD_INPUT = ("error", "skip")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
FISH_DIR = "Fish_Dataset"
NATIVE_DIR = "NA_Fish_Dataset"
FISH_GT_SUFFIX = " GT"

#: fish/generic masks: grey values in ``(NEAR_BINARY, 255 - NEAR_BINARY)`` are accepted only
#: within ``EDGE_RADIUS`` pixels of the thresholded mask's edge (anti-aliasing).
NEAR_BINARY = 16
EDGE_RADIUS = 3
#: threshold of fish/generic masks: object = value >= MASK_THRESHOLD
MASK_THRESHOLD = 128
#: GrabCut/Berkeley mask values, as RITM reads them: object > 128, ignore == 128
GRABCUT_IGNORE = 128


# --------------------------------------------------------------------------- names


def slug(name: str) -> str:
    """Path-safe name of a class: lowercase, runs of non-alphanumerics become ``_``.

    ``"Hourse Mackerel" -> "hourse_mackerel"``, ``"Gilt-Head Bream" -> "gilt_head_bream"``.
    """
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def check_slugs(classes, where: str | Path = "dataset") -> dict[str, str]:
    """Return ``{class: slug}``; raise :class:`BadInputError` if two classes share a slug.

    Two class folders such as ``"Sea Bass"`` and ``"Sea-Bass"`` would write to the same result
    folder; the error names both. An empty slug (a name with no letters or digits) is an error.
    """
    seen: dict[str, str] = {}
    for name in sorted(classes):
        s = slug(name)
        if not s:
            raise BadInputError(
                where, f"class {name!r} has no letters or digits, so it has no path name (slug)"
            )
        if s in seen:
            raise BadInputError(
                where,
                f"classes {seen[s]!r} and {name!r} both map to the path name {s!r}; "
                "rename one of the class folders",
            )
        seen[s] = name
    return {name: s for s, name in seen.items()}


def _normalise(name: str) -> str:
    """Name used to match folder spellings: case, spaces, hyphens and underscores ignored."""
    return re.sub(r"[^a-z0-9]+", "", name.lower())


def _natural_key(path: Path):
    parts = re.split(r"(\d+)", path.name.lower())
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts]


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class Sample:
    """One image of a dataset and its ground-truth mask.

    ``mask`` is ``None`` when discovery found no mask for the image; loading such a sample
    raises (or is skipped) with a message naming ``expected_mask``, the file looked for.
    """

    cls: str
    image_id: str
    image: Path
    mask: Path | None
    expected_mask: Path | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Stray:
    """A file or folder inside the dataset that no sample uses, and why."""

    path: Path
    reason: str


@dataclass(frozen=True)
class Discovery:
    """Result of :func:`scan`: the samples (sorted by class, image id) and the stray files."""

    root: Path
    samples: tuple[Sample, ...]
    stray: tuple[Stray, ...]

    @property
    def classes(self) -> list[str]:
        return sorted({s.cls for s in self.samples})


@dataclass(frozen=True)
class NativeScan:
    """Result of :func:`scan_native`.

    ``images`` maps each masked-set class name to its originals (natural order: ``2.JPG``
    before ``10.JPG``); ``unmatched`` lists ``NA_Fish_Dataset`` sub-folders whose name matches
    no class of the masked set; ``folder`` is the ``NA_Fish_Dataset`` folder or ``None``.
    """

    folder: Path | None
    images: dict[str, list[Path]]
    unmatched: tuple[Path, ...] = ()
    stray: tuple[Stray, ...] = ()


@dataclass(frozen=True)
class Skipped:
    """A sample left out under ``on_bad_input: skip``: one row of the skip table."""

    cls: str
    image_id: str
    path: str
    problem: str

    COLUMNS = ("class", "image", "path", "problem")

    def row(self) -> tuple[str, str, str, str]:
        return (self.cls, self.image_id, self.path, self.problem)

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"


# --------------------------------------------------------------------------- discovery


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
        img_dir, gt_dir = cdir / cls, cdir / f"{cls}{FISH_GT_SUFFIX}"
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
    img_dir = root / cfg.get("images_dir", "images")
    mask_dir = root / cfg.get("masks_dir", "masks")
    suffix = cfg.get("mask_suffix", ".png")
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


def scan(dataset_cfg: dict) -> Discovery:
    """Find every sample of the dataset described by ``dataset_cfg`` (the ``dataset:`` block).

    Samples are sorted by ``(class, image_id)``; ``dataset.classes``, when given, keeps only
    those classes (a class that does not exist is an error listing the ones found). Raises
    :class:`BadInputError` for a missing root or layout folder, two classes with one slug, or
    two files with one stem in a folder.
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


def discover(dataset_cfg: dict) -> list[Sample]:
    """The samples of :func:`scan`, sorted by ``(class, image_id)``; stray files are logged."""
    found = scan(dataset_cfg)
    for item in found.stray:
        log.warning("not used: %s (%s)", item.path, item.reason)
    return list(found.samples)


# --------------------------------------------------------------------------- NA originals


def _native_candidates(root: Path, class_root: Path) -> list[Path]:
    levels = [root, class_root]
    level = class_root
    while level.name == FISH_DIR:
        level = level.parent
        levels.append(level)
    out: list[Path] = []
    for level in levels:
        cand = level / NATIVE_DIR
        if cand not in out:
            out.append(cand)
    return out


def scan_native(root: str | Path) -> NativeScan:
    """Find ``NA_Fish_Dataset/<Class>/`` (the non-augmented originals) for a fish ``root``.

    Looked for in ``root``, in the class folder root and beside each enclosing
    ``Fish_Dataset`` folder (the Kaggle download has it beside the outer one). Its sub-folders
    are matched to the masked set's classes ignoring case, spaces, hyphens and underscores
    (``Gilt Head Bream`` -> ``Gilt-Head Bream``); when there is no masked set the folder names
    are the class names. Returns an empty scan (``folder=None``) when there is none.
    """
    root = Path(root)
    try:
        class_root = fish_class_root(root)
        classes = [p.name for p in class_root.iterdir() if _is_fish_class_dir(p)]
    except BadInputError:
        class_root, classes = root, []
    folder = next((c for c in _native_candidates(root, class_root) if c.is_dir()), None)
    if folder is None:
        return NativeScan(None, {})
    by_norm = {_normalise(c): c for c in classes}
    images: dict[str, list[Path]] = {}
    origin: dict[str, Path] = {}
    unmatched: list[Path] = []
    stray: list[Stray] = []
    for sub in sorted(folder.iterdir()):
        if not sub.is_dir() or _hidden(sub):
            stray.append(Stray(sub, _stray_reason(sub, "one folder per class")))
            continue
        cls = by_norm.get(_normalise(sub.name)) if classes else sub.name
        if cls is None:
            unmatched.append(sub)
            continue
        if cls in origin:
            raise BadInputError(
                sub,
                f"both {origin[cls].name!r} and {sub.name!r} match the class {cls!r}; keep one",
            )
        origin[cls] = sub
        files = []
        for path in sorted(sub.iterdir()):
            if _is_image_file(path):
                files.append(path)
            else:
                stray.append(Stray(path, _stray_reason(path, "image files")))
        images[cls] = sorted(files, key=_natural_key)
    return NativeScan(folder, dict(sorted(images.items())), tuple(unmatched), tuple(stray))


def find_native(root: str | Path) -> dict[str, list[Path]]:
    """``{masked-set class name: [original image paths]}`` from ``NA_Fish_Dataset``.

    ``{}`` when the folder is absent. Unmatched folders and stray files are logged; use
    :func:`scan_native` to get them as lists.
    """
    found = scan_native(root)
    for path in found.unmatched:
        log.warning("NA folder matches no class of the masked set: %s", path)
    for item in found.stray:
        log.warning("not used: %s (%s)", item.path, item.reason)
    return found.images


# --------------------------------------------------------------------------- loading


def _size(shape) -> str:
    return f"{shape[1]} x {shape[0]} (width x height)"


def _png_header(path: Path) -> tuple[int, int, int] | None:
    """``(width, height, bit depth)`` from a PNG's IHDR chunk, or ``None`` if not a PNG."""
    with open(path, "rb") as fh:
        head = fh.read(26)
    if len(head) < 26 or not head.startswith(b"\x89PNG") or head[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", head[16:24])
    return width, height, head[24]


def _bit_depth(im: Image.Image, path: Path) -> int:
    """Bits per channel as stored in the file (Pillow silently reduces 16-bit RGB to 8)."""
    if im.mode.startswith("I;16"):
        return 16
    if im.mode in ("I", "F"):
        return 32
    if im.format == "PNG":
        header = _png_header(path)
        return header[2] if header else 8
    if im.format == "TIFF":
        bits = im.tag_v2.get(258, (8,))
        bits = bits if isinstance(bits, tuple) else (bits,)
        return max(int(b) for b in bits)
    return 8


def _open(path: str | Path, what: str) -> tuple[Image.Image, int]:
    """Open and fully decode ``path``; return the image (EXIF orientation applied) and its
    bits per channel. Every failure becomes a :class:`BadInputError` in plain words."""
    if path is None:
        raise BadInputError("(none)", f"no {what} file given")
    path = Path(path)
    if not path.exists():
        raise BadInputError(path, f"{what} file not found")
    if path.is_dir():
        raise BadInputError(path, f"{what} path is a folder, not a file")
    if path.stat().st_size == 0:
        raise BadInputError(path, f"{what} file is empty (0 bytes)")
    try:
        with Image.open(path) as im:
            im.load()
            depth = _bit_depth(im, path)
            if im.width == 0 or im.height == 0:
                raise BadInputError(path, f"{what} has zero size ({im.width} x {im.height})")
            out = ImageOps.exif_transpose(im)
            out.load()
        return out, depth
    except BadInputError:
        raise
    except Image.DecompressionBombError as err:
        raise BadInputError(path, f"{what} is too large to decode safely ({err})") from None
    except PermissionError:
        raise BadInputError(path, f"{what} file cannot be read (permission denied)") from None
    except UnidentifiedImageError:
        header = _png_header(path)
        if header and 0 in header[:2]:
            raise BadInputError(
                path, f"{what} has zero size ({header[0]} x {header[1]}, width x height)"
            ) from None
        raise BadInputError(
            path,
            f"{what} file is corrupt, truncated or not an image (Pillow cannot identify its "
            "format)",
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error) as err:
        words = "truncated" if "truncated" in str(err).lower() else "corrupt or truncated"
        raise BadInputError(
            path, f"{what} file is {words} and cannot be fully decoded (Pillow: {err})"
        ) from None


def _convert_hint(path: Path) -> str:
    return (
        f'convert it to 8-bit RGB, e.g. python -c "from PIL import Image; '
        f"Image.open('{path}').convert('RGB').save('{path}')\""
    )


def load_image(path: str | Path) -> np.ndarray:
    """Read an image as ``(H, W, 3) uint8`` RGB, fully decoded and validated.

    EXIF orientation is applied (as ``cv2.imread`` does for RITM and SAM). A fully opaque
    alpha channel is dropped; anything else that is not 8-bit RGB raises
    :class:`BadInputError` naming the file and the problem: missing, empty, corrupt or
    truncated files, transparency (RGBA), 16-bit or 32-bit samples, grayscale, palette and
    other modes, zero size. Nothing is converted silently.
    """
    path = Path(path)
    im, depth = _open(path, "image")
    if depth > 8:
        raise BadInputError(
            path,
            f"{depth}-bit image (mode {im.mode}); expected 8-bit RGB. Reduce it to 8 bits per "
            f"channel, e.g. magick '{path}' -depth 8 -type TrueColor '{path}'",
        )
    if im.mode == "RGBA":
        lo, _hi = im.getchannel("A").getextrema()
        if lo < 255:
            raise BadInputError(
                path,
                "image has transparency (mode RGBA): the alpha channel would be dropped and the "
                "transparent pixels shown with whatever colour they hold. Flatten it onto a "
                f"background and save it as 8-bit RGB (PNG or JPEG); {_convert_hint(path)}",
            )
        im = im.convert("RGB")
    elif im.mode == "RGBX":
        im = im.convert("RGB")
    if im.mode != "RGB":
        kind = {
            "L": " (grayscale)",
            "LA": " (grayscale with alpha)",
            "1": " (black and white)",
            "P": " (palette)",
            "PA": " (palette with alpha)",
            "CMYK": " (CMYK)",
        }.get(im.mode, "")
        raise BadInputError(
            path, f"expected 8-bit RGB, got mode {im.mode}{kind}; {_convert_hint(path)}"
        )
    arr = np.asarray(im, dtype=np.uint8)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.size == 0:
        raise BadInputError(path, f"decoded to an array of shape {arr.shape}, expected (H, W, 3)")
    return np.ascontiguousarray(arr)


def _mask_values(path: Path, layout: str) -> np.ndarray:
    """``(H, W) uint8`` values of a mask file, one channel (see :func:`load_ground_truth`)."""
    im, depth = _open(path, "mask")
    if depth > 8:
        raise BadInputError(
            path,
            f"{depth}-bit mask (mode {im.mode}); expected an 8-bit mask, e.g. "
            f"magick '{path}' -depth 8 '{path}'",
        )
    if im.mode in ("RGBA", "LA", "PA"):
        lo, _hi = im.getchannel("A").getextrema()
        if lo < 255:
            raise BadInputError(
                path,
                f"mask has transparency (mode {im.mode}); save the mask as an 8-bit grayscale "
                "image without alpha (0 = background, 255 = object)",
            )
        im = im.convert("RGB" if im.mode != "LA" else "L")
    if im.mode == "1":
        im = im.convert("L")
    if im.mode == "P":
        im = im.convert("RGB")
    if im.mode == "L":
        return np.asarray(im, dtype=np.uint8)
    if im.mode != "RGB":
        raise BadInputError(
            path, f"mask has mode {im.mode}; expected an 8-bit grayscale (or palette) image"
        )
    rgb = np.asarray(im, dtype=np.uint8)
    if layout in ("davis", "coco_mval"):
        return rgb.max(axis=2)  # RITM's DavisDataset: max over the colour channels
    if not ((rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all()):
        raise BadInputError(
            path,
            "mask is a colour image whose channels differ; expected a grayscale mask "
            "(0 = background, 255 = object); an RGB mask is accepted only when R = G = B",
        )
    return np.ascontiguousarray(rgb[..., 0])


def _binary(values: np.ndarray, path: Path) -> np.ndarray:
    """Fish/generic masks: object = value >= 128; 0/1 masks accepted; grey only at edges."""
    if values.max() == 1:
        return values == 1
    gt = values >= MASK_THRESHOLD
    grey = (values > NEAR_BINARY) & (values < 255 - NEAR_BINARY)
    if grey.any():
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * EDGE_RADIUS + 1,) * 2)
        g8 = gt.astype(np.uint8)
        edge = cv2.dilate(g8, k).astype(bool) & ~cv2.erode(g8, k).astype(bool)
        bad = grey & ~edge
        if bad.any():
            seen = np.unique(values[bad])
            shown = ", ".join(str(v) for v in seen[:8]) + (", ..." if len(seen) > 8 else "")
            raise BadInputError(
                path,
                f"mask is not binary: {int(bad.sum())} pixels ({100 * bad.mean():.2g}%) away "
                f"from the object's edge have grey values ({shown}); expected 0 = background, "
                f"255 = object (grey anti-aliased edges are accepted and thresholded at "
                f"{MASK_THRESHOLD})",
            )
    return gt


def load_ground_truth(
    path: str | Path, layout: str, shape: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray | None]:
    """Read a ground-truth mask: ``gt (H, W) bool`` and ``ignore (H, W) bool`` or ``None``.

    ``shape`` is the image's shape ``(H, W)`` or ``(H, W, 3)``; a mask of another size is an
    error giving both sizes. Values, per layout:

    - ``grabcut``, ``berkeley`` (RITM's GrabCutDataset): object = value > 128, ignore =
      value == 128 (``ignore`` is ``None`` when no pixel is 128), the rest background.
      RITM keeps other values as instance ids, so a stray value 1 would count as object there;
      here it is background (the real GrabCut masks hold only 0, 128 and 255).
    - ``davis``, ``coco_mval`` (RITM's DavisDataset): a palette is applied, object = largest
      colour channel > 0; no ignore.
    - ``fish``, ``generic``: binary masks: object = value >= 128. Grey values (17..238) are
      accepted only within 3 pixels of the object's edge (anti-aliasing from resizing); grey
      pixels elsewhere are an error. A mask holding only 0 and 1 is read as 0/1. No ignore.

    Grayscale, palette and RGB-with-equal-channels masks are accepted (RGB with differing
    channels only for davis/coco_mval, as RITM takes the maximum). A mask with no object
    pixel cannot be evaluated: an error.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; known: {', '.join(LAYOUTS)}")
    path = Path(path)
    values = _mask_values(path, layout)
    want = tuple(int(s) for s in shape[:2])
    if values.shape != want:
        raise BadInputError(
            path,
            f"mask size {_size(values.shape)} differs from its image's size {_size(want)}; "
            "a mask must have exactly its image's size",
        )
    ignore = None
    if layout in ("grabcut", "berkeley"):
        gt = values > GRABCUT_IGNORE
        band = values == GRABCUT_IGNORE
        ignore = band if band.any() else None
    elif layout in ("davis", "coco_mval"):
        gt = values > 0
    else:
        gt = _binary(values, path)
    if not gt.any():
        raise BadInputError(
            path,
            "mask is empty: it has no object pixels (every pixel is background"
            + (" or ignore" if ignore is not None else "")
            + "), so this image cannot be evaluated",
        )
    return gt, ignore


def load_sample(sample: Sample, layout: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``(image (H, W, 3) uint8, gt (H, W) bool, ignore (H, W) bool | None)`` for a sample.

    Validates the image, that it has a mask, and the mask against the image's size.
    """
    image = load_image(sample.image)
    if sample.mask is None:
        where = f": expected {sample.expected_mask}" if sample.expected_mask else ""
        raise BadInputError(
            sample.image,
            f"no ground-truth mask found for this image{where} (masks are paired by file name)",
        )
    gt, ignore = load_ground_truth(sample.mask, layout, image.shape)
    return image, gt, ignore


def try_load(
    sample: Sample, layout: str, on_bad_input: str = "error"
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray | None] | None, Skipped | None]:
    """:func:`load_sample` under the ``on_bad_input`` policy.

    Returns ``(result, None)`` for a good sample. For bad input, ``"error"`` raises the
    :class:`BadInputError`; ``"skip"`` logs a warning and returns ``(None, skipped)`` where
    ``skipped`` (:class:`Skipped`) names the sample, the file and the problem, for the
    caller's skip table. Nothing is dropped silently.
    """
    if on_bad_input not in ON_BAD_INPUT:
        raise ValueError(f"on_bad_input must be one of {ON_BAD_INPUT}, got {on_bad_input!r}")
    try:
        return load_sample(sample, layout), None
    except BadInputError as err:
        if on_bad_input == "error":
            raise
        skipped = Skipped(sample.cls, sample.image_id, err.path, err.problem)
        log.warning("skipped %s/%s: %s", sample.cls, sample.image_id, skipped)
        return None, skipped

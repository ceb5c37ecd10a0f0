"""Instance layouts: one mask (or annotation file) holds several objects, each a sample.

Each object becomes one sample with id ``<stem>#<instance>``
(:func:`clickbench.samples.object_id`); every object of an image shares the image file, so
SAM encodes it once for all of them (its embedding cache is keyed by image content).

``instances``
    the ``generic`` folders (``<root>/<images_dir>/<stem>.*``, masks
    ``<root>/<masks_dir>/<stem><mask_suffix>``) with instance masks: 0 background, every other
    value ``k`` one object (sample ``<stem>#<k>``). 8-bit grayscale, 16-bit grayscale (more
    than 255 objects) or palette PNGs; a palette mask is read by its indices, not its colours.
``sbd``
    RITM's SBD (``SBDEvaluationDataset``): ``<root>/img/<name>.jpg``, ``<root>/inst/<name>.mat``
    whose ``GTinst.Segmentation`` holds 0 background and objects ``1..N``. With
    ``dataset.split`` only the names listed in ``<root>/<split>.txt`` (RITM evaluates ``val``).
``pascal_voc``
    RITM's ``PascalVocDataset``: ``<root>/JPEGImages/<name>.jpg``,
    ``<root>/SegmentationObject/<name>.png``, a palette PNG whose indices are 0 background,
    ``1..N`` objects and 255 the void band around them (ignored, as RITM ignores it). With
    ``dataset.split``, the names in ``<root>/ImageSets/Segmentation/<split>.txt``; without,
    every image that has a ``SegmentationObject`` mask.
``coco_json``
    COCO-style annotations: ``<root>/<annotations>`` (a JSON file) lists images (file names
    under ``<root>/<images_dir>/``) and annotations (polygons, or RLE compressed or not);
    each annotation with ``iscrowd`` 0 is a sample ``<file stem>#<annotation id>``, decoded
    with pycocotools as ``COCO.annToMask`` does. Crowd regions are not objects to click on.

Every layout here is one class named after the dataset.
"""

from __future__ import annotations

import functools
import hashlib
import json
import warnings
from pathlib import Path

import numpy as np

from clickbench import config
from clickbench.atomic import write_atomic
from clickbench.errors import BadInputError
from clickbench.samples import Sample, Stray, object_id

#: Pascal VOC's void index (object boundaries and unlabelled regions): ignored
VOC_VOID = 255


# --------------------------------------------------------------------------- reading one file


def _stat_key(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return str(path), st.st_mtime_ns, st.st_size


def read_labels(path: str | Path, layout: str) -> tuple[np.ndarray, np.ndarray | None]:
    """``(labels (H, W) int32, ignore (H, W) bool | None)`` of an instance mask file.

    ``labels``: 0 background, every other value one object. Raises :class:`BadInputError`
    naming the file and the problem. Cached per file (path, modification time, size), so
    that the objects of one image read their mask once.
    """
    path = Path(path)
    if not path.is_file():
        problem = "is a folder, not a file" if path.is_dir() else "file not found"
        raise BadInputError(path, f"instance mask {problem}")
    labels, ignore = _read_labels(_stat_key(path), layout)
    return labels, ignore


@functools.lru_cache(maxsize=8)
def _read_labels(key: tuple[str, int, int], layout: str):
    path = Path(key[0])
    if layout == "sbd":
        labels = _read_sbd(path)
        ignore = None
    else:
        labels = _read_png_labels(path)
        ignore = None
        if layout == "pascal_voc":
            void = labels == VOC_VOID
            labels = np.where(void, 0, labels)
            ignore = void if void.any() else None
    labels.setflags(write=False)
    if ignore is not None:
        ignore.setflags(write=False)
    return labels, ignore


def _read_sbd(path: Path) -> np.ndarray:
    from scipy.io import loadmat

    try:
        mat = loadmat(str(path))
    except Exception as err:  # scipy raises ValueError, TypeError, OSError... for bad files
        raise BadInputError(
            path, f"SBD instance file cannot be read as a .mat file ({err})"
        ) from None
    inst = mat.get("GTinst")
    if inst is None:
        raise BadInputError(path, "SBD instance file has no GTinst variable")
    names = inst.dtype.names or ()
    if "Segmentation" not in names:
        raise BadInputError(
            path, f"SBD GTinst has no Segmentation field (fields: {', '.join(names) or 'none'})"
        )
    seg = np.asarray(inst["Segmentation"][0][0])
    if seg.ndim != 2 or seg.size == 0 or not np.issubdtype(seg.dtype, np.integer):
        raise BadInputError(
            path, f"SBD GTinst.Segmentation is {seg.dtype} {seg.shape}, expected a 2-D integer map"
        )
    return seg.astype(np.int32)


def _read_png_labels(path: Path) -> np.ndarray:
    from clickbench.loading import open_image

    im, _depth = open_image(path, "instance mask")
    if im.mode in ("L", "P", "I;16", "I;16B", "I;16L", "I"):
        return np.asarray(im).astype(np.int32)  # a palette image gives its indices
    if im.mode == "1":
        return np.asarray(im).astype(np.int32)
    raise BadInputError(
        path,
        f"instance mask has mode {im.mode}; expected one channel of object ids (8- or 16-bit "
        "grayscale, or palette indices), 0 = background",
    )


def object_ids(labels: np.ndarray) -> list[int]:
    """The objects of a label map: its non-zero values, ascending."""
    return [int(v) for v in np.unique(labels) if v != 0]


# --------------------------------------------------------------------------- COCO


@functools.lru_cache(maxsize=2)
def _coco_index(key: tuple[str, int, int]) -> dict:
    path = Path(key[0])
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise BadInputError(path, f"annotation file is not valid JSON ({err})") from None
    except UnicodeDecodeError:
        raise BadInputError(path, "annotation file is not text (not UTF-8 JSON)") from None
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise BadInputError(path, "annotation file has no 'images' list (COCO format expected)")
    if not isinstance(data.get("annotations"), list):
        raise BadInputError(path, "annotation file has no 'annotations' list")
    images = {}
    for rec in data["images"]:
        try:
            images[rec["id"]] = {
                "file_name": str(rec["file_name"]),
                "height": int(rec["height"]),
                "width": int(rec["width"]),
            }
        except (KeyError, TypeError, ValueError):
            raise BadInputError(
                path, f"image record {rec!r:.120} lacks id, file_name, height or width"
            ) from None
    anns = {}
    for ann in data["annotations"]:
        if not isinstance(ann, dict) or "id" not in ann or "segmentation" not in ann:
            raise BadInputError(path, f"annotation {ann!r:.120} lacks id or segmentation")
        if ann.get("image_id") not in images:
            raise BadInputError(
                path, f"annotation {ann['id']} names image_id {ann.get('image_id')!r}, not listed"
            )
        if ann["id"] in anns:
            raise BadInputError(path, f"two annotations share the id {ann['id']}")
        anns[ann["id"]] = ann
    return {"images": images, "annotations": anns}


def coco_index(path: str | Path) -> dict:
    """``{"images": {id: {file_name, height, width}}, "annotations": {id: annotation}}`` of
    a COCO annotation file, validated; cached per file (path, modification time, size)."""
    path = Path(path)
    if not path.is_file():
        problem = "is a folder, not a file" if path.is_dir() else "file not found"
        raise BadInputError(path, f"annotation {problem}")
    return _coco_index(_stat_key(path))


def coco_object_mask(path: str | Path, annotation: int) -> np.ndarray:
    """``(H, W) bool`` mask of one annotation, decoded as pycocotools' ``COCO.annToMask``
    (polygons merged, uncompressed RLE converted, compressed RLE as it is)."""
    from pycocotools import mask as mask_utils

    index = coco_index(path)
    ann = index["annotations"].get(annotation)
    if ann is None:
        raise BadInputError(path, f"no annotation with id {annotation}")
    rec = index["images"][ann["image_id"]]
    h, w = rec["height"], rec["width"]
    segm = ann["segmentation"]
    try:
        if isinstance(segm, list):
            rle = mask_utils.merge(mask_utils.frPyObjects(segm, h, w))
        elif isinstance(segm.get("counts"), list):
            rle = mask_utils.frPyObjects(segm, h, w)
        else:
            rle = segm
        with warnings.catch_warnings():  # pycocotools 2.0 predates numpy 2's copy keyword
            warnings.simplefilter("ignore", DeprecationWarning)
            decoded = np.asarray(mask_utils.decode(rle))
    except Exception as err:  # pycocotools raises TypeError, ValueError, IndexError...
        raise BadInputError(
            path, f"annotation {annotation}: its segmentation cannot be decoded ({err})"
        ) from None
    if decoded.shape != (h, w):
        raise BadInputError(
            path,
            f"annotation {annotation}: its mask is {decoded.shape[1]} x {decoded.shape[0]} but "
            f"its image record says {w} x {h} (width x height)",
        )
    return decoded.astype(bool)


# --------------------------------------------------------------------------- discovery


class ObjectIndex:
    """The object ids of instance masks, remembered on disk between runs.

    Discovery needs every mask's ids (one sample per object), and the workflow discovers at
    every start (on a cluster, in every job): without this it would read all of SBD's 2857
    ``val`` masks each time. Entries are keyed by the mask's path, modification time and size, so a changed
    mask is read again. ``path=None`` remembers nothing. The file is written atomically;
    two runs writing it at once leave one of their complete versions.
    """

    VERSION = 1

    def __init__(self, path: str | Path | None):
        self.path = Path(path) if path else None
        self.entries: dict[str, list] = {}
        self.changed = False
        if self.path is not None and self.path.is_file():
            try:
                data = json.loads(self.path.read_text())
                if data.get("version") == self.VERSION:
                    self.entries = dict(data["files"])
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                self.entries = {}  # unreadable: rebuilt

    @classmethod
    def for_dataset(cls, cache_dir: str | Path | None, layout: str, root: Path) -> ObjectIndex:
        if cache_dir is None:
            return cls(None)
        digest = hashlib.sha256(f"{layout}\0{Path(root).resolve()}".encode()).hexdigest()
        return cls(Path(cache_dir) / "objects" / f"{layout}-{digest[:16]}.json")

    def ids(self, mask: Path, layout: str) -> list[int]:
        """The mask's object ids; raises :class:`BadInputError` when it cannot be read."""
        key = _stat_key(mask)
        entry = self.entries.get(key[0])
        if entry is not None and entry[:2] == list(key[1:]):
            return list(entry[2])
        ids = object_ids(read_labels(mask, layout)[0])
        self.entries[key[0]] = [key[1], key[2], ids]
        self.changed = True
        return ids

    def save(self) -> None:
        if self.path is None or not self.changed:
            return
        body = json.dumps({"version": self.VERSION, "files": self.entries}, sort_keys=True)
        write_atomic(self.path, lambda fh: fh.write(body), text=True)
        self.changed = False


def expand(
    cls: str,
    stem: str,
    image: Path,
    mask: Path | None,
    layout: str,
    index: ObjectIndex | None = None,
) -> list[Sample]:
    """One sample per object of ``mask``. A mask that cannot be read, or holds no object,
    gives one sample named ``stem`` whose loading reports the problem (or skips it)."""
    if mask is None or not mask.is_file():
        return [Sample(cls, stem, image, None, mask)]
    try:
        ids = (index or ObjectIndex(None)).ids(mask, layout)
    except BadInputError:
        ids = []
    if not ids:
        return [Sample(cls, stem, image, mask)]
    return [Sample(cls, object_id(stem, k), image, mask) for k in ids]


def _split_names(split_file: Path) -> list[str]:
    if not split_file.is_file():
        raise BadInputError(split_file, "split file not found (dataset.split names it)")
    return [line.strip() for line in split_file.read_text().splitlines() if line.strip()]


#: SBD and VOC as RITM reads them: (image folder, image suffix, mask folder, mask suffix,
#: split file under root with ``{split}`` for dataset.split)
NAMED_LAYOUTS = {
    "sbd": ("img", ".jpg", "inst", ".mat", "{split}.txt"),
    "pascal_voc": (
        "JPEGImages",
        ".jpg",
        "SegmentationObject",
        ".png",
        "ImageSets/Segmentation/{split}.txt",
    ),
}


def scan_named(
    root: Path, cfg: dict, stray: list[Stray], index: ObjectIndex | None = None
) -> list[Sample]:
    """SBD / VOC (:data:`NAMED_LAYOUTS`): the names of the split file (``dataset.split``),
    else the stems of the mask folder. Whatever else ``root`` holds (SBD's ``cls/``, VOC's
    ``Annotations/``...) is listed as stray; so are, counted, images without a mask."""
    from clickbench.layouts import _require_dir, _stray_reason

    layout = cfg["layout"]
    img_name, img_ext, mask_name, mask_ext, split_name = NAMED_LAYOUTS[layout]
    img_dir, mask_dir = root / img_name, root / mask_name
    split_file = root / split_name.format(split=cfg["split"]) if cfg.get("split") else None
    _require_dir(root, "dataset")
    _require_dir(img_dir, "image")
    _require_dir(mask_dir, "instance mask")
    used = {img_dir, mask_dir}
    if split_file is not None:
        used |= {split_file, *split_file.parents}
    for path in sorted(root.iterdir()):
        if path not in used:
            stray.append(Stray(path, _stray_reason(path, f"{img_name}/ and {mask_name}/")))
    if split_file is not None:
        names = _split_names(split_file)
    else:
        names = sorted(p.stem for p in mask_dir.iterdir() if p.suffix == mask_ext)
        images = {p.stem for p in img_dir.iterdir() if p.suffix == img_ext}
        unmasked = len(images - set(names))
        if unmasked:
            stray.append(
                Stray(img_dir, f"{unmasked} images without a {mask_name}/ mask (not used)")
            )
    samples: list[Sample] = []
    for name in names:
        image, mask = img_dir / f"{name}{img_ext}", mask_dir / f"{name}{mask_ext}"
        samples += expand(cfg["name"], name, image, mask, layout, index)
    return samples


def scan_instances(
    root: Path, cfg: dict, stray: list[Stray], index: ObjectIndex | None = None
) -> list[Sample]:
    from clickbench.layouts import _scan_generic

    samples: list[Sample] = []
    for s in _scan_generic(root, cfg, stray):
        samples += expand(s.cls, s.image_id, s.image, s.mask, "instances", index)
    return samples


def scan_coco(root: Path, cfg: dict, stray: list[Stray]) -> list[Sample]:
    from clickbench.layouts import _require_dir

    _require_dir(root, "dataset")
    if not cfg.get("annotations"):
        raise BadInputError(root, "layout coco_json needs dataset.annotations (the JSON file)")
    path = root / cfg["annotations"]
    img_dir = root / config.with_defaults("dataset", cfg)["images_dir"]
    index = coco_index(path)
    crowd = 0
    samples = []
    for ann_id, ann in index["annotations"].items():
        if ann.get("iscrowd", 0):
            crowd += 1
            continue
        rec = index["images"][ann["image_id"]]
        image = img_dir / rec["file_name"]
        samples.append(
            Sample(cfg["name"], object_id(Path(rec["file_name"]).stem, ann_id), image, path)
        )
    if crowd:
        stray.append(
            Stray(path, f"{crowd} crowd annotations (iscrowd = 1) are not objects; not used")
        )
    return samples

"""Load a sample's image and ground truth, validated; bad input named, odd input listed.

:func:`load_image`, :func:`load_ground_truth` and :func:`load_sample` validate the files and
raise :class:`~clickbench.errors.BadInputError` naming the file and the problem.
:func:`try_load` applies the ``on_bad_input`` policy (``error`` raises, ``skip`` returns a
:class:`~clickbench.samples.Skipped` record for the caller's skip table). Input that is read,
but not as a plain file would be, is reported as a :class:`~clickbench.samples.Note` (appended
to the caller's ``notes`` list, or logged as a warning when none is given): a grayscale
photograph, a mask that looks JPEG-compressed.

How foreground is read, per layout (:func:`load_ground_truth`):

================================  ==========================================================
``fish``, ``generic``             binary: object = value >= 128 (a 0/1 mask: value 1);
                                  grey only along the object's edge (anti-aliasing)
``grabcut``, ``berkeley``         object = value > 128 (255), ignore = 128
``davis``, ``coco_mval``          object = largest colour channel > 0 (palette applied)
``instances``, ``sbd``            object ``k`` = value ``k``; 0 and other objects background
``pascal_voc``                    object ``k`` = palette index ``k``; 255 (void) ignore
``coco_json``                     the annotation's polygons or RLE (pycocotools)
================================  ==========================================================

Arrays: images ``(H, W, 3) uint8`` RGB; ground truth ``gt (H, W) bool`` and ``ignore (H, W)
bool`` or ``None``; indices are ``(row, col)``. Sizes in messages read ``width x height``.
"""

from __future__ import annotations

import logging
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from clickbench import instances
from clickbench.errors import BadInputError
from clickbench.layouts import INSTANCE_LAYOUTS, LAYOUTS
from clickbench.samples import Note, Sample, Skipped, split_object_id

log = logging.getLogger(__name__)

ON_BAD_INPUT = ("error", "skip")

#: fish/generic masks: grey values in ``(NEAR_BINARY, 255 - NEAR_BINARY)`` are accepted only
#: within ``EDGE_RADIUS`` pixels of the thresholded mask's edge (anti-aliasing).
NEAR_BINARY = 16
EDGE_RADIUS = 3
#: ... except for a few (thin parts and tiny holes that resizing turned grey): a mask is "not
#: binary" only when more than this share of its pixels are grey away from the edge. Measured
#: on the 50 GrabCut masks and scikit-image's horse: resized (area, bilinear, Lanczos), at
#: most 4 pixels (0.006%); blurred 5x5, at most 0.028%; a soft matte (sigma 4), 1.3% or more.
NOT_BINARY_SHARE = 0.002
#: threshold of fish/generic masks: object = value >= MASK_THRESHOLD
MASK_THRESHOLD = 128
#: GrabCut/Berkeley mask values, as RITM reads them: object > 128, ignore == 128
GRABCUT_IGNORE = 128

#: A binary mask "looks JPEG-compressed" when, of its pixels with a value other than 0 and
#: 255, at least ``JPEG_FAR_SHARE`` lie farther than ``JPEG_EDGE_DISTANCE`` pixels from the
#: thresholded object's edge, fewer than ``JPEG_MAX_MIDGREY`` of those are mid-grey (65..190),
#: and there are at least ``JPEG_MIN_PIXELS`` of them. Derived from the 50 real GrabCut masks
#: (tests/test_ground_truth.py measures them): saved as JPEG at quality 30 to 100 (also after
#: a resize), 0.42 to 0.77 of the intermediate pixels lie that far, at most 0.5% of them
#: mid-grey; anti-aliased by resizing (area, bilinear, Lanczos, bicubic) or a 5x5 blur, at
#: most 0.34; a soft matte (Gaussian blur, sigma 4 or more) has 9% or more mid-grey ones.
JPEG_EDGE_DISTANCE = 2
JPEG_FAR_SHARE = 0.4
JPEG_MAX_MIDGREY = 0.02
JPEG_MIN_PIXELS = 100


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


def open_image(path: str | Path, what: str) -> tuple[Image.Image, int]:
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


def _open_8bit(path: Path, what: str, expected: str) -> Image.Image:
    """:func:`open_image`, refusing more than 8 bits per channel (``expected``: the error's
    end, what to give instead)."""
    im, depth = open_image(path, what)
    if depth > 8:
        raise BadInputError(path, f"{depth}-bit {what} (mode {im.mode}); {expected}")
    return im


def _transparent(im: Image.Image, alpha_modes: tuple[str, ...]) -> bool:
    """Whether ``im`` has an alpha channel (its mode one of ``alpha_modes``) and a pixel that
    is not fully opaque."""
    return im.mode in alpha_modes and im.getchannel("A").getextrema()[0] < 255


def _convert_hint(path: Path) -> str:
    return (
        f'convert it to 8-bit RGB, e.g. python -c "from PIL import Image; '
        f"Image.open('{path}').convert('RGB').save('{path}')\""
    )


def _report(notes: list[Note] | None, path: Path, text: str) -> None:
    note = Note(str(path), text)
    if notes is None:
        log.warning("%s", note)
    else:
        notes.append(note)


def load_image(path: str | Path, notes: list[Note] | None = None) -> np.ndarray:
    """Read an image as ``(H, W, 3) uint8`` RGB, fully decoded and validated.

    EXIF orientation is applied (as ``cv2.imread`` does for RITM and SAM). A grayscale
    photograph (mode ``L``, or ``LA`` fully opaque) is read as RITM reads it, ``cv2.imread``
    replicating the channel into three, and reported in ``notes`` (see :class:`Note`). A fully
    opaque alpha channel is dropped; anything else that is not 8-bit RGB raises
    :class:`BadInputError` naming the file and the problem: missing, empty, corrupt or
    truncated files, transparency (RGBA, LA), 16-bit or 32-bit samples, palette and other
    modes, zero size. Nothing is converted silently.
    """
    path = Path(path)
    im = _open_8bit(
        path,
        "image",
        "expected 8-bit RGB. Reduce it to 8 bits per channel, e.g. "
        f"magick '{path}' -depth 8 -type TrueColor '{path}'",
    )
    if _transparent(im, ("RGBA", "LA")):
        raise BadInputError(
            path,
            f"image has transparency (mode {im.mode}): the alpha channel would be dropped "
            "and the transparent pixels shown with whatever colour they hold. Flatten it "
            f"onto a background and save it as 8-bit RGB (PNG or JPEG); {_convert_hint(path)}",
        )
    if im.mode in ("RGBA", "LA"):
        im = im.convert("RGB" if im.mode == "RGBA" else "L")
    elif im.mode == "RGBX":
        im = im.convert("RGB")
    if im.mode == "L":
        _report(
            notes,
            path,
            "grayscale image: read as RGB with its one channel replicated into three, as "
            "cv2.imread reads it for RITM",
        )
        im = im.convert("RGB")
    if im.mode != "RGB":
        kind = {
            "1": " (black and white)",
            "P": " (palette)",
            "PA": " (palette with alpha)",
            "CMYK": " (CMYK)",
        }.get(im.mode, "")
        raise BadInputError(
            path,
            f"expected 8-bit RGB or grayscale, got mode {im.mode}{kind}; {_convert_hint(path)}",
        )
    arr = np.asarray(im, dtype=np.uint8)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.size == 0:
        raise BadInputError(path, f"decoded to an array of shape {arr.shape}, expected (H, W, 3)")
    return np.ascontiguousarray(arr)


def _mask_values(path: Path, layout: str) -> np.ndarray:
    """``(H, W) uint8`` values of a mask file, one channel (see :func:`load_ground_truth`)."""
    im = _open_8bit(path, "mask", f"expected an 8-bit mask, e.g. magick '{path}' -depth 8 '{path}'")
    if _transparent(im, ("RGBA", "LA", "PA")):
        raise BadInputError(
            path,
            f"mask has transparency (mode {im.mode}); save the mask as an 8-bit grayscale "
            "image without alpha (0 = background, 255 = object)",
        )
    if im.mode in ("RGBA", "LA", "PA"):
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


def _shown(values) -> str:
    values = [int(v) for v in values]
    return ", ".join(str(v) for v in values[:8]) + (", ..." if len(values) > 8 else "")


def jpeg_signature(values: np.ndarray) -> str | None:
    """A note when a binary mask's values look JPEG-compressed (see :data:`JPEG_FAR_SHARE`),
    else ``None``."""
    inter = (values > 0) & (values < 255)
    n_inter = int(inter.sum())
    if n_inter < JPEG_MIN_PIXELS:
        return None
    g8 = (values >= MASK_THRESHOLD).astype(np.uint8)
    dist = np.where(
        g8.astype(bool),
        cv2.distanceTransform(g8, cv2.DIST_L2, 3),
        cv2.distanceTransform(1 - g8, cv2.DIST_L2, 3),
    )
    far = inter & (dist > JPEG_EDGE_DISTANCE)
    n_far = int(far.sum())
    if n_far < JPEG_MIN_PIXELS or n_far < JPEG_FAR_SHARE * n_inter:
        return None
    far_values = values[far]
    if ((far_values > 64) & (far_values < 191)).mean() >= JPEG_MAX_MIDGREY:
        return None
    return (
        f"mask looks JPEG-compressed: {n_inter} pixels ({100 * inter.mean():.2g}%) hold values "
        f"other than 0 and 255, {100 * n_far / n_inter:.0f}% of them farther than "
        f"{JPEG_EDGE_DISTANCE} pixels from the object's edge (compression ringing, not "
        f"anti-aliasing); thresholded at {MASK_THRESHOLD}. Save masks losslessly (PNG)"
    )


def _binary(values: np.ndarray, path: Path, notes: list[Note] | None = None) -> np.ndarray:
    """Fish/generic masks: object = value >= 128; 0/1 masks accepted; grey only at edges
    (but for :data:`NOT_BINARY_SHARE` of the pixels), or all over a mask that looks
    JPEG-compressed (then listed in ``notes``)."""
    if values.max() == 1:
        return values == 1
    gt = values >= MASK_THRESHOLD
    grey = (values > NEAR_BINARY) & (values < 255 - NEAR_BINARY)
    jpeg = jpeg_signature(values)
    if jpeg is not None:
        _report(notes, path, jpeg)
    elif grey.any():
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * EDGE_RADIUS + 1,) * 2)
        g8 = gt.astype(np.uint8)
        edge = cv2.dilate(g8, k).astype(bool) & ~cv2.erode(g8, k).astype(bool)
        bad = grey & ~edge
        if bad.mean() > NOT_BINARY_SHARE:
            raise BadInputError(
                path,
                f"mask is not binary: {int(bad.sum())} pixels ({100 * bad.mean():.2g}%) away "
                f"from the object's edge have grey values ({_shown(np.unique(values[bad]))}); "
                "expected 0 = background, 255 = object (grey anti-aliased edges are accepted "
                f"and thresholded at {MASK_THRESHOLD})",
            )
    return gt


#: how each single-object layout reads the object, for messages
_RULES = {
    "fish": f"object = value >= {MASK_THRESHOLD}, or value 1 in a 0/1 mask",
    "generic": f"object = value >= {MASK_THRESHOLD}, or value 1 in a 0/1 mask",
    "grabcut": f"object = value > {GRABCUT_IGNORE}, ignore = {GRABCUT_IGNORE}",
    "berkeley": f"object = value > {GRABCUT_IGNORE}, ignore = {GRABCUT_IGNORE}",
    "davis": "object = largest colour channel > 0",
    "coco_mval": "object = largest colour channel > 0",
}


def _no_object(path: Path, values: np.ndarray, layout: str) -> BadInputError:
    """The error for a mask with no object pixel: what it holds and why that is no object."""
    present = np.unique(values)
    if present.max() == 0:
        return BadInputError(
            path,
            "mask is empty: it has no object pixels (every pixel is 0, background), so this "
            "image cannot be evaluated",
        )
    hint = ""
    small = present[present > 0]
    if len(small) >= 2 and small.max() < MASK_THRESHOLD:
        hint = (
            "; values 1, 2, ... look like an instance mask (one object per value): read it "
            "with layout 'instances' (or 'sbd', 'pascal_voc'), one sample per object"
        )
    return BadInputError(
        path,
        f"mask has no object pixels under the {layout} layout's reading ({_RULES[layout]}): "
        f"its values are {_shown(present)}{hint}; so this image cannot be evaluated",
    )


def _check_size(path: Path, got: tuple[int, ...], shape, what: str = "mask") -> None:
    want = tuple(int(s) for s in shape[:2])
    if tuple(got) != want:
        raise BadInputError(
            path,
            f"{what} size {_size(got)} differs from its image's size {_size(want)}; "
            f"a {what} must have exactly its image's size",
        )


def _instance_ground_truth(
    path: Path, layout: str, shape, instance: int | None
) -> tuple[np.ndarray, np.ndarray | None]:
    if layout == "coco_json":
        if instance is None:
            raise ValueError("coco_json ground truth needs the annotation id (instance)")
        gt = instances.coco_object_mask(path, instance)
        _check_size(path, gt.shape, shape, f"annotation {instance}'s mask")
        if not gt.any():
            raise BadInputError(
                path, f"annotation {instance}'s segmentation covers no pixel (an empty object)"
            )
        return gt, None
    labels, ignore = instances.read_labels(path, layout)
    _check_size(path, labels.shape, shape, "instance mask")
    ids = instances.object_ids(labels)
    if not ids:
        return_values = "0 (background)" + (" and void (ignore)" if ignore is not None else "")
        raise BadInputError(
            path,
            f"instance mask holds no object: every pixel is {return_values}, so this image "
            "cannot be evaluated",
        )
    if instance is None:
        raise ValueError(f"{layout} ground truth needs the object's instance id")
    gt = labels == instance
    if not gt.any():
        raise BadInputError(
            path, f"instance mask holds no object {instance} (its objects: {_shown(ids)})"
        )
    return gt, ignore


def load_ground_truth(
    path: str | Path,
    layout: str,
    shape: tuple[int, ...],
    instance: int | None = None,
    notes: list[Note] | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Read a ground-truth mask: ``gt (H, W) bool`` and ``ignore (H, W) bool`` or ``None``.

    ``shape`` is the image's shape ``(H, W)`` or ``(H, W, 3)``; a mask of another size is an
    error giving both sizes. ``instance``: the object, in an instance layout (the value in
    the mask, or the COCO annotation id; see :func:`clickbench.samples.split_object_id`).
    Values, per layout:

    - ``grabcut``, ``berkeley`` (RITM's GrabCutDataset): object = value > 128, ignore =
      value == 128 (``ignore`` is ``None`` when no pixel is 128), the rest background.
      RITM keeps other values as instance ids, so a stray value 1 would count as object there;
      here it is background (the real GrabCut masks hold only 0, 128 and 255).
    - ``davis``, ``coco_mval`` (RITM's DavisDataset): a palette is applied, object = largest
      colour channel > 0; no ignore.
    - ``fish``, ``generic``: binary masks: object = value >= 128. Grey values (17..238) are
      accepted only within 3 pixels of the object's edge (anti-aliasing from resizing); grey
      pixels elsewhere (more than :data:`NOT_BINARY_SHARE` of them) are an error, unless the mask looks JPEG-compressed (see
      :data:`JPEG_FAR_SHARE`): then it is thresholded and a note is listed. A mask holding
      only 0 and 1 is read as 0/1. No ignore.
    - ``instances``, ``sbd``: object = value ``instance``; no ignore.
    - ``pascal_voc``: object = palette index ``instance``; ignore = index 255 (void).
    - ``coco_json``: the annotation's segmentation, decoded by pycocotools; no ignore.

    Grayscale, palette and RGB-with-equal-channels masks are accepted (RGB with differing
    channels only for davis/coco_mval, as RITM takes the maximum). A mask with no object
    pixel cannot be evaluated: an error saying which values it holds and how this layout
    reads them (values 1, 2, ... under a binary layout are an instance mask).
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; known: {', '.join(LAYOUTS)}")
    path = Path(path)
    if layout in INSTANCE_LAYOUTS:
        return _instance_ground_truth(path, layout, shape, instance)
    values = _mask_values(path, layout)
    _check_size(path, values.shape, shape)
    ignore = None
    if layout in ("grabcut", "berkeley"):
        gt = values > GRABCUT_IGNORE
        band = values == GRABCUT_IGNORE
        ignore = band if band.any() else None
    elif layout in ("davis", "coco_mval"):
        gt = values > 0
    else:
        gt = _binary(values, path, notes)
    if not gt.any():
        raise _no_object(path, values, layout)
    return gt, ignore


def instance_of(image_id: str, layout: str) -> int | None:
    """The object a sample id names in an instance layout; ``None`` elsewhere."""
    return split_object_id(image_id)[1] if layout in INSTANCE_LAYOUTS else None


def load_sample(
    sample: Sample, layout: str, notes: list[Note] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``(image (H, W, 3) uint8, gt (H, W) bool, ignore (H, W) bool | None)`` for a sample.

    Validates the image, that it has a mask, and the mask against the image's size; what
    was read unusually is appended to ``notes`` (logged when ``None``).
    """
    image = load_image(sample.image, notes)
    if sample.mask is None:
        where = f": expected {sample.expected_mask}" if sample.expected_mask else ""
        raise BadInputError(
            sample.image,
            f"no ground-truth mask found for this image{where} (masks are paired by file name)",
        )
    gt, ignore = load_ground_truth(
        sample.mask, layout, image.shape, instance_of(sample.image_id, layout), notes
    )
    return image, gt, ignore


def try_load(
    sample: Sample, layout: str, on_bad_input: str = "error", notes: list[Note] | None = None
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray | None] | None, Skipped | None]:
    """:func:`load_sample` under the ``on_bad_input`` policy.

    Returns ``(result, None)`` for a good sample. For bad input, ``"error"`` raises the
    :class:`BadInputError`; ``"skip"`` logs a warning and returns ``(None, skipped)`` where
    ``skipped`` (:class:`Skipped`) names the sample, the file and the problem, for the
    caller's skip table. Nothing is dropped silently; ``notes`` as in :func:`load_sample`.
    """
    if on_bad_input not in ON_BAD_INPUT:
        raise ValueError(f"on_bad_input must be one of {ON_BAD_INPUT}, got {on_bad_input!r}")
    try:
        return load_sample(sample, layout, notes), None
    except BadInputError as err:
        if on_bad_input == "error":
            raise
        skipped = Skipped(sample.cls, sample.image_id, err.path, err.problem)
        log.warning("skipped %s/%s: %s", sample.cls, sample.image_id, skipped)
        return None, skipped

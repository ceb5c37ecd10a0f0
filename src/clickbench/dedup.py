"""Find the original photographs among their augmented copies, per class, by perceptual hash.

The fish dataset holds, per original photo, copies that were flipped, rotated by right angles
or rotated by arbitrary angles (leaving black corners), with some colour change. This module
groups every image with its copies and picks one representative per group.

**Canonical view.** Every image is reduced to a view that the augmentations do not change,
up to the eight symmetries of a square:

1. *Rotation fill* is detected from the image: at least two of the four frame corners are
   black (every channel <= ``FILL_LEVEL`` in a 3x3 corner patch). A rotation about the frame
   centre by any angle other than 0 or 180 degrees uncovers at least one pair of opposite
   corners; flips and the 180-degree rotation uncover none. A photo whose own corners are
   black (scikit-image's ``retina``: a fundus on black) cannot be told from a rotated copy
   and is out of scope; none of GrabCut's 50 photos is one.
2. The fill is the black region (<= ``FILL_LEVEL``) flood-filled from the corners, plus the
   pixels up to ``FLOOD_LEVEL`` within ``EDGE_BAND`` of it (a JPEG re-encoding lifts the fill
   along the photo's edge). The photo is a rectangle of the frame's aspect ratio, centred on
   the frame (copies are rotated about the frame centre, as the Kaggle set's and
   :func:`clickbench.demo.transform`'s are; a right-angle turn scaled to fit swaps the
   sides, which 90 degrees covers). Its angle is the one at which the most points of the
   photo's outline lie on the smallest such rectangle holding the outline (:func:`_fit_rotation`:
   at the true angle every point on a photo edge lies on it). Dark photo content that the
   flood took for fill leaves outline points *inside* the rectangle, which count for no
   angle, so it does not pull the estimate. The rectangle's size is the scale (``scale``:
   photo short side / frame short side), less ``EDGE_OVERSHOOT`` (the outline's pixels are
   part photo, part fill).
3. The canonical crop is the square of side ``CROP`` x (short side of the photo), centred on
   the photo and aligned with it, resampled to ``THUMB`` x ``THUMB`` grey levels. It lies inside
   the circle that every rotation about the centre keeps, so it never contains fill.
4. ``imagehash.phash`` (``HASH_SIZE`` = 16: 256 bits) of the crop in its 8 dihedral variants
   (4 right-angle rotations x optional mirror). The remaining ambiguity (which multiple of 90
   degrees, which flip) is exactly that group, so the distance between images *a* and *b* is
   ``min_k hamming(hash_a[0], hash_b[k])``; the minimising *k* is the estimated variant.

**Grouping** (:func:`group_images`). Pairs within ``max_distance`` bits (config
``dedup.max_distance``, default ``DEFAULT_MAX_DISTANCE``) are candidates, nearest first. A
candidate whose images are not yet in one group is *verified* (:func:`verify_pair`): OpenCV's
ECC fits an affine map between the two canonical crops (in the hashes' variant) and
:class:`Alignment` measures what is left: the shift at the crop centre, the rotation, the zoom,
the correlation after alignment and the largest residual over 4 x 4 blocks. Copies of one
photo differ only by resampling; a distinct original differs by a shift, a zoom or a moved
object, which a global hash alone does not see (a view zoomed by 6% is 30 to 70 bits from the
photo, a copy up to 32). The pair joins when every measure is within the limits below, and so
do the two groups' anchors (their members with the least fill), so that a chain of small
errors cannot join two views. Groups are the connected components.

*What counts as a distinct original* (:mod:`clickbench.dedup_eval` builds these sets): another
photograph of the scene, not a transform of the same one: the view shifted by 3% of its short
side or more, zoomed by 6% or more, an object moved by 5% of the short side or more, or two
views a moment apart (scikit-image's stereo pair). Smaller changes are within what resampling
leaves between copies and may be merged.

*The limits come from real photographs* (``python benchmarks/dedup_real.py``, figures in
benchmarks/README.md): on the 50 GrabCut photos and the package photos, 826 copies (every
kind, jittered, blurred or JPEG re-encoded) against their photo reached at most 32 bits, a
shift of 0.45 crop pixels, a rotation of 1.2 degrees, a zoom of 1.021, a block residual of 0.18
and a correlation of at least 0.963; the shifted views were at least 1.19 crop pixels off (and
76 bits), the zoomed at least 1.059, the moved objects at least 64 bits. Each limit sits
between the two: ``MAX_SHIFT`` 0.8 px, ``MAX_ROTATION`` 2.5 degrees, ``MAX_ZOOM`` 1.04,
``MAX_BLOCK_RESIDUAL`` 0.3, ``MIN_CORRELATION`` 0.95, ``DEFAULT_MAX_DISTANCE`` 48 bits. The
generated demo (:mod:`clickbench.demo`) is grouped exactly with the same limits.

**Representative** (:func:`choose_representatives`). In each group the member with the least
rotation fill: the images without ``fill`` first (the original photo, or a flip or lossless
turn of it, which lose nothing), among those the smallest ``fill_fraction`` (a rotation by a
degree or two leaves slivers of black too thin for the corner test, the photo none), then the
lowest file number (numeric file stem; otherwise the natural sort order of the stems). A
group whose every image has fill takes the least filled and is reported (``rotation_fill`` = 1
on a representative). Groups are numbered 1, 2, ... in the order of their representatives'
file numbers, so numbering is stable.

**Mask consistency.** The representative's ground-truth mask is mapped into each copy's frame by
the estimated transform (photo geometry of both images and their variant) and compared with the
copy's own mask where both photos are visible (``mask_iou``); an IoU below ``MASK_IOU_MIN`` flags
``mask_consistent = 0`` and logs a warning: either the grouping or the masks are wrong. When most
copies disagree with the representative's mask and agree with another member's, that member is
the reference instead and the representative is the one flagged.

**Methods** (config ``dedup.method``): ``phash`` selects each group's representative;
``index`` selects the 2023 study's files ``index_start``, ``index_start + index_step``, ...
by file number (00001, 00021, ... with step 20), ignoring the groups; ``none`` selects every
image. Groups, hashes and fill are computed for every method, so the selections can be compared
(:func:`compare_index_rule`).

**Table** (:func:`dedup_class`, one row per image, sorted by file number): ``class``, ``image``
(file stem), ``image_path``, ``mask_path``, ``group`` (1, 2, ...; 0 when skipped),
``representative`` (its group's representative's id), ``hash`` (64 hex digits: variant 0),
``distance`` (bits to the representative), ``correlation`` (with the representative),
``variant`` (0..7, crop ~ dihedral(representative's crop, variant)), ``rotation_fill`` (0/1),
``angle`` (photo rotation modulo 90 degrees, counter-clockwise), ``scale``, ``selected`` (0/1,
by the method), ``index_pick`` (0/1: the study's index rule picks it, whatever the method, so
both selections can be run and compared), ``mask_iou`` and ``mask_consistent`` (0/1; empty
without a mask), ``status`` (``ok``/``skipped``), ``problem`` (why it was skipped).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import imagehash
import numpy as np
import pandas as pd
from PIL import Image

from clickbench import datasets
from clickbench.errors import BadInputError

log = logging.getLogger(__name__)

FILL_LEVEL = 16  # a pixel whose every channel is <= this is black rotation fill
FLOOD_LEVEL = 40  # next to the fill, fill up to this level (a re-encoding lifts its edge)
EDGE_BAND = 1  # working pixels
CROP = 0.70  # canonical square side / photo short side (inside the always-kept circle)
THUMB = 64  # canonical crop size in pixels
HASH_SIZE = 16  # phash of HASH_SIZE x HASH_SIZE DCT coefficients: 256 bits
WORDS = HASH_SIZE * HASH_SIZE // 64
DEFAULT_MAX_DISTANCE = 48  # of 256 bits: candidate pairs, then verified (see the docstring)
MIN_CORRELATION = 0.95  # verification: the limits of Alignment.same_photo, from real photos
MAX_SHIFT = 0.8  # crop pixels
MAX_ROTATION = 2.5  # degrees
MAX_ZOOM = 1.04
MAX_BLOCK_RESIDUAL = 0.3
BLOCKS = 4
MAX_ATTEMPTS = 3  # failed verifications between two groups before their pairs are left out
ECC_CRITERIA = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 1e-3)
MASK_IOU_MIN = 0.85
EDGE_OVERSHOOT = 0.65  # working pixels by which the outline overshoots the photo edge
WORK_SCALE = 2  # geometry and crops are computed at 1/WORK_SCALE resolution
MASK_SCALE = 2  # masks are compared at 1/MASK_SCALE resolution
METHODS = ("phash", "index", "none")
COLUMNS = (
    "class",
    "image",
    "image_path",
    "mask_path",
    "group",
    "representative",
    "hash",
    "distance",
    "correlation",
    "variant",
    "rotation_fill",
    "angle",
    "scale",
    "selected",
    "index_pick",
    "mask_iou",
    "mask_consistent",
    "status",
    "problem",
)


# ----------------------------------------------------------------------------- geometry
def _corners_black(image: np.ndarray, level: int = FILL_LEVEL) -> list[tuple[int, int]]:
    """(x, y) of the frame corners whose 3x3 patch is black, for an (H, W, 3) image."""
    h, w = image.shape[:2]
    out = []
    for x, y in ((0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1)):
        x0, y0 = min(x, w - 3), min(y, h - 3)
        if image[y0 : y0 + 3, x0 : x0 + 3].max() <= level:
            out.append((x, y))
    return out


def _channel_max(image: np.ndarray) -> np.ndarray:
    """(H, W) largest channel value of an (H, W, 3) uint8 image (cv2: numpy's axis max is slow)."""
    return cv2.max(cv2.max(image[..., 0], image[..., 1]), image[..., 2])


def has_rotation_fill(image: np.ndarray) -> bool:
    """Whether an (H, W, 3) uint8 RGB image shows black fill from a rotation.

    True when at least two frame corners are black (see the module docstring).
    """
    return len(_corners_black(image)) >= 2


@dataclass(frozen=True)
class Geometry:
    """Where the photo lies in an image, in full-resolution pixel coordinates.

    ``angle``: rotation of the photo's axes modulo 90 degrees, in (-45, 45], counter-clockwise as
    displayed; ``scale``: photo short side / frame short side; ``center``: (row, col) of the
    photo's centre; ``fill``: rotation fill detected; ``fill_fraction``: the part of the frame
    that is black and connected to a frame corner (a rotation by a degree or two leaves slivers
    too thin for ``fill``, but not none).
    """

    angle: float
    scale: float
    center: tuple[float, float]
    fill: bool
    fill_fraction: float = 0.0


def _fit_rotation(boundary: np.ndarray, width: int, height: int) -> tuple[float, float, float]:
    """The angle and scale of the photo rectangle, centred on the frame, from its outline.

    ``boundary``: (n, 2) float (x, y) of the outline points that lie between photo and fill
    (not on the frame's border), relative to the frame centre. The photo has the frame's
    aspect ratio (a rotation keeps it; a right-angle turn scaled to fit swaps the sides, which
    an angle of 90 degrees covers). For each candidate angle in [0, 180) the smallest such
    rectangle holding the outline is found; its sides are where the outline touches it, and at
    the true angle every outline point on a photo edge lies on them, at any other they spread.
    The angle with the most outline points within ``tolerance`` of its rectangle wins: 1 degree
    steps, then 0.1, then 0.01 about the best. Dark photo content that the flood fill took for
    fill makes outline points inside the rectangle, which no angle counts, so it does not pull
    the estimate (the mean edge direction it replaces did).
    Returns (theta in image coordinates, radians in [0, pi); scale: photo / frame).
    """
    half_w, half_h = width / 2, height / 2
    lo, hi, step, tolerance = 0.0, 179.0, 1.0, 2.5
    best, scale = 0.0, 1.0
    for _ in range(3):
        degrees = np.arange(lo, hi + step / 2, step)
        rad = np.radians(degrees)[:, None]
        ct, st = np.cos(rad), np.sin(rad)
        u = np.abs(ct * boundary[None, :, 0] + st * boundary[None, :, 1]) / half_w
        v = np.abs(-st * boundary[None, :, 0] + ct * boundary[None, :, 1]) / half_h
        reach = np.maximum(u, v)
        scales = reach.max(axis=1, keepdims=True)
        support = (reach > scales - tolerance / half_h).sum(axis=1)
        pick = int(np.argmax(support))
        best, scale = float(degrees[pick]), float(scales[pick, 0])
        share = float(support[pick]) / len(boundary)
        lo, hi, step, tolerance = best - step, best + step, step / 10, max(tolerance / 2.5, 0.7)
    return float(np.radians(best)), scale, share


def _geometry(small: np.ndarray, factor: float) -> tuple[float, Geometry, np.ndarray]:
    """Photo geometry from a reduced (h, w, 3) image; returns (theta in image coordinates,
    Geometry in full resolution, valid (h, w) bool: pixels of the photo, not fill)."""
    h, w = small.shape[:2]
    corners = _corners_black(small)
    centre = _full(((h - 1) / 2, (w - 1) / 2), factor)
    level = _channel_max(small)
    dark = (level <= FILL_LEVEL).astype(np.uint8)
    flood = np.zeros((h + 2, w + 2), np.uint8)
    for x, y in ((0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1)):
        if dark[y, x] == 1:
            cv2.floodFill(dark, flood, (x, y), 2)
    fill = dark == 2
    # a re-encoding (JPEG) lifts the fill next to the photo's edge above FILL_LEVEL: pixels up
    # to FLOOD_LEVEL within EDGE_BAND pixels of the fill are fill too (not farther: a dark
    # grey background, a night sky, would be taken whole)
    band = cv2.dilate(fill.astype(np.uint8), np.ones((2 * EDGE_BAND + 1,) * 2, np.uint8)) > 0
    valid = ~(fill | (band & (level <= FLOOD_LEVEL)))
    fraction = float(1 - valid.mean())
    if len(corners) < 2:
        return 0.0, Geometry(0.0, 1.0, centre, False, fraction), np.ones((h, w), bool)
    contours, _ = cv2.findContours(valid.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    # the photo's outline; specks of the fill that a re-encoding lifted above the level are
    # islands with outlines of their own, left out
    points = max(contours, key=len).reshape(-1, 2) if contours else np.zeros((0, 2), int)
    inner = (
        (points[:, 0] > 0) & (points[:, 0] < w - 1) & (points[:, 1] > 0) & (points[:, 1] < h - 1)
    )
    if inner.sum() < 8:
        return 0.0, Geometry(0.0, 1.0, centre, True, fraction), valid
    mid = np.array([(w - 1) / 2, (h - 1) / 2])
    theta, reach, share = _fit_rotation(points[inner].astype(np.float64) - mid, w, h)
    # the outline's pixels lie up to EDGE_OVERSHOOT beyond the edge (they are part photo)
    scale = reach * (1 - EDGE_OVERSHOOT / (h / 2))
    theta = (theta + np.pi / 4) % (np.pi / 2) - np.pi / 4  # the crop needs it modulo 90 degrees
    geo = Geometry(float(-np.degrees(theta)), scale, centre, True, fraction)
    return theta, geo, valid


def _full(rc: tuple[float, float], factor: float) -> tuple[float, float]:
    """(row, col) at 1/factor resolution -> full resolution (pixel centres)."""
    return ((rc[0] + 0.5) * factor - 0.5, (rc[1] + 0.5) * factor - 0.5)


def _to_res(factor: float) -> np.ndarray:
    """3x3 affine: full-resolution (x, y) -> 1/factor resolution (x, y)."""
    s = 1.0 / factor
    return np.array([[s, 0, 0.5 * s - 0.5], [0, s, 0.5 * s - 0.5], [0, 0, 1.0]])


def _h(m: np.ndarray) -> np.ndarray:
    return np.vstack([m, [0, 0, 1.0]]) if m.shape == (2, 3) else m


# ----------------------------------------------------------------------------- hashing
@dataclass(frozen=True)
class Canonical:
    """An image's canonical view and hashes.

    ``thumb``: (THUMB, THUMB) uint8 grey canonical crop; ``hashes``: (8, WORDS) uint64, the
    256-bit phash of the crop's 8 dihedral variants (variant 0 as seen, see
    :func:`dihedral`); ``affine``: (3, 3) map from crop pixel (x=col, y=row) to image pixel
    (x, y) at full resolution; ``geometry``: see :class:`Geometry`; ``valid``: (h, w) bool at
    1/MASK_SCALE resolution, the photo's pixels (not fill); ``shape``: the image's (H, W).
    """

    thumb: np.ndarray
    hashes: np.ndarray
    affine: np.ndarray
    geometry: Geometry
    valid: np.ndarray
    shape: tuple[int, int]

    @property
    def hash_hex(self) -> str:
        return hash_to_hex(self.hashes[0])


def dihedral(array: np.ndarray, k: int) -> np.ndarray:
    """Variant ``k`` (0..7) of a square array: ``rot90`` by ``k // 2`` then a mirror if ``k`` is odd."""
    out = np.rot90(array, k // 2, axes=(0, 1))
    return out[:, ::-1] if k % 2 else out


def _phash_bits(gray: np.ndarray) -> np.ndarray:
    """(WORDS,) uint64: ``imagehash.phash(gray, hash_size=HASH_SIZE)`` of a (THUMB, THUMB) crop."""
    h = imagehash.phash(Image.fromarray(np.ascontiguousarray(gray)), hash_size=HASH_SIZE)
    return _pack(h.hash)


def _pack(bits: np.ndarray) -> np.ndarray:
    return np.packbits(bits.ravel()).view(">u8").astype(np.uint64)


_SIGN = (-1.0) ** np.arange(HASH_SIZE)


def _dihedral_phashes(gray: np.ndarray) -> np.ndarray:
    """(8, WORDS) uint64: phash of the 8 :func:`dihedral` variants of a (THUMB, THUMB) crop.

    Variant 0 is ``imagehash.phash`` itself. The others reuse its DCT: a mirror of the
    columns multiplies coefficient (u, v) by (-1)**v, ``rot90`` is a transpose followed by a
    mirror of the rows, so each variant's coefficients are a signed transpose of the first
    (equal to ``imagehash.phash(dihedral(crop, k))``, checked in the tests).
    """
    # imported here, as imagehash does: the jobs that read dedup tables (dedup_summary,
    # aggregate) import this module too and would pay 0.16 s for a DCT they never compute
    import scipy.fftpack

    pixels = np.asarray(gray, dtype=np.float64)
    dct = scipy.fftpack.dct(scipy.fftpack.dct(pixels, axis=0), axis=1)
    low = dct[:HASH_SIZE, :HASH_SIZE]
    out = []
    for k in range(8):
        b = low
        for _ in range(k // 2):
            b = b.T * _SIGN[:, None]
        if k % 2:
            b = b * _SIGN[None, :]
        out.append(_pack(b > np.median(b)))
    return np.stack(out)


def hash_to_hex(words: np.ndarray) -> str:
    return "".join(f"{int(w):016x}" for w in words)


def hex_to_hash(text: str) -> np.ndarray:
    """Inverse of :func:`hash_to_hex`: (WORDS,) uint64."""
    return np.array([int(text[i : i + 16], 16) for i in range(0, len(text), 16)], np.uint64)


def image_hashes(image: np.ndarray) -> Canonical:
    """Canonical crop, 8 dihedral phashes and photo geometry of an (H, W, 3) uint8 RGB image."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) image, got shape {image.shape}")
    h_full, w_full = image.shape[:2]
    f = WORK_SCALE
    if h_full < 4 * f or w_full < 4 * f:
        raise ValueError(f"image of shape {image.shape} is too small to hash")
    # an exact factor: OpenCV's INTER_AREA is fast only for integer ratios
    even = image[: (h_full // f) * f, : (w_full // f) * f]
    small = cv2.resize(even, (w_full // f, h_full // f), interpolation=cv2.INTER_AREA)
    fx = fy = float(f)
    theta, geo, valid = _geometry(small, 1.0)
    h, w = small.shape[:2]
    cy, cx = geo.center
    side = CROP * geo.scale * min(w, h)
    ct, st = np.cos(theta), np.sin(theta)
    n2 = THUMB * 2  # sample at twice the size, then reduce (anti-aliasing)
    a = side / n2
    m = np.array([[a * ct, -a * st, 0.0], [a * st, a * ct, 0.0]])
    off = -(n2 / 2 - 0.5) * a
    m[0, 2] = cx + ct * off - st * off
    m[1, 2] = cy + st * off + ct * off
    gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    big = cv2.warpAffine(
        gray,
        m,
        (n2, n2),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )
    thumb = cv2.resize(big, (THUMB, THUMB), interpolation=cv2.INTER_AREA)
    hashes = _dihedral_phashes(thumb)
    # thumb pixel -> 2x sample pixel -> small pixel -> full pixel
    up = np.array([[2.0, 0, 0.5], [0, 2.0, 0.5], [0, 0, 1]])
    to_full = np.array([[fx, 0, 0.5 * fx - 0.5], [0, fy, 0.5 * fy - 0.5], [0, 0, 1]])
    affine = to_full @ _h(m) @ up
    geo = Geometry(
        geo.angle,
        geo.scale,
        ((cy + 0.5) * fy - 0.5, (cx + 0.5) * fx - 0.5),
        geo.fill,
        geo.fill_fraction,
    )
    mh, mw = max(h_full // MASK_SCALE, 1), max(w_full // MASK_SCALE, 1)
    valid_q = cv2.resize(valid.astype(np.uint8), (mw, mh), interpolation=cv2.INTER_NEAREST) > 0
    return Canonical(thumb, hashes, affine, geo, valid_q, (h_full, w_full))


hash_image = image_hashes  # the name docs/internals.md gives


def pair_distances(a: np.ndarray, b: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Hash distances between images: ``a`` (n, 8, WORDS), ``b`` (m, 8, WORDS) uint64.

    Returns ``distance`` (n, m) int: ``min_k hamming(a[i, 0], b[j, k])``, and ``variant`` (n, m)
    int8: the minimising ``k`` (crop of ``a[i]`` ~ :func:`dihedral` ``(crop of b[j], k)``).
    """
    b = a if b is None else b
    n, m = len(a), len(b)
    dist = np.empty((n, m), np.int32)
    var = np.empty((n, m), np.int8)
    chunk = max(1, 2_000_000 // max(m * 8 * WORDS, 1))
    for s in range(0, n, chunk):
        x = a[s : s + chunk, None, None, 0, :] ^ b[None, :, :, :]
        d = np.bitwise_count(x).sum(axis=-1, dtype=np.int32)  # (c, m, 8)
        var[s : s + chunk] = d.argmin(axis=2)
        dist[s : s + chunk] = d.min(axis=2)
    return dist, var


def _normalised(thumbs: np.ndarray) -> np.ndarray:
    t = thumbs.reshape(len(thumbs), -1).astype(np.float32)
    t -= t.mean(axis=1, keepdims=True)
    t /= np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-6)
    return t.reshape(thumbs.shape)


def _correlations(thumbs: np.ndarray, i: np.ndarray, j: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Normalised cross-correlation of crop i with variant k of crop j, per pair."""
    norm = _normalised(thumbs)
    out = np.empty(len(i), np.float32)
    for kk in range(8):
        sel = np.flatnonzero(k == kk)
        if len(sel) == 0:
            continue
        other = np.stack([dihedral(t, kk) for t in norm[j[sel]]])
        out[sel] = np.einsum("nij,nij->n", norm[i[sel]], other)
    return out


@dataclass(frozen=True)
class Alignment:
    """The residual between two canonical crops after a fitted affine alignment.

    ``shift`` (crop pixels at the crop centre), ``rotation`` (degrees), ``zoom`` (scale ratio, 1
    for none) of the fitted map; ``correlation`` of the crops after it; ``block_residual``: the
    largest mean squared difference of the normalised crops over one of ``BLOCKS`` x ``BLOCKS``
    blocks, relative to the crops' variance (an object moved in one part of the scene).
    """

    shift: float
    rotation: float
    zoom: float
    correlation: float
    block_residual: float

    def same_photo(self) -> bool:
        """Whether the residual is what resampling leaves between copies of one photo."""
        return (
            self.shift <= MAX_SHIFT
            and abs(self.rotation) <= MAX_ROTATION
            and abs(np.log(self.zoom)) <= np.log(MAX_ZOOM)
            and self.correlation >= MIN_CORRELATION
            and self.block_residual <= MAX_BLOCK_RESIDUAL
        )


def _standardised(thumb: np.ndarray) -> np.ndarray:
    t = thumb.astype(np.float32)
    t -= t.mean()
    return t / max(float(t.std()), 1e-3)


def align_crops(reference: np.ndarray, other: np.ndarray) -> Alignment:
    """Fit an affine map of ``other`` onto ``reference`` (two (THUMB, THUMB) uint8 crops, already
    in the same dihedral variant) by OpenCV's ECC and measure what is left after it."""
    ref, oth = _standardised(reference), _standardised(other)
    warp = np.eye(2, 3, dtype=np.float32)
    try:
        _, warp = cv2.findTransformECC(ref, oth, warp, cv2.MOTION_AFFINE, ECC_CRITERIA, None, 1)
    except cv2.error:  # no convergence: no alignment found
        return Alignment(np.inf, 0.0, 1.0, -1.0, np.inf)
    n = ref.shape[0]
    centre = (n - 1) / 2
    moved = warp[:, :2] @ np.array([centre, centre]) + warp[:, 2] - centre
    linear = warp[:, :2].astype(np.float64)
    zoom = float(np.sqrt(abs(np.linalg.det(linear))))
    rotation = float(
        np.degrees(np.arctan2(linear[1, 0] - linear[0, 1], linear[0, 0] + linear[1, 1]))
    )
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    aligned = cv2.warpAffine(oth, warp, (n, n), flags=flags, borderMode=cv2.BORDER_REPLICATE)
    margin = int(np.ceil(float(np.hypot(*moved)))) + 2  # replicated border left out
    if n - 2 * margin < 2 * BLOCKS:  # shifted by most of the crop: nothing left to compare
        return Alignment(float(np.hypot(*moved)), rotation, zoom, -1.0, np.inf)
    inner = slice(margin, n - margin)
    ra, al = _standardised(ref[inner, inner]), _standardised(aligned[inner, inner])
    correlation = float((ra * al).mean())
    diff = (ra - al) ** 2
    m = diff.shape[0] // BLOCKS * BLOCKS
    blocks = diff[:m, :m].reshape(BLOCKS, m // BLOCKS, BLOCKS, m // BLOCKS).mean(axis=(1, 3))
    return Alignment(float(np.hypot(*moved)), rotation, zoom, correlation, float(blocks.max()))


def verify_pair(a: Canonical, b: Canonical) -> Alignment:
    """:func:`align_crops` of b's crop onto a's, in the dihedral variant their hashes give."""
    k = _variant_of(a, b)
    return align_crops(a.thumb, dihedral(b.thumb, k))


def _variant_of(a: Canonical, b: Canonical) -> int:
    """k with crop a ~ dihedral(crop b, k), by hash distance."""
    x = a.hashes[0][None, :] ^ b.hashes
    return int(np.bitwise_count(x).sum(axis=1).argmin())


def group_images(
    canon: Sequence[Canonical],
    *,
    max_distance: int = DEFAULT_MAX_DISTANCE,
) -> np.ndarray:
    """Group labels (n,) int, 0-based in order of first appearance, for canonical views.

    Candidate pairs (hash distance at most ``max_distance``) are taken nearest first; a pair
    whose images are not yet in one group is verified (:func:`verify_pair`) and joins their
    groups when :meth:`Alignment.same_photo`, and so do the two groups' anchors (the member
    with the least fill, as :func:`choose_representatives` ranks them), so that no chain of
    small errors joins two views that differ by more than one verification allows. At most ``MAX_ATTEMPTS`` failed verifications are
    spent between the same two groups.
    """
    n = len(canon)
    if n == 0:
        return np.zeros(0, int)
    hashes = np.stack([c.hashes for c in canon])
    dist, _ = pair_distances(hashes)
    dist = np.minimum(dist, dist.T)
    i, j = np.nonzero(np.triu(dist <= max_distance, k=1))
    order = np.argsort(dist[i, j], kind="stable")
    parent = np.arange(n)

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    # each group's anchor: its member with the least fill, whose geometry is the surest
    rank = [(c.geometry.fill, round(c.geometry.fill_fraction, 4), p) for p, c in enumerate(canon)]
    anchor = list(range(n))
    failed: dict[tuple[int, int], int] = {}
    for a, b in zip(i[order].tolist(), j[order].tolist(), strict=True):
        ra, rb = find(a), find(b)
        if ra == rb:
            continue
        key = (min(ra, rb), max(ra, rb))
        if failed.get(key, 0) >= MAX_ATTEMPTS:
            continue
        ok = verify_pair(canon[a], canon[b]).same_photo()
        if ok and {anchor[ra], anchor[rb]} != {a, b}:
            # and the anchors: a chain of small geometry errors must not bridge a zoom
            ok = verify_pair(canon[anchor[ra]], canon[anchor[rb]]).same_photo()
        if ok:
            root, other = min(ra, rb), max(ra, rb)
            parent[other] = root
            anchor[root] = min(anchor[ra], anchor[rb], key=lambda p: rank[p])
        else:
            failed[key] = failed.get(key, 0) + 1
    roots = np.array([find(x) for x in range(n)])
    _, labels = np.unique(roots, return_inverse=True)
    return labels


# ----------------------------------------------------------------------------- masks
def _variant_affine(k: int, n: int = THUMB) -> np.ndarray:
    """3x3 affine sigma with dihedral(T, k)[p] = T[sigma(p)], p and sigma(p) as (x, y)."""
    rows, cols = np.mgrid[0:n, 0:n]
    r, c = dihedral(rows, k), dihedral(cols, k)
    p0 = np.array([c[0, 0], r[0, 0]], float)
    px = np.array([c[0, 1], r[0, 1]], float) - p0
    py = np.array([c[1, 0], r[1, 0]], float) - p0
    return np.array([[px[0], py[0], p0[0]], [px[1], py[1], p0[1]], [0, 0, 1.0]])


def _reduce_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(h, w) uint8 0/1: a bool mask reduced by area to ``shape`` (object where >= half).

    A mask already of ``shape`` is returned as 0/1 unchanged.
    """
    if mask.shape == tuple(shape):
        return mask.astype(np.uint8)
    f = mask.shape[0] // shape[0]
    if f >= 1 and mask.shape[1] // shape[1] == f:
        mask = mask[: shape[0] * f, : shape[1] * f]  # an exact factor, as for the image
    small = cv2.resize(mask.astype(np.uint8) * 255, shape[::-1], interpolation=cv2.INTER_AREA)
    return (small >= 128).astype(np.uint8)


def mask_agreement(
    rep: Canonical, rep_mask: np.ndarray, copy: Canonical, copy_mask: np.ndarray, variant: int
) -> float:
    """IoU of the representative's mask mapped into the copy's frame against the copy's mask.

    Masks are (H, W) bool at full resolution, or already reduced to the ``valid`` shape of their
    :class:`Canonical` (what :func:`dedup_class` keeps); ``variant`` relates the crops (copy crop ~
    dihedral(rep crop, variant)). Computed at 1/MASK_SCALE resolution over the pixels where
    both photos are visible, leaving out a band of one reduced pixel along the copy's object
    boundary (resampling moves it). Returns NaN when that region holds no object pixel.
    """
    mh, mw = copy.valid.shape
    q = _to_res(copy.shape[0] // mh)
    q_rep = _to_res(rep.shape[0] // rep.valid.shape[0])
    # copy pixel (reduced) -> copy full -> copy crop -> rep crop -> rep full -> rep reduced
    m = (
        q_rep
        @ rep.affine
        @ _variant_affine(variant)
        @ np.linalg.inv(copy.affine)
        @ np.linalg.inv(q)
    )
    small_rep = _reduce_mask(rep_mask, rep.valid.shape)
    small_copy = _reduce_mask(copy_mask, copy.valid.shape)
    flags = cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP
    mapped = cv2.warpAffine(small_rep, m[:2], (mw, mh), flags=flags, borderValue=0) > 0
    inside = (
        cv2.warpAffine(rep.valid.astype(np.uint8), m[:2], (mw, mh), flags=flags, borderValue=0) > 0
    )
    # the copy's object boundary (1 reduced pixel each side) is left out: resampling moves it
    band = cv2.morphologyEx(small_copy, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    small_copy = small_copy > 0
    region = inside & copy.valid & ~band
    a, b = mapped & region, small_copy & region
    union = np.count_nonzero(a | b)
    return float(np.count_nonzero(a & b) / union) if union else float("nan")


# ----------------------------------------------------------------------------- per class
def file_number(image_id: str) -> int | None:
    """The file's number from its stem (``"00021"`` -> 21), or None when the stem is not a number."""
    return int(image_id) if image_id.isdigit() else None


def _natural(image_id: str):
    return [
        (0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", image_id.lower())
    ]


def index_rule(image_ids: Sequence[str], start: int = 1, step: int = 20) -> np.ndarray:
    """(n,) bool: the study's picks, files ``start, start + step, ...`` by file number.

    Stems that are not numbers use their 1-based position in natural sort order.
    """
    order = sorted(range(len(image_ids)), key=lambda i: _natural(image_ids[i]))
    pos = {i: p + 1 for p, i in enumerate(order)}
    out = np.zeros(len(image_ids), bool)
    for i, iid in enumerate(image_ids):
        num = file_number(iid)
        num = pos[i] if num is None else num
        out[i] = num >= start and (num - start) % step == 0
    return out


def _sample(item) -> datasets.Sample:
    if isinstance(item, datasets.Sample):
        return item
    cls, image_id, image, mask = item
    return datasets.Sample(cls, image_id, Path(image), Path(mask) if mask else None)


def dedup_class(
    samples: Iterable,
    dedup_cfg: Mapping | None = None,
    *,
    layout: str = "fish",
    on_bad_input: str = "error",
    check_masks: bool = True,
) -> pd.DataFrame:
    """Dedup one class: a table with one row per sample (columns :data:`COLUMNS`).

    ``samples``: :class:`clickbench.datasets.Sample` (or ``(cls, image_id, image, mask)``
    tuples); ``dedup_cfg``: the config's ``dedup`` block (``method``, ``max_distance``,
    ``index_start``, ``index_step``). Images and masks are read and validated by
    :func:`clickbench.datasets.try_load`: bad input raises :class:`BadInputError` under
    ``on_bad_input="error"``; under ``"skip"`` the sample gets ``status = skipped``, its
    ``problem``, ``group = 0`` and is never selected. Rows are sorted by file number.
    """
    cfg = dict(dedup_cfg or {})
    method = cfg.get("method", "phash")
    if method not in METHODS:
        raise ValueError(f"dedup.method must be one of {METHODS}, got {method!r}")
    max_distance = int(cfg.get("max_distance", DEFAULT_MAX_DISTANCE))
    samples = sorted((_sample(s) for s in samples), key=lambda s: _natural(s.image_id))
    ok: list[int] = []
    canon: list[Canonical] = []
    masks: list[np.ndarray | None] = []
    problems: dict[int, str] = {}
    for idx, s in enumerate(samples):
        if check_masks:
            loaded, skipped = datasets.try_load(s, layout, on_bad_input)
            if skipped is not None:
                where = "" if skipped.path == str(s.image) else f"{skipped.path}: "
                problems[idx] = where + skipped.problem
                continue
            image, gt, _ignore = loaded
        else:
            try:
                image, gt = datasets.load_image(s.image), None
            except BadInputError as err:
                if on_bad_input == "error":
                    raise
                problems[idx] = err.problem
                continue
        ok.append(idx)
        canon.append(image_hashes(image))
        # kept reduced (the resolution of the check), not at full size: 1000 masks per class
        masks.append(_reduce_mask(gt, canon[-1].valid.shape).astype(bool) if check_masks else None)
    labels = group_images(canon, max_distance=max_distance)
    rows = [_row(s) for s in samples]
    for idx, problem in problems.items():
        rows[idx].update(status="skipped", problem=problem)
    if ok:
        _fill_groups(rows, ok, canon, masks, labels, samples)
    ids = [s.image_id for s in samples]
    picks = index_rule(ids, int(cfg.get("index_start", 1)), int(cfg.get("index_step", 20)))
    if method == "phash":
        chosen = [r["image"] == r["representative"] and r["status"] == "ok" for r in rows]
    elif method == "index":
        chosen = [bool(p) and r["status"] == "ok" for p, r in zip(picks, rows, strict=True)]
    else:
        chosen = [r["status"] == "ok" for r in rows]
    for r, c, p in zip(rows, chosen, picks, strict=True):
        r["selected"] = int(c)
        r["index_pick"] = int(p)
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    bad = table[table["mask_consistent"] == 0]
    for _, r in bad.iterrows():
        log.warning(
            "%s %s: its mask disagrees with group %d's representative %s (IoU %.3g after the "
            "estimated transform): the grouping or the masks are wrong",
            r["class"],
            r["image"],
            r["group"],
            r["representative"],
            r["mask_iou"],
        )
    return table


def _row(s: datasets.Sample) -> dict:
    return {
        "class": s.cls,
        "image": s.image_id,
        "image_path": str(s.image),
        "mask_path": str(s.mask) if s.mask is not None else "",
        "group": 0,
        "representative": "",
        "hash": "",
        "distance": np.nan,
        "correlation": np.nan,
        "variant": -1,
        "rotation_fill": 0,
        "angle": np.nan,
        "scale": np.nan,
        "selected": 0,
        "index_pick": 0,
        "mask_iou": np.nan,
        "mask_consistent": pd.NA,
        "status": "ok",
        "problem": "",
    }


def _agreement(canon, masks, ref: int, members: Sequence[int]) -> dict[int, float]:
    return {
        p: mask_agreement(
            canon[ref], masks[ref], canon[p], masks[p], _variant_of(canon[p], canon[ref])
        )
        for p in members
        if p != ref
    }


def _mask_ious(canon, masks, rep: int, members: Sequence[int]) -> dict[int, float]:
    """IoU of each member's mask against the group's mask reference.

    The reference is the representative, unless more than half of the other masks disagree with
    it and fewer disagree with the first of those: then the representative's own mask is the odd
    one and is the one flagged.
    """
    with_mask = [p for p in members if masks[p] is not None]
    if not with_mask:
        return {}
    ref = rep if masks[rep] is not None else with_mask[0]
    ious = _agreement(canon, masks, ref, with_mask)
    bad = [p for p, v in ious.items() if v < MASK_IOU_MIN]
    if len(with_mask) >= 3 and len(bad) > (len(with_mask) - 1) / 2:
        alt = _agreement(canon, masks, bad[0], with_mask)
        if sum(v < MASK_IOU_MIN for v in alt.values()) < len(bad):
            ref, ious = bad[0], alt
    ious[ref] = 1.0
    return ious


def choose_representatives(canon: Sequence[Canonical], labels: Sequence[int]) -> dict[int, int]:
    """Each group's representative: {label: position}, positions in file order.

    The member with the least rotation fill: first the members without ``fill`` (the photo
    itself, a flip, a lossless turn, or a rotation by a degree or two), among them the smallest
    ``fill_fraction`` (the photo has none of the slivers such a rotation leaves), then the
    first in file order.
    """
    best: dict[int, tuple] = {}
    for pos, lab in enumerate(labels):
        geo = canon[pos].geometry
        key = (geo.fill, round(geo.fill_fraction, 4), pos)
        if int(lab) not in best or key < best[int(lab)]:
            best[int(lab)] = key
    return {lab: key[-1] for lab, key in best.items()}


def _fill_groups(rows, ok, canon, masks, labels, samples) -> None:
    """Representatives, group numbers, distances, correlations and mask checks, in place."""
    members: dict[int, list[int]] = {}
    for pos, lab in enumerate(labels):
        members.setdefault(int(lab), []).append(pos)
    rep_of = choose_representatives(canon, labels)
    order = sorted(members, key=lambda lab: rep_of[lab])  # positions follow file order
    number = {lab: g + 1 for g, lab in enumerate(order)}
    hashes = np.stack([c.hashes for c in canon])
    thumbs = np.stack([c.thumb for c in canon])
    reps = np.array([rep_of[int(lab)] for lab in labels])
    pos = np.arange(len(canon))
    per_variant = np.bitwise_count(hashes[:, None, 0, :] ^ hashes[reps]).sum(axis=-1)  # (n, 8)
    k = per_variant.argmin(axis=1)
    d = per_variant.min(axis=1)
    corr = _correlations(thumbs, pos, reps, k)
    ious: dict[int, float] = {}
    for lab, pos_list in members.items():
        ious.update(_mask_ious(canon, masks, rep_of[lab], pos_list))
    for p, idx in enumerate(ok):
        c = canon[p]
        r = rows[idx]
        r.update(
            group=number[int(labels[p])],
            representative=samples[ok[reps[p]]].image_id,
            hash=c.hash_hex,
            distance=int(d[p]),
            correlation=float(corr[p]),
            variant=int(k[p]),
            rotation_fill=int(c.geometry.fill),
            angle=round(c.geometry.angle, 2),
            scale=round(c.geometry.scale, 4),
        )
        if p in ious:
            r["mask_iou"] = ious[p]
            r["mask_consistent"] = int(not (ious[p] < MASK_IOU_MIN))


# ----------------------------------------------------------------------------- tables
def write_table(table: pd.DataFrame, path: str | Path) -> None:
    """Write a table as deterministic TSV: rows in the given order, floats ``%.6g``, NaN empty."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, sep="\t", index=False, float_format="%.6g", na_rep="", lineterminator="\n")


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a table written by :func:`write_table` (ids and hashes stay strings)."""
    return pd.read_csv(
        path,
        sep="\t",
        dtype={
            "image": str,
            "representative": str,
            "hash": str,
            "problem": str,
            "class": str,
            "image_path": str,
            "mask_path": str,
        },
        keep_default_na=False,
        na_values={
            "distance": [""],
            "correlation": [""],
            "angle": [""],
            "scale": [""],
            "mask_iou": [""],
            "mask_consistent": [""],
        },
    )


def summarise(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Per class and in total: images, skipped, groups, selected, group sizes (min, median,
    max) and the distribution ``size:count`` of group sizes."""
    rows = []
    total_sizes: list[int] = []
    for cls, t in tables.items():
        okt = t[t["status"] == "ok"]
        sizes = okt.groupby("group").size().tolist()
        total_sizes += sizes
        rows.append(_summary_row(cls, t, okt, sizes))
    if tables:
        allt = pd.concat(list(tables.values()), ignore_index=True)
        rows.append(_summary_row("total", allt, allt[allt["status"] == "ok"], total_sizes))
    return pd.DataFrame(rows)


def _summary_row(cls, t, okt, sizes) -> dict:
    counts = pd.Series(sizes, dtype=int).value_counts().sort_index()
    return {
        "class": cls,
        "images": len(t),
        "skipped": int((t["status"] == "skipped").sum()),
        "groups": len(sizes),
        "selected": int(t["selected"].sum()),
        "representatives_with_fill": int(
            ((okt["image"] == okt["representative"]) & (okt["rotation_fill"] == 1)).sum()
        ),
        "mask_inconsistent": int((okt["mask_consistent"] == 0).sum()),
        "group_size_min": int(min(sizes)) if sizes else 0,
        "group_size_median": float(np.median(sizes)) if sizes else 0.0,
        "group_size_max": int(max(sizes)) if sizes else 0,
        "group_sizes": " ".join(f"{int(s)}:{int(c)}" for s, c in counts.items()),
    }


SKIPPED_COLUMNS = ("class", "image", "path", "problem")


def skipped_table(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Every skipped file across class tables (columns :data:`SKIPPED_COLUMNS`, the same as
    :class:`clickbench.datasets.Skipped`): ``path`` is the file at fault (the mask when the
    problem was in the mask). Header-only when nothing was skipped."""
    rows = []
    for cls, t in tables.items():
        for _, r in t[t["status"] == "skipped"].iterrows():
            path, problem = r["image_path"], r["problem"]
            prefix = f"{r['mask_path']}: "
            if r["mask_path"] and problem.startswith(prefix):
                path, problem = r["mask_path"], problem[len(prefix) :]
            rows.append({"class": cls, "image": r["image"], "path": path, "problem": problem})
    return pd.DataFrame(rows, columns=list(SKIPPED_COLUMNS))


INDEX_RULE_COLUMNS = (
    "class",
    "index_picked",
    "picked_rotation_fill",
    "picked_not_representative",
    "groups",
    "groups_picked",
    "groups_missed",
    "groups_picked_twice",
    "picked_files",
)


def compare_index_rule(table: pd.DataFrame, start: int = 1, step: int = 20) -> dict:
    """How the study's index rule fares against the groups of one class table.

    Returns a row: ``index_picked`` (files the rule picks), ``picked_rotation_fill`` (picked
    files that are rotated copies with black fill), ``picked_not_representative`` (picked files
    that are not their group's representative), ``groups`` (groups in the class),
    ``groups_picked`` (groups with at least one pick), ``groups_missed`` and
    ``groups_picked_twice`` (groups with more than one pick).
    """
    okt = table[table["status"] == "ok"]
    picks = okt[index_rule(okt["image"].tolist(), start, step)]
    per_group = picks.groupby("group").size()
    n_groups = okt["group"].nunique()
    return {
        "class": okt["class"].iloc[0]
        if len(okt)
        else (table["class"].iloc[0] if len(table) else ""),
        "index_picked": len(picks),
        "picked_rotation_fill": int(picks["rotation_fill"].sum()),
        "picked_not_representative": int((picks["image"] != picks["representative"]).sum()),
        "groups": int(n_groups),
        "groups_picked": int(len(per_group)),
        "groups_missed": int(n_groups - len(per_group)),
        "groups_picked_twice": int((per_group > 1).sum()),
        "picked_files": " ".join(picks["image"].tolist()),
    }


# ----------------------------------------------------------------------------- NA originals
NATIVE_COLUMNS = (
    "class",
    "native",
    "group",
    "representative",
    "distance",
    "correlation",
    "status",
    "problem",
)
NATIVE_CANDIDATES = 3  # nearest groups verified


def match_native(
    native_paths: Sequence[str | Path],
    class_table: pd.DataFrame,
    *,
    max_distance: int = DEFAULT_MAX_DISTANCE,
    cls: str | None = None,
) -> pd.DataFrame:
    """Match NA_Fish_Dataset originals (any size or format) to the groups of one class table.

    Each NA image is hashed like the masked images and compared with every member of every
    group (the table's ``hash``, variant 0). The nearest groups within ``max_distance`` (at most
    ``NATIVE_CANDIDATES``) are verified in order against the group representative (read again
    from ``image_path``) as :func:`group_images` verifies a pair (:func:`verify_pair`); the
    first that passes is its group (``correlation``: after the alignment).

    Rows (columns :data:`NATIVE_COLUMNS`), NA files in natural order first: ``status``
    ``matched``; ``duplicate`` (a group an earlier NA file already matched); ``no_group``
    (nothing close enough: ``distance`` is the nearest member's); ``unreadable`` (``problem``
    says why). Then one row per group that no NA file matched: ``status = no_native``.
    """
    okt = class_table[(class_table["status"] == "ok") & (class_table["hash"] != "")]
    name = cls if cls is not None else (class_table["class"].iloc[0] if len(class_table) else "")
    member_hashes = (
        np.stack([hex_to_hash(h) for h in okt["hash"]])
        if len(okt)
        else np.zeros((0, WORDS), np.uint64)
    )
    groups = okt["group"].to_numpy()
    reps = okt[okt["image"] == okt["representative"]]
    rep_of = dict(zip(reps["group"], reps["image"], strict=True))
    rep_path = dict(zip(reps["group"], reps["image_path"], strict=True))
    rep_canon: dict[int, Canonical] = {}
    rows = []
    seen: set[int] = set()

    def row(native, group=0, rep="", distance=np.nan, corr=np.nan, status="", problem=""):
        rows.append(
            {
                "class": name,
                "native": str(native),
                "group": int(group),
                "representative": rep,
                "distance": distance,
                "correlation": corr,
                "status": status,
                "problem": problem,
            }
        )

    for path in sorted(native_paths, key=lambda p: _natural(Path(p).name)):
        try:
            c = image_hashes(datasets.load_image(path))
        except (BadInputError, ValueError) as err:
            row(path, status="unreadable", problem=getattr(err, "problem", str(err)))
            continue
        if len(member_hashes) == 0:
            row(path, status="no_group")
            continue
        # distance(member, NA) = min_k hamming(member[0], NA[k]); per group, its nearest member
        d = np.bitwise_count(member_hashes[:, None, :] ^ c.hashes[None]).sum(axis=-1).min(axis=1)
        by_group = pd.Series(d).groupby(groups).min().sort_values(kind="stable")
        found = None
        for g, dist in by_group.iloc[:NATIVE_CANDIDATES].items():
            if dist > max_distance:
                break
            g = int(g)
            if g not in rep_canon:
                rep_canon[g] = image_hashes(datasets.load_image(rep_path[g]))
            alignment = verify_pair(rep_canon[g], c)
            if alignment.same_photo():
                found = (g, int(dist), alignment.correlation)
                break
        if found is None:
            row(path, distance=int(by_group.iloc[0]), status="no_group")
            continue
        g, dist, corr = found
        row(path, g, rep_of[g], dist, corr, "duplicate" if g in seen else "matched")
        seen.add(g)
    for g in sorted(set(groups.tolist()) - seen):
        row("", g, rep_of[g], status="no_native")
    return pd.DataFrame(rows, columns=list(NATIVE_COLUMNS))


__all__ = [
    "COLUMNS",
    "Canonical",
    "Geometry",
    "compare_index_rule",
    "dedup_class",
    "dihedral",
    "group_images",
    "has_rotation_fill",
    "hash_image",
    "image_hashes",
    "index_rule",
    "mask_agreement",
    "match_native",
    "pair_distances",
    "choose_representatives",
    "verify_pair",
    "align_crops",
    "Alignment",
    "read_table",
    "summarise",
    "write_table",
]

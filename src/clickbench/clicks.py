"""Clicks and RITM's click simulator.

Coordinates are (row, col) everywhere in clickbench; conversion to a model's own
order (SAM wants (x, y)) happens once, inside that model's adapter.

:func:`next_click` reproduces ``ritm_annotation.inference.clicker.Clicker._get_next_click``
(the protocol of RITM's evaluation, also used by f-BRS, FocalClick, SimpleClick) click for
click, and is checked against it in ``tests/test_clicks.py``:

1. false negatives ``FN = gt & ~pred & ~ignore`` and false positives
   ``FP = ~gt & pred & ~ignore``;
2. each padded by one pixel of zeros (so the image border counts as a boundary), then the
   exact Euclidean distance transform (``cv2.distanceTransform(.., cv2.DIST_L2,
   cv2.DIST_MASK_PRECISE)``, with OpenCV's exact implementation: see
   :func:`exact_distance_transform`) and the padding removed;
3. distances at pixels already clicked set to 0;
4. the click is positive iff ``max(FN distance) > max(FP distance)`` (strictly: a tie gives a
   negative click), placed at the first maximum of the chosen map in row-major order. When
   both maxima are 0 (nothing left to correct) this is a negative click at (0, 0), as RITM.

The one known difference from RITM's code: where RITM's OpenCV call goes through Intel IPP
(images under 2**14 pixels, or one OpenCV thread), its distances carry last-bit noise that
changes from call to call, and two pixels at exactly the same distance may then be taken in
either order. Here such ties always go to the first in row-major order; every other click is
RITM's (``tests/test_clicks.py`` checks both statements).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import cv2
import numpy as np


class Click(NamedTuple):
    """One simulated click: pixel (row, col) and whether it marks the object."""

    row: int
    col: int
    positive: bool


def exact_distance_transform(binary: np.ndarray) -> np.ndarray:
    """Exact Euclidean distance of every non-zero pixel to the nearest zero pixel.

    binary: (H, W) uint8. Returns (H, W) float32, ``sqrt`` of the exact integer squared
    distance, the same on every call.

    This is ``cv2.distanceTransform(binary, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)``, the call
    RITM makes, with Intel IPP switched off for the call. OpenCV hands the precise transform
    to IPP for images under 2**14 pixels, or whenever it runs on one thread, and IPP's result
    is neither exact nor deterministic: the same array gives values differing in the last
    bit from one call to the next, so RITM's own clicker breaks exact ties (two pixels at the
    same distance) differently between runs. OpenCV's own implementation (used above 2**14
    pixels with several threads, where RITM's clicks are thus deterministic) computes
    ``sqrt(integer)``; it equals ``scipy.ndimage.distance_transform_edt`` and makes the
    first maximum in row-major order well defined, as RITM's code intends.
    """
    use_ipp = cv2.ipp.useIPP()
    if use_ipp:
        cv2.ipp.setUseIPP(False)  # a per-thread flag in OpenCV
    try:
        return cv2.distanceTransform(binary, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    finally:
        if use_ipp:
            cv2.ipp.setUseIPP(True)


def _farthest(region: np.ndarray, clicked: Sequence[Click]) -> tuple[float, int, int]:
    """Largest distance to the region's boundary (image border included) and where.

    ``region`` is an (H, W) bool array. Returns ``(distance, row, col)`` of the first maximum
    in row-major order over the pixels not in ``clicked``; ``(0.0, 0, 0)`` when the region is
    empty or every region pixel is clicked (all distances are then 0 and RITM's first maximum
    is pixel (0, 0)).

    RITM pads the whole image with one pixel of zeros and transforms it. Here only the
    region's bounding box, padded by one pixel of zeros, is transformed: with an exact
    transform that gives the same distances (for a pixel inside the box, clamping any zero
    pixel outside onto the padding ring gives a zero pixel at most as far, so the nearest
    zero is always within the padded box), and row-major order inside the box is row-major
    order in the image, so the first maximum is the same pixel too.
    """
    u8 = region.view(np.uint8)
    x, y, w, h = cv2.boundingRect(u8)  # of the non-zero pixels; (0, 0, 0, 0) when empty
    if w == 0:
        return 0.0, 0, 0
    padded = cv2.copyMakeBorder(u8[y : y + h, x : x + w], 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    dist = exact_distance_transform(padded)
    for click in clicked:  # as RITM's `not_clicked_map`; only box pixels can be non-zero
        r, c = click.row - y + 1, click.col - x + 1
        if 1 <= r <= h and 1 <= c <= w:
            dist[r, c] = 0.0
    flat = int(np.argmax(dist))  # first maximum in row-major order; the ring holds zeros
    best = float(dist.flat[flat])
    if best <= 0.0:
        return 0.0, 0, 0
    r, c = divmod(flat, w + 2)
    return best, r - 1 + y, c - 1 + x


def next_click(
    gt: np.ndarray,
    ignore: np.ndarray | None,
    pred: np.ndarray | None,
    clicked: Sequence[Click] = (),
) -> Click:
    """RITM's next simulated click for the current prediction.

    gt:      (H, W) bool ground truth.
    ignore:  (H, W) bool pixels excluded from click placement (GrabCut's 128 band), or None.
    pred:    (H, W) bool current prediction, or None for an empty one (the first click).
    clicked: the clicks made so far; their pixels (row, col) are never clicked again.

    Returns a :class:`Click` ``(row, col, positive)``. A pure function: the same arguments
    always give the same click. Its cost is at most two ``cv2.distanceTransform`` calls,
    on the bounding boxes of the FN and FP regions (one when the prediction is empty), plus
    a few passes over boolean arrays (see ``benchmarks/clicks.py``).
    """
    gt = np.asarray(gt, dtype=bool)
    if gt.ndim != 2:
        raise ValueError(f"ground truth must be (H, W), got shape {gt.shape}")
    if pred is not None:
        pred = np.asarray(pred, dtype=bool)
        if pred.shape != gt.shape:
            raise ValueError(f"prediction shape {pred.shape} != ground truth shape {gt.shape}")
    if ignore is not None:
        ignore = np.asarray(ignore, dtype=bool)
        if ignore.shape != gt.shape:
            raise ValueError(f"ignore shape {ignore.shape} != ground truth shape {gt.shape}")
    for click in clicked:
        if not (0 <= click.row < gt.shape[0] and 0 <= click.col < gt.shape[1]):
            raise ValueError(f"click {click} outside the {gt.shape} image")

    # FN = gt & ~pred & ~ignore and FP = pred & ~gt & ~ignore, one comparison each
    if pred is None:
        fn = np.ascontiguousarray(gt) if ignore is None else np.greater(gt, ignore)
    else:
        fn = np.greater(gt, pred if ignore is None else pred | ignore)
    fn_dist, fn_row, fn_col = _farthest(fn, clicked)
    fp_dist, fp_row, fp_col = 0.0, 0, 0
    if pred is not None:
        fp = np.greater(pred, gt if ignore is None else gt | ignore)
        fp_dist, fp_row, fp_col = _farthest(fp, clicked)
    if fn_dist > fp_dist:
        return Click(fn_row, fn_col, True)
    return Click(fp_row, fp_col, False)


def clicks_array(clicks: Sequence[Click]) -> np.ndarray:
    """Clicks as a (K, 3) int32 array of (row, col, positive 0/1), oldest first."""
    out = np.zeros((len(clicks), 3), dtype=np.int32)
    for i, c in enumerate(clicks):
        out[i] = (c.row, c.col, int(bool(c.positive)))
    return out


def clicks_from_array(array: np.ndarray) -> list[Click]:
    """Inverse of :func:`clicks_array`: a (K, 3) array to a list of :class:`Click`."""
    array = np.asarray(array).reshape(-1, 3)
    return [Click(int(r), int(c), bool(p)) for r, c, p in array]

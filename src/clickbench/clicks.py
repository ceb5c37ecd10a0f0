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
   cv2.DIST_MASK_PRECISE)``) and the padding removed;
3. distances at pixels already clicked set to 0;
4. the click is positive iff ``max(FN distance) > max(FP distance)`` (strictly: a tie gives a
   negative click), placed at the first maximum of the chosen map in row-major order. When
   both maxima are 0 (nothing left to correct) this is a negative click at (0, 0), as RITM.
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


def _region_distance(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """A zeroed (H+2, W+2) uint8 buffer and its (H, W) bool interior to compute a region into."""
    h, w = shape
    padded = np.zeros((h + 2, w + 2), dtype=np.uint8)
    return padded, padded.view(bool)[1:-1, 1:-1]


def _farthest(padded: np.ndarray, clicked: Sequence[Click]) -> tuple[float, int, int]:
    """Largest distance to the region's boundary (image border included) and where.

    ``padded`` is the (H+2, W+2) uint8 region with its one-pixel ring of zeros, exactly the
    array RITM hands to ``cv2.distanceTransform``. Returns ``(distance, row, col)`` (image
    coordinates) of the first maximum in row-major order over the pixels not in ``clicked``;
    ``(0.0, 0, 0)`` when the region is empty or every region pixel is clicked (all distances
    are then 0 and RITM's first maximum is pixel (0, 0)).

    Why the whole padded image and not the region's bounding box (which would be faster):
    OpenCV computes the precise transform with Intel IPP's float implementation for images
    under 2**14 pixels or with one thread, and with its own exact-integer one otherwise, so
    distances differ in the last bit between an image and a crop of it, and with them which
    of two nearly equal maxima comes first. Same array, same call: same clicks as RITM.
    """
    if not padded.any():
        return 0.0, 0, 0
    dist = cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    for click in clicked:  # as RITM's `not_clicked_map`
        dist[click.row + 1, click.col + 1] = 0.0
    flat = int(np.argmax(dist))  # first maximum in row-major order; the ring holds zeros
    best = float(dist.flat[flat])
    if best <= 0.0:
        return 0.0, 0, 0
    r, c = divmod(flat, dist.shape[1])
    return best, r - 1, c - 1


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
    always give the same click. Its cost is two ``cv2.distanceTransform`` calls on the
    padded image (one when the prediction is empty) plus a few passes over boolean arrays
    (see ``benchmarks/clicks.py``).
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

    # FN = gt & ~pred & ~ignore and FP = pred & ~gt & ~ignore, written straight into the
    # interior of zero-padded buffers: one pass each, no copy for the padding.
    fn_padded, fn = _region_distance(gt.shape)
    if pred is None:
        if ignore is None:
            fn[...] = gt
        else:
            np.greater(gt, ignore, out=fn)
    else:
        np.greater(gt, pred if ignore is None else pred | ignore, out=fn)
    fn_dist, fn_row, fn_col = _farthest(fn_padded, clicked)
    fp_dist, fp_row, fp_col = 0.0, 0, 0
    if pred is not None:
        fp_padded, fp = _region_distance(gt.shape)
        np.greater(pred, gt if ignore is None else gt | ignore, out=fp)
        fp_dist, fp_row, fp_col = _farthest(fp_padded, clicked)
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

"""Metrics of interactive segmentation: IoU, boundary IoU, NoC, NoF, mIoU@k, ``describe()``.

A *curve* is the IoU of the kept mask after clicks 1, 2, ..., K of one image (a 1-D
sequence; K < max_clicks when a loop stopped early at a target IoU). NoC and NoF follow
``ritm_annotation.inference.utils.compute_noc_metric`` (checked in ``tests/test_metrics.py``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import cv2
import numpy as np

#: boundary IoU's band width as a fraction of the image diagonal (Cheng et al., 2021, and
#: their reference code ``boundary_iou/utils/boundary_utils.py``)
BOUNDARY_DILATION_RATIO = 0.02

#: the statistics of :func:`describe`, in pandas' order
DESCRIBE_KEYS = ("count", "mean", "std", "min", "25%", "50%", "75%", "max")


def iou(gt: np.ndarray, ignore: np.ndarray | None, pred: np.ndarray) -> float:
    """IoU of a prediction against ground truth, pixels in ``ignore`` excluded.

    gt, pred: (H, W) bool; ignore: (H, W) bool or None.
    Returns ``|gt & pred| / |gt | pred|`` over the pixels outside ``ignore``. When that union
    is empty (no object and nothing predicted outside the ignore band) the prediction is
    perfect and the IoU is 1.0; RITM's ``get_iou`` returns NaN (0/0) there.
    """
    return float(iou_batch(gt, ignore, np.asarray(pred, dtype=bool)[None])[0])


def iou_batch(gt: np.ndarray, ignore: np.ndarray | None, masks: np.ndarray) -> np.ndarray:
    """IoU of each of C candidate masks, as :func:`iou`.

    gt: (H, W) bool; ignore: (H, W) bool or None; masks: (C, H, W) bool.
    Returns (C,) float64.
    """
    gt = np.asarray(gt, dtype=bool)
    masks = np.asarray(masks, dtype=bool)
    if masks.ndim != 3 or masks.shape[1:] != gt.shape:
        raise ValueError(f"masks must be (C, {gt.shape[0]}, {gt.shape[1]}), got {masks.shape}")
    if ignore is not None:
        valid = ~np.asarray(ignore, dtype=bool)
        gt = gt & valid
    n_gt = np.count_nonzero(gt)
    out = np.empty(len(masks), dtype=np.float64)
    buf = np.empty(gt.shape, dtype=bool)
    for c, mask in enumerate(masks):
        # union = |gt| + |pred outside ignore| - |gt & pred|; count_nonzero on a whole bool
        # array is the fastest count numpy has.
        inter = np.count_nonzero(np.logical_and(mask, gt, out=buf))
        n_pred = np.count_nonzero(mask if ignore is None else np.logical_and(mask, valid, out=buf))
        union = n_gt + n_pred - inter
        out[c] = inter / union if union else 1.0
    return out


def boundary_width(shape: tuple[int, ...], dilation_ratio: float = BOUNDARY_DILATION_RATIO) -> int:
    """The boundary band's width in pixels for an (H, W) image: ``round(ratio * diagonal)``,
    at least 1 (as the reference ``mask_to_boundary``)."""
    h, w = shape[:2]
    return max(1, int(round(dilation_ratio * math.hypot(h, w))))


def mask_to_boundary(mask: np.ndarray, width: int) -> np.ndarray:
    """The inner boundary band of a mask: (H, W) bool, the mask's pixels within chessboard
    distance ``width`` of a pixel outside it, the image border counting as outside.

    The reference code (``boundary_iou/utils/boundary_utils.py``) pads the mask with one
    pixel of zeros and erodes it ``width`` times with a 3x3 kernel; one erosion with a
    ``(2 width + 1)`` square kernel and a zero border is the same set (``tests/test_metrics.py``
    compares the two), at one pass instead of ``width``.
    """
    m = np.ascontiguousarray(mask, dtype=np.uint8)
    kernel = np.ones((2 * width + 1, 2 * width + 1), dtype=np.uint8)
    eroded = cv2.erode(m, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    return m > eroded


def boundary_iou_batch(
    gt: np.ndarray,
    ignore: np.ndarray | None,
    masks: np.ndarray,
    dilation_ratio: float = BOUNDARY_DILATION_RATIO,
    gt_boundary: np.ndarray | None = None,
) -> np.ndarray:
    """Boundary IoU (Cheng et al., 2021) of each of C candidate masks: (C,) float64.

    ``|G_d & P_d| / |G_d | P_d|`` where ``X_d`` is :func:`mask_to_boundary` of X with the
    width :func:`boundary_width` of the image (2% of its diagonal). Pixels in ``ignore`` are
    left out of both bands, as :func:`iou` leaves them out; an empty union is 1.0 (as
    :func:`iou`; the reference divides 0 by 0). ``gt_boundary``: ``G_d`` when the caller
    already has it (a click loop computes it once per image).
    """
    gt = np.asarray(gt, dtype=bool)
    masks = np.asarray(masks, dtype=bool)
    if masks.ndim != 3 or masks.shape[1:] != gt.shape:
        raise ValueError(f"masks must be (C, {gt.shape[0]}, {gt.shape[1]}), got {masks.shape}")
    width = boundary_width(gt.shape, dilation_ratio)
    g = mask_to_boundary(gt, width) if gt_boundary is None else np.asarray(gt_boundary, bool)
    valid = None if ignore is None else ~np.asarray(ignore, dtype=bool)
    if valid is not None:
        g = g & valid
    n_g = np.count_nonzero(g)
    out = np.empty(len(masks), dtype=np.float64)
    for c, mask in enumerate(masks):
        p = mask_to_boundary(mask, width)
        if valid is not None:
            p &= valid
        inter = np.count_nonzero(g & p)
        union = n_g + np.count_nonzero(p) - inter
        out[c] = inter / union if union else 1.0
    return out


def boundary_iou(
    gt: np.ndarray,
    ignore: np.ndarray | None,
    pred: np.ndarray,
    dilation_ratio: float = BOUNDARY_DILATION_RATIO,
) -> float:
    """Boundary IoU of one (H, W) bool prediction, as :func:`boundary_iou_batch`."""
    return float(boundary_iou_batch(gt, ignore, np.asarray(pred, bool)[None], dilation_ratio)[0])


def _curve(values) -> np.ndarray:
    # Floating input keeps its dtype: a float32 curve (as stored in traces) is compared with a
    # Python threshold in float32 under numpy 2's promotion rules, exactly as RITM's
    # compute_noc_metric does (float32(0.9) >= 0.9 holds there, not in float64).
    arr = np.asarray(values).ravel()
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    if arr.size == 0:
        raise ValueError("an IoU curve needs at least one click")
    return arr


def noc_per_image(
    ious_per_image: Iterable[Sequence[float]], thr: float, max_clicks: int
) -> np.ndarray:
    """Number of clicks to reach IoU >= ``thr``, per image: (N,) int64.

    The first click index (1-based) whose IoU is >= ``thr``, looking at clicks 1..max_clicks
    only; ``max_clicks`` when it is never reached (RITM's convention). NaN never reaches.
    """
    out = []
    for curve in ious_per_image:
        reached = _curve(curve)[:max_clicks] >= thr
        out.append(int(np.argmax(reached)) + 1 if reached.any() else max_clicks)
    return np.asarray(out, dtype=np.int64)


def noc(ious_per_image: Iterable[Sequence[float]], thr: float, max_clicks: int) -> float:
    """NoC@thr: mean of :func:`noc_per_image` (RITM's ``compute_noc_metric``); NaN if no image."""
    per_image = noc_per_image(ious_per_image, thr, max_clicks)
    return float(per_image.mean()) if per_image.size else math.nan


def nof(
    ious_per_image: Iterable[Sequence[float]],
    thr: float,
    max_clicks: int,
    convention: str = "strict",
) -> int:
    """NoF@thr: the number of images that fail to reach IoU >= ``thr``.

    ``convention="strict"``: images whose IoU never reaches ``thr`` within ``max_clicks``
    clicks. ``convention="ritm"``: images whose NoC equals ``max_clicks``, as RITM's
    ``compute_noc_metric`` counts ``over_max``; it also counts an image that reaches ``thr``
    exactly at the last allowed click, so ``ritm >= strict``. Tables report the strict count
    and name it NoF; the RITM count is for comparing with published numbers.
    """
    curves = [_curve(c)[:max_clicks] for c in ious_per_image]
    if convention == "strict":
        return int(sum(not (c >= thr).any() for c in curves))
    if convention == "ritm":
        return int((noc_per_image(curves, thr, max_clicks) == max_clicks).sum())
    raise ValueError(f"unknown NoF convention {convention!r}; known: strict, ritm")


def iou_at(curve: Sequence[float], k: int) -> float:
    """IoU after click ``k`` (1-based); a curve shorter than k carries its last IoU forward."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    arr = _curve(curve)
    return float(arr[min(k, arr.size) - 1])


def miou_at(curves: Iterable[Sequence[float]], ks: Sequence[int]) -> np.ndarray:
    """mIoU@k for every k in ``ks``: (len(ks),) float64, the mean over images of :func:`iou_at`.

    Loops stopped early (at a target IoU) carry their last IoU forward. NaN when there are
    no curves.
    """
    curves = [_curve(c) for c in curves]
    if not curves:
        return np.full(len(ks), np.nan)
    return np.asarray([np.mean([iou_at(c, k) for c in curves]) for k in ks], dtype=np.float64)


def describe(values: Iterable[float]) -> dict[str, float]:
    """count, mean, std, min, 25%, 50%, 75%, max, as ``pandas.Series(values).describe()``.

    NaN values are left out (as pandas); std is the sample std (ddof=1), NaN for one value;
    quartiles interpolate linearly. Keys are :data:`DESCRIBE_KEYS`, in that order.
    """
    arr = np.asarray(list(values), dtype=np.float64).ravel()
    arr = arr[~np.isnan(arr)]
    n = arr.size
    if n == 0:
        return {"count": 0.0, **{k: math.nan for k in DESCRIBE_KEYS[1:]}}
    q25, q50, q75 = np.percentile(arr, [25, 50, 75])
    return {
        "count": float(n),
        "mean": float(arr.mean()),
        "std": float(arr.std(ddof=1)) if n > 1 else math.nan,
        "min": float(arr.min()),
        "25%": float(q25),
        "50%": float(q50),
        "75%": float(q75),
        "max": float(arr.max()),
    }


__all__ = [
    "BOUNDARY_DILATION_RATIO",
    "DESCRIBE_KEYS",
    "boundary_iou",
    "boundary_iou_batch",
    "boundary_width",
    "describe",
    "iou",
    "iou_at",
    "iou_batch",
    "mask_to_boundary",
    "miou_at",
    "noc",
    "noc_per_image",
    "nof",
]

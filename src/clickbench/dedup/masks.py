"""Mask consistency: the representative's ground-truth mask mapped into each copy's frame and
compared with the copy's own (see the package docstring, *Mask consistency*)."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from clickbench.dedup.geometry import to_reduced
from clickbench.dedup.grouping import variant_of
from clickbench.dedup.hashing import THUMB, Canonical, dihedral

MASK_IOU_MIN = 0.85


def _variant_affine(k: int, n: int = THUMB) -> np.ndarray:
    """3x3 affine sigma with dihedral(T, k)[p] = T[sigma(p)], p and sigma(p) as (x, y)."""
    rows, cols = np.mgrid[0:n, 0:n]
    r, c = dihedral(rows, k), dihedral(cols, k)
    p0 = np.array([c[0, 0], r[0, 0]], float)
    px = np.array([c[0, 1], r[0, 1]], float) - p0
    py = np.array([c[1, 0], r[1, 0]], float) - p0
    return np.array([[px[0], py[0], p0[0]], [px[1], py[1], p0[1]], [0, 0, 1.0]])


def reduce_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
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
    q = to_reduced(copy.shape[0] // mh)
    q_rep = to_reduced(rep.shape[0] // rep.valid.shape[0])
    # copy pixel (reduced) -> copy full -> copy crop -> rep crop -> rep full -> rep reduced
    m = (
        q_rep
        @ rep.affine
        @ _variant_affine(variant)
        @ np.linalg.inv(copy.affine)
        @ np.linalg.inv(q)
    )
    small_rep = reduce_mask(rep_mask, rep.valid.shape)
    small_copy = reduce_mask(copy_mask, copy.valid.shape)
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


def _agreement(canon, masks, ref: int, members: Sequence[int]) -> dict[int, float]:
    return {
        p: mask_agreement(
            canon[ref], masks[ref], canon[p], masks[p], variant_of(canon[p], canon[ref])
        )
        for p in members
        if p != ref
    }


def mask_ious(canon, masks, rep: int, members: Sequence[int]) -> dict[int, float]:
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

"""Prompts beyond RITM's click simulator: boxes, random clicks, perturbed clicks.

RITM's simulator (:func:`clickbench.clicks.next_click`) stays the reference; these are the
other prompts researchers evaluate with (see ``docs/internals.md``, protocols ``box``,
``random_clicks``, ``perturbed``). Every function is pure given its ``numpy`` Generator, and
:func:`image_rng` derives that Generator from the configured seed, the image and the trial
alone, so an image's prompts do not depend on which other images or protocols ran.

Coordinates are clickbench's ``(row, col)``; a :class:`Box` holds inclusive pixel indices.
Only a model adapter converts to its own order (SAM: ``XYXY`` = ``(left, top, right, bottom)``,
:func:`clickbench.models.sam.box_to_xyxy`).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from clickbench.clicks import Click, exact_distance_transform, next_click

#: draws of a perturbed click before it falls back to the simulator's own pixel
PERTURB_TRIES = 32


class Box(NamedTuple):
    """An axis-aligned box of pixels ``top..bottom`` x ``left..right``, inclusive."""

    top: int
    left: int
    bottom: int
    right: int


def image_rng(seed: int, cls: str, image: str, trial: int = 0) -> np.random.Generator:
    """The Generator of one (image, trial): ``default_rng([seed, crc32("cls/image"), trial])``."""
    key = zlib.crc32(f"{cls}/{image}".encode())
    return np.random.default_rng([int(seed), key, int(trial)])


def box_of_mask(gt: np.ndarray, ignore: np.ndarray | None = None) -> Box:
    """The tight box of the object pixels of ``gt`` (outside ``ignore``), as SAM's and
    micro-sam's evaluations take it from the ground truth. An empty object is an error."""
    obj = np.asarray(gt, dtype=bool)
    if ignore is not None:
        obj = obj & ~np.asarray(ignore, dtype=bool)
    rows, cols = np.flatnonzero(obj.any(axis=1)), np.flatnonzero(obj.any(axis=0))
    if not rows.size:
        raise ValueError("the ground truth has no object pixel: no box")
    return Box(int(rows[0]), int(cols[0]), int(rows[-1]), int(cols[-1]))


def jitter_box(box: Box, shape: tuple[int, ...], fraction: float, rng: np.random.Generator) -> Box:
    """Each edge moved by a uniform draw in ``[-fraction, fraction]`` times the box's side
    along that axis (height for top/bottom, width for left/right), rounded, clipped to the
    image; edges that cross are put back in order. ``fraction`` 0 returns ``box``."""
    if fraction <= 0:
        return box
    h = box.bottom - box.top + 1
    w = box.right - box.left + 1
    d = rng.uniform(-fraction, fraction, size=4) * np.array([h, w, h, w])
    top, left, bottom, right = (int(round(v)) for v in np.array(box) + d)
    top, bottom = sorted((min(max(top, 0), shape[0] - 1), min(max(bottom, 0), shape[0] - 1)))
    left, right = sorted((min(max(left, 0), shape[1] - 1), min(max(right, 0), shape[1] - 1)))
    return Box(top, left, bottom, right)


def error_regions(
    gt: np.ndarray, ignore: np.ndarray | None, pred: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """False negatives and false positives of ``pred`` (None: empty), ``ignore`` left out:
    two (H, W) bool arrays, as RITM's simulator forms them."""
    gt = np.asarray(gt, dtype=bool)
    valid = None if ignore is None else ~np.asarray(ignore, dtype=bool)
    if pred is None:
        fn = gt if valid is None else gt & valid
        return fn, np.zeros_like(gt)
    pred = np.asarray(pred, dtype=bool)
    fn, fp = gt & ~pred, pred & ~gt
    if valid is not None:
        fn, fp = fn & valid, fp & valid
    return fn, fp


def _unclicked_errors(
    gt: np.ndarray, ignore: np.ndarray | None, pred: np.ndarray | None, clicked: Sequence[Click]
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`error_regions` without the pixels already clicked (copies)."""
    fn, fp = (r.copy() for r in error_regions(gt, ignore, pred))
    for c in clicked:
        fn[c.row, c.col] = fp[c.row, c.col] = False
    return fn, fp


def random_click(
    gt: np.ndarray,
    ignore: np.ndarray | None,
    pred: np.ndarray | None,
    clicked: Sequence[Click],
    rng: np.random.Generator,
    margin: float = 0.0,
) -> Click | None:
    """A click drawn uniformly from the larger error region (micro-sam's random points).

    The larger of the false-negative and false-positive regions by pixel count (a tie goes to
    the false negatives) gives the click's sign; its pixels not yet clicked whose Euclidean
    distance to the region's boundary (the image border included, as RITM's simulator) is at
    least ``margin`` are the candidates, or all its pixels when none is that far. Returns None
    when there is no error pixel left to click (the prediction is perfect).
    """
    fn, fp = _unclicked_errors(gt, ignore, pred, clicked)
    n_fn, n_fp = np.count_nonzero(fn), np.count_nonzero(fp)
    if n_fn == 0 and n_fp == 0:
        return None
    positive = n_fn >= n_fp
    region = fn if positive else fp
    candidates = region
    if margin > 0:
        padded = np.pad(region, 1).astype(np.uint8)
        far = exact_distance_transform(padded)[1:-1, 1:-1] >= margin
        if far.any():
            candidates = region & far
    flat = np.flatnonzero(candidates)
    pick = int(flat[rng.integers(0, flat.size)])
    row, col = divmod(pick, region.shape[1])
    return Click(int(row), int(col), bool(positive))


def perturbed_click(
    gt: np.ndarray,
    ignore: np.ndarray | None,
    pred: np.ndarray | None,
    clicked: Sequence[Click],
    rng: np.random.Generator,
    sigma: float,
) -> Click:
    """RITM's simulated click displaced by Gaussian noise of ``sigma`` pixels per axis,
    kept inside the error region the click lies in (false negatives for a positive click,
    false positives for a negative one) and off the pixels already clicked.

    Up to :data:`PERTURB_TRIES` displacements are drawn (rounded to pixels); the first that
    lands inside is the click, else the simulator's own pixel is kept. The region is the
    simulator's own, so a perturbed click marks the object exactly when the simulator's does.
    """
    click = next_click(gt, ignore, pred, clicked)
    fn, fp = _unclicked_errors(gt, ignore, pred, clicked)
    region = fn if click.positive else fp
    if sigma <= 0 or not region[click.row, click.col]:
        return click
    h, w = region.shape
    for dr, dc in np.rint(rng.normal(0.0, sigma, size=(PERTURB_TRIES, 2))).astype(np.int64):
        r, c = click.row + int(dr), click.col + int(dc)
        if 0 <= r < h and 0 <= c < w and region[r, c]:
            return Click(r, c, click.positive)
    return click


__all__ = [
    "PERTURB_TRIES",
    "Box",
    "box_of_mask",
    "error_regions",
    "image_rng",
    "jitter_box",
    "perturbed_click",
    "random_click",
]

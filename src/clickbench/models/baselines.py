"""Weight-free baselines seeded by clicks: OpenCV GrabCut and scikit-image's random walker.

They need no download and run anywhere, so the demo and CI produce real numbers, and they
place the two models of the study among classical methods (published NoC@90 on GrabCut:
graph cut about 10, random walker about 12).

Seeding (both models). Every click is a disk of radius ``radius`` pixels (config key
``radius``, default 5, the disk the DIOS/RITM-era papers used for these baselines):

- a positive click's disk is *sure object*, a negative click's disk *sure background*
  (later clicks overwrite earlier ones where disks overlap);
- GrabCut: every other pixel starts as *probably background*, except where the mask kept
  after the previous click (``previous``/``previous_choice``, given by the loop) said object:
  those start as *probably object*, so each click corrects the current segmentation as a
  user's stroke does in GrabCut's own interface. Before any kept mask exists (the first
  click, or a model used outside a loop) a disk of radius ``prior_radius`` (default 8 % of
  the image diagonal) around each positive click starts as *probably object*. GrabCut then
  fits its colour models and cuts (``iterations`` rounds, default 5).
- Random walker: scikit-image's random walker (``beta``, default 2000; scikit-image's own
  default of 130 lets the object's probability leak out of the small click disks: on GrabCut
  images mIoU@1 was about 0.2 with it, 0.5 with 2000) from the click disks as labelled seeds.
  A random walker needs a second label before the first negative click, so a one-pixel
  frame around the image is background seed, except inside click disks and where the mask
  kept after the previous click reaches the border (an object touching the border is not
  fought by its own frame). It runs on the image scaled down to at most ``max_side``
  pixels (default 240; the direct solver takes ~0.1-0.5 s there, a minute at 590x445) with
  the disks scaled to match (radius at least 1), and the object probability is scaled back
  up bilinearly and thresholded at 0.5.
- Both keep only the connected parts of the result that touch a positive click's disk: a
  user would not accept a blob that no click asked for. (A model with no positive click yet
  returns an empty mask.)

Deterministic: OpenCV's random generator is seeded (``cv2.setRNGSeed``) before every
GrabCut call (its colour models start from k-means); the random walker is deterministic.
One candidate mask per step, score 1.0.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence

import cv2
import numpy as np

from clickbench.clicks import Click
from clickbench.models.base import BuildOptions, InteractiveModel, Prediction

DEFAULT_RADIUS = 5
DEFAULT_ITERATIONS = 5
DEFAULT_BETA = 2000.0
#: radius of the "probably object" disk before any kept mask, as a fraction of the diagonal
DEFAULT_PRIOR_FRACTION = 0.08
#: random walker working size (longest side, pixels)
DEFAULT_MAX_SIDE = 240
SEED = 0


def _disks(shape: tuple[int, int], clicks: Sequence[Click], radius: int, scale: float = 1.0):
    """(H, W) int8 seed labels: 1 positive disk, -1 negative disk, 0 none; later clicks win."""
    labels = np.zeros(shape, dtype=np.int8)
    r = max(1, int(round(radius * scale)))
    for c in clicks:
        center = (int(round(c.col * scale)), int(round(c.row * scale)))  # cv2 wants (x, y)
        cv2.circle(labels, center, r, 1 if c.positive else -1, thickness=-1)
    return labels


def _keep_clicked_parts(mask: np.ndarray, positive_seeds: np.ndarray) -> np.ndarray:
    """The 8-connected components of ``mask`` that overlap ``positive_seeds`` ((H, W) bool)."""
    if not mask.any():
        return mask
    n, comp = cv2.connectedComponents(mask.view(np.uint8), connectivity=8)
    keep = np.zeros(n, dtype=bool)
    keep[np.unique(comp[positive_seeds & mask])] = True
    keep[0] = False
    return keep[comp]


def _empty(shape: tuple[int, int]) -> Prediction:
    return Prediction(masks=np.zeros((1, *shape), dtype=bool), scores=np.ones(1, np.float32))


class ClickSeededModel(InteractiveModel):
    """What both baselines share: an (H, W, 3) uint8 RGB image (:meth:`set_image`), and the
    mask the protocol kept after the previous click, (H, W) bool or None, handed to
    :meth:`segment` with the clicks."""

    image: np.ndarray | None = None

    def set_image(self, image: np.ndarray) -> None:
        """Take an (H, W, 3) uint8 RGB image."""
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 image, got {image.dtype}{image.shape}")
        self.image = np.ascontiguousarray(image)
        self._prepare(self.image)

    def _prepare(self, image: np.ndarray) -> None:  # noqa: B027 - optional hook
        """Per-image work done once (nothing by default)."""

    def predict(
        self,
        clicks: Sequence[Click],
        previous: Prediction | None = None,
        previous_choice: int | None = None,
    ) -> Prediction:
        if self.image is None:
            raise RuntimeError("set_image must be called before predict")
        kept = None
        if previous is not None:
            kept = np.asarray(previous.masks[previous_choice or 0], dtype=bool)
        return self.segment(clicks, kept)

    @abstractmethod
    def segment(self, clicks: Sequence[Click], kept: np.ndarray | None) -> Prediction:
        """One mask for the clicks so far, given the previously kept mask (or None)."""


class GrabCutModel(ClickSeededModel):
    """OpenCV GrabCut seeded by click disks and the previously kept mask (module docstring)."""

    name = "grabcut"

    def __init__(
        self,
        radius: int = DEFAULT_RADIUS,
        iterations: int = DEFAULT_ITERATIONS,
        prior_fraction: float = DEFAULT_PRIOR_FRACTION,
    ):
        if radius < 1 or iterations < 1 or prior_fraction <= 0:
            raise ValueError("radius and iterations must be >= 1 and prior_fraction > 0")
        self.radius = int(radius)
        self.iterations = int(iterations)
        self.prior_fraction = float(prior_fraction)

    def segment(self, clicks: Sequence[Click], kept: np.ndarray | None) -> Prediction:
        shape = self.image.shape[:2]
        seeds = _disks(shape, clicks, self.radius)
        positive = seeds > 0
        if not positive.any():
            return _empty(shape)
        trimap = np.full(shape, cv2.GC_PR_BGD, dtype=np.uint8)
        if kept is not None:
            trimap[kept] = cv2.GC_PR_FGD
        else:
            prior = max(self.radius + 1, int(round(self.prior_fraction * np.hypot(*shape))))
            for c in clicks:
                if c.positive:
                    cv2.circle(trimap, (c.col, c.row), prior, cv2.GC_PR_FGD, thickness=-1)
        trimap[positive] = cv2.GC_FGD
        trimap[seeds < 0] = cv2.GC_BGD
        if not np.isin(trimap, (cv2.GC_BGD, cv2.GC_PR_BGD)).any():
            # GrabCut needs background samples: the image is all object by the seeds
            mask = trimap != cv2.GC_BGD
        else:
            bgd = np.zeros((1, 65), np.float64)
            fgd = np.zeros((1, 65), np.float64)
            cv2.setRNGSeed(SEED)
            cv2.grabCut(self.image, trimap, None, bgd, fgd, self.iterations, cv2.GC_INIT_WITH_MASK)
            mask = (trimap == cv2.GC_FGD) | (trimap == cv2.GC_PR_FGD)
        mask = _keep_clicked_parts(mask, positive)
        return Prediction(masks=mask[None], scores=np.ones(1, np.float32))


class RandomWalkerModel(ClickSeededModel):
    """scikit-image's random walker seeded by click disks (module docstring)."""

    name = "random_walker"

    def __init__(
        self,
        radius: int = DEFAULT_RADIUS,
        beta: float = DEFAULT_BETA,
        max_side: int = DEFAULT_MAX_SIDE,
    ):
        if radius < 1 or beta <= 0 or max_side < 8:
            raise ValueError("radius must be >= 1, beta > 0 and max_side >= 8")
        self.radius = int(radius)
        self.beta = float(beta)
        self.max_side = int(max_side)

    def _prepare(self, image: np.ndarray) -> None:
        """Keep a copy of the image scaled to at most ``max_side``."""
        h, w = image.shape[:2]
        self.shape = (h, w)
        self.scale = min(1.0, self.max_side / max(h, w))
        size = (max(1, round(w * self.scale)), max(1, round(h * self.scale)))  # (width, height)
        small = (
            image if self.scale == 1.0 else cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        )
        self.small = small.astype(np.float64) / 255.0

    def segment(self, clicks: Sequence[Click], kept: np.ndarray | None) -> Prediction:
        from skimage.segmentation import random_walker

        if not any(c.positive for c in clicks):
            return _empty(self.shape)
        small_shape = self.small.shape[:2]
        seeds = _disks(small_shape, clicks, self.radius, self.scale)
        labels = np.zeros(small_shape, dtype=np.int32)
        labels[seeds > 0] = 1
        labels[seeds < 0] = 2
        frame = np.ones(small_shape, dtype=bool)
        frame[1:-1, 1:-1] = False
        frame &= seeds == 0
        if kept is not None:  # where the kept mask reaches the border, it is no seed
            kept = kept.astype(np.uint8)
            if self.scale != 1.0:
                kept = cv2.resize(kept, small_shape[::-1], interpolation=cv2.INTER_NEAREST)
            frame &= kept == 0
        labels[frame] = 2
        if not (labels == 2).any():  # the positive disks cover the whole frame
            prob = np.ones(small_shape, np.float64)
        else:
            prob = random_walker(
                self.small,
                labels,
                beta=self.beta,
                mode="bf",
                channel_axis=-1,
                return_full_prob=True,
            )[0]
        if self.scale != 1.0:
            prob = cv2.resize(prob, self.shape[::-1], interpolation=cv2.INTER_LINEAR)
        mask = prob > 0.5
        full_seeds = _disks(self.shape, clicks, self.radius)
        mask[full_seeds > 0] = True
        mask[full_seeds < 0] = False
        mask = _keep_clicked_parts(mask, full_seeds > 0)
        return Prediction(masks=mask[None], scores=np.ones(1, np.float32))


def build_grabcut(spec: dict, options: BuildOptions) -> GrabCutModel:
    """Registry builder: config keys ``radius`` (default 5) and ``iterations`` (default 5).
    ``options`` (device, precision, cache) are ignored: CPU only, nothing to cache."""
    return GrabCutModel(
        radius=spec.get("radius", DEFAULT_RADIUS),
        iterations=spec.get("iterations", DEFAULT_ITERATIONS),
    )


def build_random_walker(spec: dict, options: BuildOptions) -> RandomWalkerModel:
    """Registry builder: config keys ``radius`` (default 5) and ``beta`` (default 2000).
    ``options`` (device, precision, cache) are ignored: CPU only, nothing to cache."""
    return RandomWalkerModel(
        radius=spec.get("radius", DEFAULT_RADIUS),
        beta=spec.get("beta", DEFAULT_BETA),
    )


__all__ = [
    "ClickSeededModel",
    "GrabCutModel",
    "RandomWalkerModel",
    "build_grabcut",
    "build_random_walker",
]

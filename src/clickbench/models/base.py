"""The interface every interactive model implements (SAM, RITM, the baselines).

A model is stateful within one click sequence on one image::

    model.set_image(image)          # (H, W, 3) uint8 RGB; heavy work (encoding) happens here
    model.reset()                   # start a new click sequence on the same image
    pred = model.predict(clicks)    # clicks so far, oldest first -> Prediction
    pred = model.predict(clicks, previous=pred, previous_choice=k)

A model with ``supports_box`` also takes a box prompt (:class:`clickbench.prompts.Box`, in
clickbench's (row, col) pixels) beside the clicks, which may then be empty::

    pred = model.predict((), box=box)           # the box alone
    pred = model.predict(clicks, box=box)       # the box and the clicks since

``previous``/``previous_choice`` tell the model which candidate the protocol kept after the
last step; models that feed their own output back (SAM's ``mask_input``) use it, others
ignore it. RITM keeps its previous prediction internally, as its own predictor does.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from clickbench.clicks import Click


@dataclass
class Prediction:
    """Candidate masks for one click step.

    masks:  (C, H, W) bool, C >= 1 candidates at the image's resolution.
    scores: (C,) float32, the model's own confidence per candidate (SAM's predicted IoU);
            1.0 for models that give none.
    logits: (C, 256, 256) float32 low-resolution logits (SAM), or None.
    multi:  indices of the multimask candidates ``max_score``/``oracle`` choose among.
    single: index of the single-output candidate (SAM's ``multimask_output=False``), or None.
    """

    masks: np.ndarray
    scores: np.ndarray
    logits: np.ndarray | None = None
    multi: tuple[int, ...] = (0,)
    single: int | None = None


@dataclass(frozen=True)
class BuildOptions:
    """How a built model runs: :func:`clickbench.models.registry.build`'s keywords, given to
    every builder of the registry as ``builder(spec, options)``.

    device:    a resolved torch device (``cpu``, ``cuda``, ``mps``)
    precision: the encoder precision of SAM-family models (``fp32``, ``bf16``)
    cache_dir: the folder of the embedding cache, or None for no cache
    """

    device: str = "cpu"
    precision: str = "fp32"
    cache_dir: str | Path | None = None


class InteractiveModel(ABC):
    """An interactive segmentation model driven by clicks."""

    #: short name used in logs
    name: str = "model"
    #: whether :meth:`predict` takes ``box=`` (protocol ``box``); the others are not applicable
    supports_box: bool = False

    @abstractmethod
    def set_image(self, image: np.ndarray) -> None:
        """Take a new (H, W, 3) uint8 RGB image; starts a fresh click sequence."""

    def reset(self) -> None:  # noqa: B027 - optional hook, stateless models need nothing
        """Start a new click sequence on the current image."""

    @abstractmethod
    def predict(
        self,
        clicks: Sequence[Click],
        previous: Prediction | None = None,
        previous_choice: int | None = None,
    ) -> Prediction:
        """Predict from all clicks so far (oldest first). A model with ``supports_box``
        also accepts the keyword ``box`` (a :class:`clickbench.prompts.Box` or None)."""

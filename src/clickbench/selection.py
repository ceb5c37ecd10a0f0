"""Mask-selection strategies: which of a model's candidate masks a click loop keeps.

- ``max_score``: the multimask candidate with the highest score of the model's own
  (SAM's predicted IoU). What the study did.
- ``oracle``: the multimask candidate with the highest true IoU against ground truth. Not
  available to a user: an upper bound on what a better selection rule could gain.
- ``single``: the single-output candidate (SAM's ``multimask_output=False``) once there are
  two or more clicks; for the first click, and for models without a single-output
  candidate, as ``max_score`` (SAM's authors recommend multimask output for one click).

Ties go to the lowest candidate index. NaN scores/IoUs never win unless all are NaN.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from clickbench.models.base import Prediction

STRATEGIES = ("max_score", "oracle", "single")


def _best(values: np.ndarray, candidates: Sequence[int]) -> int:
    """The candidate with the largest value; the lowest index among equal ones."""
    candidates = sorted(int(c) for c in candidates)
    if not candidates:
        raise ValueError("no candidate to choose among (prediction.multi is empty)")
    vals = np.asarray(values, dtype=np.float64)[candidates]
    if np.isnan(vals).all():
        return candidates[0]
    return candidates[int(np.nanargmax(vals))]  # first maximum, candidates ascending


def select(
    prediction: Prediction,
    strategy: str,
    ious: np.ndarray | Sequence[float] | None = None,
    n_clicks: int = 1,
) -> int:
    """Index of the candidate ``strategy`` keeps.

    prediction: the step's :class:`~clickbench.models.base.Prediction` (its ``scores`` (C,),
                ``multi`` and ``single`` are used).
    strategy:   one of :data:`STRATEGIES`.
    ious:       (C,) IoU of every candidate against ground truth; needed by ``oracle``.
    n_clicks:   clicks so far including this step's (1 for the first click).
    """
    if strategy == "max_score":
        return _best(prediction.scores, prediction.multi)
    if strategy == "oracle":
        if ious is None:
            raise ValueError("strategy 'oracle' needs the candidates' IoUs")
        return _best(ious, prediction.multi)
    if strategy == "single":
        if n_clicks >= 2 and prediction.single is not None and prediction.single >= 0:
            return int(prediction.single)
        return _best(prediction.scores, prediction.multi)
    raise ValueError(
        f"unknown mask-selection strategy {strategy!r}; known: {', '.join(STRATEGIES)}"
    )


__all__ = ["STRATEGIES", "select"]

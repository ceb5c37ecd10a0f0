"""Mask-selection strategies on hand-built candidate sets."""

from __future__ import annotations

import numpy as np
import pytest

from clickbench.models.base import Prediction
from clickbench.selection import STRATEGIES, select


def sam_like(scores, single=3):
    """Four candidates as SAM gives them: three multimask ones (0-2) and the single one (3)."""
    masks = np.zeros((len(scores), 4, 4), bool)
    return Prediction(
        masks=masks, scores=np.asarray(scores, np.float32), multi=(0, 1, 2), single=single
    )


def test_max_score_picks_the_highest_score_among_multi():
    pred = sam_like([0.7, 0.95, 0.8, 0.99])  # the single candidate's score is not eligible
    assert select(pred, "max_score") == 1


def test_oracle_picks_the_best_true_iou_among_multi():
    pred = sam_like([0.9, 0.95, 0.8, 0.5])
    ious = [0.30, 0.10, 0.96, 0.99]  # the study's failure: top score 0.10, another mask 0.96
    assert select(pred, "max_score", ious) == 1
    assert select(pred, "oracle", ious) == 2
    with pytest.raises(ValueError, match="IoU"):
        select(pred, "oracle")


def test_single_from_the_second_click():
    pred = sam_like([0.7, 0.95, 0.8, 0.5])
    assert select(pred, "single", n_clicks=1) == 1  # first click: as max_score
    assert select(pred, "single", n_clicks=2) == 3
    assert select(pred, "single", n_clicks=7) == 3
    no_single = sam_like([0.7, 0.95, 0.8, 0.5], single=None)
    assert select(no_single, "single", n_clicks=3) == 1


def test_ties_go_to_the_lowest_index():
    pred = sam_like([0.9, 0.9, 0.9, 0.9])
    assert select(pred, "max_score") == 0
    assert select(pred, "oracle", [0.5, 0.8, 0.8, 0.8]) == 1
    # multi in any order: still the lowest index among equals
    unordered = Prediction(
        masks=np.zeros((3, 2, 2), bool), scores=np.array([0.5, 0.9, 0.9]), multi=(2, 1, 0)
    )
    assert select(unordered, "max_score") == 1


def test_nan_never_wins():
    pred = sam_like([np.nan, 0.2, 0.1, 0.9])
    assert select(pred, "max_score") == 1
    assert select(sam_like([np.nan] * 4), "max_score") == 0


def test_single_candidate_model():
    pred = Prediction(masks=np.zeros((1, 3, 3), bool), scores=np.array([1.0], np.float32))
    for strategy in STRATEGIES:
        assert select(pred, strategy, [0.4], n_clicks=3) == 0


def test_unknown_strategy():
    with pytest.raises(ValueError, match="unknown"):
        select(sam_like([0.1, 0.2, 0.3, 0.4]), "best")

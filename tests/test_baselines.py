"""The weight-free baselines: they segment an easy object from one click, deterministically."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from clickbench.clicks import Click, next_click
from clickbench.metrics import iou
from clickbench.models import registry
from clickbench.models.base import Prediction
from clickbench.models.baselines import GrabCutModel, RandomWalkerModel
from clickbench.protocols import run_noc


def synthetic(seed: int = 0, h: int = 150, w: int = 200):
    """A bright ellipse on a dark, textured background (RGB uint8) and its mask."""
    rng = np.random.default_rng(seed)
    gt = np.zeros((h, w), np.uint8)
    cv2.ellipse(gt, (w // 2 + 10, h // 2 - 5), (w // 4, h // 5), 25.0, 0, 360, 1, -1)
    texture = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 3)
    bg = 50 + 60 * texture[..., None] * np.array([1.0, 0.8, 0.6])
    fg = np.array([210.0, 190.0, 120.0])
    image = np.where(gt[..., None] > 0, fg, bg) + rng.normal(0, 8, (h, w, 3))
    return np.clip(image, 0, 255).astype(np.uint8), gt.astype(bool)


MODELS = {
    "grabcut": lambda: registry.build({"type": "grabcut", "radius": 5, "iterations": 3}),
    "random_walker": lambda: registry.build({"type": "random_walker", "radius": 5}),
}


@pytest.mark.parametrize("name", MODELS)
def test_one_positive_click_segments_an_easy_object(name):
    image, gt = synthetic()
    model = MODELS[name]()
    model.set_image(image)
    click = next_click(gt, None, None)
    pred = model.predict([click])
    assert pred.masks.shape == (1, *gt.shape) and pred.masks.dtype == bool
    assert pred.scores.tolist() == [1.0] and pred.multi == (0,) and pred.single is None
    assert iou(gt, None, pred.masks[0]) > 0.8


@pytest.mark.parametrize("name", MODELS)
def test_deterministic(name):
    image, gt = synthetic(1)
    runs = []
    for _ in range(2):
        model = MODELS[name]()
        model.set_image(image)
        traces = run_noc(model, gt, None, ["max_score"], max_clicks=3)
        runs.append(traces["max_score"])
    np.testing.assert_array_equal(runs[0].masks, runs[1].masks)
    np.testing.assert_array_equal(runs[0].clicks, runs[1].clicks)
    # and whatever OpenCV's random generator was left at by others
    cv2.setRNGSeed(12345)
    model = MODELS[name]()
    model.set_image(image)
    again = run_noc(model, gt, None, ["max_score"], max_clicks=3)["max_score"]
    np.testing.assert_array_equal(again.masks, runs[0].masks)


@pytest.mark.parametrize("name", MODELS)
def test_clicks_are_obeyed(name):
    image, gt = synthetic(2)
    model = MODELS[name]()
    model.set_image(image)
    pos = next_click(gt, None, None)
    neg = Click(pos.row, pos.col + 3, False)  # a negative click on the object, on top
    pred = model.predict([pos, neg])
    disk = np.zeros(gt.shape, np.uint8)
    cv2.circle(disk, (neg.col, neg.row), 5, 1, -1)
    assert not pred.masks[0][disk > 0].any()  # the later, negative disk wins
    # no positive click yet: nothing is segmented
    assert not model.predict([Click(5, 5, False)]).masks.any()


def test_grabcut_uses_the_kept_mask():
    image, gt = synthetic(3)
    model = GrabCutModel(radius=5, iterations=2)
    model.set_image(image)
    click = next_click(gt, None, None)
    kept = Prediction(masks=gt[None], scores=np.ones(1, np.float32))
    with_previous = model.predict([click], previous=kept, previous_choice=0)
    assert iou(gt, None, with_previous.masks[0]) > 0.9


def test_random_walker_works_downscaled_and_at_full_size():
    image, gt = synthetic(4)
    click = next_click(gt, None, None)
    small = RandomWalkerModel(max_side=80)
    small.set_image(image)
    full = RandomWalkerModel(max_side=400)
    full.set_image(image)
    assert small.scale < 1.0 and full.scale == 1.0
    for model in (small, full):
        assert iou(gt, None, model.predict([click]).masks[0]) > 0.8


def test_bad_arguments():
    with pytest.raises(ValueError):
        GrabCutModel(radius=0)
    with pytest.raises(ValueError):
        RandomWalkerModel(beta=0)
    with pytest.raises(ValueError, match="uint8"):
        GrabCutModel().set_image(np.zeros((4, 4), np.uint8))
    with pytest.raises(RuntimeError):
        GrabCutModel().predict([Click(1, 1, True)])

"""RITM adapter: checkpoint file -> registry.build -> the loop RITM's evaluate_sample runs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ritm_annotation.inference import utils as ritm_utils
from ritm_annotation.inference.clicker import Clicker
from ritm_annotation.inference.evaluation import evaluate_sample
from ritm_annotation.inference.predictors import BasePredictor
from ritm_annotation.inference.predictors.brs import HRNetFeatureBRSPredictor

from clickbench.clicks import Click
from clickbench.models import registry
from clickbench.models.ritm import RitmModel, make_predictor
from clickbench.models.tiny import make_tiny_checkpoint

H, W = 96, 128


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tests run in parallel workers on few cores: one torch thread each avoids thrashing."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return make_tiny_checkpoint("ritm", tmp_path_factory.mktemp("ritm") / "ritm.pth", seed=0)


@pytest.fixture(scope="module")
def sample():
    rng = np.random.default_rng(1)
    image = (rng.random((H, W, 3)) * 255).astype(np.uint8)
    image[20:70, 30:100] //= 4
    gt = np.zeros((H, W), np.int32)
    gt[20:70, 30:100] = 1
    gt[20:30, 30:40] = -1  # RITM's ignore label
    return image, gt


def spec(path, mode="NoBRS", **extra):
    return {"type": "ritm", "brs_mode": mode, "checkpoint": {"path": str(path)}, **extra}


def our_loop(model, image, gt, n):
    """Our adapter driven click by click, the clicks placed by RITM's own Clicker."""
    model.set_image(image)
    clicker = Clicker(gt_mask=gt)
    pred_mask = np.zeros(gt.shape, bool)
    clicks, ious = [], []
    for _ in range(n):
        clicker.make_next_click(pred_mask)
        c = clicker.clicks_list[-1]
        clicks.append(Click(int(c.coords[0]), int(c.coords[1]), bool(c.is_positive)))
        pred = model.predict(clicks)
        assert pred.masks.shape == (1, H, W) and pred.masks.dtype == bool
        np.testing.assert_array_equal(pred.scores, [1.0])
        assert pred.multi == (0,) and pred.single is None and pred.logits is None
        pred_mask = pred.masks[0]
        ious.append(ritm_utils.get_iou(gt, pred_mask))
    return clicks, np.array(ious, dtype=np.float32), model.probs


@pytest.mark.parametrize("mode,n", [("NoBRS", 5), ("f-BRS-B", 3)])
def test_loop_equals_ritm_evaluate_sample(ckpt, sample, mode, n):
    image, gt = sample
    model = registry.build(spec(ckpt, mode))
    assert isinstance(model, RitmModel)
    # RITM's own path: load_is_model as evaluate_model.py, the same predictor settings
    net = ritm_utils.load_is_model(str(ckpt), "cpu")
    ref_clicks, ref_ious, ref_probs = evaluate_sample(
        image, gt, make_predictor(net, mode, "cpu"), max_iou_thr=1.01, pred_thr=0.49, max_clicks=n
    )
    clicks, ious, probs = our_loop(model, image, gt, n)
    assert [(c.row, c.col, c.positive) for c in clicks] == [
        (int(c.coords[0]), int(c.coords[1]), bool(c.is_positive)) for c in ref_clicks
    ]
    np.testing.assert_array_equal(ious, ref_ious)
    np.testing.assert_array_equal(probs, ref_probs)
    assert len(set(ious.tolist())) > 1  # the tiny model's masks respond to clicks


def test_reset_restores_a_fresh_state(ckpt, sample):
    image, gt = sample
    model = registry.build(spec(ckpt))
    first = our_loop(model, image, gt, 4)
    model.reset()
    second = our_loop(model, image, gt, 4)
    assert first[0] == second[0]
    np.testing.assert_array_equal(first[1], second[1])
    np.testing.assert_array_equal(first[2], second[2])


def test_predict_replays_when_clicks_are_not_one_more(ckpt, sample):
    image, gt = sample
    model = registry.build(spec(ckpt))
    clicks, _, _ = our_loop(model, image, gt, 4)
    step_by_step = model.predict(clicks).masks  # asked again: same answer
    again = model.predict(clicks)
    np.testing.assert_array_equal(again.masks, step_by_step)
    model.predict(clicks[:1])  # not an extension: reset and replay
    replayed = model.predict(clicks)  # three clicks at once: replayed one by one
    np.testing.assert_array_equal(replayed.masks, step_by_step)


def test_predictor_has_evaluate_models_settings(ckpt):
    fbrs = registry.build(spec(ckpt, "f-BRS-B")).predictor
    assert isinstance(fbrs, HRNetFeatureBRSPredictor)
    assert fbrs.net_clicks_limit == 8 and fbrs.with_flip is True
    assert fbrs.opt_functor.prob_thresh == 0.49
    assert fbrs.insertion_mode == "A"  # f-BRS-B on HRNet ("after_aspp" -> A)
    zoom = fbrs.zoom_in
    assert (zoom.target_size, zoom.skip_clicks, zoom.expansion_ratio) == (400, 1, 1.4)
    assert (zoom.min_crop_size, zoom.recompute_thresh_iou, zoom.prob_thresh) == (200, 0.5, 0.5)

    nobrs = registry.build(spec(ckpt, "NoBRS")).predictor
    assert type(nobrs) is BasePredictor
    assert nobrs.net_clicks_limit is None and nobrs.with_flip is True
    assert registry.build(spec(ckpt, zoom_in=False)).predictor.zoom_in is None
    model = registry.build(spec(ckpt, prob_thresh=0.3))
    assert model.prob_thresh == 0.3


def test_threshold_applies_to_probabilities(ckpt, sample):
    image, _ = sample
    model = registry.build(spec(ckpt, prob_thresh=0.49))
    model.set_image(image)
    pred = model.predict([Click(40, 60, True)])
    np.testing.assert_array_equal(pred.masks[0], model.probs > 0.49)


def test_unknown_brs_mode_is_refused(ckpt):
    with pytest.raises(ValueError, match="brs_mode"):
        registry.build(spec(ckpt, "RGB-BRS-X"))

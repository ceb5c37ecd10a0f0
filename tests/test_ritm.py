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
from clickbench.errors import BadInputError
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


# ---------------------------------------------------------------- checkpoints as RITM publishes them
def _state(ckpt):
    return torch.load(ckpt, weights_only=True)


def _save(tmp_path, state, name="c.pth"):
    path = tmp_path / name
    torch.save(state, path)
    return path


def test_released_class_paths_load_and_match_the_pypi_paths(ckpt, sample, tmp_path):
    """The tiny file names `isegm.` classes, as RITM's released .pth files; the same weights
    under ritm-annotation's own module path give the same predictions."""
    state = _state(ckpt)
    assert state["config"]["class"] == "isegm.model.is_hrnet_model.HRNetModel"
    pypi = {
        **state,
        "config": {**state["config"], "class": "ritm_annotation.model.is_hrnet_model.HRNetModel"},
    }
    image, gt = sample
    a = our_loop(registry.build(spec(ckpt)), image, gt, 3)
    b = our_loop(registry.build(spec(_save(tmp_path, pypi))), image, gt, 3)
    assert type(registry.build(spec(ckpt)).net).__module__ == "ritm_annotation.model.is_hrnet_model"
    assert a[0] == b[0]
    np.testing.assert_array_equal(a[2], b[2])


def test_missing_key_fails_naming_it(ckpt, tmp_path):
    state = _state(ckpt)
    gone = "feature_extractor.cls_head.weight"
    del state["state_dict"][gone]
    path = _save(tmp_path, state)
    with pytest.raises(BadInputError) as err:
        registry.build(spec(path))
    msg = str(err.value)
    assert msg.startswith(str(path)) and "1 missing key(s): " + gone in msg


def test_unexpected_key_fails_naming_it(ckpt, tmp_path):
    state = _state(ckpt)
    state["state_dict"]["module.extra_head.weight"] = torch.zeros(3)
    path = _save(tmp_path, state)
    with pytest.raises(BadInputError, match="1 unexpected key\\(s\\): module.extra_head.weight"):
        registry.build(spec(path))


def test_many_mismatched_keys_are_counted(ckpt, tmp_path):
    """A checkpoint of another architecture (HRNet18s weights for HRNet32) names the first
    keys and the count, not a thousand lines."""
    state = _state(ckpt)
    state["state_dict"] = {f"x.{k}": v for k, v in state["state_dict"].items()}
    n = len(state["state_dict"])
    with pytest.raises(BadInputError, match=f"{n} missing key.*\\({n} in all\\)"):
        registry.build(spec(_save(tmp_path, state)))


@pytest.mark.parametrize(
    "cls",
    [
        "isegm.model.is_plainvit_model.PlainVitModel",  # SimpleClick: not in ritm-annotation
        "collections.OrderedDict",  # not a model at all
        "os.system",  # the config is data: it must not name code to run
    ],
)
def test_config_class_outside_ritm_models_is_refused(ckpt, tmp_path, cls):
    state = _state(ckpt)
    state["config"]["class"] = cls
    path = _save(tmp_path, state)
    with pytest.raises(BadInputError) as err:
        registry.build(spec(path))
    assert str(path) in str(err.value) and repr(cls) in str(err.value)


def test_a_refused_config_class_is_not_even_imported(ckpt, tmp_path):
    import sys

    state = _state(ckpt)
    state["config"]["class"] = "this.Model"  # importing `this` would print the Zen of Python
    assert "this" not in sys.modules
    with pytest.raises(BadInputError, match="'this.Model' is not a RITM model"):
        registry.build(spec(_save(tmp_path, state)))
    assert "this" not in sys.modules


def test_class_valued_parameter_outside_torch_nn_is_refused(ckpt, tmp_path):
    state = _state(ckpt)
    state["config"]["params"]["norm_layer"]["value"] = "subprocess.Popen"
    with pytest.raises(BadInputError, match="'norm_layer' names class 'subprocess.Popen'"):
        registry.build(spec(_save(tmp_path, state)))


def test_prob_thresh_and_settings_default_from_the_schema(ckpt):
    from clickbench import config
    from clickbench.models.ritm import DEFAULTS

    schema_block = config.load_schema()["properties"]["models"]["additionalProperties"]
    ritm_branch = next(
        b["then"]["properties"]
        for b in schema_block["allOf"]
        if b["if"]["properties"]["type"]["const"] == "ritm"
    )
    assert ritm_branch["prob_thresh"]["default"] == 0.49  # RITM evaluate_model.py's value
    assert DEFAULTS == config.model_defaults("ritm")
    model = registry.build({"type": "ritm", "checkpoint": {"path": str(ckpt)}})
    assert model.prob_thresh == 0.49
    assert model.predictor.zoom_in.target_size == 400
    assert type(model.predictor).__name__ == "HRNetFeatureBRSPredictor"  # f-BRS-B
    # a SAM block gets none of RITM's settings
    assert "prob_thresh" not in config.model_defaults("sam")

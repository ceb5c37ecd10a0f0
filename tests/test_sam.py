"""SAM adapter: checkpoint file -> registry.build -> candidates, against SamPredictor itself."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from segment_anything import SamPredictor

from clickbench import config
from clickbench.clicks import Click
from clickbench.config import ConfigError
from clickbench.embedding_cache import count_encodings
from clickbench.errors import BadInputError
from clickbench.models import registry
from clickbench.models.base import Prediction
from clickbench.models.sam import MULTI, SINGLE, VARIANTS, SamModel, clicks_to_points
from clickbench.models.tiny import make_tiny_checkpoint

H, W = 120, 170  # not square: a (row, col) / (x, y) mix-up changes the answer


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tests run in parallel workers on few cores: one torch thread each avoids thrashing."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    d = tmp_path_factory.mktemp("sam")
    return [make_tiny_checkpoint("sam", d / f"sam_{s}.pth", seed=s) for s in (0, 1)]


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(0)
    img = (rng.random((H, W, 3)) * 255).astype(np.uint8)
    img[30:90, 40:120] //= 4  # a dark object
    return img


def spec(path, **extra):
    return {"type": "sam", "variant": "tiny", "checkpoint": {"path": str(path)}, **extra}


@pytest.fixture(scope="module")
def model(ckpts, image, tmp_path_factory):
    m = registry.build(spec(ckpts[0]), cache_dir=tmp_path_factory.mktemp("cache"))
    m.set_image(image)
    return m


@pytest.fixture(scope="module")
def reference(model, image):
    """segment-anything's own predictor on the same weights and image."""
    ref = SamPredictor(model.sam)
    ref.set_image(image)
    return ref


CLICK_SETS = [
    [Click(60, 80, True)],
    [Click(60, 80, True), Click(5, 160, False)],
    [Click(60, 80, True), Click(5, 160, False), Click(100, 20, True), Click(31, 119, False)],
]


def test_clicks_convert_from_row_col_to_x_y():
    coords, labels = clicks_to_points([Click(10, 250, True), Click(3, 7, False)])
    np.testing.assert_array_equal(coords, [[250, 10], [7, 3]])
    np.testing.assert_array_equal(labels, [1, 0])
    assert coords.shape == (2, 2) and labels.shape == (2,)


def test_build_takes_the_users_path(model):
    assert isinstance(model, SamModel) and model.variant == "tiny"
    assert set(VARIANTS) >= {"vit_b", "vit_l", "vit_h", "tiny"}


def test_embedding_equals_sam_predictors(model, reference):
    assert torch.equal(model.predictor.features, reference.features)
    assert model.predictor.original_size == reference.original_size == (H, W)
    assert model.predictor.input_size == reference.input_size


@pytest.mark.parametrize("clicks", CLICK_SETS, ids=["1", "2", "4"])
def test_four_candidates_equal_sam_predictor_predict(model, reference, clicks):
    pred = model.predict(clicks)
    assert pred.masks.shape == (4, H, W) and pred.masks.dtype == bool
    assert pred.scores.shape == (4,) and pred.scores.dtype == np.float32
    assert pred.logits.shape == (4, 256, 256) and pred.logits.dtype == np.float32
    assert pred.multi == MULTI == (0, 1, 2) and pred.single == SINGLE == 3

    xy = np.array([[c.col, c.row] for c in clicks])
    labels = np.array([int(c.positive) for c in clicks])
    multi = reference.predict(xy, labels, multimask_output=True)
    single = reference.predict(xy, labels, multimask_output=False)
    for got, want in zip((pred.masks, pred.scores, pred.logits), multi, strict=True):
        np.testing.assert_array_equal(got[:3], want)
    for got, want in zip((pred.masks, pred.scores, pred.logits), single, strict=True):
        np.testing.assert_array_equal(got[3:], want)


def test_swapped_coordinates_give_another_answer(model):
    """The equality above would also hold if both sides swapped; this pins the orientation."""
    a = model.predict([Click(20, 150, True)])
    b = model.predict([Click(150 % H, 20, True)])
    assert not np.array_equal(a.logits, b.logits)


def test_mask_input_feeds_the_chosen_candidates_logits(ckpts, image, reference, tmp_path):
    m = registry.build(spec(ckpts[0], mask_input=True), cache_dir=tmp_path)
    m.set_image(image)
    first = m.predict(CLICK_SETS[0])
    second = m.predict(CLICK_SETS[1], previous=first, previous_choice=2)
    xy = np.array([[80, 60], [160, 5]])
    want = reference.predict(
        xy, np.array([1, 0]), mask_input=first.logits[2][None], multimask_output=True
    )
    np.testing.assert_array_equal(second.logits[:3], want[2])
    np.testing.assert_array_equal(second.scores[:3], want[1])
    without = m.predict(CLICK_SETS[1])
    assert not np.array_equal(second.logits, without.logits)
    other = m.predict(CLICK_SETS[1], previous=first, previous_choice=0)
    assert not np.array_equal(second.logits, other.logits)


def test_mask_input_off_ignores_previous(model):
    first = model.predict(CLICK_SETS[0])
    a = model.predict(CLICK_SETS[1], previous=first, previous_choice=1)
    b = model.predict(CLICK_SETS[1])
    np.testing.assert_array_equal(a.logits, b.logits)


def test_mask_input_needs_logits(ckpts, image, tmp_path):
    m = registry.build(spec(ckpts[0], mask_input=True), cache_dir=tmp_path)
    m.set_image(image)
    prev = Prediction(masks=np.zeros((1, H, W), bool), scores=np.ones(1, np.float32))
    with pytest.raises(ValueError, match="mask_input"):
        m.predict(CLICK_SETS[1], previous=prev, previous_choice=0)


def test_deterministic_across_builds(ckpts, image, model, tmp_path):
    other = registry.build(spec(ckpts[0]))  # no cache: encodes afresh
    other.set_image(image)
    a, b = model.predict(CLICK_SETS[2]), other.predict(CLICK_SETS[2])
    for x, y in zip((a.masks, a.scores, a.logits), (b.masks, b.scores, b.logits), strict=True):
        np.testing.assert_array_equal(x, y)


# ---------------------------------------------------------------- one encoding per image
def test_second_set_image_encodes_nothing(ckpts, image, tmp_path):
    m = registry.build(spec(ckpts[0]), cache_dir=tmp_path)
    m.set_image(image)
    assert count_encodings(tmp_path) == 1 and m.last_hit is False
    m.set_image(image)
    # a fresh model (another job, another strategy or protocol) on the same image
    fresh = registry.build(spec(ckpts[0], mask_input=True), cache_dir=tmp_path)
    fresh.set_image(image.copy())
    assert count_encodings(tmp_path) == 1 and fresh.last_hit is True and fresh.encodings == 0
    # another checkpoint (another hash) re-encodes
    other = registry.build(spec(ckpts[1]), cache_dir=tmp_path)
    other.set_image(image)
    assert count_encodings(tmp_path) == 2 and other.last_hit is False
    # another image re-encodes
    m.set_image(image[::-1].copy())
    assert count_encodings(tmp_path) == 3


def test_cached_embedding_gives_the_same_prediction(ckpts, image, tmp_path):
    a = registry.build(spec(ckpts[0]), cache_dir=tmp_path)
    a.set_image(image)
    b = registry.build(spec(ckpts[0]), cache_dir=tmp_path)
    b.set_image(image)
    assert b.last_hit
    np.testing.assert_array_equal(a.predict(CLICK_SETS[1]).logits, b.predict(CLICK_SETS[1]).logits)


def test_corrupted_cache_entry_is_recomputed(ckpts, image, tmp_path):
    a = registry.build(spec(ckpts[0]), cache_dir=tmp_path)
    a.set_image(image)
    want = a.predict(CLICK_SETS[1]).logits
    (entry,) = (tmp_path / "sam").glob("*/*.npz")
    entry.write_bytes(entry.read_bytes()[:1000])
    b = registry.build(spec(ckpts[0]), cache_dir=tmp_path)
    b.set_image(image)
    assert b.last_hit is False and count_encodings(tmp_path) == 2
    np.testing.assert_array_equal(b.predict(CLICK_SETS[1]).logits, want)


def test_prepare_fills_the_cache(ckpts, image, tmp_path):
    m = registry.build(spec(ckpts[0]), cache_dir=tmp_path)
    images = [image, image[:, ::-1].copy(), image]
    m.prepare(images, batch_size=2)
    assert count_encodings(tmp_path) == 2
    m.set_image(images[1])
    assert m.last_hit and count_encodings(tmp_path) == 2


# ---------------------------------------------------------------- precision
def test_bf16_encoder_is_close_and_keyed_apart(ckpts, image, tmp_path):
    fp32 = registry.build(spec(ckpts[0]), cache_dir=tmp_path)
    bf16 = registry.build(spec(ckpts[0]), precision="bf16", cache_dir=tmp_path)
    fp32.set_image(image)
    bf16.set_image(image)
    assert count_encodings(tmp_path) == 2  # precision is part of the key
    a, b = fp32.predictor.features, bf16.predictor.features
    assert b.dtype == torch.float32
    assert not torch.equal(a, b)
    rel = float((a - b).norm() / a.norm())
    assert rel < 0.05, rel
    pa, pb = fp32.predict(CLICK_SETS[1]), bf16.predict(CLICK_SETS[1])
    assert np.mean(pa.masks != pb.masks) < 0.05


def test_unknown_precision_and_variant_are_refused(ckpts):
    with pytest.raises(ValueError, match="precision"):
        registry.build(spec(ckpts[0]), precision="fp16")
    with pytest.raises(ConfigError, match="models.model.variant: 'vit_x' is not one of"):
        registry.build({**spec(ckpts[0]), "variant": "vit_x"})


# ---------------------------------------------------------------- checkpoints and variants
def test_sam_without_variant_is_a_config_error(ckpts):
    block = spec(ckpts[0])
    del block["variant"]
    with pytest.raises(ConfigError, match="models.model: 'variant' is a required property"):
        registry.build(block)
    cfg = {
        "dataset": {"name": "x", "layout": "generic", "root": "x"},
        "models": {"sam_x": block},
        "protocols": {"seed": {"models": ["sam_x"]}},
    }
    with pytest.raises(ConfigError, match="models.sam_x: 'variant' is a required property"):
        config.validate(cfg)


def test_each_variant_has_its_memory_in_one_table():
    """sam.VARIANTS, the schema's variant names and registry.MEM_MB agree; mem_mb reads it."""
    sam_branch = next(
        b["then"]["properties"]
        for b in config.load_schema()["properties"]["models"]["additionalProperties"]["allOf"]
        if b["if"]["properties"]["type"]["const"] == "sam"
    )
    assert set(VARIANTS) == set(registry.MEM_MB["sam"]) == set(sam_branch["variant"]["enum"])
    sizes = {v: registry.mem_mb({"type": "sam", "variant": v}) for v in VARIANTS}
    assert sizes["vit_h"] > sizes["vit_l"] > sizes["vit_b"] > sizes["tiny"]
    assert sizes["vit_h"] == 16000
    assert registry.mem_mb({"type": "ritm"}) == registry.MEM_MB["ritm"]
    common = (Path(__file__).resolve().parents[1] / "rules" / "common.smk").read_text()
    assert "16000" not in common and "model_mem_mb(MODELS[model])" in common


def _state(path):
    return torch.load(path, weights_only=True)


@pytest.mark.parametrize("change", ["missing", "unexpected", "both"])
def test_checkpoint_with_missing_or_unexpected_keys_fails_naming_them(ckpts, tmp_path, change):
    state = _state(ckpts[0])
    gone, extra = "mask_decoder.iou_token.weight", "image_encoder.blocks.9.attn.qkv.weight"
    if change in ("missing", "both"):
        del state[gone]
    if change in ("unexpected", "both"):
        state[extra] = torch.zeros(1)
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    with pytest.raises(BadInputError) as err:
        registry.build(spec(path))
    msg = str(err.value)
    assert msg.startswith(f"{path}: does not match SAM variant 'tiny'")
    assert (f"1 missing key(s): {gone}" in msg) == (change != "unexpected")
    assert (f"1 unexpected key(s): {extra}" in msg) == (change != "missing")


def test_checkpoint_with_a_wrong_shape_names_the_tensor(ckpts, tmp_path):
    state = _state(ckpts[0])
    state["mask_decoder.iou_token.weight"] = torch.zeros(2, 2)
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    with pytest.raises(BadInputError, match=r"mask_decoder.iou_token.weight has shape \(2, 2\)"):
        registry.build(spec(path))


def test_sam2_style_wrapped_checkpoint_is_named(ckpts, tmp_path):
    path = tmp_path / "wrapped.pth"
    torch.save({"model": _state(ckpts[0])}, path)
    with pytest.raises(BadInputError, match="SAM 2 format"):
        registry.build(spec(path))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_sam_predictor_on_cuda(ckpts, image, tmp_path):
    m = registry.build(spec(ckpts[0]), device="cuda", cache_dir=tmp_path)
    m.set_image(image)
    ref = SamPredictor(m.sam)
    ref.set_image(image)
    torch.testing.assert_close(m.predictor.features, ref.features)
    pred = m.predict(CLICK_SETS[1])
    want = ref.predict(np.array([[80, 60], [160, 5]]), np.array([1, 0]), multimask_output=True)
    np.testing.assert_allclose(pred.logits[:3], want[2], atol=1e-4)

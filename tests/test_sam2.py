"""SAM 2 adapter: tiny checkpoint -> registry.build -> candidates, against SAM2ImagePredictor."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sam2.build_sam import build_sam2
from sam2.sam2_image_predictor import SAM2ImagePredictor

from clickbench import checkpoints
from clickbench.clicks import Click
from clickbench.embedding_cache import count_encodings
from clickbench.errors import BadInputError
from clickbench.models import registry
from clickbench.models import sam2 as S

H, W = 120, 170  # not square: SAM 2 scales x and y differently (normalize_coords)
CLICKS = [Click(60, 80, True), Click(20, 20, False), Click(85, 110, True)]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return registry.make_tiny_checkpoint("sam2", tmp_path_factory.mktemp("sam2") / "t.pt")


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(0)
    img = (rng.random((H, W, 3)) * 255).astype(np.uint8)
    img[30:90, 40:120] //= 4
    return img


def spec(path, **extra):
    return {"type": "sam2", "variant": "tiny", "checkpoint": {"path": str(path)}, **extra}


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def model(ckpt, image, cache_dir):
    m = registry.build(spec(ckpt), cache_dir=cache_dir)
    m.set_image(image)
    return m


def points(clicks):
    coords = np.array([[c.col, c.row] for c in clicks], dtype=np.float64)
    return coords, np.array([int(c.positive) for c in clicks])


def reference(sam2_model, image):
    ref = SAM2ImagePredictor(sam2_model)
    ref.set_image(image)
    return ref


def assert_matches_predictor(pred, ref, clicks, mask_input=None):
    coords, labels = points(clicks)
    m3, s3, l3 = ref.predict(coords, labels, mask_input=mask_input, multimask_output=True)
    m1, s1, l1 = ref.predict(coords, labels, mask_input=mask_input, multimask_output=False)
    np.testing.assert_array_equal(pred.masks[:3], m3.astype(bool))
    np.testing.assert_array_equal(pred.scores[:3], s3)
    np.testing.assert_array_equal(pred.logits[:3], l3)
    np.testing.assert_array_equal(pred.masks[3], m1[0].astype(bool))
    np.testing.assert_array_equal(pred.scores[3:], s1)
    np.testing.assert_array_equal(pred.logits[3:], l1)


def test_tiny_checkpoint_is_the_official_format_and_loads_in_build_sam2(ckpt, model):
    """``{"model": state_dict}``, loadable by sam2's own strict loader to the same weights."""
    raw = torch.load(ckpt, weights_only=True)
    assert set(raw) == {"model"}
    _, overrides = S.VARIANTS["tiny"]
    own = build_sam2(
        "configs/sam2.1/sam2.1_hiera_t.yaml", str(ckpt), device="cpu",
        hydra_overrides_extra=list(overrides),
    )  # fmt: skip
    ours = model.model.state_dict()
    assert own.state_dict().keys() == ours.keys()
    for k, v in own.state_dict().items():
        assert torch.equal(v, ours[k]), k
    assert 0.5e6 < sum(p.numel() for p in own.parameters()) < 3e6
    assert next(model.model.parameters()).device.type == "cpu"  # not build_sam2's cuda


def test_same_seed_same_bytes(tmp_path, ckpt):
    again = registry.make_tiny_checkpoint("sam2", tmp_path / "again.pt")
    assert checkpoints.sha256sum(again) == checkpoints.sha256sum(ckpt)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_every_candidate_matches_the_predictor(model, image, k):
    """Candidates 0-2 = predict(multimask_output=True), 3 = predict(multimask_output=False)
    (with build_sam2's dynamic multimask fallback), masks, scores and logits bit for bit."""
    pred = model.predict(CLICKS[:k])
    assert pred.masks.shape == (4, H, W) and pred.masks.dtype == bool
    assert pred.logits.shape == (4, 256, 256)
    assert pred.multi == (0, 1, 2) and pred.single == 3
    assert_matches_predictor(pred, reference(model.model, image), CLICKS[:k])


def test_embedding_from_the_cache_gives_the_same_candidates(model, ckpt, image, cache_dir):
    again = registry.build(spec(ckpt), cache_dir=cache_dir)
    again.set_image(image)
    assert again.last_hit is True and again.encodings == 0
    for k in (1, 3):
        a, b = model.predict(CLICKS[:k]), again.predict(CLICKS[:k])
        np.testing.assert_array_equal(a.masks, b.masks)
        np.testing.assert_array_equal(a.logits, b.logits)
    assert count_encodings(cache_dir) == 1  # one encoding of this image for this model


def test_no_box_prompt_and_no_batched_prepare(model):
    """SAM 2 takes clicks only (the box protocol is not applicable to it) and encodes in
    set_image: the runner finds no ``prepare`` to batch-encode with."""
    from clickbench import prompts

    assert not model.supports_box and model.prepare is None
    with pytest.raises(ValueError, match="SAM 2 takes no box prompt"):
        model.predict(CLICKS[:1], box=prompts.Box(30, 40, 89, 119))
    with pytest.raises(ValueError, match="SAM 2 needs at least one click$"):
        model.predict(())


def test_pack_and_unpack_are_exact(model, image):
    p = SAM2ImagePredictor(model.model)
    p.set_image(image)
    packed = S.pack_features(p._features)
    assert packed.shape[0] == 1 and packed.shape[2:] == (64, 64)
    back = S.unpack_features(packed, S.high_res_channels(model.model), "cpu")
    assert torch.equal(back["image_embed"], p._features["image_embed"])
    for a, b in zip(back["high_res_feats"], p._features["high_res_feats"], strict=True):
        assert torch.equal(a, b)


def test_fallback_can_be_turned_off(ckpt, image, cache_dir):
    """multimask_fallback: false -> candidate 3 is decoder token 0, as build_sam2 with
    apply_postprocessing=False; with the fallback on, the random model falls back."""
    off = registry.build(spec(ckpt, multimask_fallback=False), cache_dir=cache_dir)
    off.set_image(image)
    on = registry.build(spec(ckpt), cache_dir=cache_dir)
    on.set_image(image)
    pred_off, pred_on = off.predict(CLICKS[:1]), on.predict(CLICKS[:1])
    assert_matches_predictor(pred_off, reference(off.model, image), CLICKS[:1])
    assert not off.model.sam_mask_decoder.dynamic_multimask_via_stability
    assert not np.array_equal(pred_off.logits[3], pred_on.logits[3])
    # with the fallback the single candidate is the best multimask one (token 0 unstable)
    best = int(np.argmax(pred_on.scores[:3]))
    np.testing.assert_array_equal(pred_on.logits[3], pred_on.logits[best])


def test_mask_input_feeds_the_kept_logits_back(ckpt, image, cache_dir):
    m = registry.build(spec(ckpt, mask_input=True), cache_dir=cache_dir)
    m.set_image(image)
    first = m.predict(CLICKS[:1])
    second = m.predict(CLICKS[:2], previous=first, previous_choice=1)
    assert_matches_predictor(
        second, reference(m.model, image), CLICKS[:2], mask_input=first.logits[1][None]
    )
    plain = m.predict(CLICKS[:2])
    assert not np.array_equal(plain.logits, second.logits)


def _save_state(path, state):
    torch.save({"model": state}, path)
    return path


def test_missing_key_fails_naming_it(ckpt, tmp_path):
    state = torch.load(ckpt, weights_only=True)["model"]
    gone = "sam_mask_decoder.iou_token.weight"
    del state[gone]
    bad = _save_state(tmp_path / "missing.pt", state)
    with pytest.raises(BadInputError) as err:
        registry.build(spec(bad))
    msg = str(err.value)
    assert str(bad) in msg and gone in msg and "1 missing key(s): " + gone in msg


def test_unexpected_and_misshapen_keys_fail_naming_them(ckpt, tmp_path):
    state = torch.load(ckpt, weights_only=True)["model"]
    state["extra.weight"] = torch.zeros(1)
    state["no_mem_embed"] = torch.zeros(1, 1, 3)
    bad = _save_state(tmp_path / "extra.pt", state)
    with pytest.raises(BadInputError) as err:
        registry.build(spec(bad))
    assert "1 unexpected key(s): extra.weight" in str(err.value)
    assert "no_mem_embed has shape (1, 1, 3), the model's (1, 1, 64)" in str(err.value)


def test_not_the_official_format_fails(ckpt, tmp_path):
    bare = tmp_path / "bare.pt"
    torch.save(torch.load(ckpt, weights_only=True)["model"], bare)  # the state dict alone
    with pytest.raises(BadInputError, match=r"expected \{'model': state_dict\}"):
        registry.build(spec(bare))


def test_a_real_variant_rejects_the_tiny_weights(ckpt):
    with pytest.raises(BadInputError, match="does not match SAM 2 variant 'sam2.1_hiera_t'"):
        registry.build(spec(ckpt, variant="sam2.1_hiera_t"))


def test_sha256_is_checked_before_loading(ckpt):
    with pytest.raises(BadInputError, match="SHA-256 mismatch"):
        registry.build({**spec(ckpt), "checkpoint": {"path": str(ckpt), "sha256": "0" * 64}})


def test_every_official_variant_is_a_config_inside_the_package():
    """The catalogue's SAM 2 entries name variants whose Hydra configs sam2 ships."""
    from hydra import compose

    cat = {k: v for k, v in checkpoints.load_catalogue().items() if v["type"] == "sam2"}
    assert len(cat) == 8
    for name, entry in cat.items():
        config_name, overrides = S.VARIANTS[entry["variant"]]
        assert overrides == ()
        cfg = compose(config_name=config_name)
        assert cfg.model.image_size == 1024, name
        assert entry["url"].split("/")[-1].startswith(entry["variant"].split("_hiera")[0]), name

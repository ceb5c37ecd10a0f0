"""HQ-SAM adapter: tiny checkpoint -> registry.build -> candidates, against its SamPredictor."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from segment_anything_hq import SamPredictor as HqPredictor
from segment_anything_hq import sam_model_registry

from clickbench import checkpoints
from clickbench.clicks import Click
from clickbench.embedding_cache import count_encodings
from clickbench.errors import BadInputError
from clickbench.models import registry
from clickbench.models.hq_sam import VARIANTS, build_hq_tiny

H, W = 120, 170
CLICKS = [Click(60, 80, True), Click(20, 20, False), Click(85, 110, True)]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return registry.make_tiny_checkpoint("hq_sam", tmp_path_factory.mktemp("hq") / "t.pth")


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(0)
    img = (rng.random((H, W, 3)) * 255).astype(np.uint8)
    img[30:90, 40:120] //= 4
    return img


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


def spec(path, **extra):
    return {"type": "hq_sam", "variant": "tiny", "checkpoint": {"path": str(path)}, **extra}


def points(clicks):
    coords = np.array([[c.col, c.row] for c in clicks], dtype=np.float64)
    return coords, np.array([int(c.positive) for c in clicks])


@pytest.mark.parametrize("hq_token_only", [False, True])
@pytest.mark.parametrize("k", [1, 3])
def test_candidates_match_the_hq_predictor(ckpt, image, cache_dir, hq_token_only, k):
    """max_score over candidates 0-2 is predict(multimask_output=True) and candidate 3 is
    predict(multimask_output=False), with and without hq_token_only, bit for bit."""
    m = registry.build(spec(ckpt, hq_token_only=hq_token_only), cache_dir=cache_dir)
    m.set_image(image)
    pred = m.predict(CLICKS[:k])
    assert pred.masks.shape == (4, H, W) and pred.multi == (0, 1, 2) and pred.single == 3
    ref = HqPredictor(m.sam)
    ref.set_image(image)
    coords, labels = points(CLICKS[:k])
    best = int(np.argmax(pred.scores[:3]))
    for idx, multimask in ((best, True), (3, False)):
        mask, score, logits = ref.predict(
            coords, labels, multimask_output=multimask, hq_token_only=hq_token_only
        )
        np.testing.assert_array_equal(pred.masks[idx], mask[0])
        np.testing.assert_array_equal(pred.scores[idx : idx + 1], score)
        np.testing.assert_array_equal(pred.logits[idx : idx + 1], logits)
    if hq_token_only:  # the HQ mask alone: one mask, four scores
        assert all(np.array_equal(pred.masks[0], pred.masks[i]) for i in range(4))
    else:
        assert not np.array_equal(pred.masks[0], pred.masks[1])
    assert count_encodings(cache_dir) == 1  # the encoder ran once for all of these


def test_tiny_loads_in_the_packages_own_loader(ckpt):
    """A plain state dict, as the official files: the package's own (strict=False) loader
    finds nothing missing or unexpected in it."""
    state = torch.load(ckpt, weights_only=True)
    own = build_hq_tiny()
    info = own.load_state_dict(state, strict=False)
    assert not info.missing_keys and not info.unexpected_keys
    assert any(k.startswith("mask_decoder.hf_token") for k in state)


def test_mask_input_feeds_the_kept_logits_back(ckpt, image, cache_dir):
    m = registry.build(spec(ckpt, mask_input=True), cache_dir=cache_dir)
    m.set_image(image)
    first = m.predict(CLICKS[:1])
    second = m.predict(CLICKS[:2], previous=first, previous_choice=3)
    ref = HqPredictor(m.sam)
    ref.set_image(image)
    coords, labels = points(CLICKS[:2])
    mask, _, _ = ref.predict(
        coords, labels, mask_input=first.logits[3][None], multimask_output=False
    )
    np.testing.assert_array_equal(second.masks[3], mask[0])


def test_box_prompt_matches_the_hq_predictor(ckpt, image, cache_dir):
    """HQ-SAM takes a box as SAM does (supports_box): the box alone and with a click, against
    the package's predict(box=XYXY), bit for bit."""
    from clickbench import prompts

    m = registry.build(spec(ckpt), cache_dir=cache_dir)
    assert m.supports_box
    m.set_image(image)
    ref = HqPredictor(m.sam)
    ref.set_image(image)
    box = prompts.Box(30, 40, 89, 119)  # top, left, bottom, right
    xyxy = np.array([40, 30, 119, 89])
    for clicks in ((), CLICKS[:1]):
        pred = m.predict(clicks, box=box)
        kw = (
            dict(zip(("point_coords", "point_labels"), points(clicks), strict=True))
            if clicks
            else {}
        )
        mask, score, logits = ref.predict(box=xyxy, multimask_output=False, **kw)
        np.testing.assert_array_equal(pred.masks[3], mask[0])
        np.testing.assert_array_equal(pred.scores[3:], score)
        np.testing.assert_array_equal(pred.logits[3:], logits)
    with pytest.raises(ValueError, match="HQ-SAM needs at least one click or a box"):
        m.predict(())


def test_missing_key_fails_naming_it(ckpt, tmp_path):
    """The package itself would load this with strict=False and run a random HQ token."""
    state = torch.load(ckpt, weights_only=True)
    del state["mask_decoder.hf_token.weight"]
    bad = tmp_path / "missing.pth"
    torch.save(state, bad)
    info = build_hq_tiny().load_state_dict(state, strict=False)
    assert info.missing_keys == ["mask_decoder.hf_token.weight"]  # silently accepted there
    with pytest.raises(BadInputError) as err:
        registry.build(spec(bad))
    msg = str(err.value)
    assert str(bad) in msg and "1 missing key(s): mask_decoder.hf_token.weight" in msg


def test_a_sam_v1_checkpoint_is_not_an_hq_sam_one(tmp_path):
    """A SAM v1 vit_b state dict lacks HQ-SAM's layers: every one is named missing."""
    from segment_anything import sam_model_registry as sam_v1

    path = tmp_path / "sam_v1.pth"
    torch.save(sam_v1["vit_b"]().state_dict(), path)
    with pytest.raises(BadInputError) as err:
        registry.build(spec(path, variant="vit_b"))
    assert "mask_decoder.hf_token.weight" in str(err.value)
    assert "25 missing key(s)" in str(err.value) and "unexpected key" not in str(err.value)


def test_unexpected_key_fails_naming_it(ckpt, tmp_path):
    state = torch.load(ckpt, weights_only=True)
    state["mask_decoder.extra"] = torch.zeros(2)
    bad = tmp_path / "extra.pth"
    torch.save(state, bad)
    with pytest.raises(BadInputError, match=r"1 unexpected key\(s\): mask_decoder\.extra"):
        registry.build(spec(bad))


def test_variants_are_the_packages_registry():
    assert {"vit_b", "vit_l", "vit_h", "vit_tiny"} <= set(VARIANTS) <= {*sam_model_registry, "tiny"}
    cat = {k: v for k, v in checkpoints.load_catalogue().items() if v["type"] == "hq_sam"}
    assert sorted(v["variant"] for v in cat.values()) == ["vit_b", "vit_h", "vit_l", "vit_tiny"]
    for entry in cat.values():
        assert entry["url"].endswith(f"sam_hq_{entry['variant']}.pth")

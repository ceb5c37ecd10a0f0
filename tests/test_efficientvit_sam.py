"""EfficientViT-SAM adapter: tiny checkpoint -> registry.build -> candidates, against the
efficientsam package's own EfficientViTSamPredictor."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from efficientsam.models.efficientvit import EfficientViTSamPredictor

from clickbench import checkpoints
from clickbench.clicks import Click
from clickbench.embedding_cache import count_encodings
from clickbench.errors import BadInputError
from clickbench.models import efficientvit_sam as E
from clickbench.models import registry

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
    path = tmp_path_factory.mktemp("evit") / "t.pt"
    return registry.make_tiny_checkpoint("efficientvit_sam", path)


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(0)
    img = (rng.random((H, W, 3)) * 255).astype(np.uint8)
    img[30:90, 40:120] //= 4
    return img


def spec(path, **extra):
    return {
        "type": "efficientvit_sam",
        "variant": "tiny",
        "checkpoint": {"path": str(path)},
        **extra,
    }


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def model(ckpt, image, cache_dir):
    m = registry.build(spec(ckpt), cache_dir=cache_dir)
    m.set_image(image)
    return m


@pytest.mark.parametrize("k", [1, 3])
def test_every_candidate_matches_the_packages_predictor(model, image, k):
    ref = EfficientViTSamPredictor(model.sam)
    ref.set_image(image)
    coords = np.array([[c.col, c.row] for c in CLICKS[:k]], dtype=np.float64)
    labels = np.array([int(c.positive) for c in CLICKS[:k]])
    pred = model.predict(CLICKS[:k])
    assert pred.masks.shape == (4, H, W) and pred.multi == (0, 1, 2) and pred.single == 3
    m3, s3, l3 = ref.predict(coords, labels, multimask_output=True)
    m1, s1, l1 = ref.predict(coords, labels, multimask_output=False)
    np.testing.assert_array_equal(pred.masks[:3], m3)
    np.testing.assert_array_equal(pred.scores[:3], s3)
    np.testing.assert_array_equal(pred.logits[:3], l3)
    np.testing.assert_array_equal(pred.masks[3], m1[0])
    np.testing.assert_array_equal(pred.scores[3:], s1)
    np.testing.assert_array_equal(pred.logits[3:], l1)


def test_cached_embedding_gives_the_same_candidates(model, ckpt, image, cache_dir):
    again = registry.build(spec(ckpt), cache_dir=cache_dir)
    again.set_image(image)
    assert again.last_hit is True
    np.testing.assert_array_equal(again.predict(CLICKS).logits, model.predict(CLICKS).logits)
    assert count_encodings(cache_dir) == 1


def test_missing_key_fails_naming_it(ckpt, tmp_path):
    state = torch.load(ckpt, weights_only=True)
    gone = "mask_decoder.iou_token.weight"
    del state[gone]
    bad = tmp_path / "missing.pt"
    torch.save({"state_dict": state}, bad)  # the wrapped form the package also reads
    with pytest.raises(BadInputError) as err:
        registry.build(spec(bad))
    assert str(bad) in str(err.value) and gone in str(err.value)


def test_real_variants_build_from_the_package_and_reject_tiny_weights(ckpt):
    with pytest.raises(BadInputError, match="does not match EfficientViT-SAM variant 'l0'"):
        registry.build(spec(ckpt, variant="l0"))
    cat = {k: v for k, v in checkpoints.load_catalogue().items() if v["type"] == "efficientvit_sam"}
    assert sorted(v["variant"] for v in cat.values()) == ["l0", "l1", "l2", "xl0", "xl1"]
    assert set(E.VARIANTS) == {"l0", "l1", "l2", "xl0", "xl1", "tiny"}

"""Metrics against their references: RITM's get_iou / compute_noc_metric, pandas describe()."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pandas as pd
import pytest
from conftest import GRABCUT, requires_grabcut

from clickbench import metrics

ritm_utils = pytest.importorskip("ritm_annotation.inference.utils")


def ritm_gt(gt, ignore):
    out = gt.astype(np.int32)
    if ignore is not None:
        out[ignore] = -1
    return out


def test_iou_matches_ritm_get_iou():
    rng = np.random.default_rng(0)
    for _ in range(200):
        h, w = rng.integers(5, 40, 2)
        gt = rng.random((h, w)) < rng.uniform(0.1, 0.9)
        pred = rng.random((h, w)) < rng.uniform(0.1, 0.9)
        ignore = (rng.random((h, w)) < 0.2) if rng.random() < 0.5 else None
        # our gt may overlap ignore; RITM's encoding makes those pixels -1
        expected = ritm_utils.get_iou(ritm_gt(gt, ignore), pred)
        assert metrics.iou(gt, ignore, pred) == pytest.approx(expected, rel=1e-12)


def test_iou_hand_cases():
    gt = np.zeros((4, 4), bool)
    gt[:2, :2] = True  # 4 pixels
    pred = np.zeros_like(gt)
    pred[:2, :3] = True  # 6 pixels, 4 shared
    assert metrics.iou(gt, None, pred) == pytest.approx(4 / 6)
    ignore = np.zeros_like(gt)
    ignore[:, 2] = True  # the 2 extra predicted pixels are ignored
    assert metrics.iou(gt, ignore, pred) == 1.0
    # empty union: nothing to find and nothing predicted is perfect (RITM: NaN)
    empty = np.zeros_like(gt)
    assert metrics.iou(empty, None, empty) == 1.0
    assert metrics.iou(gt, np.ones_like(gt), pred) == 1.0
    assert metrics.iou(gt, None, empty) == 0.0


def test_iou_batch_equals_single():
    rng = np.random.default_rng(1)
    gt = rng.random((30, 20)) < 0.4
    ignore = rng.random((30, 20)) < 0.1
    masks = rng.random((4, 30, 20)) < 0.5
    batch = metrics.iou_batch(gt, ignore, masks)
    assert batch.shape == (4,)
    assert batch.tolist() == [metrics.iou(gt, ignore, m) for m in masks]
    with pytest.raises(ValueError):
        metrics.iou_batch(gt, ignore, masks[0])


@pytest.fixture
def _np_int(monkeypatch):
    # RITM's compute_noc_metric builds its array with dtype=np.int, an alias numpy 2
    # removed; restore it for the reference call only.
    monkeypatch.setattr(np, "int", int, raising=False)


@pytest.mark.usefixtures("_np_int")
def test_noc_and_ritm_nof_equal_compute_noc_metric():
    rng = np.random.default_rng(2)
    max_clicks = 20
    all_ious = []
    for _ in range(300):
        k = int(rng.integers(1, max_clicks + 1))  # loops stopped early are shorter
        curve = np.clip(np.cumsum(rng.uniform(-0.05, 0.2, k)) + rng.uniform(0, 0.5), 0, 1)
        all_ious.append(curve.astype(np.float32))
    # edge cases: reaching the threshold exactly, at the last click, never, at click 1
    all_ious += [
        np.array([0.5] * 19 + [0.9], np.float32),
        np.array([0.5] * 20, np.float32),
        np.array([0.95], np.float32),
        np.array([0.85, 0.8, 0.9], np.float32),
    ]
    thrs = [0.8, 0.85, 0.9]
    noc_list, over_max_list = ritm_utils.compute_noc_metric(all_ious, thrs, max_clicks=max_clicks)
    for thr, ref_noc, ref_over in zip(thrs, noc_list, over_max_list, strict=True):
        assert metrics.noc(all_ious, thr, max_clicks) == pytest.approx(ref_noc, rel=1e-12)
        assert metrics.nof(all_ious, thr, max_clicks, convention="ritm") == ref_over


def test_nof_conventions_differ_at_the_last_click():
    curves = [[0.5, 0.6, 0.9], [0.5, 0.6, 0.7], [0.95]]
    assert metrics.noc_per_image(curves, 0.9, 3).tolist() == [3, 3, 1]
    assert metrics.nof(curves, 0.9, 3, convention="strict") == 1
    assert metrics.nof(curves, 0.9, 3, convention="ritm") == 2
    assert metrics.nof(curves, 0.9, 3) == 1  # strict is the default
    with pytest.raises(ValueError):
        metrics.nof(curves, 0.9, 3, convention="other")
    # clicks beyond max_clicks are not looked at
    assert metrics.noc_per_image([[0.1, 0.2, 0.95]], 0.9, 2).tolist() == [2]
    assert metrics.nof([[0.1, 0.2, 0.95]], 0.9, 2) == 1
    assert math.isnan(metrics.noc([], 0.9, 20))


def test_miou_at_carries_last_value_forward():
    curves = [[0.2, 0.5, 0.9], [0.4], [0.1, 0.3, 0.6, 0.7, 0.8]]
    out = metrics.miou_at(curves, [1, 2, 3, 5, 10])
    assert out.tolist() == pytest.approx(
        [
            (0.2 + 0.4 + 0.1) / 3,
            (0.5 + 0.4 + 0.3) / 3,
            (0.9 + 0.4 + 0.6) / 3,
            (0.9 + 0.4 + 0.8) / 3,
            (0.9 + 0.4 + 0.8) / 3,
        ]
    )
    assert metrics.iou_at([0.3, 0.4], 1) == 0.3
    with pytest.raises(ValueError):
        metrics.iou_at([0.3], 0)
    assert np.isnan(metrics.miou_at([], [1, 2])).all()


@pytest.mark.parametrize(
    "values",
    [
        [0.923, 0.814, 0.5, 0.99, 0.7, 0.88, 0.91],
        [1.0],
        [0.1, 0.2],
        list(np.random.default_rng(3).random(450)),
        [0.3, float("nan"), 0.6, 0.9],
        [],
    ],
)
def test_describe_matches_pandas(values):
    ours = metrics.describe(values)
    ref = pd.Series(values, dtype=float).describe()
    assert list(ours) == list(metrics.DESCRIBE_KEYS) == list(ref.index)
    for key in metrics.DESCRIBE_KEYS:
        if math.isnan(ref[key]):
            assert math.isnan(ours[key]), key
        else:
            assert ours[key] == pytest.approx(ref[key], rel=1e-12, abs=1e-15), key


def test_threshold_compared_in_the_curves_dtype():
    # traces store IoU as float32: float32(0.9) < 0.9 in float64, but numpy 2 compares a
    # float32 array with a Python float in float32, as RITM's compute_noc_metric does
    curve32 = np.array([0.5, 0.9], np.float32)
    assert metrics.noc_per_image([curve32], 0.9, 20).tolist() == [2]
    assert metrics.nof([curve32], 0.9, 20) == 0
    assert metrics.noc_per_image([[0.5, 0.9]], 0.9, 20).tolist() == [2]


# ---------------------------------------------------------------- boundary IoU
def reference_mask_to_boundary(mask, dilation_ratio=0.02):
    """bowenc0221/boundary-iou-api, boundary_iou/utils/boundary_utils.py (Cheng et al., 2021),
    ported as it is: pad one pixel of zeros, erode `dilation` times with a 3x3 kernel."""
    mask = mask.astype(np.uint8)
    h, w = mask.shape
    img_diag = np.sqrt(h**2 + w**2)
    dilation = int(round(dilation_ratio * img_diag))
    if dilation < 1:
        dilation = 1
    new_mask = cv2.copyMakeBorder(mask, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    kernel = np.ones((3, 3), dtype=np.uint8)
    new_mask_erode = cv2.erode(new_mask, kernel, iterations=dilation)
    mask_erode = new_mask_erode[1 : h + 1, 1 : w + 1]
    return mask - mask_erode


def reference_boundary_iou(gt, dt, dilation_ratio=0.02):
    """The reference's boundary_iou(gt, dt)."""
    gt_boundary = reference_mask_to_boundary(gt, dilation_ratio)
    dt_boundary = reference_mask_to_boundary(dt, dilation_ratio)
    intersection = ((gt_boundary * dt_boundary) > 0).sum()
    union = ((gt_boundary + dt_boundary) > 0).sum()
    return intersection / union


def test_boundary_iou_hand_case():
    # 50 x 50 image: diagonal 70.7, width round(1.414) = 1, so each band is the square's
    # outermost ring. gt = rows/cols 10..29 (20 x 20): ring of 20*4-4 = 76 pixels.
    # pred = rows 10..29, cols 12..31: ring also 76; they share the top and bottom rows on
    # cols 12..29 (2 * 18 = 36) and col 29 of the gt ring meets nothing, the pred ring's
    # left col 12 lies inside gt's interior: shared = 36.
    gt = np.zeros((50, 50), bool)
    gt[10:30, 10:30] = True
    pred = np.zeros_like(gt)
    pred[10:30, 12:32] = True
    assert metrics.boundary_width(gt.shape) == 1
    assert metrics.mask_to_boundary(gt, 1).sum() == 76
    assert metrics.boundary_iou(gt, None, pred) == pytest.approx(36 / (76 + 76 - 36))
    # plain IoU of the same pair is much higher: the boundary measure is the stricter one
    assert metrics.iou(gt, None, pred) == pytest.approx(360 / 440)
    assert metrics.boundary_iou(gt, None, gt) == 1.0
    assert metrics.boundary_iou(gt, None, np.zeros_like(gt)) == 0.0
    empty = np.zeros_like(gt)
    assert metrics.boundary_iou(empty, None, empty) == 1.0
    # a mask touching the image border: the border counts as outside (the reference's pad)
    full = np.ones((50, 50), bool)
    assert metrics.mask_to_boundary(full, 1).sum() == 50 * 4 - 4


def test_boundary_width_is_two_percent_of_the_diagonal():
    assert metrics.boundary_width((300, 400)) == 10  # diagonal 500
    assert metrics.boundary_width((445, 590)) == 15  # the fish photos: 739 -> 14.78
    assert metrics.boundary_width((10, 10)) == 1  # at least one pixel


def test_boundary_matches_the_reference_code():
    rng = np.random.default_rng(5)
    for _ in range(60):
        h, w = rng.integers(8, 200, 2)
        # blobs of several sizes, some touching the border
        small = rng.random((max(2, h // 8), max(2, w // 8))) < rng.uniform(0.2, 0.8)
        mask = cv2.resize(small.astype(np.uint8), (int(w), int(h)), interpolation=cv2.INTER_NEAREST)
        other = rng.random((h, w)) < 0.5 if rng.random() < 0.3 else np.roll(mask, 3, axis=1)
        width = metrics.boundary_width((h, w))
        ref = reference_mask_to_boundary(mask).astype(bool)
        assert np.array_equal(metrics.mask_to_boundary(mask.astype(bool), width), ref)
        expected = reference_boundary_iou(mask, other.astype(np.uint8))
        ours = metrics.boundary_iou(mask.astype(bool), None, other.astype(bool))
        assert ours == pytest.approx(float(expected), rel=1e-12)


@requires_grabcut()
def test_boundary_iou_on_real_grabcut_masks():
    # real object outlines: each GrabCut mask against itself shifted by 4 pixels, and the
    # ignore band (128) left out of both bands
    from PIL import Image

    from clickbench import datasets

    paths = sorted((GRABCUT / "boundary_GT").iterdir())[:12]
    with_band = 0
    for path in paths:
        shape = np.asarray(Image.open(path)).shape[:2]
        gt, ignore = datasets.load_ground_truth(path, "grabcut", shape)
        shifted = np.roll(gt, 4, axis=0)
        ref = reference_boundary_iou(gt.astype(np.uint8), shifted.astype(np.uint8))
        assert metrics.boundary_iou(gt, None, shifted) == pytest.approx(float(ref), rel=1e-12)
        # the boundary measure is stricter than IoU on a real outline
        assert metrics.boundary_iou(gt, None, shifted) < metrics.iou(gt, None, shifted)
        if ignore is None:
            continue
        with_band += 1
        with_ignore = metrics.boundary_iou(gt, ignore, shifted)
        width = metrics.boundary_width(gt.shape)
        g = reference_mask_to_boundary(gt).astype(bool) & ~ignore
        p = metrics.mask_to_boundary(shifted, width) & ~ignore
        assert with_ignore == pytest.approx((g & p).sum() / (g | p).sum())
    assert with_band >= 3


def test_boundary_iou_batch_equals_single():
    rng = np.random.default_rng(2)
    gt = rng.random((40, 30)) < 0.4
    ignore = rng.random((40, 30)) < 0.1
    masks = rng.random((3, 40, 30)) < 0.5
    batch = metrics.boundary_iou_batch(gt, ignore, masks)
    assert batch.tolist() == [metrics.boundary_iou_batch(gt, ignore, m[None])[0] for m in masks]
    gtb = metrics.mask_to_boundary(gt, metrics.boundary_width(gt.shape))
    assert metrics.boundary_iou_batch(gt, ignore, masks, gt_boundary=gtb).tolist() == batch.tolist()

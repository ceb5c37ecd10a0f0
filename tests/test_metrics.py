"""Metrics against their references: RITM's get_iou / compute_noc_metric, pandas describe()."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

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


def test_study_final_iou():
    # stops at the first click reaching the target, keeping that mask
    assert metrics.study_final_iou([0.5, 0.91, 0.95], 0.9, 10) == 0.91
    # never reaches: the mask after max_clicks
    assert metrics.study_final_iou([0.5, 0.6, 0.7, 0.8], 0.9, 3) == 0.7
    # a shorter curve: its last click
    assert metrics.study_final_iou([0.5, 0.6], 0.9, 10) == 0.6
    # a later dip is never seen
    assert metrics.study_final_iou([0.92, 0.4], 0.9, 10) == 0.92


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

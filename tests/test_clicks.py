"""The click simulator against RITM's own ``Clicker`` (the reference), case by case."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy.ndimage import distance_transform_edt

from clickbench.clicks import (
    Click,
    clicks_array,
    clicks_from_array,
    exact_distance_transform,
    next_click,
)

clicker_mod = pytest.importorskip("ritm_annotation.inference.clicker")


@pytest.fixture(autouse=True)
def _numpy2_aliases(monkeypatch):
    # RITM's Clicker.reset_clicks calls np.bool, an alias numpy 2 removed; put it back
    # for the reference only (our code never uses it).
    monkeypatch.setattr(np, "bool", bool, raising=False)


@pytest.fixture
def exact_opencv():
    """Run the reference with OpenCV's exact transform (Intel IPP off; see
    clickbench.clicks.exact_distance_transform): RITM's code, made deterministic."""
    before = cv2.ipp.useIPP()
    cv2.ipp.setUseIPP(False)
    yield
    cv2.ipp.setUseIPP(before)


def ritm_gt(gt: np.ndarray, ignore: np.ndarray | None) -> np.ndarray:
    """RITM's ground-truth encoding: 1 object, 0 background, -1 ignore."""
    out = gt.astype(np.int32)
    if ignore is not None:
        out[ignore] = -1
    return out


def blob(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A random shape: ellipse, rectangle, smoothed-noise blob, or several of them."""
    kind = rng.integers(0, 4)
    m = np.zeros((h, w), np.uint8)
    if kind == 0:
        center = (int(rng.integers(-5, w + 5)), int(rng.integers(-5, h + 5)))
        axes = (int(rng.integers(1, w)), int(rng.integers(1, h)))
        cv2.ellipse(m, center, axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
    elif kind == 1:
        r0, r1 = sorted(rng.integers(0, h + 1, 2))
        c0, c1 = sorted(rng.integers(0, w + 1, 2))
        m[r0 : r1 + 1, c0 : c1 + 1] = 1  # may touch or cover the border
    elif kind == 2:
        noise = rng.normal(size=(h, w)).astype(np.float32)
        noise = cv2.GaussianBlur(noise, (0, 0), float(rng.uniform(1, 5)))
        m = (noise > rng.uniform(-0.1, 0.1)).astype(np.uint8)
    else:
        for _ in range(int(rng.integers(2, 5))):
            c = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            cv2.circle(m, c, int(rng.integers(1, max(2, min(h, w) // 3))), 1, -1)
    return m.astype(bool)


def perturb(rng: np.random.Generator, gt: np.ndarray) -> np.ndarray | None:
    """A prediction near, or far from, the ground truth."""
    h, w = gt.shape
    kind = rng.integers(0, 8)
    k = np.ones((3, 3), np.uint8)
    u8 = gt.astype(np.uint8)
    if kind == 0:
        return None  # empty prediction, as None
    if kind == 1:
        return np.zeros_like(gt)  # empty prediction, as an array
    if kind == 2:
        return cv2.dilate(u8, k, iterations=int(rng.integers(1, 6))).astype(bool)
    if kind == 3:
        return cv2.erode(u8, k, iterations=int(rng.integers(1, 6))).astype(bool)
    if kind == 4:
        return np.roll(gt, (int(rng.integers(-6, 7)), int(rng.integers(-6, 7))), axis=(0, 1))
    if kind == 5:
        return blob(rng, h, w)
    if kind == 6:
        return np.ones_like(gt)  # everything
    return gt ^ (rng.random(gt.shape) < 0.05)  # speckle


def ignore_band(rng: np.random.Generator, gt: np.ndarray) -> np.ndarray | None:
    kind = rng.integers(0, 3)
    if kind == 0:
        return None
    if kind == 1:  # GrabCut-like band around the boundary
        u8 = gt.astype(np.uint8)
        k = np.ones((3, 3), np.uint8)
        n = int(rng.integers(1, 4))
        return cv2.dilate(u8, k, iterations=n).astype(bool) & ~cv2.erode(
            u8, k, iterations=n
        ).astype(bool)
    return blob(rng, *gt.shape)  # an arbitrary region, overlapping object and background


def compare_sequence(gt, ignore, preds):
    """Feed the same predictions to RITM's Clicker and to next_click; return both clicks.

    RITM's Clicker makes its clicks from its own state; ours from the clicks we made."""
    clicker = clicker_mod.Clicker(gt_mask=ritm_gt(gt, ignore))
    ours: list[Click] = []
    for pred in preds:
        ritm_pred = np.zeros(gt.shape, bool) if pred is None else pred
        clicker.make_next_click(ritm_pred)
        ours.append(next_click(gt, ignore, pred, ours))
    theirs = [
        Click(int(c.coords[0]), int(c.coords[1]), bool(c.is_positive)) for c in clicker.clicks_list
    ]
    return ours, theirs


def generated_cases(seed: int, n: int):
    """(gt, ignore, predictions) sequences: shapes touching the border, ignore bands, empty,
    full and perfect predictions, the same prediction repeated (clicked pixels excluded)."""
    rng = np.random.default_rng(seed)
    for _ in range(n):
        h, w = int(rng.integers(8, 70)), int(rng.integers(8, 70))
        gt = blob(rng, h, w)
        ignore = ignore_band(rng, gt)
        steps = int(rng.integers(1, 6))
        if rng.random() < 0.5:
            preds = [perturb(rng, gt)] * steps
        else:
            preds = [perturb(rng, gt) for _ in range(steps)]
        yield gt, ignore, preds


@pytest.mark.usefixtures("exact_opencv")
def test_matches_ritm_clicker_on_generated_cases():
    n_cases = 0
    n_clicks = 0
    kinds = {"positive": 0, "negative": 0, "origin": 0}
    for gt, ignore, preds in generated_cases(12345, 520):
        ours, theirs = compare_sequence(gt, ignore, preds)
        assert ours == theirs, (gt.shape, ours, theirs)
        n_cases += 1
        n_clicks += len(ours)
        for c in ours:
            kinds["positive" if c.positive else "negative"] += 1
            kinds["origin"] += (c.row, c.col, c.positive) == (0, 0, False)
    assert n_cases >= 500
    # the generator covers both click kinds and the nothing-to-correct case
    assert kinds["positive"] > 200 and kinds["negative"] > 200 and kinds["origin"] > 0


def exact_maps(gt, ignore, pred, clicked):
    """Exact (scipy) FN and FP distance maps as RITM defines them, clicked pixels zeroed."""
    valid = np.ones_like(gt) if ignore is None else ~ignore
    pred = np.zeros_like(gt) if pred is None else pred
    maps = []
    for region in (gt & ~pred & valid, pred & ~gt & valid):
        d = distance_transform_edt(np.pad(region, 1))[1:-1, 1:-1]
        for c in clicked:
            d[c.row, c.col] = 0
        maps.append(d)
    return maps


def test_with_ipp_ritm_differs_only_on_exact_ties():
    # With Intel IPP on (OpenCV's default for small images) RITM's distances carry last-bit
    # noise that changes between calls; wherever its click differs from ours, the two pixels
    # must be at exactly the same distance, the largest of both maps.
    assert cv2.ipp.useIPP()
    n_clicks = n_ties = 0
    for gt, ignore, preds in generated_cases(777, 300):
        ours, theirs = compare_sequence(gt, ignore, preds)
        for k, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            n_clicks += 1
            if a == b:
                continue
            fn, fp = exact_maps(gt, ignore, preds[k], ours[:k])
            top = max(fn.max(), fp.max())
            da = (fn if a.positive else fp)[a.row, a.col]
            db = (fn if b.positive else fp)[b.row, b.col]
            assert da == db == top > 0, (a, b, da, db, top)
            n_ties += 1
            break  # the two clickers' histories differ from here on
    assert n_ties < 0.05 * n_clicks


def test_exact_distance_transform_is_exact_and_deterministic():
    rng = np.random.default_rng(5)
    for _ in range(30):
        h, w = int(rng.integers(5, 90)), int(rng.integers(5, 90))
        region = np.pad(blob(rng, h, w), 1).astype(np.uint8)
        d = exact_distance_transform(region)
        assert d.dtype == np.float32
        np.testing.assert_array_equal(d, distance_transform_edt(region).astype(np.float32))
        for _ in range(3):
            np.testing.assert_array_equal(exact_distance_transform(region.copy()), d)
    assert cv2.ipp.useIPP()  # the switch is restored


@pytest.mark.usefixtures("exact_opencv")
def test_ties_and_symmetric_cases():
    cases = []
    # FN and FP regions of the same size: equal maxima, so a negative click (strict >)
    gt = np.zeros((20, 30), bool)
    gt[2:9, 2:9] = True
    pred = np.zeros_like(gt)
    pred[11:18, 20:27] = True
    cases.append((gt, None, [pred, pred, pred]))
    # a square with many pixels at the same maximal distance: first in row-major order
    gt2 = np.zeros((16, 16), bool)
    gt2[3:11, 3:11] = True
    cases.append((gt2, None, [None] * 6))
    # the whole image is the object: the border is the boundary (padding)
    cases.append((np.ones((9, 12), bool), None, [None] * 4))
    # a perfect prediction: negative click at (0, 0)
    cases.append((gt2, None, [gt2, gt2]))
    # everything ignored
    cases.append((gt2, np.ones_like(gt2), [None, gt2]))
    # one-pixel regions and clicks exhausting them
    gt3 = np.zeros((5, 5), bool)
    gt3[2, 2] = True
    cases.append((gt3, None, [None, None, None]))
    for gt, ignore, preds in cases:
        ours, theirs = compare_sequence(gt, ignore, preds)
        assert ours == theirs
    ours, _ = compare_sequence(*cases[0])
    assert not ours[0].positive


def test_first_click_is_farthest_from_boundary():
    gt = np.zeros((40, 60), bool)
    gt[10:31, 5:26] = True  # 21 x 21 square, centre (20, 15)
    assert next_click(gt, None, None) == Click(20, 15, True)
    # an ignore band shrinks the region the click may land in, not the object
    ignore = np.zeros_like(gt)
    ignore[10:31, 5:16] = True
    c = next_click(gt, ignore, None)
    assert c.positive and c.col > 15


def test_pure_and_does_not_modify_inputs():
    rng = np.random.default_rng(0)
    gt = blob(rng, 50, 40)
    pred = perturb(rng, gt)
    pred = np.zeros_like(gt) if pred is None else pred
    ignore = ignore_band(rng, gt)
    copies = [a.copy() for a in (gt, pred)]
    a = next_click(gt, ignore, pred, [Click(1, 1, True)])
    b = next_click(gt, ignore, pred, [Click(1, 1, True)])
    assert a == b
    assert all(np.array_equal(x, y) for x, y in zip(copies, (gt, pred), strict=True))


@pytest.mark.usefixtures("exact_opencv")
def test_non_contiguous_inputs():
    rng = np.random.default_rng(1)
    gt = blob(rng, 30, 50)
    pred = cv2.erode(gt.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    ours = next_click(gt.T, None, pred.T, [])
    assert ours == next_click(np.ascontiguousarray(gt.T), None, np.ascontiguousarray(pred.T), [])
    ours2, theirs2 = compare_sequence(np.ascontiguousarray(gt.T), None, [pred.T, pred.T])
    assert ours2 == theirs2


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="shape"):
        next_click(np.zeros((4, 4), bool), None, np.zeros((4, 5), bool))


def test_clicks_array_round_trip():
    clicks = [Click(3, 4, True), Click(10, 0, False)]
    arr = clicks_array(clicks)
    assert arr.dtype == np.int32 and arr.shape == (2, 3)
    assert arr.tolist() == [[3, 4, 1], [10, 0, 0]]
    assert clicks_from_array(arr) == clicks
    assert clicks_array([]).shape == (0, 3)


@pytest.mark.parametrize("threads", [None, 1])
def test_matches_ritm_clicker_on_larger_images(threads, exact_opencv):
    # Above 2**14 pixels OpenCV uses its exact transform when it has several threads and
    # IPP's with one; with IPP off, RITM's clicks must be ours whatever the thread count.
    before = cv2.getNumThreads()
    if threads is not None:
        cv2.setNumThreads(threads)
    try:
        rng = np.random.default_rng(99)
        for _ in range(12):
            h, w = int(rng.integers(130, 260)), int(rng.integers(130, 260))
            gt = blob(rng, h, w)
            ignore = ignore_band(rng, gt)
            preds = [None] + [perturb(rng, gt) for _ in range(3)]
            ours, theirs = compare_sequence(gt, ignore, preds)
            assert ours == theirs
    finally:
        cv2.setNumThreads(before)

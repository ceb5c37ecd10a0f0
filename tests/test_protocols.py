"""The evaluation loop against RITM's own evaluate_sample, traces on disk, per-image rows."""

from __future__ import annotations

import random

import cv2
import numpy as np
import pandas as pd
import pytest

from clickbench import protocols
from clickbench.clicks import Click, next_click
from clickbench.models.base import InteractiveModel, Prediction
from clickbench.protocols import run_first_click, run_loop, run_noc, run_replay
from clickbench.runner import TIMING_COLUMNS
from clickbench.selection import select
from clickbench.traces import (
    COLUMNS,
    DRIVING_STRATEGY,
    PROTOCOLS,
    TRIAL_PROTOCOLS,
    Trace,
    format_rows_tsv,
    load_traces,
    save_traces,
    trace_rows,
    write_rows_tsv,
)


def scene(seed: int, h: int = 48, w: int = 64, band: bool = False):
    """A bright ellipse on a dark noisy background; optionally a GrabCut-like ignore band."""
    rng = np.random.default_rng(seed)
    gt = np.zeros((h, w), np.uint8)
    center = (int(rng.integers(w // 4, 3 * w // 4)), int(rng.integers(h // 4, 3 * h // 4)))
    axes = (int(rng.integers(6, w // 2)), int(rng.integers(6, h // 2)))
    cv2.ellipse(gt, center, axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
    image = np.where(gt[..., None] > 0, 170, 60) + rng.normal(0, 25, (h, w, 3))
    image = np.clip(image, 0, 255).astype(np.uint8)
    ignore = None
    if band:
        k = np.ones((3, 3), np.uint8)
        ignore = (cv2.dilate(gt, k) - cv2.erode(gt, k)).astype(bool)
    return image, gt.astype(bool), ignore


class ColorDisks(InteractiveModel):
    """A deterministic toy model: each click spreads over pixels of a similar colour nearby.

    It implements both our interface and RITM's predictor API (``set_input_image``,
    ``get_prediction(clicker)`` returning probabilities), so one object runs in both loops.
    """

    name = "color_disks"

    def __init__(self, sigma: float = 14.0):
        self.sigma = sigma
        self.resets = 0
        self.images_set = 0

    def set_image(self, image):
        self.image = image.astype(np.float32)
        h, w = image.shape[:2]
        self.yy, self.xx = np.mgrid[:h, :w]
        self.images_set += 1

    def reset(self):
        self.resets += 1

    def probs(self, clicks) -> np.ndarray:
        p = np.zeros(self.image.shape[:2], np.float32)
        for c in clicks:
            near = np.exp(-((self.yy - c.row) ** 2 + (self.xx - c.col) ** 2) / (2 * self.sigma**2))
            alike = np.exp(
                -(((self.image - self.image[c.row, c.col]) ** 2).sum(-1)) / (2 * 70.0**2)
            )
            influence = (near * alike).astype(np.float32)
            p = np.maximum(p, influence) if c.positive else p * (1 - influence)
        return p

    # RITM's predictor API
    def set_input_image(self, image):
        self.set_image(image)

    def get_prediction(self, clicker):
        clicks = [
            Click(int(c.coords[0]), int(c.coords[1]), bool(c.is_positive))
            for c in clicker.get_clicks()
        ]
        return self.probs(clicks)

    # ours
    def predict(self, clicks, previous=None, previous_choice=None):
        return Prediction(masks=(self.probs(clicks) > 0.49)[None], scores=np.ones(1, np.float32))


class SamLike(InteractiveModel):
    """Four candidates per step as SAM: three multimask (small/medium/whole image), one single.

    The scores prefer the whole image, as SAM's worst cases did in the study. It records the
    ``previous``/``previous_choice`` it is given.
    """

    name = "sam_like"

    def set_image(self, image):
        self.shape = image.shape[:2]
        self.seen = []

    def predict(self, clicks, previous=None, previous_choice=None):
        self.seen.append((len(clicks), previous is not None, previous_choice))
        h, w = self.shape
        yy, xx = np.mgrid[:h, :w]
        masks = np.zeros((4, h, w), bool)
        for i, radius in enumerate((4, 10)):
            for c in clicks:
                disk = (yy - c.row) ** 2 + (xx - c.col) ** 2 <= radius**2
                masks[i] = masks[i] | disk if c.positive else masks[i] & ~disk
        masks[2] = True
        masks[3] = masks[1] & ~masks[0] if len(clicks) % 2 else masks[1]
        scores = np.array([0.5, 0.7, 0.9 - 0.01 * len(clicks), 0.6], np.float32)
        logits = np.full((4, 256, 256), len(clicks), np.float32)
        return Prediction(masks=masks, scores=scores, logits=logits, multi=(0, 1, 2), single=3)


@pytest.fixture
def ritm_evaluation(monkeypatch):
    evaluation = pytest.importorskip("ritm_annotation.inference.evaluation")
    # RITM's Clicker.reset_clicks calls np.bool, an alias numpy 2 removed; put it back for
    # the reference only.
    monkeypatch.setattr(np, "bool", bool, raising=False)
    # OpenCV's exact distance transform for the reference too (Intel IPP's is not
    # deterministic on small images; see clickbench.clicks.exact_distance_transform)
    before = cv2.ipp.useIPP()
    cv2.ipp.setUseIPP(False)
    yield evaluation
    cv2.ipp.setUseIPP(before)


@pytest.mark.parametrize("band", [False, True])
@pytest.mark.parametrize("target", [0.9, None])
def test_loop_matches_ritm_evaluate_sample(ritm_evaluation, band, target):
    n_clicks = []
    for seed in range(8):
        image, gt, ignore = scene(seed, band=band)
        ritm_gt = gt.astype(np.int32)
        if ignore is not None:
            ritm_gt[ignore] = -1
        model = ColorDisks()
        ref_clicks, ref_ious, _ = ritm_evaluation.evaluate_sample(
            image,
            ritm_gt,
            model,
            max_iou_thr=target if target is not None else 2.0,  # 2.0: never stops early
            pred_thr=0.49,
            max_clicks=12,
        )
        model.set_image(image)
        trace = run_loop(model, gt, ignore, strategy="max_score", max_clicks=12, target_iou=target)
        ours = [tuple(c) for c in trace.click_list()]
        theirs = [(int(c.coords[0]), int(c.coords[1]), bool(c.is_positive)) for c in ref_clicks]
        assert ours == theirs
        assert trace.curve.dtype == np.float32
        np.testing.assert_array_equal(trace.curve, ref_ious)
        n_clicks.append(trace.n_clicks)
    # the toy model is good enough that some loops stop early and some need several clicks
    if target is not None:
        assert min(n_clicks) < 12 and max(n_clicks) > 1
    else:
        assert set(n_clicks) == {12}


def test_run_loop_calls_reset_not_set_image():
    image, gt, _ = scene(1)
    model = ColorDisks()
    model.set_image(image)
    run_loop(model, gt, None, strategy="max_score", max_clicks=3)
    run_loop(model, gt, None, strategy="max_score", max_clicks=3)
    assert model.images_set == 1 and model.resets == 2


def test_noc_one_loop_per_strategy():
    image, gt, ignore = scene(2, band=True)
    model = SamLike()
    model.set_image(image)
    traces = run_noc(model, gt, ignore, ["max_score", "oracle", "single"], max_clicks=5)
    assert list(traces) == ["max_score", "oracle", "single"]
    first = next_click(gt, ignore, None)
    for strategy, t in traces.items():
        assert t.clicks.shape == (5, 3) and t.clicks.dtype == np.int32
        assert t.masks.shape == (5, 4, *gt.shape) and t.masks.dtype == bool
        assert t.scores.shape == t.ious.shape == (5, 4)
        assert t.chosen.dtype == np.int16 and t.multi.tolist() == [0, 1, 2] and t.single == 3
        assert t.logits is None  # not asked for
        assert tuple(t.click_list()[0]) == tuple(first)  # every loop starts with RITM's first click
        for k in range(5):
            assert t.chosen[k] == select(t.prediction(k), strategy, t.ious[k], k + 1)
        # the next click is the simulator's on the mask this loop kept
        for k in range(1, 5):
            kept = t.masks[k - 1, t.chosen[k - 1]]
            assert tuple(t.click_list()[k]) == tuple(
                next_click(gt, ignore, kept, t.click_list()[:k])
            )
    assert traces["max_score"].chosen.tolist() == [2] * 5  # the whole image scores highest
    assert traces["single"].chosen.tolist() == [2, 3, 3, 3, 3]
    assert (traces["oracle"].curve >= traces["max_score"].curve[0]).all()
    # the model was told which candidate was kept
    assert model.seen[:2] == [(1, False, None), (2, True, 2)]


def test_target_iou_stops_early():
    image, gt, _ = scene(3)
    model = ColorDisks()
    model.set_image(image)
    full = run_loop(model, gt, None, strategy="max_score", max_clicks=10)
    target = float(full.curve[2]) - 1e-6  # below the float32-rounded IoU of click 3
    k = int(np.argmax(full.curve >= target)) + 1  # the first click reaching it
    early = run_loop(model, gt, None, strategy="max_score", max_clicks=10, target_iou=target)
    assert early.n_clicks == k
    np.testing.assert_array_equal(early.clicks, full.clicks[:k])


def test_first_click_and_replay():
    image, gt, ignore = scene(4, band=True)
    model = SamLike()
    model.set_image(image)
    first = run_first_click(model, gt, ignore)
    assert list(first) == ["max_score"]
    (t,) = first.values()
    assert t.n_clicks == 1
    assert tuple(t.click_list()[0]) == tuple(next_click(gt, ignore, None)) and t.clicks[0, 2] == 1

    source = [Click(20, 30, True), Click(5, 5, False), Click(25, 33, True)]
    replay = run_replay(model, gt, ignore, source)
    assert replay["max_score"].click_list() == source
    assert (
        run_replay(model, gt, ignore, np.array([[20, 30, 1], [5, 5, 0]]), max_clicks=1)[
            "max_score"
        ].n_clicks
        == 1
    )
    rows = trace_rows(
        replay,
        protocol="replay",
        model="sam",
        cls="A",
        image="1",
        strategies=["max_score", "oracle", "single"],
    )
    assert len(rows) == 9
    by = {(r["strategy"], r["click"]): r for r in rows}
    for k in (1, 2, 3):
        assert by["max_score", k]["chosen"] == 2
        assert by["oracle", k]["iou"] == by["oracle", k]["best_iou"]
        assert (by["single", k]["chosen"] == 3) == (k >= 2)
        assert by["max_score", k]["row"] == source[k - 1].row
        assert by["max_score", k]["positive"] == int(source[k - 1].positive)


def test_trace_rows_noc_columns_and_values():
    image, gt, ignore = scene(5, band=True)
    model = SamLike()
    model.set_image(image)
    traces = run_noc(model, gt, ignore, ["max_score", "oracle"], max_clicks=3)
    rows = trace_rows(
        traces,
        protocol="noc",
        model="sam",
        cls="Gilt-Head Bream",
        image="00001",
        strategies=["max_score", "oracle"],
    )
    assert len(rows) == 6 and all(list(r) == list(COLUMNS) for r in rows)
    for r in rows:
        t = traces[r["strategy"]]
        k = r["click"] - 1
        assert r["chosen"] == t.chosen[k]
        assert r["iou"] == float(t.ious[k, r["chosen"]])
        assert r["score"] == float(t.scores[k, r["chosen"]])
        assert r["best_iou"] == float(t.ious[k, :3].max()) >= r["iou"]
        assert (r["row"], r["col"], r["positive"]) == tuple(int(v) for v in t.clicks[k])
        assert (r["class"], r["image"], r["protocol"], r["model"]) == (
            "Gilt-Head Bream",
            "00001",
            "noc",
            "sam",
        )
    with pytest.raises(KeyError):
        trace_rows(traces, protocol="noc", model="sam", cls="A", image="1", strategies=["single"])
    with pytest.raises(ValueError):
        trace_rows(
            traces,
            protocol="first_click",
            model="sam",
            cls="A",
            image="1",
            strategies=["max_score"],
        )


def test_save_load_round_trip(tmp_path):
    image, gt, ignore = scene(6, band=True)
    model = SamLike()
    model.set_image(image)
    traces = run_noc(model, gt, ignore, ["max_score", "oracle"], max_clicks=4, keep_logits=True)
    path = tmp_path / "sub" / "00001.npz"
    save_traces(path, traces)
    with np.load(path) as data:
        keys = set(data.files)
        assert {
            "max_score.bits",
            "max_score.shape",
            "oracle.clicks",
            "oracle.logits",
            "oracle.single",
        } <= keys
        assert data["max_score.bits"].dtype == np.uint8
        assert data["max_score.shape"].tolist() == [4, 4, *gt.shape]
        assert data["oracle.logits"].dtype == np.float16 and data["oracle.logits"].shape == (
            4,
            4,
            256,
            256,
        )
        assert data["max_score.single"].shape == () and data["max_score.chosen"].dtype == np.int16
    loaded = load_traces(path)
    assert list(loaded) == ["max_score", "oracle"]
    for name, t in traces.items():
        u = loaded[name]
        for field in ("clicks", "masks", "scores", "ious", "chosen", "multi", "logits"):
            np.testing.assert_array_equal(getattr(u, field), getattr(t, field))
            assert getattr(u, field).dtype == getattr(t, field).dtype, field
        assert u.single == t.single
    assert protocols.replay_source_clicks(path) == traces["max_score"].click_list()
    # without logits, and with a single-candidate model
    one = ColorDisks()
    one.set_image(image)
    save_traces(path, run_noc(one, gt, ignore, ["max_score"], max_clicks=2, keep_logits=True))
    (u,) = load_traces(path).values()
    assert u.logits is None and u.single == -1 and u.multi.tolist() == [0]
    with pytest.raises(ValueError):
        save_traces(path, {"a.b": u})


def test_rows_tsv_deterministic_bytes(tmp_path):
    image, gt, ignore = scene(7)
    model = SamLike()
    model.set_image(image)
    traces = run_noc(model, gt, ignore, ["max_score", "oracle", "single"], max_clicks=4)
    rows = trace_rows(
        traces,
        protocol="noc",
        model="sam",
        cls="Shrimp",
        image="00021",
        strategies=["max_score", "oracle", "single"],
    )
    a, b = tmp_path / "a.tsv", tmp_path / "b.tsv"
    write_rows_tsv(a, rows)
    shuffled = rows[:]
    random.Random(0).shuffle(shuffled)
    write_rows_tsv(b, shuffled)
    assert a.read_bytes() == b.read_bytes()
    lines = a.read_text().splitlines()
    assert lines[0].split("\t") == list(COLUMNS)
    assert len(lines) == 13
    first = dict(zip(COLUMNS, lines[1].split("\t"), strict=True))
    assert first["strategy"] == "max_score" and first["click"] == "1"
    assert first["iou"] == f"{rows[0]['iou']:.6g}"
    # sorted by strategy then click number (numerically: click 10 after click 9)
    many = [dict(rows[0], click=k) for k in (10, 9, 1)]
    assert [
        line.split("\t")[COLUMNS.index("click")] for line in format_rows_tsv(many).splitlines()[1:]
    ] == [
        "1",
        "9",
        "10",
    ]


def test_bad_model_output_is_reported():
    class Bad(SamLike):
        def predict(self, clicks, previous=None, previous_choice=None):
            return Prediction(masks=np.zeros((1, 3, 3), bool), scores=np.ones(1, np.float32))

    image, gt, _ = scene(8)
    model = Bad()
    model.set_image(image)
    with pytest.raises(ValueError, match="masks"):
        run_loop(model, gt, None, strategy="max_score", max_clicks=2)


def test_trace_is_a_plain_dataclass():
    t = Trace(
        clicks=np.array([[1, 2, 1]], np.int32),
        masks=np.zeros((1, 1, 3, 3), bool),
        scores=np.ones((1, 1), np.float32),
        ious=np.array([[0.5]], np.float32),
        chosen=np.zeros(1, np.int16),
        multi=np.zeros(1, np.int16),
        bious=np.array([[0.25]], np.float32),
    )
    assert t.single == -1 and t.logits is None and t.curve.tolist() == [0.5]
    assert t.box is None and t.boundary_curve.tolist() == [0.25] and t.n_steps == 1


def test_run_model_script(tmp_path):
    """scripts/run_model.py as Snakemake runs it: a `snakemake` object, files in and out."""
    import runpy
    from pathlib import Path
    from types import SimpleNamespace

    from PIL import Image

    script = Path(__file__).resolve().parents[1] / "scripts" / "run_model.py"
    image, gt, _ = scene(9, h=60, w=80)
    k = np.ones((3, 3), np.uint8)
    band = (cv2.dilate(gt.astype(np.uint8), k) - cv2.erode(gt.astype(np.uint8), k)).astype(bool)
    mask = np.where(gt, 255, 0).astype(np.uint8)
    mask[band] = 128  # GrabCut's ignore band
    Image.fromarray(image).save(tmp_path / "img.png")
    Image.fromarray(mask).save(tmp_path / "img.bmp")

    def run(blocks, outputs, source=None, log="run.log"):
        inputs = {"image": str(tmp_path / "img.png"), "mask": str(tmp_path / "img.bmp")}
        if source:
            inputs["source"] = str(source)
        snakemake = SimpleNamespace(
            input=SimpleNamespace(**inputs),
            output=SimpleNamespace(**{k: str(tmp_path / v) for k, v in outputs.items()}),
            params=SimpleNamespace(
                model="grabcut",
                spec={"type": "grabcut", "iterations": 2},
                protocols=protocols.plan(
                    blocks, "grabcut", {"grabcut": {"selection": ["max_score"]}}
                ),
                layout="grabcut",
                device="auto",  # a light model stays on the CPU without asking torch
                precision="fp32",
                cache_dir=str(tmp_path / "cache"),
                cls="Gilt-Head Bream",
                image="img",
            ),
            log=[str(tmp_path / log)],
        )
        runpy.run_path(str(script), init_globals={"snakemake": snakemake})

    run(
        {
            "noc": {"models": ["grabcut"], "max_clicks": 3, "target_iou": None},
            "first_click": {"models": ["grabcut"]},
            # GrabCut takes no box: the box outputs exist, with no loop and no row
            "box": {"models": ["grabcut"], "max_clicks": 1, "jitter": 0.0, "seed": 0},
        },
        {
            "noc_npz": "noc.npz",
            "noc_tsv": "noc.tsv",
            "first_click_npz": "fc.npz",
            "first_click_tsv": "fc.tsv",
            "box_npz": "box.npz",
            "box_tsv": "box.tsv",
            "timing": "timing.tsv",
        },
    )
    noc = load_traces(tmp_path / "noc.npz")
    assert list(noc) == ["max_score"] and noc["max_score"].n_clicks == 3
    lines = (tmp_path / "noc.tsv").read_text().splitlines()
    assert lines[0].split("\t") == list(COLUMNS) and len(lines) == 4
    assert lines[1].split("\t")[:5] == ["Gilt-Head Bream", "img", "noc", "grabcut", "max_score"]
    assert load_traces(tmp_path / "fc.npz")["max_score"].n_clicks == 1
    log = (tmp_path / "run.log").read_text()
    assert "set_image" in log and "click 3" in log and "build on cpu" in log
    assert load_traces(tmp_path / "box.npz") == {}
    assert (tmp_path / "box.tsv").read_text().splitlines() == ["\t".join(COLUMNS)]
    assert "box: not applicable" in log
    # the timings: the one set_image (no cache: it did the image's work), then one model
    # call per step of every loop, on the device the job ran on
    timing = pd.read_csv(tmp_path / "timing.tsv", sep="\t", keep_default_na=False)
    assert list(timing.columns) == list(TIMING_COLUMNS)
    assert timing["event"].tolist() == ["encode"] + ["predict"] * 4
    assert set(timing["device"]) == {"cpu"} and (timing["seconds"] > 0).all()
    assert timing.loc[timing["event"] == "predict", ["protocol", "step"]].values.tolist() == [
        ["first_click", 1],
        ["noc", 1],
        ["noc", 2],
        ["noc", 3],
    ]

    # replay the noc loop's clicks, as the workflow replays RITM's clicks for SAM
    run(
        {"replay": {"models": ["grabcut"], "source": "grabcut"}},
        {"replay_npz": "replay.npz", "replay_tsv": "replay.tsv", "timing": "timing2.tsv"},
        source=tmp_path / "noc.npz",
        log="replay.log",
    )
    replay = load_traces(tmp_path / "replay.npz")["max_score"]
    np.testing.assert_array_equal(replay.clicks, noc["max_score"].clicks)
    # same model, same clicks, same kept masks: the same IoUs as the source loop
    np.testing.assert_array_equal(replay.curve, noc["max_score"].curve)
    assert len((tmp_path / "replay.tsv").read_text().splitlines()) == 4


def test_npz_written_at_zlib_level_1_reads_like_numpys(tmp_path):
    """masks.save_npz_atomic writes np.savez_compressed's layout, only at zlib level 1: np.load
    gives back every array exactly, dtypes and shapes included, and nothing is pickled."""
    import zipfile

    from clickbench.masks import pack, save_npz_atomic, unpack

    rng = np.random.default_rng(0)
    mask = rng.random((3, 45, 59)) > 0.5
    arrays = {
        "m.bits": pack(mask)["bits"],
        "m.shape": pack(mask)["shape"],
        "m.scores": rng.random((3, 4)).astype(np.float32),
        "m.chosen": np.array([2, -1, 0], np.int16),
        "empty": np.zeros((0, 3), np.int32),
    }
    ours, numpys = tmp_path / "ours.npz", tmp_path / "numpy.npz"
    save_npz_atomic(ours, **arrays)
    np.savez_compressed(numpys, **arrays)
    with np.load(ours, allow_pickle=False) as a, np.load(numpys) as b:
        assert a.files == b.files == list(arrays)
        for name in arrays:
            assert a[name].dtype == b[name].dtype and a[name].shape == b[name].shape
            assert np.array_equal(a[name], b[name])
        assert np.array_equal(unpack(a["m.bits"], a["m.shape"]), mask)
    with zipfile.ZipFile(ours) as zf:
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_DEFLATED}
    assert not list(tmp_path.glob(".*tmp"))  # no temporary file left behind


# ---------------------------------------------------------------- box, random, perturbed
from clickbench import prompts  # noqa: E402


def test_box_of_mask_and_its_jitter_hand_case():
    gt = np.zeros((40, 60), bool)
    gt[5:21, 10:41] = True  # rows 5..20, cols 10..40: 16 x 31
    gt[30, 50] = True  # a stray object pixel widens the box
    ignore = np.zeros_like(gt)
    ignore[30, 50] = True  # ... unless it is in the ignore band
    assert prompts.box_of_mask(gt) == prompts.Box(5, 10, 30, 50)
    assert prompts.box_of_mask(gt, ignore) == prompts.Box(5, 10, 20, 40)
    box = prompts.box_of_mask(gt, ignore)
    assert prompts.jitter_box(box, gt.shape, 0.0, np.random.default_rng(0)) == box
    # jitter 0.1: each edge moves by at most 10% of its side (1.6 rows, 3.1 cols), rounded
    for seed in range(50):
        j = prompts.jitter_box(box, gt.shape, 0.1, np.random.default_rng(seed))
        assert abs(j.top - 5) <= 2 and abs(j.bottom - 20) <= 2
        assert abs(j.left - 10) <= 3 and abs(j.right - 40) <= 3
    a = prompts.jitter_box(box, gt.shape, 0.1, prompts.image_rng(3, "Shrimp", "00001"))
    b = prompts.jitter_box(box, gt.shape, 0.1, prompts.image_rng(3, "Shrimp", "00001"))
    assert a == b  # same seed, same box
    # a huge jitter stays inside the image, edges in order
    for seed in range(50):
        j = prompts.jitter_box(box, gt.shape, 3.0, np.random.default_rng(seed))
        assert 0 <= j.top <= j.bottom < 40 and 0 <= j.left <= j.right < 60
    with pytest.raises(ValueError, match="no object"):
        prompts.box_of_mask(np.zeros((4, 4), bool))


def test_box_to_sam_xyxy():
    from clickbench.models.sam import box_to_xyxy

    # (top, left, bottom, right) = (rows 5..20, cols 10..40) -> x0=10, y0=5, x1=40, y1=20
    np.testing.assert_array_equal(box_to_xyxy(prompts.Box(5, 10, 20, 40)), [10, 5, 40, 20])


def test_sam_box_prompt_equals_sam_predictor_predict(tmp_path):
    """SamModel.predict(box=...) against segment-anything's own SamPredictor.predict(box=XYXY),
    the box alone and with clicks, on a non-square image (a row/col mix-up changes masks)."""
    import torch
    from segment_anything import SamPredictor

    from clickbench.models import registry
    from clickbench.models.sam import box_to_xyxy
    from clickbench.models.tiny import make_tiny_checkpoint

    torch.set_num_threads(1)
    ckpt = make_tiny_checkpoint("sam", tmp_path / "sam.pth", seed=0)
    model = registry.build({"type": "sam", "variant": "tiny", "checkpoint": {"path": str(ckpt)}})
    assert model.supports_box
    image, gt, _ = scene(3, h=70, w=110)
    model.set_image(image)
    ref = SamPredictor(model.sam)
    ref.set_image(image)
    box = prompts.box_of_mask(gt)
    xyxy = np.array([box.left, box.top, box.right, box.bottom])
    for clicks in ([], [Click(box.top + 3, box.left + 4, True)]):
        pred = model.predict(tuple(clicks), box=box)
        kw = {}
        if clicks:
            kw = {
                "point_coords": np.array([[c.col, c.row] for c in clicks]),
                "point_labels": np.array([int(c.positive) for c in clicks]),
            }
        masks, scores, logits = ref.predict(box=xyxy, multimask_output=True, **kw)
        np.testing.assert_array_equal(pred.masks[:3], masks)
        np.testing.assert_array_equal(pred.scores[:3], scores)
        np.testing.assert_array_equal(pred.logits[:3], logits)
        single = ref.predict(box=xyxy, multimask_output=False, **kw)
        np.testing.assert_array_equal(pred.logits[3:], single[2])
    swapped = prompts.Box(box.left, box.top, box.right, box.bottom)
    other = model.predict((), box=swapped)
    assert not np.array_equal(other.logits, model.predict((), box=box).logits)
    np.testing.assert_array_equal(box_to_xyxy(box), xyxy)

    # the box protocol: step 0 the box alone, then simulated clicks, rows count from click 0
    traces = protocols.run_box(model, gt, None, ["max_score", "oracle"], max_clicks=2)
    assert set(traces) == {"max_score", "oracle"}
    t = traces["max_score"]
    assert t.n_steps == 3 and t.n_clicks == 2 and tuple(t.box) == tuple(box)
    np.testing.assert_array_equal(t.masks[0], model.predict((), box=box).masks)
    assert t.clicks[0].tolist()[:2] == list(next_click(gt, None, t.masks[0][t.chosen[0]]))[:2]
    rows = trace_rows(
        traces, protocol="box", model="sam", cls="c", image="i", strategies=["max_score"]
    )
    assert [r["click"] for r in rows] == [0, 1, 2]
    assert (rows[0]["row"], rows[0]["col"], rows[0]["positive"]) == (-1, -1, -1)
    assert rows[1]["row"] == t.clicks[0][0] and rows[0]["iou"] == pytest.approx(t.curve[0])
    # saved and read back: the box with it
    save_traces(tmp_path / "box.npz", traces)
    back = load_traces(tmp_path / "box.npz")
    assert tuple(back["oracle"].box) == tuple(box)
    np.testing.assert_array_equal(back["oracle"].bious, traces["oracle"].bious)


def test_models_without_box_prompts_get_no_box_loop():
    image, gt, _ = scene(4)
    model = ColorDisks()
    model.set_image(image)
    assert not model.supports_box
    assert protocols.run_box(model, gt, None, ["max_score"], max_clicks=2) == {}
    assert (
        trace_rows({}, protocol="box", model="m", cls="c", image="i", strategies=["max_score"])
        == []
    )
    with pytest.raises(ValueError, match="no box"):
        run_loop(model, gt, None, strategy="max_score", max_clicks=1, box=prompts.Box(0, 0, 3, 3))


def test_random_click_lies_in_the_larger_error_region():
    gt = np.zeros((30, 40), bool)
    gt[5:25, 5:30] = True  # 20 x 25 = 500 object pixels
    pred = np.zeros_like(gt)
    pred[5:25, 5:12] = True  # 140 correct; FN = 360 pixels
    pred[0:3, 35:40] = True  # FP = 15 pixels: the FN region is the larger
    fn = gt & ~pred
    for seed in range(30):
        c = prompts.random_click(gt, None, pred, [], np.random.default_rng(seed))
        assert c.positive and fn[c.row, c.col]
    # with a margin of 4 pixels: the click is at least 4 px from the FN region's boundary
    dist = cv2.distanceTransform(np.pad(fn, 1).astype(np.uint8), cv2.DIST_L2, 5)[1:-1, 1:-1]
    for seed in range(30):
        c = prompts.random_click(gt, None, pred, [], np.random.default_rng(seed), margin=4)
        assert fn[c.row, c.col] and dist[c.row, c.col] >= 4 - 0.05
    # FP larger: a negative click in the FP region, never on the ignore band
    pred2 = np.ones_like(gt)
    ignore = np.zeros_like(gt)
    ignore[:, :20] = True
    for seed in range(30):
        c = prompts.random_click(gt, ignore, pred2, [], np.random.default_rng(seed))
        assert not c.positive and pred2[c.row, c.col] and not gt[c.row, c.col]
        assert not ignore[c.row, c.col]
    # a margin no pixel meets falls back to the whole region
    c = prompts.random_click(gt, None, pred, [], np.random.default_rng(0), margin=1000)
    assert fn[c.row, c.col]
    # nothing left to click
    assert prompts.random_click(gt, None, gt, [], np.random.default_rng(0)) is None
    # same seed, same click; the first click (no prediction) is an object pixel
    a = prompts.random_click(gt, None, None, [], np.random.default_rng(7))
    b = prompts.random_click(gt, None, None, [], np.random.default_rng(7))
    assert a == b and a.positive and gt[a.row, a.col]


def test_perturbed_clicks_stay_inside_their_region():
    image, gt, ignore = scene(6, h=60, w=80, band=True)
    pred = np.zeros_like(gt)
    pred[: gt.shape[0] // 2] = True  # covers half the object and some background
    fn, fp = prompts.error_regions(gt, ignore, pred)
    sim = next_click(gt, ignore, pred, [])
    moved = 0
    for seed in range(40):
        c = prompts.perturbed_click(gt, ignore, pred, [], np.random.default_rng(seed), sigma=3.0)
        assert c.positive == sim.positive
        region = fn if c.positive else fp
        assert region[c.row, c.col] and not ignore[c.row, c.col]
        moved += (c.row, c.col) != (sim.row, sim.col)
    assert moved > 30  # the noise does move the click
    # sigma 0 is the simulator itself
    assert prompts.perturbed_click(gt, ignore, pred, [], np.random.default_rng(0), 0.0) == sim


def test_trial_protocols_seeded_loops():
    image, gt, _ = scene(8, h=50, w=70)
    model = ColorDisks()
    model.set_image(image)
    common = {"max_clicks": 4, "trials": 3, "seed": 5, "strategies": ["max_score"]}
    blocks = {
        "random_clicks": {**common, "margin": 2.0},
        "perturbed": {**common, "sigma": 0.03},
    }
    a = protocols.run_protocols(model, gt, None, blocks, image_key=("Shrimp", "00001"))
    b = protocols.run_protocols(model, gt, None, blocks, image_key=("Shrimp", "00001"))
    c = protocols.run_protocols(model, gt, None, blocks, image_key=("Shrimp", "00002"))
    for name in blocks:
        assert list(a[name]) == ["max_score~0", "max_score~1", "max_score~2"]
        for loop in a[name]:  # same seed and image: the same clicks
            np.testing.assert_array_equal(a[name][loop].clicks, b[name][loop].clicks)
        trials = [a[name][f"max_score~{t}"].clicks.tolist() for t in range(3)]
        assert trials[0] != trials[1] or trials[1] != trials[2]  # trials differ
        assert a[name]["max_score~0"].clicks.tolist() != c[name]["max_score~0"].clicks.tolist()
        # every click lies in the error region of the mask kept before it
        for trace in a[name].values():
            kept = None
            for k, (r, col, pos) in enumerate(trace.clicks.tolist()):
                fn, fp = prompts.error_regions(gt, None, kept)
                assert (fn if pos else fp)[r, col]
                kept = trace.masks[k][trace.chosen[k]]
        rows = trace_rows(
            a[name], protocol=name, model="m", cls="Shrimp", image="00001", strategies=["max_score"]
        )
        assert sorted({r["trial"] for r in rows}) == [0, 1, 2]
        assert {r["click"] for r in rows} <= {1, 2, 3, 4}
        for r in rows:
            assert 0.0 <= r["biou"] <= 1.0


@pytest.mark.parametrize("name", ["config.yaml", "grabcut.yaml"])
def test_demo_and_grabcut_configs_run_every_protocol(name):
    """The demo and the GrabCut benchmark config run every protocol, and the box protocol
    lists a model without box prompts (its tables then say "not applicable")."""
    from pathlib import Path

    import yaml

    from clickbench import config as cbconfig

    path = Path(__file__).resolve().parents[1] / "config" / name
    cfg = cbconfig.validate(yaml.safe_load(path.read_text()))
    assert set(cfg["protocols"]) == set(PROTOCOLS)
    types = {m: spec["type"] for m, spec in cfg["models"].items()}
    assert {types[m] for m in cfg["protocols"]["box"]["models"]} >= {"sam", "ritm"}
    for trial in TRIAL_PROTOCOLS:
        assert cfg["protocols"][trial]["trials"] >= 2


def test_plan_resolves_each_protocols_strategies_once():
    """The workflow's one resolution of a model's protocols (rules/common.smk protocols_of):
    loop-per-strategy protocols run the model's selection kept to the block's strategies,
    single-loop ones are re-scored with the whole selection, replay needs an active source."""
    from clickbench import config as cbconfig

    cfg = cbconfig.validate(
        {
            "dataset": {"name": "d", "layout": "fish", "root": "x"},
            "models": {
                "sam": {"type": "grabcut", "selection": ["oracle", "max_score"]},
                "g": {"type": "grabcut"},
            },
            "protocols": {
                "noc": {"models": ["sam", "g"]},
                "first_click": {"models": ["sam"]},
                "replay": {"models": ["sam"], "source": "g"},
                "box": {"models": ["sam", "g"], "strategies": ["max_score", "single"]},
                "random_clicks": {"models": ["sam"], "strategies": ["single"]},
            },
        }
    )
    assert cfg["models"]["g"]["selection"] == [DRIVING_STRATEGY]  # the schema's default
    plan = protocols.plan(cfg["protocols"], "sam", cfg["models"])
    assert list(plan) == ["noc", "first_click", "replay", "box", "random_clicks"]
    assert plan["noc"]["strategies"] == ["oracle", "max_score"]
    assert plan["noc"]["max_clicks"] == 20 and plan["noc"]["target_iou"] is None
    assert plan["first_click"]["strategies"] == ["oracle", "max_score"]
    assert plan["replay"] == {**cfg["protocols"]["replay"], "strategies": ["oracle", "max_score"]}
    assert plan["box"]["strategies"] == ["max_score"]  # the selection's order, the block's pick
    assert plan["random_clicks"]["strategies"] == ["oracle"]  # none kept: the first
    assert protocols.plan(cfg["protocols"], "g", cfg["models"]) == {
        "noc": {**cfg["protocols"]["noc"], "strategies": ["max_score"]},
        "box": {**cfg["protocols"]["box"], "strategies": ["max_score"]},
    }
    active = {"sam": cfg["models"]["sam"]}  # g's checkpoint absent, say: no replay source
    assert list(protocols.plan(cfg["protocols"], "sam", active)) == [
        "noc",
        "first_click",
        "box",
        "random_clicks",
    ]
    assert cfg["protocols"]["noc"] == {"models": ["sam", "g"], "max_clicks": 20, "target_iou": None}

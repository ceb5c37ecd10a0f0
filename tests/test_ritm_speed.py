"""RITM's CPU speed-ups (issue 16) change no result: frozen weights and the allocator setting
against RITM's own, unmodified predictor in a fresh interpreter, click by click, bit for bit."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import GRABCUT, REPO, requires_grabcut
from ritm_annotation.inference.clicker import Clicker
from test_ritm import one_thread  # noqa: F401  (autouse: one torch thread here too)

from clickbench.clicks import Click
from clickbench.loading import load_ground_truth, load_image
from clickbench.models import registry
from clickbench.models.ritm import make_predictor
from clickbench.models.tiny import make_tiny_checkpoint, make_tiny_model

CLICKS = 10  # past f-BRS's net_clicks_limit (8), where RITM reuses the backbone's features

#: RITM's own path, untouched: a fresh interpreter (glibc's default allocator), the tiny
#: model as built (trainable weights, as benchmarks/models.py built HRNet18s), RITM's
#: get_predictor with evaluate_model.py's arguments, RITM's Clicker placing the clicks
REFERENCE = textwrap.dedent(
    """
    import json, sys
    import numpy as np, torch
    from ritm_annotation.inference.clicker import Clicker
    from ritm_annotation.inference.predictors import get_predictor
    from clickbench.models.tiny import make_tiny_model

    torch.set_num_threads(1)
    data = np.load(sys.argv[1])
    net = make_tiny_model("ritm", 0)
    assert all(p.requires_grad for p in net.parameters())
    predictor = get_predictor(
        net, "f-BRS-B", "cpu", prob_thresh=0.49, zoom_in_params={"target_size": 400},
        predictor_params={},
    )
    out = {}
    for name in data.files:
        if name.endswith("_gt"):
            continue
        gt = data[name + "_gt"]
        predictor.set_input_image(data[name])
        clicker, pred, probs = Clicker(gt_mask=gt), np.zeros(gt.shape, bool), []
        for _ in range(int(sys.argv[3])):
            clicker.make_next_click(pred)
            p = predictor.get_prediction(clicker)
            pred = p > 0.49
            probs.append(p)
        out[name] = np.stack(probs)
        out[name + "_clicks"] = np.array([(*c.coords, c.is_positive) for c in clicker.clicks_list])
    np.savez(sys.argv[2], **out)
    """
)


def photos():
    """A real photo with its ground truth: GrabCut's 106024 when present, and skimage's cat
    (a rough box around it) always."""
    out = {}
    if (GRABCUT / "data_GT").is_dir():
        image = load_image(GRABCUT / "data_GT" / "106024.jpg")
        gt, ignore = load_ground_truth(
            GRABCUT / "boundary_GT" / "106024.bmp", "grabcut", image.shape
        )
        out["106024"] = (image, gt if ignore is None else np.where(ignore, -1, gt))
    skdata = pytest.importorskip("skimage.data")
    cat = skdata.chelsea()
    gt = np.zeros(cat.shape[:2], np.int32)
    gt[40:290, 90:330] = 1
    out["chelsea"] = (cat, gt)
    return out


def our_probs(model, image, gt, n):
    """Our adapter, the clicks placed by RITM's Clicker: every step's probabilities."""
    model.set_image(image)
    clicker, pred, probs = Clicker(gt_mask=gt), np.zeros(gt.shape, bool), []
    for _ in range(n):
        clicker.make_next_click(pred)
        clicks = [
            Click(int(c.coords[0]), int(c.coords[1]), c.is_positive) for c in clicker.clicks_list
        ]
        pred = model.predict(clicks).masks[0]
        probs.append(model.probs)
    return np.stack(probs), np.array([(*c.coords, c.is_positive) for c in clicker.clicks_list])


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the allocator setting is glibc's")
def test_fbrs_is_bit_identical_to_ritms_own_predictor(tmp_path):
    data = dict(list(photos().items())[:1])  # one photo, real: the test's cost is 20 clicks
    np.savez(
        tmp_path / "in.npz",
        **{k: v for name, (im, gt) in data.items() for k, v in ((name, im), (name + "_gt", gt))},
    )
    subprocess.run(
        [
            sys.executable,
            "-c",
            REFERENCE,
            str(tmp_path / "in.npz"),
            str(tmp_path / "ref.npz"),
            str(CLICKS),
        ],
        check=True,
    )
    ref = np.load(tmp_path / "ref.npz")
    ckpt = make_tiny_checkpoint("ritm", tmp_path / "ritm.pth", seed=0)
    model = registry.build(
        {"type": "ritm", "brs_mode": "f-BRS-B", "checkpoint": {"path": str(ckpt)}}
    )
    assert not any(p.requires_grad for p in model.net.parameters())
    for name, (image, gt) in data.items():
        probs, clicks = our_probs(model, image, gt, CLICKS)
        np.testing.assert_array_equal(clicks, ref[name + "_clicks"])
        np.testing.assert_array_equal(probs, ref[name])  # every click's map, bit for bit
        assert len({float(p.mean()) for p in probs}) > 1  # the masks respond to the clicks


def test_make_predictor_freezes_the_weights_and_fbrs_computes_no_weight_gradient():
    net = make_tiny_model("ritm", 0)
    assert all(p.requires_grad for p in net.parameters())
    predictor = make_predictor(net, "f-BRS-B")
    assert predictor.net is net and not any(p.requires_grad for p in net.parameters())
    image, gt = photos()["chelsea"]
    predictor.set_input_image(image)
    clicker = Clicker(gt_mask=gt)
    clicker.make_next_click(np.zeros(gt.shape, bool))
    clicker.make_next_click(predictor.get_prediction(clicker) > 0.49)
    predictor.get_prediction(clicker)  # second click: L-BFGS runs, with backward passes
    assert predictor.opt_functor._best_loss is not None
    assert all(p.grad is None for p in net.parameters())


FAULTS = textwrap.dedent(
    """
    import json, resource, torch
    from clickbench.models.ritm import keep_freed_memory

    def faults():  # minor page faults of 6 rounds of filling two 64 MB tensors, after one
        work = lambda: [torch.empty(16 << 20).fill_(1.0) for _ in range(2)]
        work()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(6):
            work()
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

    default = faults()
    applied = keep_freed_memory()
    print(json.dumps({"default": default, "applied": applied, "again": keep_freed_memory(),
                      "kept": faults()}))
    """
)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the allocator setting is glibc's")
def test_keep_freed_memory_stops_the_refaulting():
    out = subprocess.run([sys.executable, "-c", FAULTS], check=True, capture_output=True, text=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["applied"] and r["again"]
    pages = 6 * 2 * (64 << 20) // 4096
    assert r["default"] >= pages  # by default glibc maps every block afresh
    assert r["kept"] <= pages // 8  # kept: reused (glibc at times faults one block in again)


@requires_grabcut()
@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the allocator setting is glibc's")
def test_benchmark_ritm_speed_runs_and_finds_the_variants_bit_identical(tmp_path):
    """`python benchmarks/models.py --ritm-speed` (README), on the tiny RITM: each variant in
    its own process, every click's map compared with RITM's own predictor's."""
    cmd = [sys.executable, str(REPO / "benchmarks" / "models.py"), "--ritm-speed", "--quick"]
    cmd += ["--images", "1", "--clicks", "2", "--rounds", "1", "--out", str(tmp_path / "m.json")]
    subprocess.run(cmd, check=True, capture_output=True)
    res = json.loads((tmp_path / "ritm_speed.json").read_text())["ritm_speed"]
    assert list(res) == ["ritm", "frozen", "frozen+kept"]
    for variant in res.values():
        assert variant["same_clicks"] and variant["bit_identical"]
        assert variant["max_abs_prob_diff"] == 0.0 and variant["mask_pixels_changed"] == 0
        assert variant["click_cpu_s"]["n"] == 2
    assert res["ritm"]["cpu_ratio_vs_ritm"] == 1.0

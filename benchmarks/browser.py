"""Size and load time of the results browser for a run of the fish study's size.

Synthesises the saved traces of a 450-image run (9 classes x 50 images) of 4 models in the
saved format (``runs/<protocol>/<model>/<class_slug>/<image>.npz`` and ``.tsv``, written by
``clickbench.protocols``), no model needed: ``sam`` (4 candidates: 3 multimask + the
single-output one) in ``noc`` with 3 strategies (3 loops), ``first_click`` and ``replay``;
``ritm``, ``grabcut`` and ``random_walker`` (1 candidate) in ``noc``; 20 clicks a loop. That
is more than the fish config runs (2 models). The images are real photos: the 50 of the
GrabCut benchmark (``../shared/datasets/GrabCut``, with their ground truth), each used once
per class. The masks follow each ground truth: dilated or eroded by an error that shrinks
click by click, with a stray blob; SAM's candidates are a part (eroded), the object and a
larger mask (dilated; the whole image in a fifth of the loops), all changing click by click.

Then builds the browser as the workflow does (``clickbench.browser``: one data file per image,
timed, spread over ``--workers`` processes, then the index) and prints its size; with
Chromium (``/usr/bin/chromium`` + ``chromedriver``, Selenium) it opens ``index.html`` from
disk ``--repeat`` times, each in a fresh headless browser, and prints the time to the rendered
table, to an opened sample and to one click step.

    python benchmarks/browser.py                 # 450 images, 2 workers
    python benchmarks/browser.py --data /tmp/bb  # keep (and reuse) the synthetic run
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
GRABCUT = REPO.parent / "shared" / "datasets" / "GrabCut"
CLASSES = [f"Class {c}" for c in "ABCDEFGHI"]
MODELS = {"sam": 4, "ritm": 1, "grabcut": 1, "random_walker": 1}
CLICKS = 20


def _samples(root: Path):
    from clickbench import datasets

    found = datasets.discover({"name": "grabcut", "layout": "grabcut", "root": str(root)})
    return sorted(found, key=lambda s: s.image_id)


def _signed_distance(gt: np.ndarray) -> np.ndarray:
    """Distance to the ground truth's boundary, positive outside, negative inside: the mask
    dilated by r (eroded for r < 0) is ``sd <= r``."""
    import cv2

    outside = cv2.distanceTransform((~gt).astype(np.uint8), cv2.DIST_L2, 5)
    inside = cv2.distanceTransform(gt.astype(np.uint8), cv2.DIST_L2, 5)
    return outside - inside


def _loop(gt: np.ndarray, sd: np.ndarray, n_cand: int, rng: np.random.Generator):
    """A loop's masks (K, C, H, W), clicks (K, 3): the error shrinks by a fifth a click."""
    h, w = gt.shape
    r0 = float(rng.integers(-20, 21))
    by, bx = int(rng.integers(0, h)), int(rng.integers(0, w))
    blob_r = float(rng.integers(10, 40))
    yy, xx = np.ogrid[:h, :w]
    blob_d = np.sqrt((yy - by) ** 2 + (xx - bx) ** 2)
    whole_image = rng.random() < 0.2  # now and then SAM's third mask is the whole image
    masks = np.zeros((CLICKS, n_cand, h, w), bool)
    for k in range(CLICKS):
        shrink = 0.8**k
        r = r0 * shrink
        blob = blob_d <= blob_r * shrink
        masks[k, 0] = (sd <= r) ^ blob
        if n_cand > 1:
            masks[k, 1] = sd <= r - 25
            masks[k, 2] = True if whole_image else sd <= r + 60
            masks[k, 3] = (sd <= r + 3) ^ blob
    rows, cols = np.nonzero(gt)
    pick = rng.integers(0, len(rows), CLICKS)
    clicks = np.stack([rows[pick], cols[pick], rng.integers(0, 2, CLICKS)], axis=1)
    clicks[0, 2] = 1
    return masks, clicks.astype(np.int32)


def _synthesise(args) -> None:
    """Every trace of one image (one class x GrabCut photo)."""
    from clickbench import datasets, metrics
    from clickbench.traces import Trace, save_traces, trace_rows, write_rows_tsv

    out, cls, sample, seed = args
    image = datasets.load_image(sample.image)
    gt, ignore = datasets.load_ground_truth(sample.mask, "grabcut", image.shape)
    rng = np.random.default_rng(seed)
    slug = datasets.slug(cls)
    sd = _signed_distance(gt)

    def trace(n_cand, strategy):
        masks, clicks = _loop(gt, sd, n_cand, rng)
        flat = masks.reshape(-1, *gt.shape)
        ious = metrics.iou_batch(gt, ignore, flat).reshape(CLICKS, n_cand).astype(np.float32)
        # the browser shows IoU only; the rows need a boundary IoU per candidate too
        bious = ious.copy()
        scores = rng.random((CLICKS, n_cand)).astype(np.float32)
        multi = np.arange(min(n_cand, 3), dtype=np.int16)
        if strategy == "oracle":
            chosen = ious[:, multi].argmax(axis=1)
        elif strategy == "single" and n_cand > 1:
            chosen = np.where(np.arange(CLICKS) == 0, scores[:, multi].argmax(axis=1), 3)
        else:
            chosen = scores[:, multi].argmax(axis=1)
        return Trace(
            clicks=clicks,
            masks=masks,
            scores=scores,
            ious=ious,
            bious=bious,
            chosen=chosen.astype(np.int16),
            multi=multi,
            single=3 if n_cand > 1 else -1,
        )

    plan = {(m, "noc"): None for m in MODELS} | {("sam", "first_click"): 1, ("sam", "replay"): 1}
    for (model, protocol), _ in plan.items():
        n_cand = MODELS[model]
        strategies = ["max_score", "oracle", "single"] if n_cand > 1 else ["max_score"]
        if protocol == "noc":
            traces = {s: trace(n_cand, s) for s in strategies}
        else:
            t = trace(n_cand, "max_score")
            if protocol == "first_click":
                t = Trace(
                    t.clicks[:1],
                    t.masks[:1],
                    t.scores[:1],
                    t.ious[:1],
                    t.chosen[:1],
                    t.multi,
                    3,
                    bious=t.bious[:1],
                )
            traces = {"max_score": t}
        path = Path(out) / "runs" / protocol / model / slug / f"{sample.image_id}.npz"
        path.parent.mkdir(parents=True, exist_ok=True)
        save_traces(path, traces)
        rows = trace_rows(
            traces,
            protocol=protocol,
            model=model,
            cls=cls,
            image=sample.image_id,
            strategies=strategies,
        )
        write_rows_tsv(path.with_suffix(".tsv"), rows)


def _runs(out: Path, cls: str, image: str):
    from clickbench.datasets import slug

    runs = []
    for model in MODELS:
        for protocol in ("noc", "first_click", "replay"):
            npz = out / "runs" / protocol / model / slug(cls) / f"{image}.npz"
            if npz.exists():
                runs.append((protocol, model, npz, npz.with_suffix(".tsv")))
    return runs


def _build_sample(args) -> float:
    from clickbench import browser

    out, cls, sample = args
    t0 = time.process_time()
    meta = {
        "cls": cls,
        "image": sample.image_id,
        "image_path": str(sample.image),
        "mask_path": str(sample.mask),
        "layout": "grabcut",
    }
    payload = browser.sample_payload(meta, _runs(Path(out), cls, sample.image_id))
    target = Path(out) / "browser" / browser.sample_file(cls, sample.image_id)
    browser.write_sample(target, payload)
    return time.process_time() - t0


def _open_times(index: Path, first_id: str, repeat: int) -> dict[str, list[float]]:
    from selenium.webdriver.support.ui import WebDriverWait
    from test_browser import start_chromium

    times: dict[str, list[float]] = {"table": [], "table_wall": [], "sample": [], "step": []}
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as profile:
            driver = start_chromium(profile)
            try:
                wait = WebDriverWait(driver, 120, poll_frequency=0.01)
                t0 = time.perf_counter()
                driver.get(index.as_uri())
                wait.until(lambda d: d.execute_script("return window.CB_TABLE_MS !== undefined"))
                times["table_wall"].append(time.perf_counter() - t0)
                # CB_TABLE_MS: performance.now() when the table was rendered, from navigation
                times["table"].append(driver.execute_script("return window.CB_TABLE_MS") / 1000)
                started = driver.execute_script(
                    "const t0 = performance.now(); location.hash = 'sample=' + "
                    "encodeURIComponent(arguments[0]); return t0;",
                    first_id,
                )
                wait.until(
                    lambda d: d.execute_script("return document.body.dataset.ready") == "sample"
                )
                done = driver.execute_script("return performance.now()")
                times["sample"].append((done - started) / 1000)
                step = driver.execute_script(
                    "const t0 = performance.now();"
                    "document.getElementById('next-click').click();"
                    "return performance.now() - t0;"
                )
                times["step"].append(step / 1000)
                severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
                if severe:
                    raise SystemExit(f"console errors: {severe}")
            finally:
                driver.quit()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="keep the synthetic run here (reused)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--grabcut", type=Path, default=GRABCUT, help="the GrabCut benchmark")
    args = parser.parse_args()
    if not (args.grabcut / "data_GT").is_dir():
        raise SystemExit(f"the GrabCut photos are not at {args.grabcut} (see --grabcut)")
    from clickbench import browser, row_io, study

    samples = _samples(args.grabcut)
    tmp = None
    if args.data is None:
        tmp = tempfile.TemporaryDirectory(prefix="clickbench-browser-")
        out = Path(tmp.name)
    else:
        out = args.data
    jobs = [(cls, s) for cls in CLASSES for s in samples]
    print(f"{len(jobs)} images ({len(CLASSES)} classes x {len(samples)} GrabCut photos)")
    with ProcessPoolExecutor(args.workers) as pool:
        if not (out / "runs" / ".done").exists():
            t0 = time.perf_counter()
            list(pool.map(_synthesise, [(out, c, s, i) for i, (c, s) in enumerate(jobs)]))
            (out / "runs" / ".done").write_text("")
            print(f"synthesised the traces in {time.perf_counter() - t0:.1f} s (not timed below)")
        traces = sum(p.stat().st_size for p in (out / "runs").rglob("*.npz"))
        t0 = time.perf_counter()
        cpu = list(pool.map(_build_sample, [(out, c, s) for c, s in jobs], chunksize=8))
        sample_wall = time.perf_counter() - t0
    t0 = time.perf_counter()
    rows, _ = row_io.read_marked_rows(sorted((out / "runs").rglob("*.tsv")), "bench")
    settings = study.Settings.from_config(
        {},
        {"noc": {"max_clicks": CLICKS}, "first_click": {}, "replay": {}},
        {"sam": {"type": "sam"}},
    )
    payload = browser.index_payload(rows, settings, "bench")
    browser.write_index(out / "browser", payload)
    index_wall = time.perf_counter() - t0
    files = [p for p in (out / "browser").rglob("*") if p.is_file()]
    sizes = [p.stat().st_size for p in files if p.parent.parent.name == "samples"]
    total = sum(p.stat().st_size for p in files)
    one = browser.read_sample(next(p for p in files if p.parent.parent.name == "samples"))
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print(f"traces (.npz): {traces / 1e6:.1f} MB")
    print(
        f"browser: {total / 1e6:.1f} MB in {len(files)} files; per image {statistics.mean(sizes) / 1e3:.0f} KB "
        f"mean, {max(sizes) / 1e3:.0f} KB max ({one['masks_n']} distinct masks in the first, "
        f"photo {len(one['photo']) / 1e3:.0f} KB, masks {len(one['masks']) / 1e3:.0f} KB as base64); "
        f"index.js {(out / 'browser' / 'index.js').stat().st_size / 1e3:.0f} KB"
    )
    print(
        f"build: {sample_wall:.1f} s wall for the data files ({args.workers} workers), "
        f"{statistics.median(cpu) * 1e3:.0f} ms CPU per image (median); index {index_wall:.1f} s"
    )
    sys.path.insert(0, str(REPO / "tests"))
    from test_browser import chromium_unavailable

    reason = chromium_unavailable()
    if reason:
        print(f"load time not measured: {reason}")
        return
    times = _open_times(out / "browser" / "index.html", payload["samples"][0]["id"], args.repeat)
    for name, what in [
        ("table", "index.html to the rendered table (performance.now() from navigation)"),
        ("table_wall", "the same, wall clock around driver.get (Selenium's overhead included)"),
        ("sample", "opening the first sample (script load, inflate, decode, draw)"),
        ("step", "one click step (redraw of every panel)"),
    ]:
        v = times[name]
        print(
            f"{what}: median {statistics.median(v) * 1e3:.0f} ms, "
            f"range {min(v) * 1e3:.0f}-{max(v) * 1e3:.0f} ms over {len(v)} fresh browsers"
        )


if __name__ == "__main__":
    main()

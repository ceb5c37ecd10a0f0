"""The results browser (clickbench.browser): its data files against the traces they come from,
and the page itself in a real headless Chromium (Debian's chromium + chromium-driver, through
Selenium), on the workflow's own output (the shared ``demo_run``)."""

from __future__ import annotations

import io
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from clickbench import browser, metrics, row_io, study
from clickbench.datasets import slug
from clickbench.traces import Trace, save_traces, trace_rows, write_rows_tsv


def on_demo_run(test):
    """A test on the shared workflow run (``demo_run``), kept on its xdist worker."""
    return pytest.mark.workflow(pytest.mark.xdist_group("workflow")(test))


CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
#: the flags the page is tested under: headless, nothing reaching the network
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--force-device-scale-factor=1",
    "--force-color-profile=srgb",
    "--window-size=1400,1000",
]


# ---------------------------------------------------------------- a sample from real pixels
def _blob(shape, center, radii):
    rr, cc = np.mgrid[: shape[0], : shape[1]]
    return ((rr - center[0]) / radii[0]) ** 2 + ((cc - center[1]) / radii[1]) ** 2 <= 1


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """scikit-image's coffee photo (400 x 600) with an elliptic ground truth, and traces of a
    3-candidate model (noc with two strategies, first_click) and a 1-candidate one."""
    skdata = pytest.importorskip("skimage.data")
    root = tmp_path_factory.mktemp("browser_sample")
    photo = skdata.coffee()
    shape = photo.shape[:2]
    gt = _blob(shape, (200, 300), (120, 180))
    Image.fromarray(photo).save(root / "cup.png")
    Image.fromarray(gt.astype(np.uint8) * 255).save(root / "cup_mask.png")
    rng = np.random.default_rng(0)

    def trace(n_clicks, n_cand, chosen_rule):
        masks = np.stack(
            [
                np.stack(
                    [
                        _blob(
                            shape,
                            (200 + rng.integers(-20, 20), 300 + rng.integers(-20, 20)),
                            (60 + 30 * c + 10 * k, 90 + 40 * c + 15 * k),
                        )
                        for c in range(n_cand)
                    ]
                )
                for k in range(n_clicks)
            ]
        )
        ious = metrics.iou_batch(gt, None, masks.reshape(-1, *shape)).reshape(n_clicks, n_cand)
        bious = metrics.boundary_iou_batch(gt, None, masks.reshape(-1, *shape))
        scores = rng.random((n_clicks, n_cand)).astype(np.float32)
        chosen = np.asarray(
            [chosen_rule(scores[k], ious[k]) for k in range(n_clicks)], dtype=np.int16
        )
        clicks = np.asarray([[200 + 5 * k, 300 - 7 * k, k % 2 == 0] for k in range(n_clicks)])
        return Trace(
            clicks=clicks.astype(np.int32),
            masks=masks,
            scores=scores,
            ious=ious.astype(np.float32),
            chosen=chosen,
            multi=np.arange(n_cand, dtype=np.int16),
            bious=bious.reshape(n_clicks, n_cand).astype(np.float32),
        )

    loops = {
        ("noc", "sam"): {
            "max_score": trace(4, 3, lambda s, i: int(np.argmax(s))),
            "oracle": trace(3, 3, lambda s, i: int(np.argmax(i))),
        },
        ("first_click", "sam"): {"max_score": trace(1, 3, lambda s, i: int(np.argmax(s)))},
        ("noc", "ritm"): {"max_score": trace(4, 1, lambda s, i: 0)},
    }
    runs = []
    for (protocol, model), traces in loops.items():
        npz = root / protocol / model / "cup.npz"
        npz.parent.mkdir(parents=True, exist_ok=True)
        save_traces(npz, traces)
        strategies = ["max_score", "oracle"] if model == "sam" else ["max_score"]
        rows = trace_rows(
            traces, protocol=protocol, model=model, cls="Cups", image="cup", strategies=strategies
        )
        write_rows_tsv(npz.with_suffix(".tsv"), rows)
        runs.append((protocol, model, npz, npz.with_suffix(".tsv")))
    meta = {
        "cls": "Cups",
        "image": "cup",
        "image_path": str(root / "cup.png"),
        "mask_path": str(root / "cup_mask.png"),
        "layout": "generic",
    }
    payload = browser.sample_payload(meta, runs)
    return {
        "root": root,
        "photo": photo,
        "gt": gt,
        "loops": loops,
        "runs": runs,
        "payload": payload,
    }


def test_shown_size_keeps_the_aspect_and_never_enlarges():
    assert browser.shown_size((445, 590)) == (241, 320)
    assert browser.shown_size((590, 445, 3)) == (320, 241)
    assert browser.shown_size((100, 200)) == (100, 200)


def test_every_candidate_at_every_click_decodes_to_its_downscaled_trace_mask(sample):
    payload = sample["payload"]
    assert payload["shown"] == [213, 320] and payload["size"] == [400, 600]
    masks = browser.decode_masks(payload)
    size = tuple(payload["shown"])
    assert np.array_equal(masks[payload["gt"]], browser.downscale_mask(sample["gt"], size))
    assert payload["ignore"] is None
    by_key = {r["key"]: r for r in payload["runs"]}
    # first_click re-scored by oracle is a run too (its TSV has both strategies)
    assert sorted(by_key) == [
        "first_click/sam/max_score",
        "first_click/sam/oracle",
        "noc/ritm/max_score",
        "noc/sam/max_score",
        "noc/sam/oracle",
    ]
    for (protocol, model), traces in sample["loops"].items():
        for strategy, loop in traces.items():
            run = by_key[f"{protocol}/{model}/{strategy}"]
            assert run["clicks"] == loop.clicks.tolist()
            assert run["chosen"] == loop.chosen.tolist()
            for k in range(loop.n_clicks):
                for c in range(loop.masks.shape[1]):
                    expected = browser.downscale_mask(loop.masks[k, c], size)
                    assert np.array_equal(masks[run["candidates"][k][c]], expected)
                assert run["ious"][k] == pytest.approx(loop.ious[k].tolist(), abs=1e-4)
                assert run["scores"][k] == pytest.approx(loop.scores[k].tolist(), abs=1e-4)
    # the oracle re-scoring of the one first_click loop keeps the best-IoU candidate
    fc = sample["loops"][("first_click", "sam")]["max_score"]
    assert by_key["first_click/sam/oracle"]["chosen"] == [int(np.argmax(fc.ious[0]))]
    # every distinct mask once: the re-scored run shares the max_score run's masks
    assert len({m.tobytes() for m in masks}) == len(masks)
    assert (
        by_key["first_click/sam/oracle"]["candidates"]
        == by_key["first_click/sam/max_score"]["candidates"]
    )


def test_an_ignore_band_is_its_own_mask(tmp_path):
    """GrabCut's 128 band (the layout's ignore pixels) travels as mask ``ignore``."""
    skdata = pytest.importorskip("skimage.data")
    photo = skdata.astronaut()[:200, :300]
    gt = _blob(photo.shape[:2], (100, 150), (60, 90))
    band = _blob(photo.shape[:2], (100, 150), (66, 99)) & ~gt
    mask = np.where(gt, 255, np.where(band, 128, 0)).astype(np.uint8)
    Image.fromarray(photo).save(tmp_path / "a.png")
    Image.fromarray(mask).save(tmp_path / "a.bmp")
    loop = Trace(
        clicks=np.asarray([[100, 150, 1]], dtype=np.int32),
        masks=gt[None, None],
        scores=np.ones((1, 1), np.float32),
        ious=np.ones((1, 1), np.float32),
        chosen=np.zeros(1, np.int16),
        multi=np.zeros(1, np.int16),
        bious=np.ones((1, 1), np.float32),
    )
    save_traces(tmp_path / "t.npz", {"max_score": loop})
    rows = trace_rows(
        {"max_score": loop},
        protocol="noc",
        model="m",
        cls="GrabCut",
        image="a",
        strategies=["max_score"],
    )
    write_rows_tsv(tmp_path / "t.tsv", rows)
    meta = {
        "cls": "GrabCut",
        "image": "a",
        "image_path": str(tmp_path / "a.png"),
        "mask_path": str(tmp_path / "a.bmp"),
        "layout": "grabcut",
    }
    payload = browser.sample_payload(meta, [("noc", "m", tmp_path / "t.npz", tmp_path / "t.tsv")])
    masks = browser.decode_masks(payload)
    assert payload["shown"] == [200, 300]  # small enough: not downscaled
    assert np.array_equal(masks[payload["gt"]], gt)
    assert np.array_equal(masks[payload["ignore"]], band)
    # the kept mask is the ground truth itself: stored once
    assert payload["runs"][0]["candidates"] == [[payload["gt"]]]


def test_the_photo_is_the_downscaled_image(sample):
    payload = sample["payload"]
    shown = browser.decode_photo(payload)
    ref = browser.downscale_image(sample["photo"], tuple(payload["shown"]))
    assert shown.shape == ref.shape
    err = np.abs(shown.astype(int) - ref.astype(int)).mean()
    assert err < 6  # JPEG at quality 85 of a busy photo: 3.6 here
    assert err < np.abs(shown.astype(int) - ref[::-1].astype(int)).mean() / 5


def test_sample_file_round_trips_and_rejects_other_files(sample, tmp_path):
    path = tmp_path / "samples" / "cups" / "cup.js"
    browser.write_sample(path, sample["payload"])
    assert path.read_text().startswith("CB.sample({")
    assert browser.read_sample(path) == sample["payload"]
    other = tmp_path / "other.js"
    other.write_text("console.log(1);\n")
    with pytest.raises(ValueError, match="other.js: not a clickbench browser data file"):
        browser.read_sample(other)


def test_composite_blends_rounds_half_up_and_outlines_by_hand():
    photo = np.full((4, 4, 3), 100, dtype=np.uint8)
    mask = np.zeros((4, 4), bool)
    mask[1:3, 1:3] = True
    out = browser.composite(photo, [(mask, (0, 114, 178), 0.55)])
    # grey: 100 x 0.75 = 75; blended: 75 x 0.45 + c x 0.55 = 33.75, 96.45, 131.65
    assert out[0, 0].tolist() == [75, 75, 75]
    assert out[1, 1].tolist() == [34, 96, 132]
    assert browser.composite(photo, grey=False)[0, 0].tolist() == [100, 100, 100]
    # a 2x2 block is all edge; a full mask has none (the picture's border does not count)
    assert np.array_equal(browser.edge(mask), mask)
    assert not browser.edge(np.ones((4, 4), bool)).any()
    outlined = browser.composite(photo, outline=mask)
    assert outlined[1, 1].tolist() == list(browser.GT_COLOR)
    assert outlined[0, 0].tolist() == [75, 75, 75]


def test_index_has_every_sample_with_its_curves_noc_and_gap(sample):
    rows = row_io.read_rows([r[3] for r in sample["runs"]], "d")
    settings = study.Settings.from_config(
        {"iou_thresholds": [0.5, 0.9]},
        {"noc": {"max_clicks": 4}, "first_click": {}},
        {"sam": {"type": "sam"}, "ritm": {"type": "ritm"}},
    )
    payload = browser.index_payload(row_io.mark_selection(rows), settings, "d")
    (entry,) = payload["samples"]
    assert entry["id"] == "cups/cup" and entry["file"] == "samples/cups/cup.js"
    loops = sample["loops"]
    for key, loop in [
        ("noc/sam/max_score", loops[("noc", "sam")]["max_score"]),
        ("noc/sam/oracle", loops[("noc", "sam")]["oracle"]),
        ("noc/ritm/max_score", loops[("noc", "ritm")]["max_score"]),
    ]:
        curve = loop.curve
        assert entry["curves"][key] == pytest.approx(curve.tolist(), abs=1e-4)
        for (noc, failed), t in zip(entry["noc"][key], (0.5, 0.9), strict=True):
            assert noc == metrics.noc_per_image([curve], t, 4)[0]
            assert failed == int(not (curve >= t).any())
    fc = loops[("first_click", "sam")]["max_score"]
    assert entry["gap"]["sam"] == pytest.approx(float(fc.ious[0].max() - fc.curve[0]), abs=1e-4)
    assert payload["gap_models"] == ["sam"]
    assert {m["key"]: m["sam"] for m in payload["methods"]}["noc/ritm/max_score"] is False
    table = browser.index_table(payload)
    assert table.loc[0, "noc/ritm/max_score noc@90"] == entry["noc"]["noc/ritm/max_score"][1][0]


# ---------------------------------------------------------------- the workflow's browser
def _evaluated(workdir: Path) -> pd.DataFrame:
    rows = row_io.load_per_image(workdir / "results/demo/tables/per_image.tsv")
    return rows[["class", "image"]].drop_duplicates().sort_values(["class", "image"])


@on_demo_run
def test_workflow_writes_a_data_file_for_every_evaluated_sample(demo_run):
    workdir = demo_run[0]
    out = workdir / "results/demo/browser"
    index = browser.read_index(out / "index.js")
    evaluated = _evaluated(workdir)
    assert len(evaluated) >= 4
    assert [(s["class"], s["image"]) for s in index["samples"]] == list(
        evaluated.itertuples(index=False, name=None)
    )
    for s in index["samples"]:
        payload = browser.read_sample(out / s["file"])
        assert payload["id"] == s["id"] == f"{slug(s['class'])}/{s['image']}"
        assert {r["key"] for r in payload["runs"]} == set(s["curves"])
    assert {"index.html", "browser.js", "browser.css", "samples.tsv"} <= {
        p.name for p in out.iterdir()
    }
    assert len(pd.read_csv(out / "samples.tsv", sep="\t")) == len(evaluated)
    # nothing is fetched from the network: no URL with a scheme in the page or its code
    for name in ("index.html", "browser.js", "browser.css"):
        text = (out / name).read_text()
        assert "http://" not in text and "https://" not in text and "//cdn" not in text, name
    summary = (workdir / "results/demo/summary.md").read_text()
    assert "(browser/index.html)" in summary


@on_demo_run
def test_report_links_the_browser(demo_run, tmp_path):
    from conftest import snakemake

    workdir, cfg, _ = demo_run
    report = workdir / "results/demo" / f"report_{tmp_path.name}.html"
    try:
        snakemake(workdir, "--cores", "1", "--report", str(report), configfile=cfg)
        html = report.read_text()
    finally:
        report.unlink(missing_ok=True)
    assert "filename=samples.tsv;base64," in html
    assert 'href=\\"browser/index.html\\"' in html or 'href="browser/index.html"' in html


# ---------------------------------------------------------------- in Chromium
def chromium_unavailable() -> str | None:
    """Why the page cannot be tested here, or None (benchmarks/browser.py asks too)."""
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        return (
            f"Chromium is not installed ({CHROMIUM}, {CHROMEDRIVER}): "
            "apt-get install chromium chromium-driver (.ci/run does)"
        )
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    return None


def start_chromium(profile: str):
    """A headless Chromium under Selenium with :data:`CHROMIUM_FLAGS`, the fresh profile
    folder ``profile``, and its console kept (``driver.get_log("browser")``)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    return driver


def test_without_chromium_the_page_tests_skip_saying_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.setattr(sys.modules[__name__], "CHROMIUM", tmp_path / "no-chromium")
    reason = chromium_unavailable()
    assert reason and "apt-get install chromium chromium-driver" in reason
    assert str(tmp_path / "no-chromium") in reason


@pytest.fixture(scope="module")
def chromium():
    reason = chromium_unavailable()
    if reason:
        pytest.skip(reason)
    profile = tempfile.mkdtemp(prefix="clickbench-chromium-")
    try:
        driver = start_chromium(profile)
    except Exception as err:  # no display libraries, a broken install...
        shutil.rmtree(profile, ignore_errors=True)
        pytest.skip(f"Chromium could not be started: {type(err).__name__}: {err}".strip()[:500])
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def _open(driver, url: str, ready: str):
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get("about:blank")
    driver.get_log("browser")  # drop what came before
    driver.get(url)
    WebDriverWait(driver, 30).until(
        lambda d: d.execute_script("return document.body.getAttribute('data-ready')") == ready
    )


def _severe(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def _index_url(workdir: Path) -> str:
    return (workdir / "results/demo/browser/index.html").resolve().as_uri()


def _cells(driver) -> tuple[list[str], list[list[str]]]:
    heads = [
        th.text for th in driver.find_elements("css selector", "#samples thead tr:first-child th")
    ]
    body = driver.execute_script(
        "return Array.from(document.querySelectorAll('#samples tbody tr')).map("
        "tr => Array.from(tr.cells).map(td => td.textContent))"
    )
    return heads, body


@on_demo_run
def test_index_lists_every_sample_and_sorts_and_filters(demo_run, chromium):
    workdir = demo_run[0]
    _open(chromium, _index_url(workdir), "table")
    heads, body = _cells(chromium)
    evaluated = _evaluated(workdir)
    assert [(r[0], r[1]) for r in body] == list(evaluated.itertuples(index=False, name=None))
    assert chromium.find_element("id", "count").text == f"{len(body)} of {len(body)} samples"
    # sort by grabcut's IoU after the last click, ascending then descending
    index = browser.read_index(workdir / "results/demo/browser/index.js")
    col = next(i for i, h in enumerate(heads) if h.startswith("noc: grabcut IoU@"))
    expected = sorted(
        (s["curves"]["noc/grabcut/max_score"][-1], s["class"], s["image"]) for s in index["samples"]
    )
    th = chromium.find_elements("css selector", "#samples thead tr:first-child th")[col]
    th.click()
    _, up = _cells(chromium)
    assert [float(r[col]) for r in up] == pytest.approx([round(e[0], 3) for e in expected])
    assert [(r[0], r[1]) for r in up] == [(e[1], e[2]) for e in expected]
    chromium.find_elements("css selector", "#samples thead tr:first-child th")[col].click()
    _, down = _cells(chromium)
    assert [float(r[col]) for r in down] == sorted((float(r[col]) for r in up), reverse=True)
    # filter that column: only the rows at or below the median stay
    values = sorted(e[0] for e in expected)
    cut = round(values[len(values) // 2 - 1], 3)
    box = chromium.find_elements("css selector", "#samples thead tr.filters input")[col]
    box.send_keys(f"<={cut}")
    _, kept = _cells(chromium)
    assert kept and all(float(r[col]) <= cut for r in kept)
    assert len(kept) == sum(round(v, 3) <= cut for v in values) < len(values)
    assert _severe(chromium) == []


def _canvas_pixels(element) -> np.ndarray:
    """The element's pixels as the browser shows them (a real screenshot of it)."""
    return np.asarray(Image.open(io.BytesIO(element.screenshot_as_png)).convert("RGB"))


def _away_from_clicks(payload, clicks, radius) -> np.ndarray:
    """(h, w) bool: pixels the click markers cannot touch."""
    h, w = payload["shown"]
    sy, sx = h / payload["size"][0], w / payload["size"][1]
    rr, cc = np.mgrid[:h, :w]
    keep = np.ones((h, w), bool)
    for row, col, _ in clicks:
        y, x = (row + 0.5) * sy, (col + 0.5) * sx
        keep &= (rr + 0.5 - y) ** 2 + (cc + 0.5 - x) ** 2 > (radius + 4) ** 2
    return keep


def _expected_kept(payload, run, k):
    s = min(k, len(run["clicks"])) - 1
    masks = browser.decode_masks(payload)
    kept = masks[run["candidates"][s][run["chosen"][s]]]
    ref = browser.composite(
        browser.decode_photo(payload),
        [(kept, browser.MASK_COLOR, browser.MASK_ALPHA)],
        outline=masks[payload["gt"]],
    )
    return ref, run["clicks"][: s + 1]


def _assert_matches(shot: np.ndarray, ref: np.ndarray, keep: np.ndarray):
    assert shot.shape == ref.shape, (shot.shape, ref.shape)
    diff = np.abs(shot.astype(int) - ref.astype(int)).max(axis=2)[keep]
    # the photo is a JPEG that Chromium and Pillow decode each their own way (on the demo they
    # agree but for +-1 in a few pixels); a wrong mask or click step is off by tens of levels
    # over thousands of pixels
    assert diff.mean() < 1.0, diff.mean()
    assert (diff > 16).mean() < 0.002, (diff > 16).mean()


@on_demo_run
def test_stepping_to_click_k_shows_click_ks_mask_as_python_draws_it(demo_run, chromium):
    workdir = demo_run[0]
    out = workdir / "results/demo/browser"
    index = browser.read_index(out / "index.js")
    entry = index["samples"][-1]
    payload = browser.read_sample(out / entry["file"])
    runs = {r["key"]: r for r in payload["runs"]}
    a, b = "noc/sam_tiny/max_score", "noc/ritm_tiny/max_score"
    _open(chromium, _index_url(workdir), "table")
    row = chromium.find_element("css selector", f'#samples tbody tr[data-id="{entry["id"]}"]')
    row.click()
    _wait_click(chromium, 1)
    assert (
        chromium.execute_script("return document.body.getAttribute('data-sample')") == entry["id"]
    )
    select = chromium.find_element("css selector", 'select[data-side="b"]')
    from selenium.webdriver.support.ui import Select

    Select(select).select_by_value(b)
    radius = max(3, round(max(payload["shown"]) / 64))
    body = chromium.find_element("tag name", "body")
    n = max(len(r["clicks"]) for r in payload["runs"])
    assert n >= 3
    shots = []
    for k in range(1, n + 1):
        if k > 1:
            if k % 2:
                chromium.find_element("id", "next-click").click()
            else:
                body.send_keys("\ue014")  # the right arrow key
            _wait_click(chromium, k)
        assert chromium.find_element("id", "click-label").text == f"click {k} of {n}"
        for side, key in (("a", a), ("b", b)):
            canvas = chromium.find_element("css selector", f'canvas.kept[data-side="{side}"]')
            ref, clicks = _expected_kept(payload, runs[key], k)
            keep = _away_from_clicks(payload, clicks, radius)
            shot = _canvas_pixels(canvas)
            _assert_matches(shot, ref, keep)
            if side == "a":
                shots.append(shot)
        # the newest click is drawn where it was made (green positive, red negative)
        row_, col_, positive = runs[a]["clicks"][k - 1]
        h, w = payload["shown"]
        y, x = (
            int((row_ + 0.5) * h / payload["size"][0]),
            int((col_ + 0.5) * w / payload["size"][1]),
        )
        dot = shots[-1][y, x].astype(int)
        assert (dot[1] > 180 and dot[0] < 80) if positive else (dot[0] > 180 and dot[1] < 80)
    # SAM's candidates at the last click: one canvas each, captioned with both IoUs
    figs = chromium.find_elements("css selector", "#side-a .candidates figure")
    last = runs[a]
    assert len(figs) == len(last["candidates"][-1])
    for c, fig in enumerate(figs):
        text = fig.text
        assert f"predicted {last['scores'][-1][c]:.3f}" in text
        assert f"true IoU {last['ious'][-1][c]:.3f}" in text
    assert "kept" in figs[last["chosen"][-1]].get_attribute("class")
    # every method's kept mask at this click, each captioned with its IoU; one click on one
    # shows it as A
    strip = chromium.find_elements("css selector", "#all-runs figure")
    assert len(strip) == len(payload["runs"])
    for fig, run in zip(strip, payload["runs"], strict=True):
        s = min(n, len(run["clicks"])) - 1
        assert f"IoU {run['ious'][s][run['chosen'][s]]:.3f}" in fig.text
    other = next(i for i, r in enumerate(payload["runs"]) if r["key"] not in (a, b))
    strip[other].click()
    _wait_click(chromium, n)
    shown_a = chromium.find_element("css selector", 'select[data-side="a"]')
    assert shown_a.get_attribute("value") == payload["runs"][other]["key"]
    # and back one click with the left arrow
    body.send_keys("\ue012")
    _wait_click(chromium, n - 1)
    assert _severe(chromium) == []


def _wait_click(driver, k):
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 30).until(
        lambda d: (
            d.execute_script(
                "return document.body.getAttribute('data-ready') === 'sample' && "
                "document.body.getAttribute('data-click')"
            )
            == str(k)
        )
    )


@on_demo_run
def test_a_known_sample_looks_as_python_draws_it(demo_run, chromium):
    """Open a sample straight from its URL (as a link would) and compare the whole view's
    pictures, the photo with the clicks and the ground truth, with Python's rendering."""
    workdir = demo_run[0]
    out = workdir / "results/demo/browser"
    index = browser.read_index(out / "index.js")
    entry = index["samples"][0]
    payload = browser.read_sample(out / entry["file"])
    key = "noc/sam_tiny/oracle"
    url = _index_url(workdir) + f"#sample={entry['id']}&k=2&a={key}&b=noc/grabcut/max_score"
    _open(chromium, url, "sample")
    masks = browser.decode_masks(payload)
    photo = browser.decode_photo(payload)
    gt_ref = browser.composite(photo, [(masks[payload["gt"]], browser.GT_COLOR, 0.55)])
    everywhere = np.ones(gt_ref.shape[:2], bool)
    _assert_matches(_canvas_pixels(chromium.find_element("id", "gt-canvas")), gt_ref, everywhere)
    run = {r["key"]: r for r in payload["runs"]}[key]
    radius = max(3, round(max(payload["shown"]) / 64))
    keep = _away_from_clicks(payload, run["clicks"][:2], radius)
    photo_ref = browser.composite(photo, grey=False)
    _assert_matches(_canvas_pixels(chromium.find_element("id", "photo-canvas")), photo_ref, keep)
    ref, _ = _expected_kept(payload, run, 2)
    _assert_matches(
        _canvas_pixels(chromium.find_element("css selector", 'canvas.kept[data-side="a"]')),
        ref,
        keep,
    )
    assert _severe(chromium) == []

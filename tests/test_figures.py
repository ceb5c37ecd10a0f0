"""Figures: written, non-empty, deterministic, and robust to runs without SAM or RITM.

The data is generated here in the on-disk formats of docs/internals.md: fish-layout images and
masks, per-image TSVs and ``.npz`` traces for RITM (noc), SAM (first_click, 3 candidates) and
GrabCut (noc).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import run_script
from PIL import Image

from clickbench import (
    dedup,
    figures,
    metrics,
    panels,
    plots,
    protocol_tables,
    row_io,
    study,
    tables,
)
from clickbench.datasets import slug
from clickbench.outputs import FIGURES
from clickbench.traces import Trace, load_traces, save_traces, trace_rows, write_rows_tsv

SPECIES = ["Hourse Mackerel", "Gilt-Head Bream", "Red Sea Bream"]
H, W = 90, 120
MODELS = {"ritm": {"type": "ritm"}, "sam": {"type": "sam"}, "grabcut": {"type": "grabcut"}}
PROTOCOLS = {
    "noc": {"models": ["ritm", "grabcut"], "max_clicks": 4},
    "first_click": {"models": ["sam"]},
}
REPO = Path(__file__).resolve().parents[1]
METRICS = {"miou_at": [1, 2, 4], "bootstrap": {"samples": 200, "seed": 0}}


def ellipse(cy, cx, ry, rx):
    yy, xx = np.mgrid[:H, :W]
    return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1


def save(root, protocol, model, cls, image, trace, strategies):
    """The ``.npz`` and ``.tsv`` of one image, written as scripts/run_model.py does."""
    base = root / "runs" / protocol / model / slug(cls) / image
    save_traces(f"{base}.npz", {"max_score": trace})
    rows = trace_rows(
        {"max_score": trace},
        protocol=protocol,
        model=model,
        cls=cls,
        image=image,
        strategies=strategies,
    )
    write_rows_tsv(f"{base}.tsv", rows)
    return Path(f"{base}.npz"), Path(f"{base}.tsv")


def make_run(root, models=("ritm", "sam", "grabcut")):
    """Images, masks, TSVs and traces for 3 species x 2 images; returns what the figures need."""
    rng = np.random.default_rng(0)
    samples, tsvs, npzs = [], [], {}  # npzs: (protocol, model, class slug, image) -> .npz
    for s_i, cls in enumerate(SPECIES):
        for i_i, image in enumerate(["00001", "00021"]):
            gt = ellipse(45 + i_i * 5, 60 + s_i * 4, 18 + s_i * 3, 34 - i_i * 4)
            img = np.full((H, W, 3), (40, 90, 140), dtype=np.uint8)
            img[gt] = (200, 170 - 30 * s_i, 90)
            img = np.clip(img + rng.integers(-20, 20, size=img.shape), 0, 255).astype(np.uint8)
            base = root / "data" / cls / cls
            (root / "data" / cls / f"{cls} GT").mkdir(parents=True, exist_ok=True)
            base.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(base / f"{image}.png")
            Image.fromarray(gt.astype(np.uint8) * 255).save(
                root / "data" / cls / f"{cls} GT" / f"{image}.png"
            )
            samples.append(
                {
                    "cls": cls,
                    "image": image,
                    "slug": slug(cls),
                    "image_path": str(base / f"{image}.png"),
                    "mask_path": str(root / "data" / cls / f"{cls} GT" / f"{image}.png"),
                    "layout": "fish",
                }
            )
            cy, cx = np.argwhere(gt).mean(axis=0).astype(int)
            if "ritm" in models or "grabcut" in models:
                for model in [m for m in ("ritm", "grabcut") if m in models]:
                    grow = [8, 4, 1, 0] if model == "ritm" else [14, 10, 7, 5]
                    steps = 2 + (s_i + i_i) % 3 if model == "ritm" else 4
                    ms = np.stack(
                        [ellipse(cy, cx, 18 + s_i * 3 - g, 34 - i_i * 4 - g) for g in grow[:steps]]
                    )[:, None]
                    clicks = np.array(
                        [[cy, cx, 1]] + [[cy + 3 * k, cx - 5 * k, k % 2] for k in range(1, steps)],
                        dtype=np.int32,
                    )
                    ious = np.stack([metrics.iou_batch(gt, None, m) for m in ms]).astype(np.float32)
                    trace = Trace(
                        clicks=clicks,
                        masks=ms,
                        scores=np.ones((steps, 1), np.float32),
                        ious=ious,
                        chosen=np.zeros(steps, np.int16),
                        multi=np.array([0], np.int16),
                        bious=ious / 2,
                    )
                    npz, tsv = save(root, "noc", model, cls, image, trace, ["max_score"])
                    npzs["noc", model, slug(cls), image] = npz
                    tsvs.append(tsv)
            if "sam" in models:
                part = ellipse(cy, cx + 10, 8, 12)
                whole = np.zeros((H, W), bool)
                whole[3:-3, 3:-3] = True
                ms = np.stack([part, ellipse(cy, cx, 16 + s_i * 3, 32 - i_i * 4), whole])[None]
                ious = metrics.iou_batch(gt, None, ms[0])[None].astype(np.float32)
                scores = np.array([[0.80, 0.90 - 0.1 * i_i, 0.85 + 0.02 * s_i]], np.float32)
                trace = Trace(
                    clicks=np.array([[cy, cx, 1]], np.int32),
                    masks=ms,
                    scores=scores,
                    ious=ious,
                    chosen=np.array([int(np.argmax(scores[0]))], np.int16),
                    multi=np.array([0, 1, 2], np.int16),
                    bious=ious / 2,
                )
                strategies = ["max_score", "oracle"]
                npz, tsv = save(root, "first_click", "sam", cls, image, trace, strategies)
                npzs["first_click", "sam", slug(cls), image] = npz
                tsvs.append(tsv)
    settings = study.Settings.from_config(METRICS, PROTOCOLS, {m: MODELS[m] for m in models})
    per_image = row_io.read_rows(tsvs, "fish")
    plan = protocol_tables.Plan.from_config(PROTOCOLS)
    built = {
        **tables.build_tables(per_image, settings),
        **protocol_tables.build_tables(per_image, settings, plan),
    }
    return per_image, built, settings, samples, npzs


def outputs(root):
    out = {}
    for name, kind in FIGURES.items():
        out[name] = [root / f"{name}.png"] + ([root / f"{name}.svg"] if kind == "plot" else [])
    return out


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    root = tmp_path_factory.mktemp("figures")
    per_image, built, settings, samples, npzs = make_run(root)
    out = outputs(root / "figures")
    figures.write_all(per_image, built, settings, samples, npzs, out)
    return root, per_image, built, settings, samples, npzs, out


def test_every_figure_is_written_and_non_empty(written):
    *_, out = written
    for name, paths in out.items():
        # this run has no trial protocol: noc_trials is the small placeholder saying so
        least = 1000 if name == "noc_trials" else 2000
        for path in paths:
            assert path.exists() and path.stat().st_size > least, path
        with Image.open(paths[0]) as im:
            assert im.size[0] > 300 and im.size[1] > 150, name


def test_figures_are_deterministic(written, tmp_path):
    root, per_image, built, settings, samples, npzs, out = written
    again = outputs(tmp_path)
    figures.write_all(per_image, built, settings, samples, npzs, again)
    for name in out:
        for a, b in zip(out[name], again[name], strict=True):
            assert a.read_bytes() == b.read_bytes(), a.name


def test_image_grids_laid_out_once_match_matplotlibs_own_two_pass_save(
    written, tmp_path, monkeypatch
):
    """plots.save lays a PNG-only figure out once and switches the layout engine off, so savefig
    skips its dry-run draw; the pixels must equal what savefig's own layout gives."""
    _, per_image, built, settings, samples, npzs, out = written
    rows = study.with_methods(per_image)
    calls = []
    original = plots._freeze_layout
    monkeypatch.setattr(
        plots, "_freeze_layout", lambda fig, paths: calls.append(fig) or None
    )  # matplotlib's own path: the engine stays on
    panels.ambiguity(panels.build_ambiguity_rows(rows, samples, npzs), [tmp_path / "own.png"])
    assert calls and calls[0].get_layout_engine() is not None
    frozen = []

    def freeze(fig, paths):
        original(fig, paths)
        frozen.append(fig.get_layout_engine())

    monkeypatch.setattr(plots, "_freeze_layout", freeze)
    panels.ambiguity(panels.build_ambiguity_rows(rows, samples, npzs), [tmp_path / "once.png"])
    own = np.asarray(Image.open(tmp_path / "own.png"))
    once = np.asarray(Image.open(tmp_path / "once.png"))
    assert frozen == [None]  # laid out once, no engine left for savefig's dry run
    assert own.shape == once.shape and np.array_equal(own, once)


def test_trace_loop_finds_the_shared_loop(written):
    *_, npzs, _ = written
    traces = load_traces(next(p for key, p in npzs.items() if key[0] == "first_click"))
    for strategy in ("max_score", "oracle", "single"):
        assert panels.trace_loop(traces, strategy) is traces["max_score"]
    assert traces["max_score"].masks.shape == (1, 3, H, W)


def test_grid_shows_sam_then_ritm_on_the_image_they_differ_most(written):
    _, per_image, built, settings, samples, npzs, _ = written
    rows = panels.build_grid_rows(study.with_methods(per_image), settings, samples, npzs)
    assert [r.label.split("\n")[0] for r in rows] == sorted(SPECIES)  # one image per species
    titles = [p.title for p in rows[0].panels]
    assert titles == ["sam:max_score (first click)", "ritm (noc)", "grabcut (noc)"]
    assert all(p.mask.shape == (H, W) for r in rows for p in r.panels)


def test_ambiguity_picks_the_largest_gaps(written):
    _, per_image, *_ = written
    chosen = panels.ambiguity_choices(per_image, n=2)
    ms = per_image[
        (per_image["protocol"] == "first_click") & (per_image["strategy"] == "max_score")
    ]
    gaps = sorted(ms["best_iou"] - ms["iou"], reverse=True)
    for _model, cls, image in chosen:
        r = ms[(ms["class"] == cls) & (ms["image"] == image)].iloc[0]
        assert r["best_iou"] - r["iou"] >= gaps[1] - 1e-9


def test_without_sam_every_figure_is_still_written(tmp_path):
    per_image, built, settings, samples, npzs = make_run(tmp_path, models=("grabcut",))
    assert len(built["ambiguity"]) == 0 and len(built["paired"]) == 0
    out = outputs(tmp_path / "figures")
    figures.write_all(per_image, built, settings, samples, npzs, out)
    for paths in out.values():
        assert all(p.stat().st_size > 1000 for p in paths)


def test_with_no_rows_every_figure_is_a_placeholder(tmp_path):
    settings = study.Settings.from_config(METRICS, PROTOCOLS, MODELS)
    rows = row_io.empty_rows()
    out = outputs(tmp_path)
    plan = protocol_tables.Plan.from_config(PROTOCOLS)
    built = {
        **tables.build_tables(rows, settings),
        **protocol_tables.build_tables(rows, settings, plan),
    }
    figures.write_all(rows, built, settings, [], {}, out)
    for paths in out.values():
        assert all(p.stat().st_size > 1000 for p in paths)


def test_figures_script_writes_the_declared_plots_as_png_and_svg(written, tmp_path):
    _, per_image, built, *_ = written
    row_io.write_tsv(per_image, tmp_path / "per_image.tsv")
    inputs = {"per_image": str(tmp_path / "per_image.tsv")}
    for name in ("per_class", "noc", "prompts", "trials", "trials_per_image"):
        row_io.write_tsv(built[name], tmp_path / f"{name}.tsv")
        inputs[name] = str(tmp_path / f"{name}.tsv")
    drawn = [name for name, kind in FIGURES.items() if kind == "plot"]
    outputs = {name: str(tmp_path / "fig" / f"{name}.png") for name in drawn}
    outputs["noc_bars_svg"] = str(tmp_path / "fig" / "noc_bars.svg")
    params = {"metrics": METRICS, "protocols": PROTOCOLS, "models": MODELS}
    run_script("figures.py", tmp_path, inputs, outputs, params)
    for path in outputs.values():
        assert Path(path).stat().st_size > 2000, path
    assert Path(outputs["noc_bars_svg"]).read_text().lstrip().startswith("<?xml")


def _dedup_tables(root, not_selected=()):
    """One dedup table per species in which every image is its own group, selected unless
    listed in ``not_selected`` ((class, image) pairs)."""
    paths = []
    for cls in SPECIES:
        rows = []
        for g, image in enumerate(["00001", "00021"], 1):
            r = dict.fromkeys(dedup.COLUMNS, "")
            r.update(
                {"class": cls, "image": image, "image_path": f"{image}.png", "group": g}
                | {"representative": image, "rotation_fill": 0, "variant": 0, "status": "ok"}
                | {"selected": int((cls, image) not in not_selected), "index_pick": 0}
            )
            rows.append(r)
        path = root / "dedup" / f"{slug(cls)}.tsv"
        dedup.write_table(pd.DataFrame(rows, columns=list(dedup.COLUMNS)), path)
        paths.append(str(path))
    return paths


def test_example_figures_script_draws_the_panels_from_the_per_image_tsvs(written, tmp_path):
    root, per_image, built, settings, samples, npzs, _ = written
    tsvs = [str(p.with_suffix(".tsv")) for p in npzs.values()]
    inputs = {
        "rows": tsvs,
        "dedup": _dedup_tables(tmp_path),
        "traces": list(map(str, npzs.values())),
    }
    examples = [name for name, kind in FIGURES.items() if kind == "image"]
    outputs = {name: str(tmp_path / "fig" / f"{name}.png") for name in examples}
    params = {"trace_keys": list(npzs), "dataset": "fish", "samples": samples}
    params |= {"metrics": METRICS, "protocols": PROTOCOLS, "models": MODELS}
    run_script("example_figures.py", tmp_path, inputs, outputs, params)
    for name, path in outputs.items():
        # the same pixels as from the rows aggregate builds (the module fixture's figures)
        assert Path(path).read_bytes() == (root / "figures" / f"{name}.png").read_bytes(), name


def test_example_figures_leave_out_the_images_dedup_did_not_select(written, tmp_path):
    _, per_image, built, settings, samples, npzs, _ = written
    tsvs = [str(p.with_suffix(".tsv")) for p in npzs.values()]
    dropped = (SPECIES[0], "00001")
    rows, _ = row_io.read_marked_rows(tsvs, "fish", _dedup_tables(tmp_path, [dropped]))
    shown = panels.build_grid_rows(
        study.with_methods(row_io.selected_rows(rows)), settings, samples, npzs
    )
    assert len(shown) == len(SPECIES)
    assert all(r.label.split("\n")[:2] != list(dropped) for r in shown)
    assert any(r.label.split("\n")[:2] == [SPECIES[0], "00021"] for r in shown)


def test_a_figure_of_the_other_kind_is_refused():
    assert figures.declared_outputs([("noc_bars", "n.png"), ("noc_bars_svg", "n.svg")], "plot") == {
        "noc_bars": ["n.png", "n.svg"]
    }
    with pytest.raises(ValueError, match="unknown plot figure output 'grid'"):
        figures.declared_outputs([("grid", "g.png")], "plot")
    with pytest.raises(ValueError, match="unknown image figure output 'noc_bars'"):
        figures.declared_outputs([("noc_bars", "n.png")], "image")


# ---------------------------------------------------------------- the protocols beyond the study
def _captured(monkeypatch):
    figs = []
    monkeypatch.setattr(plots, "save", lambda fig, paths: figs.append(fig))
    return figs


def test_prompt_curves_and_noc_trials_show_the_tables(monkeypatch):
    from test_tables import BEYOND_PROTOCOLS, beyond_rows

    settings = study.Settings.from_config(
        {"iou_thresholds": [0.85, 0.9], "miou_at": [1, 2, 3]}, BEYOND_PROTOCOLS, MODELS
    )
    plan = protocol_tables.Plan.from_config(BEYOND_PROTOCOLS)
    built = protocol_tables.build_tables(beyond_rows(), settings, plan)
    figs = _captured(monkeypatch)
    plots.prompt_curves(built["prompts"], ["p.png"])
    (fig,) = figs
    axes = [ax for ax in fig.axes if ax.get_visible() and ax.axison]
    assert [ax.get_title() for ax in axes] == ["ritm\n(box: not applicable)", "sam"]
    sam = axes[1]
    lines = {line.get_label(): line for line in sam.get_lines()}
    assert set(lines) == {"box + k clicks", "k clicks", "first click"}
    np.testing.assert_allclose(lines["box + k clicks"].get_ydata(), [0.7, 0.925])
    np.testing.assert_allclose(lines["k clicks"].get_xdata(), [1, 2, 3])
    # RITM takes no box: its panel has only its own clicks
    assert [line.get_label() for line in axes[0].get_lines()] == ["k clicks"]
    figs.clear()
    plots.noc_trials(built["trials_per_image"], built["trials"], ["t.png"])
    (fig,) = figs
    (ax,) = fig.axes
    assert ax.get_title() == "random_clicks: NoC@90 per image, mean over trials"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["sam"]
    # the diamond: the simulator's NoC@90 on the same images, (3 + 1) / 2
    diamond = [line for line in ax.get_lines() if line.get_marker() == "D"]
    assert diamond and diamond[0].get_ydata()[0] == pytest.approx(2.0)


def test_grid_figure_shows_each_rows_image_truth_and_kept_masks(written, monkeypatch):
    """The example grid's content, not its file: one row per image, the image and its ground
    truth, then one panel per method titled with it and its IoU, each panel's pixels the
    image dimmed with that method's kept mask tinted blue."""
    _, per_image, built, settings, samples, npzs, _ = written
    rows = panels.build_grid_rows(study.with_methods(per_image), settings, samples, npzs)
    figs = []
    monkeypatch.setattr(panels, "save", lambda fig, paths: figs.append(fig))
    panels.grid(rows, ["g.png"])
    (fig,) = figs
    ncol = 2 + max(len(r.panels) for r in rows)
    assert len(fig.axes) == len(rows) * ncol
    first = fig.axes[:ncol]
    assert [ax.get_title() for ax in first[:2]] == ["image + first click", "ground truth"]
    for ax, panel in zip(first[2:], rows[0].panels, strict=True):
        assert ax.get_title().startswith(f"{panel.title}\n{panel.iou_label} {panel.iou:.3f}")
    for r, row in enumerate(rows):
        for c, panel in enumerate(row.panels):
            shown = fig.axes[r * ncol + 2 + c].images[0].get_array()
            np.testing.assert_array_equal(shown, panels.overlay(row.image, panel.mask))
            tinted = (shown[..., 2] > shown[..., 0] + 20).mean()  # blue over grey
            assert tinted == pytest.approx(panel.mask.mean(), abs=0.02)

"""Figures of the study and of what it could not answer (matplotlib, Agg backend).

Plots (PNG, and SVG when asked):

- :func:`mean_iou_by_species`: the study's dot plot, one dot per method per class;
- :func:`miou_curves`: mIoU after every click, one line per method, a panel per protocol;
- :func:`noc_bars`: NoC@85/90 per method with the NoF count written on each bar;
- :func:`biou_curves`: as :func:`miou_curves`, boundary IoU;
- :func:`prompt_curves`: box + k clicks vs k clicks vs the first click, per method;
- :func:`noc_trials`: per-image NoC over trials (random and perturbed clicks), a box per method.

Image grids (PNG):

- :func:`grid`: image with the first click / ground truth / each method's kept mask;
- :func:`ambiguity`: SAM's multimask candidates with predicted and true IoU.

Every function writes a figure even when there is nothing to show (a panel saying so), so a
workflow that declares the file never fails on a run without SAM or RITM. Selection of the
images (:func:`grid_choices`, :func:`ambiguity_choices`) is separate from drawing, and
:func:`write_all` ties tables, traces and images together for ``scripts/figures.py``.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from clickbench import study, tables  # noqa: E402
from clickbench.outputs import FIGURES  # noqa: E402
from clickbench.protocols import Trace, load_traces  # noqa: E402

#: colour-blind safe (Okabe-Ito), then tab10 for more methods
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]
MARKERS = ["o", "s", "D", "^", "v", "P", "X", "*"]
#: the ground truth's outline drawn over every mask panel
GT_OUTLINE = "#F0E442"
PROTOCOL_TITLES = {
    "noc": "noc: each model clicked by the simulator on its own masks",
    "replay": "replay: SAM given RITM's clicks 1..k",
    "first_click": "first_click: one click",
}
#: matplotlib settings for every figure (deterministic SVG, readable sizes)
RC = {
    "svg.hashsalt": "clickbench",
    "svg.fonttype": "none",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "figure.dpi": 100,
    "savefig.dpi": 150,
}
#: metadata that would change between runs (creation date) left out
_METADATA = {"png": {"Software": None}, "svg": {"Date": None, "Creator": None}}


def _freeze_layout(fig, paths: Sequence[Path]) -> None:
    """Lay ``fig`` out once, at the saving resolution, then switch its layout engine off.

    With a layout engine ``savefig`` draws the figure twice (a dry run that lays it out, then
    the real one), and every image panel is resampled in both: the ambiguity figure spent a
    quarter of its time in the dry run. The PNG comes out pixel for pixel the same. Not for a
    figure also saved as SVG, which matplotlib lays out at 72 dpi instead."""
    engine = fig.get_layout_engine()
    if engine is None or any(p.suffix.lower() != ".png" for p in paths):
        return
    fig.set_dpi(RC["savefig.dpi"])
    engine.execute(fig)
    fig.set_layout_engine(None)  # None, not "none": "none" keeps a placeholder engine


def _save(fig, paths: Sequence[str | Path]) -> None:
    paths = [Path(p) for p in paths]
    _freeze_layout(fig, paths)
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        fmt = path.suffix.lstrip(".").lower()
        # zlib level 1: faster to write than the default 6; the files come out ~20% larger
        extra = {"pil_kwargs": {"compress_level": 1}} if fmt == "png" else {}
        fig.savefig(path, format=fmt, metadata=_METADATA.get(fmt), **extra)
    plt.close(fig)


def _paths(paths) -> list[Path]:
    return [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]


def empty_figure(paths, title: str, message: str) -> None:
    """A small figure that says why there is nothing to show."""
    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(6, 1.8))
        ax.set_axis_off()
        ax.set_title(title)
        ax.text(
            0.5, 0.5, textwrap.fill(message, 70), ha="center", va="center", transform=ax.transAxes
        )
        _save(fig, _paths(paths))


def _style(i: int) -> dict:
    return {"color": PALETTE[i % len(PALETTE)], "marker": MARKERS[i % len(MARKERS)]}


def method_label(protocol: str, method: str) -> str:
    return f"{method} ({protocol.replace('_', ' ')})"


# ---------------------------------------------------------------- plots
def mean_iou_by_species(per_class: pd.DataFrame, paths) -> None:
    """The study's dot plot: mean kept IoU per class, one dot per method.

    Uses the study-view rows of ``per_class`` (``study == 1``); when there are none, every
    ``noc`` method. Classes run down the y axis (long names stay horizontal), methods are
    told apart by colour and marker.
    """
    sub = per_class[per_class["study"] == 1] if len(per_class) else per_class
    if not len(sub) and len(per_class):
        sub = per_class[per_class["protocol"] == "noc"]
    if not len(sub):
        empty_figure(paths, "Mean IoU by species", "No per-class results in this run.")
        return
    classes = sorted(set(sub["class"]), reverse=True)  # first class at the top
    methods = sorted(set(zip(sub["protocol"], sub["method"], strict=True)))
    y = {c: i for i, c in enumerate(classes)}
    offsets = np.linspace(-0.12, 0.12, len(methods)) if len(methods) > 1 else [0.0]
    height = 1.2 + 0.38 * len(classes) + 0.22 * len(methods)
    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(7, height), layout="constrained")
        for i, (protocol, method) in enumerate(methods):
            m = sub[(sub["protocol"] == protocol) & (sub["method"] == method)]
            ax.scatter(
                m["mean_iou"],
                [y[c] + offsets[i] for c in m["class"]],
                s=42,
                label=method_label(protocol, method),
                zorder=3,
                edgecolors="white",
                linewidths=0.5,
                **_style(i),
            )
        ax.set_yticks(range(len(classes)), classes)
        ax.set_ylim(-0.6, len(classes) - 0.4)
        lo = float(np.nanmin(sub["mean_iou"]))
        ax.set_xlim(max(0.0, min(lo - 0.05, 0.8)), 1.0)
        ax.set_xlabel("mean IoU of the kept mask (higher is better)")
        ax.set_ylabel("species")
        ax.set_title("Mean IoU by species")
        ax.grid(axis="x", alpha=0.3)
        ax.grid(axis="y", alpha=0.15)
        fig.legend(loc="outside lower center", ncols=min(2, len(methods)), frameon=False)
        _save(fig, _paths(paths))


def miou_curves(curve_table: pd.DataFrame, paths, value: str = "miou") -> None:
    """mIoU after every click, a panel per protocol (noc, replay), a line per method
    (``value="mbiou"``: mean boundary IoU)."""
    what = {"miou": "mIoU", "mbiou": "mean boundary IoU"}[value]
    protocols = [p for p in study.MULTI_CLICK if p in set(curve_table.get("protocol", []))]
    if not protocols:
        empty_figure(
            paths, f"{what} vs clicks", "No multi-click (noc or replay) results in this run."
        )
        return
    methods = sorted(set(curve_table["method"]))
    style = {m: _style(i) for i, m in enumerate(methods)}
    with plt.rc_context(RC):
        fig, axes = plt.subplots(
            1,
            len(protocols),
            figsize=(5.2 * len(protocols), 4.2),
            layout="constrained",
            squeeze=False,
        )
        for ax, protocol in zip(axes[0], protocols, strict=True):
            sub = curve_table[curve_table["protocol"] == protocol]
            for method in sorted(set(sub["method"])):
                m = sub[sub["method"] == method].sort_values("click")
                ax.plot(
                    m["click"],
                    m[value],
                    label=method,
                    markersize=4,
                    linewidth=1.5,
                    **style[method],
                )
            horizon = int(sub["click"].max())
            ax.set_xticks(range(1, horizon + 1, max(1, horizon // 10)))
            ax.set_xlim(0.5, horizon + 0.5)
            ax.set_ylim(0, 1.02)
            ax.set_xlabel("number of clicks")
            ax.set_ylabel("mean IoU" if value == "miou" else "mean boundary IoU")
            ax.set_title(textwrap.fill(PROTOCOL_TITLES.get(protocol, protocol), 48))
            ax.grid(alpha=0.3)
        handles, labels = [], []
        for ax in axes[0]:
            for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
                if lab not in labels:
                    handles.append(h)
                    labels.append(lab)
        fig.legend(handles, labels, loc="outside right center", frameon=False, title="method")
        fig.suptitle(f"{what} vs clicks (early-stopped loops carry their last value)")
        _save(fig, _paths(paths))


def biou_curves(curve_table: pd.DataFrame, paths) -> None:
    """Mean boundary IoU after every click: :func:`miou_curves` of the ``mbiou`` column."""
    miou_curves(curve_table, paths, value="mbiou")


def prompt_curves(prompts: pd.DataFrame, paths) -> None:
    """The ``prompts`` table drawn: a panel per method with a box (mIoU of the box alone and
    of box + k clicks, solid), k simulated clicks (dashed) and the first click (a star).
    Methods with the box "not applicable" are named in the title of their empty panel."""
    sub = prompts[prompts["class"] == study.ALL] if len(prompts) else prompts
    if not len(sub):
        empty_figure(paths, "Box vs clicks", "No box, first-click or noc results in this run.")
        return
    methods = sorted(set(sub["method"]))
    n = len(methods)
    ncols = min(3, n)
    nrows = int(np.ceil(n / ncols))
    with plt.rc_context(RC):
        fig, axes = plt.subplots(
            nrows,
            ncols,
            figsize=(3.6 * ncols, 2.9 * nrows + 0.6),
            layout="constrained",
            squeeze=False,
        )
        for ax, method in zip(axes.flat, methods, strict=False):
            m = sub[sub["method"] == method]
            box = m[(m["prompt"] == "box") & (m["n"] > 0)]
            clicks = m[m["prompt"] == "clicks"]
            first = m[m["prompt"] == "first_click"]
            if len(box):
                ax.plot(box["clicks"], box["miou"], "o-", color=PALETTE[0], label="box + k clicks")
            if len(clicks):
                ax.plot(clicks["clicks"], clicks["miou"], "s--", color=PALETTE[1], label="k clicks")
            if len(first):
                ax.plot(
                    first["clicks"],
                    first["miou"],
                    "*",
                    ms=11,
                    color=PALETTE[2],
                    label="first click",
                )
            title = method
            if ((m["prompt"] == "box") & (m["n"] == 0)).any():
                title += "\n(box: not applicable)"
            ax.set_title(title)
            ax.set_ylim(0, 1.02)
            ax.set_xlabel("clicks (after the box, for the box)")
            ax.set_ylabel("mean IoU")
            ax.grid(alpha=0.3)
        for ax in list(axes.flat)[n:]:
            ax.set_axis_off()
        handles, labels = [], []
        for ax in axes.flat:
            for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
                if lab not in labels:
                    handles.append(h)
                    labels.append(lab)
        if handles:
            fig.legend(handles, labels, loc="outside lower center", ncols=3, frameon=False)
        fig.suptitle("Box vs first click vs k clicks (mean IoU, all images)")
        _save(fig, _paths(paths))


def noc_trials(per_image: pd.DataFrame, trials: pd.DataFrame, paths) -> None:
    """Per-image NoC@t over trials as box plots, a panel per trial protocol, a box per
    method (t: the highest threshold of the table); the simulator's NoC@t on the same images
    as a diamond, and the spread of the dataset-level NoC@t across trials as a bar."""
    cols = [c for c in per_image.columns if c.startswith("noc@") and c.endswith("_mean")]
    if not len(per_image) or not cols:
        empty_figure(paths, "NoC over trials", "No random_clicks or perturbed results in this run.")
        return
    col = max(cols, key=lambda c: float(c[4:-5]))
    label = col[4:-5]
    protocols = sorted(set(per_image["protocol"]))
    overall = trials[trials["class"] == study.ALL] if len(trials) else trials
    with plt.rc_context(RC):
        fig, axes = plt.subplots(
            1,
            len(protocols),
            figsize=(5.0 * len(protocols), 4.2),
            layout="constrained",
            squeeze=False,
        )
        for ax, protocol in zip(axes[0], protocols, strict=True):
            sub = per_image[per_image["protocol"] == protocol]
            methods = sorted(set(sub["method"]))
            data = [sub.loc[sub["method"] == m, col].to_numpy(dtype=float) for m in methods]
            ax.boxplot(data, tick_labels=methods, widths=0.5)
            for i, m in enumerate(methods, start=1):
                o = overall[(overall["protocol"] == protocol) & (overall["method"] == m)]
                if not len(o):
                    continue
                o = o.iloc[0]
                sim = o.get(f"noc@{label}_simulator")
                if sim is not None and not pd.isna(sim):
                    ax.plot(i + 0.3, sim, "D", color=PALETTE[1], label="simulator (noc)")
                lo, hi = o[f"noc@{label}_min"], o[f"noc@{label}_max"]
                ax.plot(
                    [i + 0.3, i + 0.3],
                    [lo, hi],
                    color=PALETTE[0],
                    lw=3,
                    label="dataset NoC across trials (min-max)",
                )
            ax.set_title(f"{protocol}: NoC@{label} per image, mean over trials")
            ax.set_ylabel(f"NoC@{label} (fewer is better)")
            ax.tick_params(axis="x", labelrotation=20)
            ax.grid(axis="y", alpha=0.3)
        handles, labels = [], []
        for ax in axes[0]:
            for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
                if lab not in labels:
                    handles.append(h)
                    labels.append(lab)
        if handles:
            fig.legend(handles, labels, loc="outside lower center", ncols=2, frameon=False)
        _save(fig, _paths(paths))


def noc_bars(noc_table: pd.DataFrame, paths) -> None:
    """NoC@t per method (overall rows of the noc table), grouped bars per threshold; NoF
    written at the end of each bar; the click budget drawn as a dashed line."""
    sub = noc_table[noc_table["class"] == study.ALL] if len(noc_table) else noc_table
    noc_cols = [c for c in noc_table.columns if c.startswith("noc@")]
    if not len(sub) or not noc_cols:
        empty_figure(paths, "Number of clicks (NoC)", "No noc-protocol results in this run.")
        return
    sub = sub.sort_values("method")
    methods = list(sub["method"])
    n_thr = len(noc_cols)
    bar_h = 0.8 / n_thr
    budget = int(sub["max_clicks"].max())
    with plt.rc_context(RC):
        fig, ax = plt.subplots(
            figsize=(7.5, 1.3 + 0.28 * len(methods) * n_thr + 0.4), layout="constrained"
        )
        for j, col in enumerate(noc_cols):
            label = col.split("@", 1)[1]
            ys = np.arange(len(methods)) + (j - (n_thr - 1) / 2) * bar_h
            values = sub[col].to_numpy(dtype=float)
            ax.barh(
                ys,
                values,
                height=bar_h * 0.9,
                color=PALETTE[j % len(PALETTE)],
                label=f"NoC@{label}",
            )
            fails = sub[f"nof@{label}"].to_numpy()
            for yv, v, f, n in zip(ys, values, fails, sub["n"].to_numpy(), strict=True):
                ax.text(
                    min(v, budget) + 0.1, yv, f"{v:.2f}  (NoF {f}/{n})", va="center", fontsize=7.5
                )
        ax.axvline(
            budget, color="0.3", linestyle="--", linewidth=1, label=f"click budget ({budget})"
        )
        ax.set_yticks(range(len(methods)), methods)
        ax.invert_yaxis()
        ax.set_xlim(0, budget * 1.4)
        ax.set_xlabel("mean number of clicks to reach the IoU threshold (fewer is better)")
        ax.set_title("NoC per method (noc protocol); NoF = images never reaching the threshold")
        fig.legend(loc="outside lower center", ncols=n_thr + 1, frameon=False)
        ax.grid(axis="x", alpha=0.3)
        _save(fig, _paths(paths))


# ---------------------------------------------------------------- traces
def trace_loop(traces: Mapping[str, Trace], strategy: str) -> Trace:
    """The loop that produced ``strategy``'s masks: its own loop (noc) or the one shared loop
    (first_click, replay; saved under ``max_score``), from
    :func:`clickbench.protocols.load_traces`."""
    if strategy in traces:
        return traces[strategy]
    return traces[sorted(traces)[0]]


# ---------------------------------------------------------------- image panels
@dataclass
class Panel:
    """One method's kept mask on one image."""

    title: str
    mask: np.ndarray
    clicks: np.ndarray  # (K, 3) row, col, positive
    iou: float
    note: str = ""
    edge: str | None = None
    iou_label: str = "IoU"


@dataclass
class Row:
    """One image of a grid: the image, its ground truth and the panels to its right."""

    label: str
    image: np.ndarray
    gt: np.ndarray
    ignore: np.ndarray | None
    first_click: np.ndarray | None
    panels: list[Panel] = field(default_factory=list)


def overlay(
    image: np.ndarray, mask: np.ndarray, color=(0, 114, 178), alpha: float = 0.55
) -> np.ndarray:
    """The image in dimmed grey (so that no image colour is mistaken for the mask) with
    ``mask`` tinted ``color`` (RGB 0..255)."""
    grey = image.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    out = np.repeat(grey[..., None] * 0.75, 3, axis=2)
    c = np.asarray(color, dtype=np.float32)
    out[mask] = out[mask] * (1 - alpha) + c * alpha
    return np.clip(out, 0, 255).astype(np.uint8)


def _draw_clicks(ax, clicks: np.ndarray | None, size: float = 60) -> None:
    if clicks is None or not len(clicks):
        return
    clicks = np.asarray(clicks)
    for positive, color in ((1, "#00E000"), (0, "#FF2020")):
        sel = clicks[:, 2] == positive
        if sel.any():
            ax.scatter(
                clicks[sel, 1],
                clicks[sel, 0],
                s=size,
                c=color,
                marker="o",
                edgecolors="black",
                linewidths=1.0,
            )


def _display_size(shape: tuple[int, ...], width_px: int) -> tuple[int, int]:
    """(height, width) an image of ``shape`` is drawn at: at most ``width_px`` wide."""
    h, w = shape[:2]
    if w <= width_px:
        return h, w
    return max(1, round(h * width_px / w)), width_px


def _image_axes(ax, image: np.ndarray, width_px: int) -> None:
    """``image`` in ``ax``, area-averaged down to the panel's pixel width first (a panel of a
    saved figure has ``width_px`` pixels; drawing the full image would cost time for pixels
    nobody sees). Data coordinates stay the image's own pixels, so clicks and contours drawn
    in (col, row) land where they belong."""
    h, w = image.shape[:2]
    dh, dw = _display_size(image.shape, width_px)
    shown = (
        image if (dh, dw) == (h, w) else cv2.resize(image, (dw, dh), interpolation=cv2.INTER_AREA)
    )
    ax.imshow(shown, interpolation="nearest", extent=(-0.5, w - 0.5, h - 0.5, -0.5))
    ax.set_xticks([])
    ax.set_yticks([])


def _outline(ax, mask: np.ndarray, width_px: int) -> None:
    """The outline of ``mask`` (the ground truth), at the panel's resolution."""
    h, w = mask.shape
    dh, dw = _display_size(mask.shape, width_px)
    z = mask.astype(np.float32)
    if (dh, dw) != (h, w):
        z = cv2.resize(z, (dw, dh), interpolation=cv2.INTER_AREA)
    xs = (np.arange(dw) + 0.5) * (w / dw) - 0.5
    ys = (np.arange(dh) + 0.5) * (h / dh) - 0.5
    ax.contour(xs, ys, z, levels=[0.5], colors=GT_OUTLINE, linewidths=0.9)


def _grid_figure(rows: Sequence[Row], columns: Sequence[str], title: str, paths) -> None:
    nrow, ncol = len(rows), len(columns)
    h, w = rows[0].image.shape[:2]
    cell_w = 2.5
    cell_h = cell_w * h / w + 0.55
    width_px = int(np.ceil(cell_w * RC["savefig.dpi"]))
    with plt.rc_context(RC):
        fig, axes = plt.subplots(
            nrow,
            ncol,
            figsize=(cell_w * ncol + 0.9, cell_h * nrow + 0.7),
            squeeze=False,
            layout="constrained",
        )
        for r, row in enumerate(rows):
            ax = axes[r][0]
            _image_axes(ax, row.image, width_px)
            _draw_clicks(ax, row.first_click)
            ax.set_ylabel(textwrap.fill(row.label, 18), fontsize=8.5)
            ax.set_title("image + first click" if r == 0 else "", fontsize=8.5)
            ax = axes[r][1]
            gt_img = overlay(row.image, row.gt, color=(0, 158, 115))
            if row.ignore is not None:
                gt_img[row.ignore] = (128, 128, 128)
            _image_axes(ax, gt_img, width_px)
            ax.set_title("ground truth" if r == 0 else "", fontsize=8.5)
            for c in range(2, ncol):
                ax = axes[r][c]
                if c - 2 >= len(row.panels):
                    ax.set_axis_off()
                    continue
                p = row.panels[c - 2]
                _image_axes(ax, overlay(row.image, p.mask), width_px)
                _outline(ax, row.gt, width_px)
                _draw_clicks(ax, p.clicks, size=36)
                head = f"{p.title}\n" if r == 0 or p.title != columns[c] else ""
                note = f" · {p.note}" if p.note else ""
                ax.set_title(f"{head}{p.iou_label} {p.iou:.3f}{note}", fontsize=8)
                if p.edge:
                    for spine in ax.spines.values():
                        spine.set_edgecolor(p.edge)
                        spine.set_linewidth(3)
        fig.suptitle(title)
        _save(fig, _paths(paths))


def grid(
    rows: Sequence[Row],
    paths,
    title: str = "Image with first click / ground truth / each method's kept mask "
    "(blue; yellow outline = ground truth)",
) -> None:
    """Image with the first click, ground truth (ignore band grey), then each panel's mask
    (blue) with the ground truth's outline (yellow), its clicks (green positive, red
    negative) and IoU."""
    if not rows:
        empty_figure(
            paths, "Examples", "No image with results for the compared methods in this run."
        )
        return
    ncol = 2 + max(len(r.panels) for r in rows)
    columns = ["image", "ground truth"] + [p.title for p in rows[0].panels]
    columns += [""] * (ncol - len(columns))
    _grid_figure(rows, columns, title, paths)


def ambiguity(rows: Sequence[Row], paths) -> None:
    """SAM's candidates for the first click: each titled with SAM's predicted IoU and the
    true IoU; the kept one (max_score) framed orange, the best one green."""
    if not rows:
        empty_figure(
            paths,
            "SAM's ambiguity",
            "No SAM first-click results in this run (SAM absent or first_click not configured).",
        )
        return
    ncol = 2 + max(len(r.panels) for r in rows)
    columns = ["image", "ground truth"] + [f"candidate {i}" for i in range(ncol - 2)]
    _grid_figure(
        rows,
        columns,
        "SAM's three masks for one click: predicted IoU (SAM's score) vs true IoU\n"
        "orange frame = kept by max_score, green frame = best against ground truth, "
        "yellow outline = ground truth",
        paths,
    )


# ---------------------------------------------------------------- choosing images
def grid_methods(
    rows: pd.DataFrame, settings: study.Settings, limit: int = 3
) -> list[tuple[str, str]]:
    """The study-view (protocol, method)s shown in the grid: SAM first, then RITM, then the
    rest, at most ``limit``."""
    rows = rows if "method" in rows else study.with_methods(rows)
    view = study.study_view(rows, settings)
    model_of = dict(zip(rows["method"], rows["model"], strict=True))
    rank = {"sam": 0, "ritm": 1}
    return sorted(
        view, key=lambda pm: (rank.get(settings.model_types.get(model_of[pm[1]]), 2), pm)
    )[:limit]


def grid_choices(
    kept: pd.DataFrame, methods: Sequence[tuple[str, str]], max_rows: int = 9
) -> list[tuple[str, str]]:
    """Per class, the image where the compared methods' kept IoU differ most (with one
    method: its worst image); classes in order, at most ``max_rows``."""
    if not methods:
        return []
    parts = []
    for protocol, method in methods:
        s = kept[(kept["protocol"] == protocol) & (kept["method"] == method)]
        parts.append(s.set_index(["class", "image"])["iou"].rename(f"{protocol}/{method}"))
    wide = pd.concat(parts, axis=1, join="inner").sort_index()
    if not len(wide):
        return []
    spread = wide.max(axis=1) - wide.min(axis=1) if len(methods) > 1 else 1.0 - wide.iloc[:, 0]
    out = []
    for cls in sorted(set(wide.index.get_level_values(0))):
        s = spread[spread.index.get_level_values(0) == cls]
        order = sorted(s.items(), key=lambda kv: (-kv[1], kv[0][1]))
        out.append(order[0][0])
    return out[:max_rows]


def ambiguity_choices(rows: pd.DataFrame, n: int = 4) -> list[tuple[str, str, str]]:
    """The (model, class, image) of the ``n`` SAM first-click results with the largest gap
    between the best candidate and the kept one (``best_iou - iou`` of max_score rows);
    ties by class, image."""
    sub = rows[(rows["protocol"] == "first_click") & (rows["strategy"] == "max_score")]
    if not len(sub):
        return []
    sub = sub.assign(gap=sub["best_iou"] - sub["iou"])
    sub = sub.sort_values(
        ["gap", "model", "class", "image"], ascending=[False, True, True, True], kind="mergesort"
    )
    return [
        (r.model, r[1], r.image)
        for r in sub[["model", "class", "image"]].head(n).itertuples(index=False)
    ]


# ---------------------------------------------------------------- tying it together
def trace_index(paths: Sequence[str | Path]) -> dict[tuple[str, str, str, str], Path]:
    """``.../runs/<protocol>/<model>/<class_slug>/<image>.npz`` -> (protocol, model, slug, image)."""
    out = {}
    for p in paths:
        p = Path(p)
        out[(p.parts[-4], p.parts[-3], p.parts[-2], p.stem)] = p
    return out


def _load_sample(sample: Mapping) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    from clickbench import datasets

    image = datasets.load_image(sample["image_path"])
    layout = sample["layout"]
    instance = datasets.instance_of(sample["image"], layout)  # the object, in instance layouts
    gt, ignore = datasets.load_ground_truth(sample["mask_path"], layout, image.shape, instance)
    return image, gt, ignore


def _step_row(
    rows: pd.DataFrame, protocol: str, method: str, cls: str, image: str, click: int
) -> pd.Series:
    sel = (
        (rows["protocol"] == protocol)
        & (rows["method"] == method)
        & (rows["class"] == cls)
        & (rows["image"] == image)
        & (rows["click"] == click)
    )
    return rows[sel].iloc[0]


def build_grid_rows(
    rows: pd.DataFrame,
    settings: study.Settings,
    samples: Sequence[Mapping],
    trace_paths: Sequence[str | Path],
    max_rows: int = 9,
) -> list[Row]:
    rows = rows if "method" in rows else study.with_methods(rows)
    methods = grid_methods(rows, settings)
    k = study.kept(rows, settings)
    by_id = {(s["cls"], s["image"]): s for s in samples}
    index = trace_index(trace_paths)
    out = []
    for cls, image in grid_choices(k, methods, max_rows):
        sample = by_id.get((cls, image))
        if sample is None:
            continue
        img, gt, ignore = _load_sample(sample)
        row = Row(f"{cls}\n{image}", img, gt, ignore, None)
        for protocol, method in methods:
            kk = k[
                (k["protocol"] == protocol)
                & (k["method"] == method)
                & (k["class"] == cls)
                & (k["image"] == image)
            ]
            step = int(kk["clicks"].iloc[0])
            r = _step_row(rows, protocol, method, cls, image, step)
            path = index.get((protocol, r["model"], sample["slug"], image))
            if path is None:
                continue
            loop = trace_loop(load_traces(path), r["strategy"])
            clicks = loop.clicks[:step]
            if row.first_click is None:
                row.first_click = clicks[:1]
            note = f"{step} click{'s' if step > 1 else ''}"
            out_title = method_label(protocol, method)
            row.panels.append(
                Panel(
                    out_title,
                    loop.masks[step - 1, int(r["chosen"])],
                    clicks,
                    float(r["iou"]),
                    note,
                )
            )
        if row.panels:
            out.append(row)
    return out


def build_ambiguity_rows(
    rows: pd.DataFrame, samples: Sequence[Mapping], trace_paths: Sequence[str | Path], n: int = 4
) -> list[Row]:
    by_id = {(s["cls"], s["image"]): s for s in samples}
    index = trace_index(trace_paths)
    out = []
    for model, cls, image in ambiguity_choices(rows, n):
        sample = by_id.get((cls, image))
        path = index.get(("first_click", model, sample["slug"], image)) if sample else None
        if path is None:
            continue
        img, gt, ignore = _load_sample(sample)
        loop = trace_loop(load_traces(path), "max_score")
        r = rows[
            (rows["protocol"] == "first_click")
            & (rows["model"] == model)
            & (rows["strategy"] == "max_score")
            & (rows["class"] == cls)
            & (rows["image"] == image)
        ].iloc[0]
        chosen, best = int(r["chosen"]), int(r["best"])
        candidates = [int(c) for c in loop.multi]
        row = Row(f"{cls}\n{image}\n({model})", img, gt, ignore, loop.clicks[:1])
        for c in candidates:
            tags = [t for t, on in (("kept", c == chosen), ("best", c == best)) if on]
            edge = "#E69F00" if c == chosen else ("#009E73" if c == best else None)
            row.panels.append(
                Panel(
                    f"mask {c}" + (f" ({', '.join(tags)})" if tags else ""),
                    loop.masks[0, c],
                    loop.clicks[:1],
                    float(loop.ious[0, c]),
                    f"predicted {float(loop.scores[0, c]):.3f}",
                    edge,
                    iou_label="true IoU",
                )
            )
        out.append(row)
    return out


def declared_outputs(items: Iterable[tuple[str, str]], kind: str) -> dict[str, list[str]]:
    """A figures job's declared outputs, (output name, path) pairs where ``<name>_svg`` names
    an SVG copy, grouped by figure name; a name that is not a figure of ``kind`` ("plot" or
    "image", :data:`FIGURES`) is an error."""
    outputs: dict[str, list[str]] = {}
    for name, path in items:
        base = name[: -len("_svg")] if name.endswith("_svg") else name
        if FIGURES.get(base) != kind:
            known = ", ".join(f for f, k in FIGURES.items() if k == kind)
            raise ValueError(f"unknown {kind} figure output {name!r}; known: {known}")
        outputs.setdefault(base, []).append(path)
    return outputs


def write_all(
    rows: pd.DataFrame,
    tables_: Mapping[str, pd.DataFrame],
    settings: study.Settings,
    samples: Sequence[Mapping],
    trace_paths: Sequence[str | Path],
    outputs: Mapping[str, Sequence[str | Path]],
    grid_rows: int = 9,
    ambiguity_rows: int = 4,
) -> None:
    """Write every figure named in ``outputs`` (name -> paths, e.g. a PNG and an SVG)."""
    rows = rows.drop(columns=["dataset"], errors="ignore")
    rows = study.with_methods(study.study_rows(rows))
    for name, paths in outputs.items():
        if name == "mean_iou_by_species":
            mean_iou_by_species(tables_["per_class"], paths)
        elif name == "miou_curves":
            miou_curves(tables.curve_table(rows, settings), paths)
        elif name == "biou_curves":
            biou_curves(tables.curve_table(rows, settings), paths)
        elif name == "prompt_curves":
            prompt_curves(tables_["prompts"], paths)
        elif name == "noc_trials":
            noc_trials(tables_["trials_per_image"], tables_["trials"], paths)
        elif name == "noc_bars":
            noc_bars(tables_["noc"], paths)
        elif name == "grid":
            grid(build_grid_rows(rows, settings, samples, trace_paths, grid_rows), paths)
        elif name == "ambiguity_masks":
            ambiguity(build_ambiguity_rows(rows, samples, trace_paths, ambiguity_rows), paths)
        else:
            raise ValueError(f"unknown figure {name!r}; known: {', '.join(FIGURES)}")


__all__ = [
    "FIGURES",
    "Panel",
    "Row",
    "ambiguity",
    "ambiguity_choices",
    "biou_curves",
    "build_ambiguity_rows",
    "build_grid_rows",
    "declared_outputs",
    "empty_figure",
    "grid",
    "grid_choices",
    "grid_methods",
    "mean_iou_by_species",
    "miou_curves",
    "noc_bars",
    "noc_trials",
    "prompt_curves",
    "trace_index",
    "write_all",
]

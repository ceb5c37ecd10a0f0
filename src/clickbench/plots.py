"""The study's plots (matplotlib, Agg backend; PNG, and SVG when asked), from the tables.

- :func:`mean_iou_by_species`: the study's dot plot, one dot per method per class;
- :func:`miou_curves`: mIoU after every click, one line per method, a panel per protocol;
- :func:`noc_bars`: NoC@85/90 per method with the NoF count written on each bar;
- :func:`biou_curves`: as :func:`miou_curves`, boundary IoU;
- :func:`prompt_curves`: box + k clicks vs k clicks vs the first click, per method;
- :func:`noc_trials`: per-image NoC over trials (random and perturbed clicks), a box per method.

Every function writes a figure even when there is nothing to show (:func:`empty_figure`, a
panel saying why), so a workflow that declares the file never fails on a run without SAM or
RITM. :func:`save` writes every figure of the package (:mod:`clickbench.panels` too) with the
same settings (:data:`RC`) and without the metadata that would change between runs.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from clickbench.study import ALL, MULTI_CLICK  # noqa: E402

#: colour-blind safe (Okabe-Ito), then tab10 for more methods
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]
MARKERS = ["o", "s", "D", "^", "v", "P", "X", "*"]
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


def save(fig, paths: Sequence[str | Path]) -> None:
    paths = [Path(p) for p in paths]
    _freeze_layout(fig, paths)
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        fmt = path.suffix.lstrip(".").lower()
        # zlib level 1: faster to write than the default 6; the files come out ~20% larger
        extra = {"pil_kwargs": {"compress_level": 1}} if fmt == "png" else {}
        fig.savefig(path, format=fmt, metadata=_METADATA.get(fmt), **extra)
    plt.close(fig)


def as_paths(paths) -> list[Path]:
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
        save(fig, as_paths(paths))


def _style(i: int) -> dict:
    return {"color": PALETTE[i % len(PALETTE)], "marker": MARKERS[i % len(MARKERS)]}


def method_label(protocol: str, method: str) -> str:
    return f"{method} ({protocol.replace('_', ' ')})"


def _panel_row(n: int, width: float):
    """A figure of ``n`` panels side by side, each ``width`` x 4.2 inches: (fig, axes)."""
    fig, axes = plt.subplots(1, n, figsize=(width * n, 4.2), layout="constrained", squeeze=False)
    return fig, axes[0]


def _legend_entries(axes: Iterable) -> tuple[list, list[str]]:
    """(handles, labels) of every label drawn in ``axes``, each once, first seen first."""
    handles, labels = [], []
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    return handles, labels


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
        save(fig, as_paths(paths))


def miou_curves(curve_table: pd.DataFrame, paths, value: str = "miou") -> None:
    """mIoU after every click, a panel per protocol (noc, replay), a line per method
    (``value="mbiou"``: mean boundary IoU)."""
    what = {"miou": "mIoU", "mbiou": "mean boundary IoU"}[value]
    protocols = [p for p in MULTI_CLICK if p in set(curve_table.get("protocol", []))]
    if not protocols:
        empty_figure(
            paths, f"{what} vs clicks", "No multi-click (noc or replay) results in this run."
        )
        return
    methods = sorted(set(curve_table["method"]))
    style = {m: _style(i) for i, m in enumerate(methods)}
    with plt.rc_context(RC):
        fig, axes = _panel_row(len(protocols), 5.2)
        for ax, protocol in zip(axes, protocols, strict=True):
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
        handles, labels = _legend_entries(axes)
        fig.legend(handles, labels, loc="outside right center", frameon=False, title="method")
        fig.suptitle(f"{what} vs clicks (early-stopped loops carry their last value)")
        save(fig, as_paths(paths))


def biou_curves(curve_table: pd.DataFrame, paths) -> None:
    """Mean boundary IoU after every click: :func:`miou_curves` of the ``mbiou`` column."""
    miou_curves(curve_table, paths, value="mbiou")


def prompt_curves(prompts: pd.DataFrame, paths) -> None:
    """The ``prompts`` table drawn: a panel per method with a box (mIoU of the box alone and
    of box + k clicks, solid), k simulated clicks (dashed) and the first click (a star).
    Methods with the box "not applicable" are named in the title of their empty panel."""
    sub = prompts[prompts["class"] == ALL] if len(prompts) else prompts
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
        handles, labels = _legend_entries(axes.flat)
        if handles:
            fig.legend(handles, labels, loc="outside lower center", ncols=3, frameon=False)
        fig.suptitle("Box vs first click vs k clicks (mean IoU, all images)")
        save(fig, as_paths(paths))


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
    overall = trials[trials["class"] == ALL] if len(trials) else trials
    with plt.rc_context(RC):
        fig, axes = _panel_row(len(protocols), 5.0)
        for ax, protocol in zip(axes, protocols, strict=True):
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
        handles, labels = _legend_entries(axes)
        if handles:
            fig.legend(handles, labels, loc="outside lower center", ncols=2, frameon=False)
        save(fig, as_paths(paths))


def noc_bars(noc_table: pd.DataFrame, paths) -> None:
    """NoC@t per method (overall rows of the noc table), grouped bars per threshold; NoF
    written at the end of each bar; the click budget drawn as a dashed line."""
    sub = noc_table[noc_table["class"] == ALL] if len(noc_table) else noc_table
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
        save(fig, as_paths(paths))


__all__ = [
    "PALETTE",
    "RC",
    "as_paths",
    "biou_curves",
    "empty_figure",
    "mean_iou_by_species",
    "method_label",
    "miou_curves",
    "noc_bars",
    "noc_trials",
    "prompt_curves",
    "save",
]

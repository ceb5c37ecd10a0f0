"""The image panels (PNG): what the models did on chosen images, from the saved traces.

- :func:`grid`: image with the first click / ground truth / each method's kept mask;
- :func:`ambiguity`: SAM's multimask candidates with predicted and true IoU.

Choosing the images (:func:`grid_choices`, :func:`ambiguity_choices`) is separate from
drawing; :func:`build_grid_rows` and :func:`build_ambiguity_rows` load the chosen images and
their traces into :class:`Row`s. Saved as :mod:`clickbench.plots` saves, and, like the plots,
a figure with nothing to show says so.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from clickbench import study  # noqa: E402
from clickbench.plots import RC, as_paths, empty_figure, method_label, save  # noqa: E402
from clickbench.traces import DRIVING_STRATEGY, Trace, load_traces  # noqa: E402

#: a per-image trace file's key: (protocol, model, class slug, image id), as the rules name it
TraceKey = tuple[str, str, str, str]

#: the ground truth's outline drawn over every mask panel
GT_OUTLINE = "#F0E442"


# ---------------------------------------------------------------- traces
def trace_loop(traces: Mapping[str, Trace], strategy: str) -> Trace:
    """The loop that produced ``strategy``'s masks: its own loop (noc) or the one shared loop
    (first_click, replay; saved under ``max_score``), from
    :func:`clickbench.traces.load_traces`."""
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
        save(fig, as_paths(paths))


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
    sub = rows[(rows["protocol"] == "first_click") & (rows["strategy"] == DRIVING_STRATEGY)]
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
    traces: Mapping[TraceKey, str | Path],
    max_rows: int = 9,
) -> list[Row]:
    """The example grid's rows; ``traces``: (protocol, model, class slug, image) -> .npz."""
    rows = rows if "method" in rows else study.with_methods(rows)
    methods = grid_methods(rows, settings)
    k = study.kept(rows, settings)
    by_id = {(s["cls"], s["image"]): s for s in samples}
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
            path = traces.get((protocol, r["model"], sample["slug"], image))
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
    rows: pd.DataFrame,
    samples: Sequence[Mapping],
    traces: Mapping[TraceKey, str | Path],
    n: int = 4,
) -> list[Row]:
    """SAM's ambiguity rows; ``traces`` as :func:`build_grid_rows`'s."""
    by_id = {(s["cls"], s["image"]): s for s in samples}
    out = []
    for model, cls, image in ambiguity_choices(rows, n):
        sample = by_id.get((cls, image))
        path = traces.get(("first_click", model, sample["slug"], image)) if sample else None
        if path is None:
            continue
        img, gt, ignore = _load_sample(sample)
        loop = trace_loop(load_traces(path), DRIVING_STRATEGY)
        r = rows[
            (rows["protocol"] == "first_click")
            & (rows["model"] == model)
            & (rows["strategy"] == DRIVING_STRATEGY)
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


__all__ = [
    "Panel",
    "Row",
    "ambiguity",
    "ambiguity_choices",
    "build_ambiguity_rows",
    "build_grid_rows",
    "grid",
    "grid_choices",
    "grid_methods",
    "overlay",
    "TraceKey",
    "trace_loop",
]

"""The dedup contact sheet: a few groups per class, one row of thumbnails per group.

Each row starts with the group's representative (green frame, "(rep.)"), followed by its
copies in file order, each labelled with its file stem and its hash distance ``d`` to the
representative (frames: grey; orange for rotation fill; red when the copy's mask disagrees with the
representative's after the estimated transform). Rows are grouped under a class heading.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import cv2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from clickbench import datasets  # noqa: E402
from clickbench.errors import BadInputError  # noqa: E402

CELL_W, CELL_H = 148, 111  # thumbnail size (a quarter of 590 x 445)
PAD = 6
LABEL_H = 18  # band under each thumbnail for its label
HEAD_H = 24  # band above each row for the group title
DPI = 100
GREEN = (30, 150, 60)
GREY = (170, 170, 170)
ORANGE = (230, 140, 20)
RED = (210, 30, 30)


def _thumb(path: str) -> np.ndarray:
    try:
        image = datasets.load_image(path)
    except BadInputError:
        cell = np.full((CELL_H, CELL_W, 3), 200, np.uint8)
        cv2.line(cell, (0, 0), (CELL_W - 1, CELL_H - 1), (120, 120, 120), 2)
        cv2.line(cell, (CELL_W - 1, 0), (0, CELL_H - 1), (120, 120, 120), 2)
        return cell
    h, w = image.shape[:2]
    s = min(CELL_W / w, CELL_H / h)
    small = cv2.resize(
        image, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA
    )
    cell = np.full((CELL_H, CELL_W, 3), 255, np.uint8)
    y, x = (CELL_H - small.shape[0]) // 2, (CELL_W - small.shape[1]) // 2
    cell[y : y + small.shape[0], x : x + small.shape[1]] = small
    return cell


def _rows(class_tables: Mapping[str, pd.DataFrame], groups: int, max_copies: int):
    """[(class, group, group size, [(row of the table, is representative)])] to draw."""
    out = []
    for cls, table in class_tables.items():
        ok = table[table["status"] == "ok"]
        for g in sorted(ok["group"].unique())[:groups]:
            members = ok[ok["group"] == g]
            rep = members[members["image"] == members["representative"]]
            copies = members[members["image"] != members["representative"]]
            cells = [(r, True) for _, r in rep.iterrows()]
            cells += [(r, False) for _, r in copies.iloc[:max_copies].iterrows()]
            out.append((cls, int(g), len(members), cells))
    return out


def _caption_and_save(fig, y: float, caption: str, out_png: Path) -> Path:
    """``caption`` centred at height ``y`` (figure fraction), then ``fig`` saved to ``out_png``
    and closed."""
    fig.text(0.5, y, caption, ha="center", va="center", fontsize=11)
    fig.savefig(out_png, dpi=DPI)
    plt.close(fig)
    return out_png


def contact_sheet(
    class_tables: Mapping[str, pd.DataFrame],
    out_png: str | Path,
    groups: int = 4,
    max_copies: int = 9,
) -> Path:
    """Draw the first ``groups`` groups of every class table (:func:`clickbench.dedup.dedup_class`
    tables, keyed by class name) to ``out_png``; at most ``max_copies`` copies per row (the row's
    title says how many are left out). Returns the path written."""
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    rows = _rows(class_tables, groups, max_copies)
    ncols = max([len(cells) for *_, cells in rows] + [6])
    width = PAD + ncols * (CELL_W + PAD)
    row_h = HEAD_H + CELL_H + LABEL_H + PAD
    if not rows:
        fig = plt.figure(figsize=(6, 1.5), dpi=DPI)
        return _caption_and_save(
            fig, 0.5, "no groups to show (no class table or every image skipped)", out_png
        )
    height = PAD + len(rows) * row_h
    canvas = np.full((height, width, 3), 255, np.uint8)
    texts = []  # (x, y, text, colour, weight, size)
    for i, (cls, g, size, cells) in enumerate(rows):
        top = PAD + i * row_h
        shown = len(cells)
        more = f", {size - shown} more not shown" if size > shown else ""
        texts.append(
            (PAD, top + HEAD_H - 6, f"{cls}: group {g} ({size} images{more})", "black", "bold", 11)
        )
        for j, (r, is_rep) in enumerate(cells):
            x = PAD + j * (CELL_W + PAD)
            y = top + HEAD_H
            canvas[y : y + CELL_H, x : x + CELL_W] = _thumb(r["image_path"])
            bad_mask = str(r.get("mask_consistent", "")) in ("0", "0.0")
            if is_rep:
                colour, weight = (RED if bad_mask else GREEN), "bold"
                label = f"{r['image']} (rep.)"
            else:
                colour = RED if bad_mask else (ORANGE if int(r["rotation_fill"]) else GREY)
                dist = r["distance"]
                label = r["image"] + ("" if pd.isna(dist) else f"  d={int(dist)}")
                weight = "normal"
            if bad_mask:
                label += "  mask?"
            cv2.rectangle(
                canvas, (x - 2, y - 2), (x + CELL_W + 1, y + CELL_H + 1), colour, 4 if is_rep else 2
            )
            texts.append(
                (
                    x + CELL_W / 2,
                    y + CELL_H + LABEL_H - 4,
                    label,
                    np.array(colour) / 255 if colour != GREY else "black",
                    weight,
                    9,
                )
            )
    fig = plt.figure(figsize=(width / DPI, (height + 50) / DPI), dpi=DPI)
    ax = fig.add_axes((0, 0, 1, height / (height + 50)))
    ax.imshow(canvas, interpolation="none")
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.axis("off")
    for x, y, text, colour, weight, size in texts:
        ha = "left" if weight == "bold" and size == 11 else "center"
        ax.text(x, y, text, color=colour, fontsize=size, fontweight=weight, ha=ha, va="bottom")
    caption = (
        "Dedup groups: the representative (green frame) and its copies with hash distance d\n"
        "orange frame: rotation fill; red frame: the image's mask disagrees with its group's"
    )
    return _caption_and_save(fig, 1 - 24 / (height + 50), caption, out_png)


__all__ = ["contact_sheet"]

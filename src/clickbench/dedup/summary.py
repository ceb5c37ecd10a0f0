"""The dedup tables: writing and reading them, the per-class summary, the skipped files and
the study's index rule against the groups."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from clickbench.dedup.per_class import index_rule


def write_table(table: pd.DataFrame, path: str | Path) -> None:
    """Write a table as deterministic TSV: rows in the given order, floats ``%.6g``, NaN empty."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, sep="\t", index=False, float_format="%.6g", na_rep="", lineterminator="\n")


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a table written by :func:`write_table` (ids and hashes stay strings)."""
    return pd.read_csv(
        path,
        sep="\t",
        dtype={
            "image": str,
            "representative": str,
            "hash": str,
            "problem": str,
            "warning": str,
            "class": str,
            "image_path": str,
            "mask_path": str,
        },
        keep_default_na=False,
        na_values={
            "distance": [""],
            "correlation": [""],
            "angle": [""],
            "scale": [""],
            "mask_iou": [""],
            "mask_consistent": [""],
        },
    )


def summarise(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Per class and in total: images, skipped, groups, selected, group sizes (min, median,
    max) and the distribution ``size:count`` of group sizes."""
    rows = []
    total_sizes: list[int] = []
    for cls, t in tables.items():
        okt = t[t["status"] == "ok"]
        sizes = okt.groupby("group").size().tolist()
        total_sizes += sizes
        rows.append(_summary_row(cls, t, okt, sizes))
    if tables:
        allt = pd.concat(list(tables.values()), ignore_index=True)
        rows.append(_summary_row("total", allt, allt[allt["status"] == "ok"], total_sizes))
    return pd.DataFrame(rows)


def _summary_row(cls, t, okt, sizes) -> dict:
    counts = pd.Series(sizes, dtype=int).value_counts().sort_index()
    return {
        "class": cls,
        "images": len(t),
        "skipped": int((t["status"] == "skipped").sum()),
        "warnings": int((t["warning"] != "").sum()) if "warning" in t else 0,
        "groups": len(sizes),
        "selected": int(t["selected"].sum()),
        "representatives_with_fill": int(
            ((okt["image"] == okt["representative"]) & (okt["rotation_fill"] == 1)).sum()
        ),
        "mask_inconsistent": int((okt["mask_consistent"] == 0).sum()),
        "group_size_min": int(min(sizes)) if sizes else 0,
        "group_size_median": float(np.median(sizes)) if sizes else 0.0,
        "group_size_max": int(max(sizes)) if sizes else 0,
        "group_sizes": " ".join(f"{int(s)}:{int(c)}" for s, c in counts.items()),
    }


SKIPPED_COLUMNS = ("class", "image", "path", "problem")


def skipped_table(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Every skipped file across class tables (columns :data:`SKIPPED_COLUMNS`, the same as
    :class:`clickbench.datasets.Skipped`): ``path`` is the file at fault (the mask when the
    problem was in the mask). Header-only when nothing was skipped."""
    rows = []
    for cls, t in tables.items():
        for _, r in t[t["status"] == "skipped"].iterrows():
            path, problem = r["image_path"], r["problem"]
            prefix = f"{r['mask_path']}: "
            if r["mask_path"] and problem.startswith(prefix):
                path, problem = r["mask_path"], problem[len(prefix) :]
            rows.append({"class": cls, "image": r["image"], "path": path, "problem": problem})
    return pd.DataFrame(rows, columns=list(SKIPPED_COLUMNS))


WARNING_COLUMNS = ("class", "image", "image_path", "mask_path", "warning")


def warnings_table(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Every sample read, but not as a plain file would be (a grayscale photograph, a mask
    that looks JPEG-compressed; :mod:`clickbench.loading`), across class tables (columns
    :data:`WARNING_COLUMNS`). Header-only when there is none."""
    rows = [
        {"class": cls, **{c: r[c] for c in WARNING_COLUMNS[1:]}}
        for cls, t in tables.items()
        if "warning" in t
        for _, r in t[t["warning"] != ""].iterrows()
    ]
    return pd.DataFrame(rows, columns=list(WARNING_COLUMNS))


INDEX_RULE_COLUMNS = (
    "class",
    "index_picked",
    "picked_rotation_fill",
    "picked_not_representative",
    "groups",
    "groups_picked",
    "groups_missed",
    "groups_picked_twice",
    "picked_files",
)


def compare_index_rule(table: pd.DataFrame, start: int = 1, step: int = 20) -> dict:
    """How the study's index rule fares against the groups of one class table.

    Returns a row: ``index_picked`` (files the rule picks), ``picked_rotation_fill`` (picked
    files that are rotated copies with black fill), ``picked_not_representative`` (picked files
    that are not their group's representative), ``groups`` (groups in the class),
    ``groups_picked`` (groups with at least one pick), ``groups_missed`` and
    ``groups_picked_twice`` (groups with more than one pick).
    """
    okt = table[table["status"] == "ok"]
    picks = okt[index_rule(okt["image"].tolist(), start, step)]
    per_group = picks.groupby("group").size()
    n_groups = okt["group"].nunique()
    return {
        "class": okt["class"].iloc[0]
        if len(okt)
        else (table["class"].iloc[0] if len(table) else ""),
        "index_picked": len(picks),
        "picked_rotation_fill": int(picks["rotation_fill"].sum()),
        "picked_not_representative": int((picks["image"] != picks["representative"]).sum()),
        "groups": int(n_groups),
        "groups_picked": int(len(per_group)),
        "groups_missed": int(n_groups - len(per_group)),
        "groups_picked_twice": int((per_group > 1).sum()),
        "picked_files": " ".join(picks["image"].tolist()),
    }

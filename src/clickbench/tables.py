"""Aggregation: per-image rows -> the study's tables and the ones it could not compute.

Input is ``per_image.tsv`` (:mod:`clickbench.row_io`: the per-image rows with the columns
``selected`` and ``index_pick`` joined from the dedup tables). Every table is a pure
function of those rows and a :class:`clickbench.study.Settings`, returned as a DataFrame with
a fixed column order and sorted rows; :func:`clickbench.row_io.write_tsv` writes it with
``%.6g`` floats, so two runs give the same bytes. Every table but ``selection`` is computed
from the dedup-selected rows only (``selected == 1``); ``selection`` compares them with the
study's index-rule picks. Methods, curves, the kept IoU and the study view are defined in
:mod:`clickbench.study`; the ``paired`` table is :mod:`clickbench.paired_stats`'.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clickbench import metrics
from clickbench.outputs import STUDY_TABLES
from clickbench.paired_stats import paired_table
from clickbench.row_io import SELECTION_COLUMNS, mark_selection, records_frame, selected_rows
from clickbench.study import (
    ALL,
    Settings,
    class_groups,
    curves,
    kept,
    kept_rule,
    study_rows,
    study_view,
    with_methods,
)
from clickbench.traces import DRIVING_STRATEGY

#: the table names :func:`build_tables` returns, in order
TABLES = STUDY_TABLES
DESCRIBE_STATS = ["count", "mean", "std", "min", "25%", "50%", "75%", "max"]


def threshold_label(t: float) -> str:
    """0.85 -> ``"85"``, 0.875 -> ``"87.5"`` (the NoC@85 convention)."""
    return f"{t * 100:.6g}"


# ---------------------------------------------------------------- the tables
DESCRIBE_COLUMNS = ["protocol", "method", "study", "kept"] + DESCRIBE_STATS


def describe_table(rows: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """pandas ``describe()`` of the kept IoU over every image, per (protocol, method).

    ``study`` is 1 for the study view's methods; those rows come first, then protocol,
    method order."""
    rows = with_methods(rows)
    k = kept(rows, settings)
    view = study_view(rows, settings)
    records = []
    for (protocol, method), sub in k.groupby(["protocol", "method"], sort=True):
        d = metrics.describe(sub["iou"])
        records.append(
            [protocol, method, int((protocol, method) in view), kept_rule(protocol, settings)]
            + [float(d[s]) for s in DESCRIBE_STATS]
        )
    df = pd.DataFrame.from_records(records, columns=DESCRIBE_COLUMNS)
    if len(df):
        df["count"] = df["count"].astype(np.int64)
        df = df.sort_values(
            ["study", "protocol", "method"], ascending=[False, True, True], kind="mergesort"
        )
    return df.reset_index(drop=True)


PER_CLASS_COLUMNS = ["class", "protocol", "method", "study", "n", "mean_iou"]


def per_class_table(rows: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Mean kept IoU per class and (protocol, method), sorted by class, protocol, method."""
    rows = with_methods(rows)
    k = kept(rows, settings)
    view = study_view(rows, settings)
    records = [
        (cls, protocol, method, int((protocol, method) in view), len(sub), float(sub["iou"].mean()))
        for (cls, protocol, method), sub in k.groupby(["class", "protocol", "method"], sort=True)
    ]
    return records_frame(records, PER_CLASS_COLUMNS)


def noc_columns(settings: Settings) -> list[str]:
    labels = [threshold_label(t) for t in settings.thresholds]
    return [f"noc@{lab}" for lab in labels] + [f"nof@{lab}" for lab in labels]


def miou_columns(settings: Settings) -> list[str]:
    return [f"miou@{k}" for k in settings.miou_at]


def noc_values(ious: np.ndarray, settings: Settings) -> list[float]:
    """NoC@t then NoF@t (strict: never reaching t) over the rows of ``ious`` (n, horizon)."""
    horizon = ious.shape[1]
    nocs = [metrics.noc(list(ious), t, horizon) for t in settings.thresholds]
    nofs = [metrics.nof(list(ious), t, horizon) for t in settings.thresholds]
    return nocs + nofs


def miou_values(ious: np.ndarray, settings: Settings) -> list[float]:
    """mIoU after each k of ``metrics.miou_at`` over the rows of ``ious`` (n, horizon); NaN
    where k exceeds the horizon."""
    horizon = ious.shape[1]
    return [
        float(ious[:, k - 1].mean()) if k <= horizon and len(ious) else np.nan
        for k in settings.miou_at
    ]


def _count_columns(cols: list[str]) -> list[str]:
    """The integer columns of a NoC table: ``n``, ``max_clicks`` and every ``nof@t``."""
    return ["n", "max_clicks"] + [x for x in cols if x.startswith("nof@")]


def noc_table(rows: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """NoC@t (mean clicks to reach IoU t, the horizon when never) and NoF@t (images never
    reaching t) per method of the ``noc`` protocol, overall (``(all)``) and per class."""
    cols = ["protocol", "method", "class", "n", "max_clicks"] + noc_columns(settings)
    records = []
    for c in curves(with_methods(rows), settings, protocols=("noc",)):
        for cls, sel in class_groups(c.keys["class"].to_numpy()):
            ious = c.ious[sel]
            records.append(
                [c.protocol, c.method, cls, len(ious), c.ious.shape[1]] + noc_values(ious, settings)
            )
    return records_frame(records, cols, ints=_count_columns(cols))


def miou_table(rows: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """mIoU after k clicks (``metrics.miou_at``) per method of ``noc`` and ``replay``, overall
    and per class; NA where k exceeds the protocol's ``max_clicks``."""
    cols = ["protocol", "method", "class", "n"] + miou_columns(settings)
    records = []
    for c in curves(with_methods(rows), settings):
        for cls, sel in class_groups(c.keys["class"].to_numpy()):
            records.append(
                [c.protocol, c.method, cls, int(sel.sum())] + miou_values(c.ious[sel], settings)
            )
    return records_frame(records, cols, ints=["n"])


def curve_table(rows: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Mean IoU and mean boundary IoU after every click 1..H per (protocol, method), over all
    dedup-selected images (the curves figures; the same images as the mIoU table)."""
    records = []
    rows = with_methods(selected_rows(rows))
    for c, b in zip(curves(rows, settings), curves(rows, settings, value="biou"), strict=True):
        for k in range(c.ious.shape[1]):
            records.append(
                (
                    c.protocol,
                    c.method,
                    c.model,
                    c.strategy,
                    k + 1,
                    len(c.ious),
                    float(c.ious[:, k].mean()),
                    float(b.ious[:, k].mean()),
                )
            )
    cols = ["protocol", "method", "model", "strategy", "click", "n", "miou", "mbiou"]
    return records_frame(records, cols)


AMBIGUITY_COLUMNS = [
    "protocol",
    "model",
    "class",
    "images",
    "steps",
    "max_score",
    "oracle",
    "gap",
    "not_best_images",
    "not_best_steps",
]


def ambiguity_table(rows: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """SAM's ambiguity gap in ``first_click`` and ``replay``, from the ``max_score`` rows of one
    loop: ``iou`` is the mask max_score keeps, ``best_iou`` the best of the multimask
    candidates (the oracle) at the same click.

    Per image the step is the kept one (first_click: click 1; replay: the study's stopping
    rule on max_score's curve). ``max_score``/``oracle`` are mean IoU over images, ``gap`` their
    difference, ``not_best_images`` the fraction of images whose kept step's choice is worse
    than the best candidate (``iou < best_iou``; a tie is not a miss), ``not_best_steps`` the
    same over every click step of every image."""
    single = rows["protocol"].isin(["first_click", "replay"])
    sub = rows[single & (rows["strategy"] == DRIVING_STRATEGY)]
    if not len(sub):
        return pd.DataFrame({c: [] for c in AMBIGUITY_COLUMNS})
    k = kept(sub, settings)
    records = []
    for (protocol, model), ksub in k.groupby(["protocol", "model"], sort=True):
        steps = sub[(sub["protocol"] == protocol) & (sub["model"] == model)]
        groups = [(ALL, ksub, steps)] + [
            (cls, ksub[ksub["class"] == cls], steps[steps["class"] == cls])
            for cls in sorted(set(ksub["class"]))
        ]
        for cls, kk, ss in groups:
            ms, orc = float(kk["iou"].mean()), float(kk["best_iou"].mean())
            records.append(
                (
                    protocol,
                    model,
                    cls,
                    len(kk),
                    len(ss),
                    ms,
                    orc,
                    orc - ms,
                    float((kk["iou"] < kk["best_iou"]).mean()),
                    float((ss["iou"] < ss["best_iou"]).mean()),
                )
            )
    return records_frame(records, AMBIGUITY_COLUMNS)


def multiclick_table(rows: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Multi-click SAM over all images: every SAM method in ``replay`` (RITM's clicks) and in
    its own ``noc`` loop (one row per selection strategy), with the replay source's own noc
    loop as the reference row: mIoU@k, NoC@t and NoF@t."""
    cols = (
        ["protocol", "method", "n", "max_clicks"] + miou_columns(settings) + noc_columns(settings)
    )
    records = []
    for c in curves(with_methods(rows), settings):
        reference = c.protocol == "noc" and c.model == settings.replay_source
        if not (settings.is_sam(c.model) or reference):
            continue
        records.append(
            [c.protocol, c.method, len(c.ious), c.ious.shape[1]]
            + miou_values(c.ious, settings)
            + noc_values(c.ious, settings)
        )
    return records_frame(records, cols, ints=_count_columns(cols))


SELECTION_TABLE_COLUMNS = [
    "protocol",
    "method",
    "class",
    "dedup_n",
    "dedup_mean_iou",
    "index_n",
    "index_mean_iou",
    "index_rotation_fill",
    "index_not_representative",
    "both_n",
    "index_minus_dedup",
]


def selection_table(
    rows: pd.DataFrame, settings: Settings, flags: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Dedup's picks vs the study's index-rule picks, per study-view method (the ``study = 1``
    rows of the describe table), overall (``(all)``) and per class.

    ``rows``: per-image rows with ``selected`` and ``index_pick`` (:func:`mark_selection`;
    without them every row is selected and none is an index pick). Kept IoU as
    :func:`kept`. ``dedup_n``/``dedup_mean_iou``: images with ``selected = 1`` and their mean
    kept IoU; ``index_n``/``index_mean_iou``: the same over ``index_pick = 1``;
    ``index_rotation_fill``/``index_not_representative``: how many of those index picks are
    rotated copies with black fill / not their group's representative (from ``flags``,
    :func:`selection_flags`; NA without it); ``both_n``: images in both selections;
    ``index_minus_dedup``: ``index_mean_iou - dedup_mean_iou`` (NA when either is empty).
    Sorted by protocol, method, class."""
    if "selected" not in rows:
        rows = mark_selection(rows)
    rows = with_methods(rows)
    view = study_view(rows, settings)
    k = kept(rows, settings)
    k = k[[(p, m) in view for p, m in zip(k["protocol"], k["method"], strict=True)]]
    if not len(k):
        return pd.DataFrame({c: [] for c in SELECTION_TABLE_COLUMNS})
    marks = rows[["class", "image", *SELECTION_COLUMNS]].drop_duplicates(["class", "image"])
    k = k.merge(marks, on=["class", "image"], how="left")
    if flags is not None:
        k = k.merge(
            flags[["class", "image", "rotation_fill", "representative"]],
            on=["class", "image"],
            how="left",
        )
    records = []
    for (protocol, method), sub in k.groupby(["protocol", "method"], sort=True):
        for cls in [ALL, *sorted(set(sub["class"]))]:
            s = sub if cls == ALL else sub[sub["class"] == cls]
            d, i = s[s["selected"] == 1], s[s["index_pick"] == 1]
            d_mean = float(d["iou"].mean()) if len(d) else np.nan
            i_mean = float(i["iou"].mean()) if len(i) else np.nan
            if flags is None:
                fill = not_rep = np.nan
            else:
                fill = int((i["rotation_fill"] == 1).sum())
                not_rep = int((i["representative"] != 1).sum())
            records.append(
                [
                    protocol,
                    method,
                    cls,
                    len(d),
                    d_mean,
                    len(i),
                    i_mean,
                    fill,
                    not_rep,
                    int(((s["selected"] == 1) & (s["index_pick"] == 1)).sum()),
                    i_mean - d_mean,
                ]
            )
    ints = ["dedup_n", "index_n", "both_n"]
    if flags is not None:
        ints += ["index_rotation_fill", "index_not_representative"]
    return records_frame(records, SELECTION_TABLE_COLUMNS, ints)


def build_tables(
    rows: pd.DataFrame, settings: Settings, flags: pd.DataFrame | None = None
) -> dict[str, pd.DataFrame]:
    """Every table of :data:`TABLES` from ``per_image`` rows (any subset of protocols and
    models, including none: then every table is header-only).

    ``flags``: :func:`selection_flags` of the dedup tables, joined with :func:`mark_selection`;
    without it the rows' own ``selected``/``index_pick`` columns count, and without those every
    row is selected. Every table but ``selection`` uses the ``selected == 1`` rows only, and
    only the rows of :data:`STUDY_PROTOCOLS`."""
    rows = rows.drop(columns=["dataset"], errors="ignore")
    rows = study_rows(rows)
    if flags is not None or "selected" not in rows:
        rows = mark_selection(rows, flags)
    main = selected_rows(rows)
    return {
        "describe": describe_table(main, settings),
        "per_class": per_class_table(main, settings),
        "noc": noc_table(main, settings),
        "miou": miou_table(main, settings),
        "ambiguity": ambiguity_table(main, settings),
        "paired": paired_table(main, settings),
        "multiclick": multiclick_table(main, settings),
        "selection": selection_table(rows, settings, flags),
    }


__all__ = [
    "DESCRIBE_STATS",
    "SELECTION_TABLE_COLUMNS",
    "TABLES",
    "ambiguity_table",
    "build_tables",
    "curve_table",
    "describe_table",
    "miou_columns",
    "miou_table",
    "miou_values",
    "multiclick_table",
    "noc_columns",
    "noc_table",
    "per_class_table",
    "selection_table",
    "threshold_label",
]

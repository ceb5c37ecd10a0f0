"""Per-image rows and tables as TSV: reading, typing, the dedup selection, writing.

``per_image.tsv`` is the concatenation of every per-image TSV (columns :data:`ROW_COLUMNS`,
one row per (strategy, click); see docs/internals.md) with a leading ``dataset`` column and
the columns ``selected`` and ``index_pick`` joined from the dedup tables
(:func:`mark_selection`). Tables are written with :func:`write_tsv` (``%.6g`` floats, ``NA``
for missing values), so two runs give the same bytes, and read back with :func:`read_table`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from clickbench.traces import COLUMNS

#: columns of a per-image TSV, in order (docs/internals.md)
ROW_COLUMNS = list(COLUMNS)
TEXT_COLUMNS = ["dataset", "class", "image", "protocol", "model", "strategy"]
#: the columns :func:`mark_selection` inserts after ``image`` (0/1 each)
SELECTION_COLUMNS = ["selected", "index_pick"]
INT_COLUMNS = [
    "trial", "click", "chosen", "best", "positive", "row", "col", *SELECTION_COLUMNS
]  # fmt: skip
FLOAT_COLUMNS = ["iou", "biou", "best_iou", "score"]


def empty_rows(with_dataset: bool = True) -> pd.DataFrame:
    cols = (["dataset"] if with_dataset else []) + ROW_COLUMNS
    return typed(pd.DataFrame({c: [] for c in cols}))


def typed(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` with the per-image columns it has typed: text as ``str``, the int and
    float columns numeric."""
    df = df.copy()
    for c in TEXT_COLUMNS:
        if c in df:
            df[c] = df[c].astype(object).map(str) if len(df) else df[c].astype(object)
    for c in INT_COLUMNS:
        if c in df:
            df[c] = pd.to_numeric(df[c]).astype(np.int64)
    for c in FLOAT_COLUMNS:
        if c in df:
            df[c] = pd.to_numeric(df[c]).astype(np.float64)
    return df


def sort_rows(rows: pd.DataFrame) -> pd.DataFrame:
    keys = [
        c
        for c in ["dataset", "class", "image", "protocol", "model", "strategy", "trial", "click"]
        if c in rows
    ]
    return rows.sort_values(keys, kind="mergesort").reset_index(drop=True)


def read_rows(paths: Iterable[str | Path], dataset: str) -> pd.DataFrame:
    """Concatenate per-image TSVs into ``per_image`` rows (a leading ``dataset`` column).

    Text columns are read as text (image ids keep their leading zeros, no value is taken
    for NaN); a header-only file contributes nothing; a file with other columns is an error.
    """
    frames = []
    for path in paths:
        df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
        if list(df.columns) != ROW_COLUMNS:
            raise ValueError(
                f"{path}: columns {list(df.columns)} differ from the per-image TSV contract "
                f"{ROW_COLUMNS}"
            )
        if len(df):
            frames.append(df)
    if not frames:
        return empty_rows()
    rows = pd.concat(frames, ignore_index=True)
    rows.insert(0, "dataset", dataset)
    return sort_rows(typed(rows))


def load_per_image(path: str | Path) -> pd.DataFrame:
    """Read a ``per_image.tsv`` written by :func:`write_tsv`."""
    df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    return typed(df)


#: the columns of a dedup table (clickbench.dedup.COLUMNS) the aggregation reads
DEDUP_COLUMNS = ["class", "image", "representative", "rotation_fill", "selected", "index_pick"]
#: the columns of :func:`selection_flags`
FLAG_COLUMNS = ["class", "image", "selected", "index_pick", "rotation_fill", "representative"]


def selection_flags(dedup_tables: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """The per-image facts of the dedup tables the tables need, one row per (class, image):
    ``selected`` (dedup picks it), ``index_pick`` (the study's index rule picks it),
    ``rotation_fill`` and ``representative`` (1 when the image is its group's representative),
    all 0/1 ints. ``dedup_tables``: tables as :func:`clickbench.dedup.read_table` returns them
    (class names as in the per-image rows); a (class, image) listed twice is an error."""
    frames = []
    for t in dedup_tables:
        missing = [c for c in DEDUP_COLUMNS if c not in t]
        if missing:
            raise ValueError(f"dedup table without the column(s) {missing}")
        frames.append(t[DEDUP_COLUMNS])
    if not frames:
        text = ("class", "image")
        return pd.DataFrame(
            {c: pd.Series([], dtype=object if c in text else np.int64) for c in FLAG_COLUMNS}
        )
    df = pd.concat(frames, ignore_index=True)
    key = [df["class"].astype(str), df["image"].astype(str)]
    twice = df[pd.concat(key, axis=1).duplicated()]
    if len(twice):
        first = twice.iloc[0]
        raise ValueError(
            f"{len(twice)} image(s) listed twice in the dedup tables, first "
            f"{first['class']}/{first['image']}"
        )
    out = pd.DataFrame(
        {
            "class": key[0].to_numpy(),
            "image": key[1].to_numpy(),
            "selected": df["selected"].astype(np.int64).to_numpy(),
            "index_pick": df["index_pick"].astype(np.int64).to_numpy(),
            "rotation_fill": df["rotation_fill"].astype(np.int64).to_numpy(),
            "representative": (df["image"].astype(str) == df["representative"].astype(str))
            .astype(np.int64)
            .to_numpy(),
        }
    )
    return out.sort_values(["class", "image"], kind="mergesort").reset_index(drop=True)


def mark_selection(rows: pd.DataFrame, flags: pd.DataFrame | None = None) -> pd.DataFrame:
    """``rows`` with the columns ``selected`` and ``index_pick`` (0/1) inserted after ``image``
    (replaced when present), looked up by (class, image) in ``flags``
    (:func:`selection_flags`). Without ``flags`` every row is selected and none is an index
    pick. A row whose image has no dedup row is an error."""
    rows = rows.drop(columns=SELECTION_COLUMNS, errors="ignore").reset_index(drop=True)
    if flags is None:
        values = {
            "selected": np.ones(len(rows), np.int64),
            "index_pick": np.zeros(len(rows), np.int64),
        }
    else:
        merged = rows[["class", "image"]].merge(
            flags[["class", "image", *SELECTION_COLUMNS]],
            on=["class", "image"],
            how="left",
            validate="many_to_one",
        )
        missing = merged[merged["selected"].isna()]
        if len(missing):
            first = missing.iloc[0]
            raise ValueError(
                f"{len(missing)} per-image row(s) have no dedup row, first "
                f"{first['class']}/{first['image']}: are the dedup tables those of this run?"
            )
        values = {c: merged[c].to_numpy(dtype=np.int64) for c in SELECTION_COLUMNS}
    at = rows.columns.get_loc("image") + 1
    for offset, c in enumerate(SELECTION_COLUMNS):
        rows.insert(at + offset, c, values[c])
    return rows


def selected_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The dedup-selected rows (``selected == 1``) without the selection columns; ``rows``
    unchanged when it has no ``selected`` column."""
    if "selected" not in rows:
        return rows
    keep = rows[rows["selected"] == 1]
    return keep.drop(columns=SELECTION_COLUMNS, errors="ignore").reset_index(drop=True)


def read_marked_rows(
    row_paths: Iterable[str | Path], dataset: str, dedup_paths: Iterable[str | Path] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The per-image TSVs as ``per_image`` rows marked with dedup's selection, and the
    :func:`selection_flags` used (None without dedup tables: then every row is selected).

    What ``aggregate`` writes to ``tables/per_image.tsv``; ``example_figures`` reads the
    per-image TSVs through it too, so that it need not wait for ``aggregate``."""
    rows = read_rows(row_paths, dataset)
    flags = None
    if dedup_paths is not None:
        from clickbench import dedup  # the dedup tables' reader (and its imports) only here

        flags = selection_flags(dedup.read_table(p) for p in dedup_paths)
    return mark_selection(rows, flags), flags


def format_table(df: pd.DataFrame) -> str:
    """The TSV text of ``df``: ``%.6g`` floats, ``NA`` for missing values, ``\\n`` line ends."""
    return df.to_csv(sep="\t", index=False, float_format="%.6g", na_rep="NA", lineterminator="\n")


def write_tsv(df: pd.DataFrame, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(format_table(df))


#: columns that stay text when a table is read back
TEXT_TABLE_COLUMNS = {
    "dataset", "class", "image", "protocol", "model", "strategy", "method", "kept",
    "comparison", "a", "b", "note", "prompt", "measure", "device",
}  # fmt: skip


def read_table(path: str | Path) -> pd.DataFrame:
    """Read back any table :func:`write_tsv` wrote: text columns stay text (image ids keep their
    zeros), ``NA`` becomes NaN, every other column is numeric."""
    df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    for c in df.columns:
        if c not in TEXT_TABLE_COLUMNS:
            df[c] = pd.to_numeric(df[c].replace({"NA": None, "": None}))
    return df


def records_frame(
    records: Sequence, columns: Sequence[str], ints: Iterable[str] = ()
) -> pd.DataFrame:
    """A table from its row records, in the order of ``columns``, the columns ``ints`` cast
    to int64."""
    df = pd.DataFrame.from_records(records, columns=list(columns))
    for col in ints:
        df[col] = df[col].astype(np.int64)
    return df


__all__ = [
    "FLAG_COLUMNS",
    "ROW_COLUMNS",
    "SELECTION_COLUMNS",
    "empty_rows",
    "format_table",
    "load_per_image",
    "mark_selection",
    "read_marked_rows",
    "read_rows",
    "read_table",
    "records_frame",
    "selected_rows",
    "selection_flags",
    "sort_rows",
    "typed",
    "write_tsv",
]

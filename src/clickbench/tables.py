"""Aggregation: per-image rows -> the study's tables and the ones it could not compute.

Input is ``per_image.tsv``: the concatenation of every per-image TSV (columns
:data:`ROW_COLUMNS`, one row per (strategy, click); see docs/internals.md), with the columns
``selected`` and ``index_pick`` joined from the dedup tables (:func:`mark_selection`). Every
table is a pure function of those rows and a :class:`Settings`, returned as a DataFrame with a
fixed column order and sorted rows; :func:`write_tsv` writes it with ``%.6g`` floats, so two
runs give the same bytes. Every table but ``selection`` is computed from the dedup-selected
rows only (``selected == 1``); ``selection`` compares them with the study's index-rule picks.

Vocabulary used throughout:

method
    ``model``, or ``model:strategy`` when the model appears with several selection
    strategies anywhere in the rows (SAM: ``sam_vit_h:max_score``, ``sam_vit_h:oracle``).
curve
    IoU after clicks 1..H of one loop on one image, H = the protocol's ``max_clicks``; a loop
    stopped early (``target_iou``) has its last IoU carried forward.
kept IoU
    The IoU of the mask a user keeps, as the study defined it: in ``noc`` and ``replay`` the
    loop stops at the first click whose IoU reaches ``metrics.study.target_iou`` or at
    ``metrics.study.max_clicks`` (or where the loop itself ended), and the mask of that
    click is kept; in ``first_click`` the one prediction is kept.
study view
    One method per model, the study's setting: every non-SAM model in its own ``noc`` loop
    (RITM as the study ran it; the baselines the same way) and SAM given the first click
    with ``max_score`` (falling back to its ``noc`` ``max_score`` loop when ``first_click``
    did not run).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from clickbench import metrics, stats
from clickbench.models.registry import SAM_FAMILY
from clickbench.outputs import STUDY_TABLES
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

#: the ``class`` label of rows aggregated over every class
ALL = "(all)"
#: protocols whose loops have several clicks (curves, NoC, mIoU@k)
MULTI_CLICK = ("noc", "replay")
#: the study's protocols, the only ones the tables of :data:`TABLES` read (the others have
#: their own tables, :mod:`clickbench.protocol_tables`)
STUDY_PROTOCOLS = ("noc", "first_click", "replay")
#: the table names :func:`build_tables` returns, in order
TABLES = STUDY_TABLES
DESCRIBE_STATS = ["count", "mean", "std", "min", "25%", "50%", "75%", "max"]


# ---------------------------------------------------------------- settings
@dataclass(frozen=True)
class Settings:
    """What the tables need from the config (see :meth:`from_config`)."""

    thresholds: tuple[float, ...] = (0.85, 0.90)
    miou_at: tuple[int, ...] = (1, 2, 3, 5, 10)
    study_target: float = 0.90
    study_max_clicks: int = 10
    bootstrap_samples: int = 2000
    bootstrap_seed: int = 0
    #: protocol -> the number of clicks its loops run to (curve length)
    horizons: Mapping[str, int] = field(default_factory=dict)
    #: model name -> config ``type`` (sam, ritm, grabcut, random_walker)
    model_types: Mapping[str, str] = field(default_factory=dict)
    #: the model whose noc clicks ``replay`` feeds to the others
    replay_source: str | None = None

    @classmethod
    def from_config(
        cls,
        metrics: Mapping | None = None,
        protocols: Mapping | None = None,
        models: Mapping | None = None,
    ) -> Settings:
        """From the config blocks ``metrics``, ``protocols`` and ``models`` (defaults as the
        schema's when a key is absent)."""
        metrics = dict(metrics or {})
        protocols = dict(protocols or {})
        study = metrics.get("study") or {}
        boot = metrics.get("bootstrap") or {}
        horizons = {"first_click": 1}
        if "noc" in protocols:
            horizons["noc"] = int(protocols["noc"].get("max_clicks", 20))
        if "replay" in protocols:
            replay = protocols["replay"]
            horizons["replay"] = int(replay.get("max_clicks") or horizons.get("noc", 20))
        return cls(
            thresholds=tuple(float(t) for t in metrics.get("iou_thresholds", (0.85, 0.90))),
            miou_at=tuple(int(k) for k in metrics.get("miou_at", (1, 2, 3, 5, 10))),
            study_target=float(study.get("target_iou", 0.90)),
            study_max_clicks=int(study.get("max_clicks", 10)),
            bootstrap_samples=int(boot.get("samples", 2000)),
            bootstrap_seed=int(boot.get("seed", 0)),
            horizons=horizons,
            model_types={name: spec["type"] for name, spec in (models or {}).items()},
            replay_source=(protocols.get("replay") or {}).get("source"),
        )

    def horizon(self, protocol: str, rows: pd.DataFrame) -> int:
        """Curve length for ``protocol``: its configured ``max_clicks``, else the longest loop."""
        if protocol in self.horizons:
            return int(self.horizons[protocol])
        clicks = rows.loc[rows["protocol"] == protocol, "click"]
        return int(clicks.max()) if len(clicks) else 1

    def is_sam(self, model: str) -> bool:
        return self.model_types.get(model) in SAM_FAMILY


def threshold_label(t: float) -> str:
    """0.85 -> ``"85"``, 0.875 -> ``"87.5"`` (the NoC@85 convention)."""
    return f"{t * 100:.6g}"


# ---------------------------------------------------------------- reading and writing
def empty_rows(with_dataset: bool = True) -> pd.DataFrame:
    cols = (["dataset"] if with_dataset else []) + ROW_COLUMNS
    return _typed(pd.DataFrame({c: [] for c in cols}))


def _typed(df: pd.DataFrame) -> pd.DataFrame:
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
    return sort_rows(_typed(rows))


def load_per_image(path: str | Path) -> pd.DataFrame:
    """Read a ``per_image.tsv`` written by :func:`write_tsv`."""
    df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    return _typed(df)


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


def study_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows of the study's protocols (:data:`STUDY_PROTOCOLS`)."""
    if not len(rows) or set(rows["protocol"]) <= set(STUDY_PROTOCOLS):
        return rows
    return rows[rows["protocol"].isin(STUDY_PROTOCOLS)].reset_index(drop=True)


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
    """Read back any table of this module: text columns stay text (image ids keep their
    zeros), ``NA`` becomes NaN, every other column is numeric."""
    df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    for c in df.columns:
        if c not in TEXT_TABLE_COLUMNS:
            df[c] = pd.to_numeric(df[c].replace({"NA": None, "": None}))
    return df


# ---------------------------------------------------------------- methods and curves
def method_names(rows: pd.DataFrame) -> dict[tuple[str, str], str]:
    """(model, strategy) -> method label: ``model`` or ``model:strategy`` when the model has
    several strategies anywhere in ``rows``."""
    pairs = rows[["model", "strategy"]].drop_duplicates()
    n_strategies = pairs.groupby("model")["strategy"].nunique()
    return {
        (m, s): (m if n_strategies[m] == 1 else f"{m}:{s}")
        for m, s in pairs.itertuples(index=False)
    }


def with_methods(rows: pd.DataFrame) -> pd.DataFrame:
    names = method_names(rows)
    rows = rows.copy()
    rows["method"] = [names[(m, s)] for m, s in zip(rows["model"], rows["strategy"], strict=True)]
    return rows


@dataclass
class Curves:
    """The IoU curves of one (protocol, method): ``keys`` (class, image) rows aligned with
    ``ious`` ``(n_images, horizon)`` (carried forward) and ``clicks`` (n_images,) the number
    of clicks the loop actually ran."""

    protocol: str
    method: str
    model: str
    strategy: str
    keys: pd.DataFrame
    ious: np.ndarray
    clicks: np.ndarray


def curves(
    rows: pd.DataFrame, settings: Settings, protocols=MULTI_CLICK, value: str = "iou"
) -> list[Curves]:
    """Every loop's IoU curve (``value="biou"``: boundary IoU), grouped by (protocol,
    method), sorted by protocol, method."""
    rows = rows if "method" in rows else with_methods(rows)
    out = []
    for protocol in sorted(set(rows["protocol"]) & set(protocols)):
        sub = rows[rows["protocol"] == protocol]
        horizon = settings.horizon(protocol, rows)
        for method in sorted(set(sub["method"])):
            msub = sub[sub["method"] == method].sort_values(
                ["class", "image", "click"], kind="mergesort"
            )
            keys, ious, clicks = [], [], []
            for (cls, image), loop in msub.groupby(["class", "image"], sort=True):
                curve = loop[value].to_numpy(dtype=np.float64)
                expected = np.arange(1, len(curve) + 1)
                if not np.array_equal(loop["click"].to_numpy(), expected):
                    raise ValueError(
                        f"{protocol}/{method} {cls}/{image}: clicks {loop['click'].tolist()} "
                        "are not 1..K"
                    )
                n = min(len(curve), horizon)
                full = np.empty(horizon)
                full[:n] = curve[:n]
                full[n:] = curve[n - 1]
                keys.append((cls, image))
                ious.append(full)
                clicks.append(n)
            first = msub.iloc[0]
            out.append(
                Curves(
                    protocol,
                    method,
                    first["model"],
                    first["strategy"],
                    pd.DataFrame(keys, columns=["class", "image"]),
                    np.asarray(ious).reshape(len(keys), horizon),
                    np.asarray(clicks, dtype=np.int64),
                )
            )
    return out


# ---------------------------------------------------------------- kept IoU
def study_view(rows: pd.DataFrame, settings: Settings) -> set[tuple[str, str]]:
    """The (protocol, method) pairs of the study view (see the module docstring)."""
    rows = rows if "method" in rows else with_methods(rows)
    present = rows[["protocol", "model", "strategy", "method"]].drop_duplicates()
    out = set()
    for model in sorted(set(present["model"])):
        mine = present[present["model"] == model]

        def pick(protocol, mine=mine):
            sub = mine[mine["protocol"] == protocol]
            if not len(sub):
                return None
            chosen = sub[sub["strategy"] == "max_score"]
            row = (chosen if len(chosen) else sub.sort_values("strategy")).iloc[0]
            return (protocol, row["method"])

        is_sam = settings.is_sam(model) or (
            model not in settings.model_types and "first_click" in set(mine["protocol"])
        )
        choice = (pick("first_click") or pick("noc")) if is_sam else pick("noc")
        if choice is not None:
            out.add(choice)
    return out


KEPT_COLUMNS = [
    "class",
    "image",
    "protocol",
    "model",
    "strategy",
    "method",
    "clicks",
    "iou",
    "best_iou",
]


def kept(rows: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Per image and (protocol, method), the kept mask's click and IoU (and ``best_iou`` at
    that click): the first click reaching ``metrics.study.target_iou``, else the last of
    the loop within ``metrics.study.max_clicks`` (``first_click``: click 1). Sorted by
    protocol, method, class, image."""
    rows = rows if "method" in rows else with_methods(rows)
    if not len(rows):
        return pd.DataFrame({c: [] for c in KEPT_COLUMNS})
    keys = ["protocol", "method", "class", "image"]
    rows = rows.sort_values(keys + ["click"], kind="mergesort").reset_index(drop=True)
    groups = rows.groupby(keys, sort=False)
    # the loop's last click within the study's limit, and its first click reaching the target
    last = groups["click"].transform("max").clip(upper=settings.study_max_clicks)
    reaching = rows["click"].where(
        (rows["iou"] >= settings.study_target) & (rows["click"] <= settings.study_max_clicks)
    )
    first = reaching.groupby([rows[k] for k in keys], sort=False).transform("min")
    step = first.fillna(last).clip(lower=1)
    step = step.where(rows["protocol"].isin(MULTI_CLICK), 1).astype(np.int64)
    out = rows.loc[rows["click"] == step, keys + ["model", "strategy", "click", "iou", "best_iou"]]
    out = out.rename(columns={"click": "clicks"})[KEPT_COLUMNS].reset_index(drop=True)
    out["clicks"] = out["clicks"].astype(np.int64)
    return out


def kept_rule(protocol: str, settings: Settings) -> str:
    if protocol in MULTI_CLICK:
        return (
            f"first click reaching IoU {settings.study_target:g}, "
            f"at most {settings.study_max_clicks} clicks"
        )
    return "the one click"


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
    return pd.DataFrame.from_records(records, columns=PER_CLASS_COLUMNS)


def _by_class(c: Curves) -> list[tuple[str, np.ndarray]]:
    """(class label, row selector) for the overall rows then each class."""
    classes = c.keys["class"].to_numpy()
    out = [(ALL, np.ones(len(classes), dtype=bool))]
    out += [(cls, classes == cls) for cls in sorted(set(classes))]
    return out


def noc_columns(settings: Settings) -> list[str]:
    labels = [threshold_label(t) for t in settings.thresholds]
    return [f"noc@{lab}" for lab in labels] + [f"nof@{lab}" for lab in labels]


def miou_columns(settings: Settings) -> list[str]:
    return [f"miou@{k}" for k in settings.miou_at]


def _noc_values(ious: np.ndarray, settings: Settings) -> list[float]:
    """NoC@t then NoF@t (strict: never reaching t) over the rows of ``ious`` (n, horizon)."""
    horizon = ious.shape[1]
    nocs = [metrics.noc(list(ious), t, horizon) for t in settings.thresholds]
    nofs = [metrics.nof(list(ious), t, horizon) for t in settings.thresholds]
    return nocs + nofs


def _miou_values(ious: np.ndarray, settings: Settings) -> list[float]:
    horizon = ious.shape[1]
    return [
        float(ious[:, k - 1].mean()) if k <= horizon and len(ious) else np.nan
        for k in settings.miou_at
    ]


def noc_table(rows: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """NoC@t (mean clicks to reach IoU t, the horizon when never) and NoF@t (images never
    reaching t) per method of the ``noc`` protocol, overall (``(all)``) and per class."""
    cols = ["protocol", "method", "class", "n", "max_clicks"] + noc_columns(settings)
    records = []
    for c in curves(with_methods(rows), settings, protocols=("noc",)):
        for cls, sel in _by_class(c):
            ious = c.ious[sel]
            records.append(
                [c.protocol, c.method, cls, len(ious), c.ious.shape[1]]
                + _noc_values(ious, settings)
            )
    df = pd.DataFrame.from_records(records, columns=cols)
    for col in ["n", "max_clicks"] + [x for x in cols if x.startswith("nof@")]:
        df[col] = df[col].astype(np.int64)
    return df


def miou_table(rows: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """mIoU after k clicks (``metrics.miou_at``) per method of ``noc`` and ``replay``, overall
    and per class; NA where k exceeds the protocol's ``max_clicks``."""
    cols = ["protocol", "method", "class", "n"] + miou_columns(settings)
    records = []
    for c in curves(with_methods(rows), settings):
        for cls, sel in _by_class(c):
            records.append(
                [c.protocol, c.method, cls, int(sel.sum())] + _miou_values(c.ious[sel], settings)
            )
    df = pd.DataFrame.from_records(records, columns=cols)
    df["n"] = df["n"].astype(np.int64)
    return df


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
    return pd.DataFrame.from_records(records, columns=cols)


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
    sub = rows[rows["protocol"].isin(["first_click", "replay"]) & (rows["strategy"] == "max_score")]
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
    return pd.DataFrame.from_records(records, columns=AMBIGUITY_COLUMNS)


PAIRED_COLUMNS = [
    "comparison",
    "a",
    "b",
    "class",
    "n",
    "mean_a",
    "mean_b",
    "mean_diff",
    "ci_low",
    "ci_high",
    "wilcoxon_p",
    "note",
]


def comparisons(
    rows: pd.DataFrame, settings: Settings
) -> list[tuple[str, tuple[str, str], tuple[str, str]]]:
    """The paired comparisons that exist in ``rows``: (name, (protocol, method) a, b).

    - ``study``: each RITM model's study-view IoU vs each SAM model's (the study's question);
    - ``oracle_vs_max_score``: SAM's oracle vs max_score on the first click (the ambiguity gap);
    - ``same_clicks``: RITM in its own loop vs SAM replaying RITM's clicks (max_score), both
      under the study's stopping rule.
    """
    rows = rows if "method" in rows else with_methods(rows)
    names = method_names(rows)
    present = set(zip(rows["protocol"], rows["model"], rows["strategy"], strict=True))
    view = study_view(rows, settings)
    view_of = {}
    for protocol, method in view:
        model = method.split(":")[0]
        view_of[model] = (protocol, method)
    models = sorted({m for _, m, _ in present})
    ritm = [m for m in models if settings.model_types.get(m) == "ritm" and m in view_of]
    sam = [m for m in models if settings.model_types.get(m) in SAM_FAMILY]
    out = []
    for r in ritm:
        for s in sam:
            if s in view_of:
                out.append(("study", view_of[r], view_of[s]))
    for s in sam:
        if {("first_click", s, "oracle"), ("first_click", s, "max_score")} <= present:
            out.append(
                (
                    "oracle_vs_max_score",
                    ("first_click", names[(s, "oracle")]),
                    ("first_click", names[(s, "max_score")]),
                )
            )
    for r in ritm:
        for s in sam:
            if ("replay", s, "max_score") in present:
                out.append(
                    ("same_clicks", ("noc", view_of[r][1]), ("replay", names[(s, "max_score")]))
                )
    return out


def paired(a: pd.Series, b: pd.Series, settings: Settings) -> dict:
    """Mean difference ``a - b`` on the images both have, its bootstrap interval and the
    Wilcoxon p-value. ``a``/``b`` are IoU indexed by (class, image)."""
    both = pd.concat({"a": a, "b": b}, axis=1, join="inner").dropna().sort_index()
    d = (both["a"] - both["b"]).to_numpy(dtype=np.float64)
    ci = stats.bootstrap_ci(d, settings.bootstrap_samples, settings.bootstrap_seed)
    test = stats.wilcoxon(d)
    note = "; ".join(x for x in (ci.note, test.note) if x)
    return {
        "n": len(d),
        "mean_a": float(both["a"].mean()) if len(d) else np.nan,
        "mean_b": float(both["b"].mean()) if len(d) else np.nan,
        "mean_diff": float(d.mean()) if len(d) else np.nan,
        "ci_low": ci.low,
        "ci_high": ci.high,
        "wilcoxon_p": test.pvalue,
        "note": note,
    }


def paired_table(rows: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Paired comparisons (see :func:`comparisons`) overall and per class: ``mean_diff`` is
    the mean over images of ``IoU_a - IoU_b``."""
    rows = with_methods(rows)
    k = kept(rows, settings)
    records = []
    for name, a, b in comparisons(rows, settings):
        ka = k[(k["protocol"] == a[0]) & (k["method"] == a[1])].set_index(["class", "image"])["iou"]
        kb = k[(k["protocol"] == b[0]) & (k["method"] == b[1])].set_index(["class", "image"])["iou"]
        classes = sorted(set(ka.index.get_level_values(0)) | set(kb.index.get_level_values(0)))
        for cls in [ALL, *classes]:
            sa = ka if cls == ALL else ka[ka.index.get_level_values(0) == cls]
            sb = kb if cls == ALL else kb[kb.index.get_level_values(0) == cls]
            records.append(
                {
                    "comparison": name,
                    "a": "/".join(a),
                    "b": "/".join(b),
                    "class": cls,
                    **paired(sa, sb, settings),
                }
            )
    df = pd.DataFrame.from_records(records, columns=PAIRED_COLUMNS)
    df["n"] = df["n"].astype(np.int64)
    return df


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
            + _miou_values(c.ious, settings)
            + _noc_values(c.ious, settings)
        )
    df = pd.DataFrame.from_records(records, columns=cols)
    for col in ["n", "max_clicks"] + [x for x in cols if x.startswith("nof@")]:
        df[col] = df[col].astype(np.int64)
    return df


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
    df = pd.DataFrame.from_records(records, columns=SELECTION_TABLE_COLUMNS)
    ints = ["dedup_n", "index_n", "both_n"]
    if flags is not None:
        ints += ["index_rotation_fill", "index_not_representative"]
    for col in ints:
        df[col] = df[col].astype(np.int64)
    return df


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
    "ALL",
    "MULTI_CLICK",
    "Curves",
    "ROW_COLUMNS",
    "Settings",
    "TABLES",
    "build_tables",
    "comparisons",
    "curve_table",
    "curves",
    "format_table",
    "kept",
    "load_per_image",
    "mark_selection",
    "paired",
    "read_marked_rows",
    "read_rows",
    "read_table",
    "selected_rows",
    "selection_flags",
    "selection_table",
    "study_rows",
    "study_view",
    "with_methods",
    "write_tsv",
]

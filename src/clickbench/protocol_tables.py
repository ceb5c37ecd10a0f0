"""Tables of the prompts and measures beyond the study: boxes, trials, boundary IoU, timing.

The study's tables (:mod:`clickbench.tables`) read only the study's protocols; these read
the per-image rows of every protocol (``per_image.tsv``, dedup-selected rows), and return
DataFrames with a fixed column order and sorted rows, as :mod:`clickbench.tables` does:

- ``boundary``: mean boundary IoU after k clicks (``mbiou@k``), as the ``miou`` table;
- ``prompts``: per method, the box alone and the box plus k clicks (protocol ``box``), the
  first click (``first_click``) and k simulated clicks (``noc``): mIoU and mBIoU side by side;
  a model configured for ``box`` that takes no box prompt has a "not applicable" row;
- ``trials``: per trial protocol (``random_clicks``, ``perturbed``) and method, the
  dataset-level NoC@t of every trial, its mean, standard deviation, minimum and maximum
  across trials, the mean over images of the per-image standard deviation across trials,
  and the simulator's NoC@t on the same images (``noc``) beside it;
- ``trials_per_image``: per image, NoC@t's mean and standard deviation across trials;
- ``protocol_paired``: paired comparisons between protocols of one method (box alone vs the
  first click; each trial protocol's per-image mean NoC vs the simulator's NoC), with Holm's
  correction over the table's tests.

``timing_table`` summarises the per-image timing files (:func:`clickbench.runner.timing_rows`):
measured, so unlike every other table it differs between runs, and it is written beside
``provenance.yaml``, not under ``tables/``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from clickbench import metrics
from clickbench.outputs import PROTOCOL_TABLES
from clickbench.paired_stats import STAT_COLUMNS, paired, with_holm
from clickbench.row_io import mark_selection, records_frame, selected_rows
from clickbench.study import ALL, Settings, class_groups, curves, study_rows, with_methods
from clickbench.tables import miou_values, threshold_label
from clickbench.traces import BOX_PROTOCOL, TRIAL_PROTOCOLS

#: the table names :func:`build_tables` returns, in order
TABLES = PROTOCOL_TABLES


@dataclass(frozen=True)
class Plan:
    """What these tables need from the validated config beyond :class:`clickbench.study.Settings`:
    the configured ``box`` models and every protocol's click budget (curve length)."""

    box_models: tuple[str, ...] = ()
    #: protocol -> curve length: box: 1 + its clicks after the box; trials: max_clicks
    horizons: Mapping[str, int] | None = None

    @classmethod
    def from_config(cls, protocols: Mapping | None) -> Plan:
        protocols = dict(protocols or {})
        horizons = {}
        if BOX_PROTOCOL in protocols:
            horizons[BOX_PROTOCOL] = 1 + int(protocols[BOX_PROTOCOL]["max_clicks"])
        for name in TRIAL_PROTOCOLS:
            if name in protocols:
                horizons[name] = int(protocols[name]["max_clicks"])
        box = protocols.get(BOX_PROTOCOL) or {}
        return cls(box_models=tuple(box.get("models", ())), horizons=horizons)

    def horizon(self, protocol: str, rows: pd.DataFrame) -> int:
        if self.horizons and protocol in self.horizons:
            return int(self.horizons[protocol])
        clicks = rows.loc[rows["protocol"] == protocol, "click"]
        return int(clicks.max()) + (protocol == BOX_PROTOCOL) if len(clicks) else 1


@dataclass
class LoopCurves:
    """One (protocol, method)'s loops as arrays: ``keys`` (class, image, trial) rows aligned
    with ``iou`` and ``biou`` ``(n_loops, horizon)``, last value carried forward."""

    protocol: str
    method: str
    model: str
    keys: pd.DataFrame
    iou: np.ndarray
    biou: np.ndarray


def loop_curves(rows: pd.DataFrame, protocol: str, plan: Plan) -> list[LoopCurves]:
    """Every loop of ``protocol`` by method (sorted), one row per (class, image, trial).
    Step ``j`` (0-based) is the j-th row of the loop in click order (``box``: click j)."""
    rows = rows if "method" in rows else with_methods(rows)
    sub = rows[rows["protocol"] == protocol]
    if not len(sub):
        return []
    horizon = plan.horizon(protocol, rows)
    out = []
    for method in sorted(set(sub["method"])):
        m = sub[sub["method"] == method].sort_values(
            ["class", "image", "trial", "click"], kind="mergesort"
        )
        keys, values = [], {"iou": [], "biou": []}
        for key, loop in m.groupby(["class", "image", "trial"], sort=True):
            first = 0 if protocol == BOX_PROTOCOL else 1
            expected = np.arange(first, first + len(loop))
            if not np.array_equal(loop["click"].to_numpy(), expected):
                raise ValueError(
                    f"{protocol}/{method} {key}: clicks {loop['click'].tolist()} are not "
                    f"{first}..{first + len(loop) - 1}"
                )
            keys.append(key)
            for value in values:
                v = loop[value].to_numpy(dtype=np.float64)[:horizon]
                full = np.empty(horizon)
                full[: len(v)] = v
                full[len(v) :] = v[-1]
                values[value].append(full)
        out.append(
            LoopCurves(
                protocol,
                method,
                str(m["model"].iloc[0]),
                pd.DataFrame(keys, columns=["class", "image", "trial"]),
                np.asarray(values["iou"]).reshape(len(keys), horizon),
                np.asarray(values["biou"]).reshape(len(keys), horizon),
            )
        )
    return out


# ---------------------------------------------------------------- boundary
def boundary_table(rows: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """mBIoU@k (mean boundary IoU after k clicks, ``metrics.miou_at``) per method of ``noc``
    and ``replay``, overall and per class, on the images of the ``miou`` table; NA where k
    exceeds the protocol's ``max_clicks``."""
    cols = ["protocol", "method", "class", "n"] + [f"mbiou@{k}" for k in settings.miou_at]
    records = []
    for c in curves(with_methods(study_rows(rows)), settings, value="biou"):
        for cls, sel in class_groups(c.keys["class"].to_numpy()):
            records.append(
                [c.protocol, c.method, cls, int(sel.sum())] + miou_values(c.ious[sel], settings)
            )
    return records_frame(records, cols, ints=["n"])


# ---------------------------------------------------------------- prompts
PROMPTS_COLUMNS = ["method", "class", "prompt", "clicks", "n", "miou", "mbiou", "note"]
NOT_APPLICABLE = "not applicable: the model takes no box prompt"


def prompts_table(rows: pd.DataFrame, settings: Settings, plan: Plan) -> pd.DataFrame:
    """Box vs first click vs k clicks, per method, overall and per class.

    ``prompt`` is ``box`` (protocol ``box``; ``clicks`` simulated clicks after the box, 0 =
    the box alone), ``first_click`` (protocol ``first_click``, one click) or ``clicks``
    (protocol ``noc``, ``clicks`` in ``metrics.miou_at`` up to its ``max_clicks``). ``miou``
    and ``mbiou``: mean IoU and boundary IoU of the kept mask over the method's images. A
    model listed under ``protocols.box`` with rows in other protocols but none in ``box``
    gets one ``box`` row with ``n`` 0, NA values and the note :data:`NOT_APPLICABLE`."""
    rows = with_methods(rows)
    records = []
    for c in loop_curves(rows, BOX_PROTOCOL, plan):
        for cls, sel in class_groups(c.keys["class"].to_numpy()):
            for k in range(c.iou.shape[1]):
                records.append(
                    [c.method, cls, "box", k, int(sel.sum())]
                    + [float(c.iou[sel, k].mean()), float(c.biou[sel, k].mean()), ""]
                )
    for protocol, prompt, ks in (
        ("first_click", "first_click", (1,)),
        ("noc", "clicks", settings.miou_at),
    ):
        iou = {c.method: c for c in curves(rows, settings, protocols=(protocol,))}
        biou = curves(rows, settings, protocols=(protocol,), value="biou")
        horizon = settings.horizon(protocol, rows)
        for b in biou:
            c = iou[b.method]
            for cls, sel in class_groups(c.keys["class"].to_numpy()):
                for k in ks:
                    if k > horizon:
                        continue
                    records.append(
                        [c.method, cls, prompt, int(k), int(sel.sum())]
                        + [float(c.ious[sel, k - 1].mean()), float(b.ious[sel, k - 1].mean()), ""]
                    )
    with_box = set(rows.loc[rows["protocol"] == BOX_PROTOCOL, "model"])
    for model in plan.box_models:
        if model in with_box or model not in set(rows["model"]):
            continue
        records.append([model, ALL, "box", 0, 0, np.nan, np.nan, NOT_APPLICABLE])
    df = pd.DataFrame.from_records(records, columns=PROMPTS_COLUMNS)
    order = {"box": 0, "first_click": 1, "clicks": 2}
    df = df.assign(_o=df["prompt"].map(order)).sort_values(
        ["method", "class", "_o", "clicks"], kind="mergesort"
    )
    df = df.drop(columns="_o").reset_index(drop=True)
    for col in ("clicks", "n"):
        df[col] = df[col].astype(np.int64)
    return df


# ---------------------------------------------------------------- trials
def _by_image_and_trial(c: LoopCurves, values: np.ndarray) -> pd.DataFrame:
    """One value per loop as a (class, image) x trial frame, sorted by image."""
    df = c.keys.assign(value=np.asarray(values, dtype=np.float64))
    return df.pivot(index=["class", "image"], columns="trial", values="value").sort_index()


def _noc_matrix(c: LoopCurves, thr: float) -> pd.DataFrame:
    """NoC@thr of every loop: images (class, image) x trials."""
    return _by_image_and_trial(c, metrics.noc_per_image(list(c.iou), thr, c.iou.shape[1]))


def _never_matrix(c: LoopCurves, thr: float) -> pd.DataFrame:
    """1.0 where a loop never reaches ``thr`` (NoF), else 0.0: images x trials."""
    return _by_image_and_trial(c, ~(c.iou >= thr).any(axis=1))


def _simulator_noc(
    rows: pd.DataFrame, settings: Settings, method: str, horizon: int, thr: float
) -> pd.Series:
    """The ``noc`` protocol's per-image NoC@thr of ``method`` within ``horizon`` clicks,
    indexed by (class, image); empty when it has no noc loop that long."""
    for c in curves(rows, settings, protocols=("noc",)):
        if c.method == method and c.ious.shape[1] >= horizon:
            noc = metrics.noc_per_image(list(c.ious[:, :horizon]), thr, horizon)
            index = pd.MultiIndex.from_frame(c.keys)
            return pd.Series(noc.astype(np.float64), index=index).sort_index()
    return pd.Series([], dtype=np.float64)


def trials_tables(
    rows: pd.DataFrame, settings: Settings, plan: Plan
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``trials`` and ``trials_per_image`` tables (see the module docstring).

    ``trials``, per (protocol, method, class): ``n`` images, ``trials``; per threshold t:
    ``noc@t`` the mean over trials of the dataset-level NoC@t (= the mean over every image and
    trial), ``noc@t_sd`` its standard deviation across trials (ddof 1; NA for one trial),
    ``noc@t_min``/``noc@t_max`` the lowest and highest dataset-level NoC@t of a trial,
    ``noc@t_image_sd`` the mean over images of each image's standard deviation across trials,
    ``noc@t_simulator`` the simulator's NoC@t (``noc``) on the same images within the same
    click budget (NA when ``noc`` did not run that long), and ``nof@t`` the mean NoF@t over
    trials. ``trials_per_image``: per image, ``noc@t_mean`` and ``noc@t_sd`` across trials."""
    rows = with_methods(rows)
    labels = [threshold_label(t) for t in settings.thresholds]
    cols = ["protocol", "method", "class", "n", "trials", "max_clicks"]
    for lab in labels:
        cols += [f"noc@{lab}", f"noc@{lab}_sd", f"noc@{lab}_min", f"noc@{lab}_max"]
        cols += [f"noc@{lab}_image_sd", f"noc@{lab}_simulator", f"nof@{lab}"]
    per_cols = ["protocol", "method", "class", "image", "trials"]
    for lab in labels:
        per_cols += [f"noc@{lab}_mean", f"noc@{lab}_sd"]
    records, per_image = [], []
    for protocol in TRIAL_PROTOCOLS:
        for c in loop_curves(rows, protocol, plan):
            horizon = c.iou.shape[1]
            mats = {t: _noc_matrix(c, t) for t in settings.thresholds}
            nevers = {t: _never_matrix(c, t) for t in settings.thresholds}
            sims = {t: _simulator_noc(rows, settings, c.method, horizon, t) for t in mats}
            first = next(iter(mats.values()))
            for cls, sel in class_groups(first.index.get_level_values(0).to_numpy()):
                rec = [protocol, c.method, cls, int(sel.sum()), first.shape[1], horizon]
                for t in settings.thresholds:
                    m = mats[t].to_numpy()[sel]  # images x trials
                    dataset = m.mean(axis=0)  # one NoC per trial
                    sim = sims[t].reindex(mats[t].index[sel])
                    rec += [
                        float(m.mean()),
                        float(dataset.std(ddof=1)) if dataset.size > 1 else np.nan,
                        float(dataset.min()),
                        float(dataset.max()),
                        float(m.std(axis=1, ddof=1).mean()) if m.shape[1] > 1 else np.nan,
                        float(sim.mean()) if sim.notna().all() and len(sim) else np.nan,
                        float(nevers[t].to_numpy()[sel].sum(axis=0).mean()),
                    ]
                records.append(rec)
            for i, (cls, image) in enumerate(first.index):
                rec = [protocol, c.method, cls, image, first.shape[1]]
                for t in settings.thresholds:
                    v = mats[t].to_numpy()[i]
                    rec += [float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else np.nan]
                per_image.append(rec)
    trials = records_frame(records, cols, ints=("n", "trials", "max_clicks"))
    return trials, records_frame(per_image, per_cols, ints=["trials"])


# ---------------------------------------------------------------- paired, Holm-corrected
PROTOCOL_PAIRED_COLUMNS = ["comparison", "a", "b", "measure", *STAT_COLUMNS, "holm_p", "note"]


def protocol_paired_table(rows: pd.DataFrame, settings: Settings, plan: Plan) -> pd.DataFrame:
    """Paired comparisons between protocols of one method over all images (dedup-selected):

    - ``box_vs_first_click``: IoU of the box alone minus IoU after the first click
      (``first_click``, else the first click of ``noc``);
    - ``<trial protocol>_vs_simulator``: per image, the mean NoC@t over trials minus the
      simulator's NoC@t (``noc``, the same click budget), for every threshold t.

    ``wilcoxon_p`` is each test's own p-value, ``holm_p`` Holm's adjustment over every test of
    this table (:func:`clickbench.stats.holm`); the ``note`` of every row says so."""
    rows = with_methods(rows)
    tests = []
    fc = {c.method: c for c in curves(rows, settings, protocols=("first_click",))}
    noc = {c.method: c for c in curves(rows, settings, protocols=("noc",))}
    for c in loop_curves(rows, BOX_PROTOCOL, plan):
        ref = fc.get(c.method) or noc.get(c.method)
        if ref is None:
            continue
        a = pd.Series(c.iou[:, 0], index=pd.MultiIndex.from_frame(c.keys[["class", "image"]]))
        b = pd.Series(ref.ious[:, 0], index=pd.MultiIndex.from_frame(ref.keys))
        tests.append(
            ("box_vs_first_click", f"box/{c.method}", f"{ref.protocol}/{c.method}", "iou@1", a, b)
        )
    for protocol in TRIAL_PROTOCOLS:
        for c in loop_curves(rows, protocol, plan):
            horizon = c.iou.shape[1]
            for t in settings.thresholds:
                a = _noc_matrix(c, t).mean(axis=1)
                b = _simulator_noc(rows, settings, c.method, horizon, t)
                if not len(b):
                    continue
                lab = threshold_label(t)
                tests.append(
                    (
                        f"{protocol}_vs_simulator",
                        f"{protocol}/{c.method}",
                        f"noc/{c.method}",
                        f"noc@{lab}",
                        a,
                        b,
                    )
                )
    records = []
    for name, a, b, measure, sa, sb in tests:
        records.append(
            {"comparison": name, "a": a, "b": b, "measure": measure, **paired(sa, sb, settings)}
        )
    return with_holm(records_frame(records, PROTOCOL_PAIRED_COLUMNS, ints=["n"]))[
        PROTOCOL_PAIRED_COLUMNS
    ]


# ---------------------------------------------------------------- all of them
def build_tables(
    rows: pd.DataFrame,
    settings: Settings,
    plan: Plan,
    flags: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """Every table of :data:`TABLES` from ``per_image`` rows (``selected == 1`` rows only;
    ``flags`` as :func:`clickbench.tables.build_tables`)."""
    rows = rows.drop(columns=["dataset"], errors="ignore")
    if flags is not None or "selected" not in rows:
        rows = mark_selection(rows, flags)
    main = selected_rows(rows)
    trials, per_image = trials_tables(main, settings, plan)
    return {
        "boundary": boundary_table(main, settings),
        "prompts": prompts_table(main, settings, plan),
        "trials": trials,
        "trials_per_image": per_image,
        "protocol_paired": protocol_paired_table(main, settings, plan),
    }


# ---------------------------------------------------------------- timing
TIMING_TABLE_COLUMNS = [
    "model",
    "device",
    "images",
    "encoded",
    "encode_s_mean",
    "encode_s_median",
    "cache_load_s_mean",
    "calls",
    "call_s_mean",
    "call_s_median",
]


def timing_table(paths: Iterable[str | Path]) -> pd.DataFrame:
    """Seconds per image encoding and per model call, per (model, device), from the
    per-image timing files (:func:`clickbench.runner.timing_rows`).

    ``images``: images timed; ``encoded``: those whose ``set_image`` did the image's work
    (``encode``) or that had a share of a chunk's batched encoding (``batch_encode``);
    ``encode_s_*``: those seconds per encoded image; ``cache_load_s_mean``: ``set_image``
    served from SAM's embedding cache; ``calls`` and ``call_s_*``: model calls (every click
    step of every protocol, box steps included)."""
    frames = [pd.read_csv(p, sep="\t", dtype={"image": str}, keep_default_na=False) for p in paths]
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame({c: [] for c in TIMING_TABLE_COLUMNS})
    df = pd.concat(frames, ignore_index=True)
    records = []
    for (model, device), sub in df.groupby(["model", "device"], sort=True):
        enc = sub[sub["event"].isin(["encode", "batch_encode"])]
        enc = enc.groupby(["class", "image"])["seconds"].sum()
        loads = sub.loc[sub["event"] == "cache_load", "seconds"]
        calls = sub.loc[sub["event"] == "predict", "seconds"]
        images = sub[["class", "image"]].drop_duplicates()
        records.append(
            [
                model,
                device,
                len(images),
                len(enc),
                float(enc.mean()) if len(enc) else np.nan,
                float(enc.median()) if len(enc) else np.nan,
                float(loads.mean()) if len(loads) else np.nan,
                len(calls),
                float(calls.mean()) if len(calls) else np.nan,
                float(calls.median()) if len(calls) else np.nan,
            ]
        )
    return records_frame(records, TIMING_TABLE_COLUMNS, ints=("images", "encoded", "calls"))


__all__ = [
    "NOT_APPLICABLE",
    "TABLES",
    "LoopCurves",
    "Plan",
    "boundary_table",
    "build_tables",
    "loop_curves",
    "prompts_table",
    "protocol_paired_table",
    "timing_table",
    "trials_tables",
]

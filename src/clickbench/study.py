"""The study's view of the per-image rows: methods, IoU curves and the kept mask.

What every table (:mod:`clickbench.tables`, :mod:`clickbench.paired_stats`,
:mod:`clickbench.protocol_tables`) and the figures read the rows through, with the
:class:`Settings` they take from the validated config. Vocabulary used throughout:

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

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from clickbench.config import with_defaults
from clickbench.models.registry import SAM_FAMILY
from clickbench.traces import DRIVING_STRATEGY

#: the ``class`` label of rows aggregated over every class
ALL = "(all)"
#: protocols whose loops have several clicks (curves, NoC, mIoU@k)
MULTI_CLICK = ("noc", "replay")
#: the study's protocols, the only ones the tables of :data:`clickbench.tables.TABLES` read
#: (the others have their own tables, :mod:`clickbench.protocol_tables`)
STUDY_PROTOCOLS = ("noc", "first_click", "replay")


# ---------------------------------------------------------------- settings
@dataclass(frozen=True)
class Settings:
    """What the tables need from the config (see :meth:`from_config`; the schema holds every
    default)."""

    thresholds: tuple[float, ...]
    miou_at: tuple[int, ...]
    study_target: float
    study_max_clicks: int
    bootstrap_samples: int
    bootstrap_seed: int
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
        """From the config blocks ``metrics``, ``protocols`` and ``models``; a key a block
        lacks takes the schema's default (:func:`clickbench.config.with_defaults`). ``replay``
        runs as far as ``noc`` unless it sets its own ``max_clicks``."""
        metrics = with_defaults("metrics", metrics)
        protocols = with_defaults("protocols", protocols)
        study, boot = metrics["study"], metrics["bootstrap"]
        horizons = {"first_click": 1}
        if "noc" in protocols:
            horizons["noc"] = int(protocols["noc"]["max_clicks"])
        if "replay" in protocols:
            horizons["replay"] = int(protocols["replay"].get("max_clicks") or horizons["noc"])
        return cls(
            thresholds=tuple(float(t) for t in metrics["iou_thresholds"]),
            miou_at=tuple(int(k) for k in metrics["miou_at"]),
            study_target=float(study["target_iou"]),
            study_max_clicks=int(study["max_clicks"]),
            bootstrap_samples=int(boot["samples"]),
            bootstrap_seed=int(boot["seed"]),
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


def class_groups(classes: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """(class label, row selector) for the overall rows (:data:`ALL`) then each class, sorted;
    ``classes``: the class of every row."""
    classes = np.asarray(classes)
    out = [(ALL, np.ones(len(classes), dtype=bool))]
    out += [(cls, classes == cls) for cls in sorted(set(classes))]
    return out


# ---------------------------------------------------------------- rows and methods
def study_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows of the study's protocols (:data:`STUDY_PROTOCOLS`)."""
    if not len(rows) or set(rows["protocol"]) <= set(STUDY_PROTOCOLS):
        return rows
    return rows[rows["protocol"].isin(STUDY_PROTOCOLS)].reset_index(drop=True)


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


# ---------------------------------------------------------------- curves
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
            chosen = sub[sub["strategy"] == DRIVING_STRATEGY]
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


__all__ = [
    "ALL",
    "KEPT_COLUMNS",
    "MULTI_CLICK",
    "STUDY_PROTOCOLS",
    "Curves",
    "Settings",
    "class_groups",
    "curves",
    "kept",
    "kept_rule",
    "method_names",
    "study_rows",
    "study_view",
    "with_methods",
]

"""The ``paired`` table: paired comparisons of the kept IoU on the images both sides have.

The mean difference, its bootstrap interval and the Wilcoxon signed-rank p-value
(:mod:`clickbench.stats`), overall and per class, for the comparisons :func:`comparisons`
finds in the rows, and Holm's adjustment over every test of the table (:func:`with_holm`);
:mod:`clickbench.protocol_tables` uses :func:`paired` and :func:`with_holm` for its own.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clickbench import stats
from clickbench.models.registry import SAM_FAMILY
from clickbench.row_io import records_frame
from clickbench.study import ALL, Settings, kept, method_names, study_view, with_methods
from clickbench.traces import DRIVING_STRATEGY

#: the statistics of one comparison (:func:`paired`, before its ``note``), in table order
STAT_COLUMNS = ["n", "mean_a", "mean_b", "mean_diff", "ci_low", "ci_high", "wilcoxon_p"]
PAIRED_COLUMNS = ["comparison", "a", "b", "class", *STAT_COLUMNS, "holm_p", "note"]


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
        if {("first_click", s, "oracle"), ("first_click", s, DRIVING_STRATEGY)} <= present:
            out.append(
                (
                    "oracle_vs_max_score",
                    ("first_click", names[(s, "oracle")]),
                    ("first_click", names[(s, DRIVING_STRATEGY)]),
                )
            )
    for r in ritm:
        for s in sam:
            if ("replay", s, DRIVING_STRATEGY) in present:
                out.append(
                    (
                        "same_clicks",
                        ("noc", view_of[r][1]),
                        ("replay", names[(s, DRIVING_STRATEGY)]),
                    )
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


def with_holm(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` (one paired test per row, ``wilcoxon_p``) with ``holm_p``: Holm's adjustment
    over every test of the table (:func:`clickbench.stats.holm`; rows without a test stay
    NA and do not count), each row's ``note`` saying over how many."""
    df = df.copy()
    df["holm_p"] = stats.holm(df["wilcoxon_p"].to_numpy(dtype=np.float64))
    if len(df):
        m = int(df["wilcoxon_p"].notna().sum())
        holm = f"holm_p: Holm-corrected over the {m} tests of this table"
        df["note"] = [f"{n}; {holm}" if n else holm for n in df["note"].fillna("")]
    return df


def paired_table(rows: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Paired comparisons (see :func:`comparisons`) overall and per class: ``mean_diff`` is
    the mean over images of ``IoU_a - IoU_b``; the table's p-values Holm-corrected
    together (:func:`with_holm`): it holds one test per comparison and class."""
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
    return with_holm(records_frame(records, PAIRED_COLUMNS, ints=["n"]))[PAIRED_COLUMNS]


__all__ = [
    "PAIRED_COLUMNS",
    "STAT_COLUMNS",
    "comparisons",
    "paired",
    "paired_table",
    "with_holm",
]

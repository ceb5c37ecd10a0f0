"""``summary.md``: the headline numbers in plain Markdown, for readers who skip the HTML report.

Built from the aggregate tables of :mod:`clickbench.tables` (read back with
:func:`clickbench.row_io.read_table`), plus, when given, the dedup tables and the run's
``provenance.yaml``. Numbers are rounded for reading (3 decimals; p-values 2 significant
digits); the TSV tables hold the full values.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from clickbench import protocol_tables, row_io, tables
from clickbench.study import ALL


def _num(x, digits: int = 3) -> str:
    """Integers as they are, floats with ``digits`` decimals, NaN as ``NA``."""
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    x = float(x)
    return "NA" if math.isnan(x) else f"{x:.{digits}f}"


def _p(x) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "NA"
    return f"{x:.2g}"


def markdown_table(df: pd.DataFrame, digits: int = 3) -> str:
    """A GitHub-flavoured Markdown table of ``df`` (floats rounded, ``|`` escaped)."""
    if not len(df.columns):
        return ""

    def cell(v):
        if isinstance(v, (float, int, np.integer, np.floating)) and not isinstance(v, bool):
            return _num(v, digits)
        return str(v).replace("|", "\\|")

    lines = ["| " + " | ".join(str(c) for c in df.columns) + " |"]
    lines.append("| " + " | ".join("---" for _ in df.columns) + " |")
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return "\n".join(lines)


def _overall(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``table`` aggregated over every class (``class`` :data:`ALL`)."""
    return table[table["class"] == ALL] if len(table) else table


def _prefixed(table: pd.DataFrame, *prefixes: str) -> list[str]:
    """The columns of ``table`` whose names start with one of ``prefixes``, in order."""
    return [c for c in table.columns if c.startswith(prefixes)]


def _table_section(
    title: str,
    rows: pd.DataFrame,
    empty: str,
    text: str,
    columns: list[str],
    digits: int = 3,
    floats: Iterable[str] = (),
) -> list[str]:
    """A section: ``title``, then ``text`` and the ``columns`` of ``rows`` as a table (its ``n``
    column titled ``images``, ``floats`` shown as floats), or ``empty`` when there are no rows."""
    out = [f"## {title}", ""]
    if not len(rows):
        return out + [empty, ""]
    table = _floats(rows[columns], floats).rename(columns={"n": "images"})
    return out + [text, "", markdown_table(table, digits), ""]


def _study(describe: pd.DataFrame, paired: pd.DataFrame) -> list[str]:
    out = ["## The study's comparison", ""]
    study = describe[describe["study"] == 1] if len(describe) else describe
    if not len(study):
        return out + ["No study-view results in this run (no model produced rows).", ""]
    view = study[["method", "protocol", "count", "mean", "50%", "std", "min", "max"]].rename(
        columns={"count": "images", "mean": "mean IoU", "50%": "median IoU"}
    )
    out += [
        "Kept-mask IoU as the study defined it: RITM (and every non-SAM model) in its own click "
        "loop, stopped at the first click reaching the target IoU or at the click limit; SAM "
        "given the first click, keeping its highest-scoring mask.",
        "",
        markdown_table(view),
        "",
    ]
    pairs = (
        paired[(paired["comparison"] == "study") & (paired["class"] == ALL)]
        if len(paired)
        else paired
    )
    for r in pairs.itertuples(index=False):
        out.append(
            f"- {r.a} minus {r.b}, paired over {r.n} images: mean difference "
            f"{_num(r.mean_diff)} (95% bootstrap interval {_num(r.ci_low)} to {_num(r.ci_high)}), "
            f"Wilcoxon signed-rank p = {_p(r.wilcoxon_p)}, Holm-corrected p = {_p(r.holm_p)}"
            + (f" ({r.note})" if r.note else "")
            + "."
        )
    if len(pairs):
        out.append("")
    return out


def _ambiguity(ambiguity: pd.DataFrame, paired: pd.DataFrame) -> list[str]:
    out = ["## SAM's ambiguity: the mask it keeps vs the best of its three", ""]
    rows = _overall(ambiguity)
    if not len(rows):
        return out + ["No SAM first-click or replay results in this run.", ""]
    for r in rows.itertuples(index=False):
        out.append(
            f"- {r.model}, {r.protocol.replace('_', ' ')}: mean IoU {_num(r.max_score)} with the "
            f"highest-scoring mask, {_num(r.oracle)} with the best one (gap {_num(r.gap)}); the kept "
            f"mask is not the best in {_num(100 * r.not_best_images, 1)}% of {r.images} images"
            + (
                f" ({_num(100 * r.not_best_steps, 1)}% of {r.steps} click steps)"
                if r.steps != r.images
                else ""
            )
            + "."
        )
    pairs = paired[(paired["comparison"] == "oracle_vs_max_score") & (paired["class"] == ALL)]
    for r in pairs.itertuples(index=False):
        out.append(
            f"- {r.a} minus {r.b}: 95% bootstrap interval {_num(r.ci_low)} to {_num(r.ci_high)}, "
            f"Wilcoxon p = {_p(r.wilcoxon_p)}, Holm-corrected p = {_p(r.holm_p)}."
        )
    worst = ambiguity[ambiguity["class"] != ALL].sort_values(
        ["gap", "class"], ascending=[False, True]
    )
    if len(worst):
        w = worst.iloc[0]
        out.append(f"- Largest gap by species: {w['class']} ({_num(w['gap'])}, {w['model']}).")
    return out + [""]


def _noc(noc: pd.DataFrame) -> list[str]:
    return _table_section(
        "Clicks needed (noc protocol)",
        _overall(noc),
        "No noc-protocol results in this run.",
        "NoC@t: mean number of clicks to reach IoU t (the click limit when never); NoF@t: images "
        "that never reach it.",
        ["method", "n", "max_clicks", *_prefixed(noc, "noc@", "nof@")],
        digits=2,
    )


def _multiclick(multiclick: pd.DataFrame) -> list[str]:
    return _table_section(
        "Multi-click SAM",
        multiclick,
        "No multi-click SAM results in this run.",
        "mIoU after k clicks: `replay` gives SAM RITM's clicks 1..k; `noc` lets SAM run its own "
        "loop with each mask-selection strategy (RITM's own loop as the reference row).",
        ["protocol", "method", "n", *_prefixed(multiclick, "miou@", "noc@")],
    )


def _selection(selection: pd.DataFrame) -> list[str]:
    out = ["## Dedup vs the study's index rule", ""]
    rows = _overall(selection)
    if not len(rows):
        return out + ["No study-view results to compare the two selections on.", ""]
    if not (rows["index_n"] > 0).any():
        return out + [
            "No index-rule pick was evaluated (no dedup tables, or "
            "`dedup.evaluate_index_picks` is off).",
            "",
        ]
    out += [
        "The study's index rule takes files `index_start`, `index_start + index_step`, ... "
        "(00001, 00021, ... in the fish dataset) as the originals; dedup takes each group's "
        "representative. Mean kept-mask IoU of each study-view method over the two selections "
        "(`tables/selection.tsv` has it per species):",
        "",
    ]
    for r in rows.itertuples(index=False):
        out.append(
            f"- {r.method} ({r.protocol}): {_num(r.dedup_mean_iou)} over {r.dedup_n} dedup "
            f"picks, {_num(r.index_mean_iou)} over {r.index_n} index picks "
            f"({_count(r.index_rotation_fill)} rotated with black fill, "
            f"{_count(r.index_not_representative)} not their group's representative, "
            f"{r.both_n} in both selections): index minus dedup {_num(r.index_minus_dedup)}."
        )
    per_class = selection[(selection["class"] != ALL) & selection["index_minus_dedup"].notna()]
    if len(per_class):
        w = (
            per_class.assign(size=per_class["index_minus_dedup"].abs())
            .sort_values(
                ["size", "class", "method"], ascending=[False, True, True], kind="mergesort"
            )
            .iloc[0]
        )
        out.append(
            f"- Largest difference by species: {w['class']} ({w['method']}, "
            f"{_num(w['index_minus_dedup'])})."
        )
    return out + [""]


def _boundary(boundary: pd.DataFrame) -> list[str]:
    mbiou = _prefixed(boundary, "mbiou@")
    return _table_section(
        "Boundary IoU",
        _overall(boundary),
        "No multi-click results in this run.",
        "Mean boundary IoU after k clicks (Cheng et al., 2021: IoU of the masks' boundary "
        "bands, 2% of the image diagonal wide), beside the mIoU above.",
        ["protocol", "method", "n", *mbiou],
        floats=mbiou,
    )


def _floats(df: pd.DataFrame, columns) -> pd.DataFrame:
    """``df`` with ``columns`` as floats (a table read back gives 1.0 as the integer 1)."""
    return df.astype({c: np.float64 for c in columns})


def _prompts(prompts: pd.DataFrame) -> list[str]:
    rows = _overall(prompts)
    with_box = len(rows) and (rows["prompt"] == "box").any()
    return _table_section(
        "Box vs first click vs k clicks",
        rows if with_box else rows.iloc[:0],
        "No box-protocol results in this run.",
        "Mean IoU and boundary IoU of the kept mask: the ground-truth box alone (`box`, 0 "
        "clicks) and with k simulated clicks after it, RITM's first click alone, and k clicks "
        "of the model's own simulated loop.",
        ["method", "prompt", "clicks", "n", "miou", "mbiou", "note"],
        floats=["miou", "mbiou"],
    )


def _trials(trials: pd.DataFrame, paired: pd.DataFrame) -> list[str]:
    out = ["## Random and perturbed clicks: NoC over trials", ""]
    rows = _overall(trials)
    if not len(rows):
        return out + ["No random_clicks or perturbed results in this run.", ""]
    labels = [c[4:] for c in trials.columns if c.startswith("noc@") and c.count("_") == 0]
    out += [
        "NoC@t as mean ± standard deviation of the dataset-level NoC across trials (each trial "
        "a seeded draw of every click), beside the simulator's NoC on the same images.",
        "",
    ]
    header = ["protocol", "method", "images", "trials"]
    header += [f"NoC@{lab} (trials)" for lab in labels]
    header += [f"NoC@{lab} simulator" for lab in labels]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    for r in rows.to_dict("records"):
        cells = [r["protocol"], r["method"], str(r["n"]), str(r["trials"])]
        cells += [
            f"{_num(float(r[f'noc@{lab}']), 2)} ± {_num(float(r[f'noc@{lab}_sd']), 2)}"
            for lab in labels
        ]
        cells += [_num(float(r[f"noc@{lab}_simulator"]), 2) for lab in labels]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    out += lines + [""]
    if len(paired):
        out += [
            "Paired over images (`tables/protocol_paired.tsv`; p-values Holm-corrected over the "
            f"{int(paired['wilcoxon_p'].notna().sum())} tests of that table):",
            "",
        ]
        for r in paired.itertuples(index=False):
            out.append(
                f"- {r.a} minus {r.b} ({r.measure}), {r.n} images: {_num(r.mean_diff)} "
                f"(95% bootstrap interval {_num(r.ci_low)} to {_num(r.ci_high)}), Wilcoxon "
                f"p = {_p(r.wilcoxon_p)}, Holm-corrected p = {_p(r.holm_p)}."
            )
        out.append("")
    return out


def _timing(timing: pd.DataFrame) -> list[str]:
    out = ["## Time per image and per click", ""]
    if not len(timing):
        return out + ["No timings in this run.", ""]
    cols = ["model", "device", "images", "encoded", "encode_s_median", "calls", "call_s_median"]
    out += [
        "Median seconds of an image encoding (`set_image` doing the image's work) and of one "
        "model call (a click step), as measured by the jobs that computed them "
        "(`timing.tsv`; measured on the machine that ran them, which may have been shared).",
        "",
        markdown_table(_floats(timing[cols], ["encode_s_median", "call_s_median"])),
        "",
    ]
    return out


def _count(x) -> str:
    return "NA" if pd.isna(x) else str(int(x))


def render(
    dataset: str,
    tables_: Mapping[str, pd.DataFrame],
    extra: Mapping[str, pd.DataFrame] | None = None,
    provenance: str | None = None,
    timing: pd.DataFrame | None = None,
    browser: str | None = None,
) -> str:
    """The Markdown text. ``tables_`` holds :data:`clickbench.tables.TABLES` by name
    (``selection`` optional: the dedup vs index-rule paragraph) and, when present, those of
    :data:`clickbench.protocol_tables.TABLES`; ``timing`` the timing table (optional);
    ``extra`` more tables shown
    verbatim (title -> table, e.g. the dedup summary); ``provenance`` the text of
    ``provenance.yaml``; ``browser`` the results browser's page, relative to the summary."""
    lines = [
        f"# clickbench: {dataset}",
        "",
        "Headline numbers; every table (full precision, per species) and figure is under "
        "`tables/` and `figures/`, and in the HTML report.",
        "",
    ]
    if browser is not None:
        lines += [
            f"Every evaluated image, click by click, with every candidate mask: [{browser}]({browser}) "
            "(the results browser; open it from disk).",
            "",
        ]
    lines += _study(tables_["describe"], tables_["paired"])
    lines += _ambiguity(tables_["ambiguity"], tables_["paired"])
    lines += _noc(tables_["noc"])
    lines += _multiclick(tables_["multiclick"])
    if "boundary" in tables_:
        lines += _boundary(tables_["boundary"])
    if "prompts" in tables_:
        lines += _prompts(tables_["prompts"])
    if "trials" in tables_:
        lines += _trials(tables_["trials"], tables_.get("protocol_paired", pd.DataFrame()))
    if "selection" in tables_:
        lines += _selection(tables_["selection"])
    if timing is not None:
        lines += _timing(timing)
    for title, df in (extra or {}).items():
        lines += [f"## {title}", "", markdown_table(df) if len(df) else "(empty)", ""]
    if provenance is not None:
        lines += ["## Provenance", "", "```yaml", provenance.rstrip("\n"), "```", ""]
    return "\n".join(lines)


def write(
    path: str | Path,
    dataset: str,
    table_paths: Mapping[str, str | Path],
    extra_paths: Mapping[str, str | Path] | None = None,
    provenance_path: str | Path | None = None,
    timing_path: str | Path | None = None,
    browser: str | None = None,
) -> None:
    """Read the tables and write ``summary.md`` at ``path`` (``selection`` and the tables of
    :data:`clickbench.protocol_tables.TABLES` may be absent from ``table_paths``;
    ``browser``: see :func:`render`)."""
    tabs = {
        name: row_io.read_table(table_paths[name])
        for name in tables.TABLES
        if name != "selection" or name in table_paths
    }
    for name in protocol_tables.TABLES:
        if name in table_paths:
            tabs[name] = row_io.read_table(table_paths[name])
    timing = row_io.read_table(timing_path) if timing_path else None
    extra = {}
    for title, p in (extra_paths or {}).items():
        extra[title] = pd.read_csv(p, sep="\t", dtype=str, keep_default_na=False)
    prov = Path(provenance_path).read_text() if provenance_path else None
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(render(dataset, tabs, extra, prov, timing, browser))


__all__ = ["markdown_table", "render", "write"]

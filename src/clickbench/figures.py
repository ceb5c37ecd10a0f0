"""The figures of a run: which ones a job declares, and writing them.

The plots are :mod:`clickbench.plots` (from the tables), the image panels
:mod:`clickbench.panels` (from the per-image rows, traces and images); :func:`write_all`
ties tables, traces and images together for ``scripts/figures.py`` and
``scripts/example_figures.py``, each figure of :data:`clickbench.outputs.FIGURES` by name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pandas as pd

from clickbench import panels, plots, study, tables
from clickbench.outputs import FIGURES


def declared_outputs(items: Iterable[tuple[str, str]], kind: str) -> dict[str, list[str]]:
    """A figures job's declared outputs, (output name, path) pairs where ``<name>_svg`` names
    an SVG copy, grouped by figure name; a name that is not a figure of ``kind`` ("plot" or
    "image", :data:`FIGURES`) is an error."""
    outputs: dict[str, list[str]] = {}
    for name, path in items:
        base = name[: -len("_svg")] if name.endswith("_svg") else name
        if FIGURES.get(base) != kind:
            known = ", ".join(f for f, k in FIGURES.items() if k == kind)
            raise ValueError(f"unknown {kind} figure output {name!r}; known: {known}")
        outputs.setdefault(base, []).append(path)
    return outputs


def write_all(
    rows: pd.DataFrame,
    tables_: Mapping[str, pd.DataFrame],
    settings: study.Settings,
    samples: Sequence[Mapping],
    traces: Mapping[panels.TraceKey, str | Path],
    outputs: Mapping[str, Sequence[str | Path]],
    grid_rows: int = 9,
    ambiguity_rows: int = 4,
) -> None:
    """Write every figure named in ``outputs`` (name -> paths, e.g. a PNG and an SVG).
    ``traces``: each per-image ``.npz``, keyed (protocol, model, class slug, image) by the
    workflow that named it (the image panels load theirs)."""
    rows = rows.drop(columns=["dataset"], errors="ignore")
    rows = study.with_methods(study.study_rows(rows))
    for name, paths in outputs.items():
        if name == "mean_iou_by_species":
            plots.mean_iou_by_species(tables_["per_class"], paths)
        elif name == "miou_curves":
            plots.miou_curves(tables.curve_table(rows, settings), paths)
        elif name == "biou_curves":
            plots.biou_curves(tables.curve_table(rows, settings), paths)
        elif name == "prompt_curves":
            plots.prompt_curves(tables_["prompts"], paths)
        elif name == "noc_trials":
            plots.noc_trials(tables_["trials_per_image"], tables_["trials"], paths)
        elif name == "noc_bars":
            plots.noc_bars(tables_["noc"], paths)
        elif name == "grid":
            panels.grid(panels.build_grid_rows(rows, settings, samples, traces, grid_rows), paths)
        elif name == "ambiguity_masks":
            panels.ambiguity(
                panels.build_ambiguity_rows(rows, samples, traces, ambiguity_rows), paths
            )
        else:
            raise ValueError(f"unknown figure {name!r}; known: {', '.join(FIGURES)}")


__all__ = ["declared_outputs", "write_all"]

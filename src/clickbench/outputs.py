"""The names of the aggregate outputs: the tables and figures a run writes.

One place for them, light enough for the workflow to import at start-up (no pandas, no
matplotlib): ``rules/report.smk`` declares its outputs from these, and
:mod:`clickbench.tables`, :mod:`clickbench.protocol_tables` and :mod:`clickbench.figures`
build exactly these.
"""

from __future__ import annotations

#: the study's tables (:func:`clickbench.tables.build_tables`), in order; ``selection``
#: (dedup vs the study's index rule) is also the summary's paragraph
STUDY_TABLES = (
    "describe",
    "per_class",
    "noc",
    "miou",
    "ambiguity",
    "paired",
    "multiclick",
    "selection",
)

#: the tables of the protocols beyond the study (:mod:`clickbench.protocol_tables`)
PROTOCOL_TABLES = ("boundary", "prompts", "trials", "trials_per_image", "protocol_paired")

#: figure name -> kind: ``plot`` (from the tables; PNG and SVG) or ``image`` (image panels
#: drawn from the per-image results beside ``aggregate``; PNG)
FIGURES = {
    "mean_iou_by_species": "plot",
    "miou_curves": "plot",
    "noc_bars": "plot",
    "biou_curves": "plot",
    "prompt_curves": "plot",
    "noc_trials": "plot",
    "grid": "image",
    "ambiguity_masks": "image",
}


#: the protocols the results browser shows (:mod:`clickbench.browser`): one click loop per
#: (model, strategy) whose step k holds click k. The box protocol (step 0 is the box alone)
#: and the trial protocols (``random_clicks``, ``perturbed``: one loop per trial) are in the
#: tables and figures only.
BROWSED_PROTOCOLS = ("noc", "first_click", "replay")


def figures_of(kind: str) -> list[str]:
    """The figure names of one kind (``plot`` or ``image``), in order."""
    return [name for name, k in FIGURES.items() if k == kind]


__all__ = ["BROWSED_PROTOCOLS", "FIGURES", "PROTOCOL_TABLES", "STUDY_TABLES", "figures_of"]

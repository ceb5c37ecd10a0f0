"""Per-image rows -> tables, figures, provenance and the summary; all cheap, all local."""

# "selection" (dedup vs the study's index rule) is an extra named input of figures (ignored) and
# summary (its paragraph)
TABLES = [
    "describe",
    "per_class",
    "noc",
    "miou",
    "ambiguity",
    "paired",
    "multiclick",
    "selection",
]
FIGURES = ["mean_iou_by_species", "miou_curves", "noc_bars", "grid", "ambiguity_masks"]
PLOTS_SVG = ["mean_iou_by_species", "miou_curves", "noc_bars"]


localrules:
    dedup_summary,
    aggregate,
    figures,
    summary,
    provenance,
    fetch_checkpoints,


rule aggregate:
    input:
        rows=per_image_tsvs,
        dedup=expand(f"{R}/dedup/{{cls}}.tsv", cls=sorted(BY_SLUG)),
    output:
        **{
            t: report(
                f"{R}/tables/{t}.tsv",
                caption=f"../report/{t}.rst",
                category="Tables",
            )
            for t in TABLES
        },
        per_image=f"{R}/tables/per_image.tsv",
    log:
        f"{LOGS}/aggregate.log",
    conda:
        "../envs/base.yaml"
    params:
        dataset=DATASET["name"],
        metrics=METRICS,
        protocols=config["protocols"],
        models=MODELS,
    script:
        "../scripts/aggregate.py"


rule figures:
    input:
        **{t: f"{R}/tables/{t}.tsv" for t in TABLES},
        per_image=f"{R}/tables/per_image.tsv",
        traces=per_image_npzs,
    output:
        **{
            f: report(
                f"{R}/figures/{f}.png",
                caption=f"../report/{f}.rst",
                category="Figures",
            )
            for f in FIGURES
        },
        **{f"{f}_svg": f"{R}/figures/{f}.svg" for f in PLOTS_SVG},
    log:
        f"{LOGS}/figures.log",
    conda:
        "../envs/base.yaml"
    params:
        samples=lambda w: [
            {
                "cls": SAMPLE[p].cls,
                "image": SAMPLE[p].image_id,
                "slug": p[0],
                "image_path": str(SAMPLE[p].image),
                "mask_path": str(SAMPLE[p].mask),
                "layout": LAYOUT,
            }
            for p in selected_pairs()
        ],
        metrics=METRICS,
        protocols=config["protocols"],
        models=MODELS,
    script:
        "../scripts/figures.py"


rule provenance:
    input:
        checkpoints=list(checkpoint_paths()),
    output:
        f"{R}/provenance.yaml",
    log:
        f"{LOGS}/provenance.log",
    conda:
        "../envs/base.yaml"
    params:
        config=config,
        models=MODELS,
        skipped=SKIPPED_MODELS,
    script:
        "../scripts/provenance.py"


rule summary:
    input:
        **{t: f"{R}/tables/{t}.tsv" for t in TABLES},
        dedup=f"{R}/tables/dedup_summary.tsv",
        index_rule=f"{R}/tables/index_rule.tsv",
        provenance=f"{R}/provenance.yaml",
    output:
        report(f"{R}/summary.md", caption="../report/summary.rst", category="Summary"),
    log:
        f"{LOGS}/summary.log",
    conda:
        "../envs/base.yaml"
    params:
        dataset=DATASET["name"],
        metrics=METRICS,
    script:
        "../scripts/summary.py"

"""Per-image rows -> tables, figures, provenance and the summary; all cheap, all local."""

# every name comes from the library (clickbench.outputs), which builds exactly these
TABLES = [*cboutputs.STUDY_TABLES, *cboutputs.PROTOCOL_TABLES]
PLOTS = cboutputs.figures_of("plot")
EXAMPLES = cboutputs.figures_of("image")


localrules:
    dedup_summary,
    aggregate,
    figures,
    example_figures,
    summary,
    provenance,
    fetch_checkpoints,


rule aggregate:
    input:
        rows=per_image_tsvs,
        dedup=expand(f"{R}/dedup/{{cls}}.tsv", cls=sorted(BY_SLUG)),
        timing=per_image_timings,
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
        # measured seconds: they differ between runs, so not under tables/
        timing=report(
            f"{R}/timing.tsv", caption="../report/timing.rst", category="Tables"
        ),
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
        per_class=f"{R}/tables/per_class.tsv",
        noc=f"{R}/tables/noc.tsv",
        prompts=f"{R}/tables/prompts.tsv",
        trials=f"{R}/tables/trials.tsv",
        trials_per_image=f"{R}/tables/trials_per_image.tsv",
        per_image=f"{R}/tables/per_image.tsv",
    output:
        **{
            f: report(
                f"{R}/figures/{f}.png",
                caption=f"../report/{f}.rst",
                category="Figures",
            )
            for f in PLOTS
        },
        **{f"{f}_svg": f"{R}/figures/{f}.svg" for f in PLOTS},
    log:
        f"{LOGS}/figures.log",
    conda:
        "../envs/base.yaml"
    params:
        metrics=METRICS,
        protocols=config["protocols"],
        models=MODELS,
    script:
        "../scripts/figures.py"


rule example_figures:
    input:
        rows=per_image_tsvs,
        dedup=expand(f"{R}/dedup/{{cls}}.tsv", cls=sorted(BY_SLUG)),
        traces=per_image_npzs,
    output:
        **{
            f: report(
                f"{R}/figures/{f}.png",
                caption=f"../report/{f}.rst",
                category="Figures",
            )
            for f in EXAMPLES
        },
    log:
        f"{LOGS}/example_figures.log",
    conda:
        "../envs/base.yaml"
    params:
        trace_keys=lambda w: run_keys(),
        dataset=DATASET["name"],
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
        "../scripts/example_figures.py"


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
        timing=f"{R}/timing.tsv",
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

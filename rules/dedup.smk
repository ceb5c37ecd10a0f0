"""Perceptual-hash dedup per class (a checkpoint: later rules fan out over its picks)."""


checkpoint dedup:
    input:
        images=lambda w: [s.image for s in BY_SLUG[w.cls]],
        masks=lambda w: [s.mask for s in BY_SLUG[w.cls] if s.mask is not None],
    output:
        table=f"{R}/dedup/{{cls}}.tsv",
    log:
        f"{LOGS}/dedup/{{cls}}.log",
    benchmark:
        f"{R}/benchmarks/dedup/{{cls}}.tsv"
    conda:
        "../envs/base.yaml"
    params:
        cls=lambda w: CLASS_OF_SLUG[w.cls],
        image_ids=lambda w: [s.image_id for s in BY_SLUG[w.cls]],
        mask_paths=lambda w: [str(s.mask) if s.mask else "" for s in BY_SLUG[w.cls]],
        layout=LAYOUT,
        dedup=config["dedup"],
        on_bad_input=config["on_bad_input"],
    script:
        "../scripts/dedup.py"


rule dedup_summary:
    input:
        tables=expand(f"{R}/dedup/{{cls}}.tsv", cls=sorted(BY_SLUG)),
    output:
        summary=report(
            f"{R}/tables/dedup_summary.tsv",
            caption="../report/dedup_summary.rst",
            category="Dataset",
        ),
        skipped=report(
            f"{R}/tables/skipped.tsv",
            caption="../report/skipped.rst",
            category="Dataset",
        ),
        warnings=report(
            f"{R}/tables/warnings.tsv",
            caption="../report/warnings.rst",
            category="Dataset",
        ),
        native=report(
            f"{R}/tables/native_match.tsv",
            caption="../report/native_match.rst",
            category="Dataset",
        ),
        index_rule=report(
            f"{R}/tables/index_rule.tsv",
            caption="../report/index_rule.rst",
            category="Dataset",
        ),
        contact_sheet=report(
            f"{R}/figures/dedup_contact_sheet.png",
            caption="../report/dedup_contact_sheet.rst",
            category="Dataset",
        ),
    log:
        f"{LOGS}/dedup_summary.log",
    conda:
        "../envs/base.yaml"
    params:
        classes=[CLASS_OF_SLUG[s] for s in sorted(BY_SLUG)],
        native=NATIVE_ROOT,
        dedup=config["dedup"],
    script:
        "../scripts/dedup_summary.py"

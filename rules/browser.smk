"""The results browser: results/<dataset>/browser/index.html, every evaluated image with every
click and candidate mask, from the saved traces (clickbench.browser). One job per image writes
its data file, so a changed image redraws only its own; the index job writes the table.
"""

BROWSER = f"{R}/browser"


localrules:
    browser,


#: (protocol, model) of every trace an evaluated image has, of the protocols it shows
BROWSER_RUNS = [
    (p, m) for m in MODELS for p in protocols_of(m) if p in cboutputs.BROWSED_PROTOCOLS
]


rule browser_sample:
    input:
        npz=lambda w: [
            f"{R}/runs/{p}/{m}/{w.cls}/{w.image}.npz" for p, m in BROWSER_RUNS
        ],
        tsv=lambda w: [
            f"{R}/runs/{p}/{m}/{w.cls}/{w.image}.tsv" for p, m in BROWSER_RUNS
        ],
        image=lambda w: str(SAMPLE[(w.cls, w.image)].image),
        mask=lambda w: str(SAMPLE[(w.cls, w.image)].mask),
    output:
        f"{BROWSER}/samples/{{cls}}/{{image}}.js",
    log:
        f"{LOGS}/browser/{{cls}}/{{image}}.log",
    group:
        "browser_samples"
    conda:
        "../envs/base.yaml"
    params:
        part="sample",
        runs=BROWSER_RUNS,
        sample=lambda w: {
            "cls": SAMPLE[(w.cls, w.image)].cls,
            "image": w.image,
            "image_path": str(SAMPLE[(w.cls, w.image)].image),
            "mask_path": str(SAMPLE[(w.cls, w.image)].mask),
            "layout": LAYOUT,
        },
    script:
        "../scripts/browser.py"


rule browser:
    input:
        rows=per_image_tsvs,
        dedup=expand(f"{R}/dedup/{{cls}}.tsv", cls=sorted(BY_SLUG)),
        samples=lambda w: [
            f"{BROWSER}/samples/{slug}/{image}.js" for slug, image in selected_pairs()
        ],
    output:
        index=f"{BROWSER}/index.html",
        data=f"{BROWSER}/index.js",
        js=f"{BROWSER}/browser.js",
        css=f"{BROWSER}/browser.css",
        table=report(
            f"{BROWSER}/samples.tsv",
            caption="../report/browser.rst",
            category="Browser",
        ),
    log:
        f"{LOGS}/browser.log",
    conda:
        "../envs/base.yaml"
    params:
        part="index",
        dataset=DATASET["name"],
        metrics=METRICS,
        protocols=config["protocols"],
        models=MODELS,
    script:
        "../scripts/browser.py"

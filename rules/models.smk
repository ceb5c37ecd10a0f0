"""Checkpoints, and one job per (model, image) running every protocol that model takes part in.

The model is built and the image encoded once per job; SAM's embeddings are also cached
across jobs and runs (config `cache_dir`), so adding a protocol or strategy re-encodes
nothing. A rule is generated per configured model so each has fixed outputs.
"""

for _path, (_type, _ckpt) in sorted(
    {**fetchable_checkpoints(), **checkpoint_paths()}.items()
):
    if "generate" not in _ckpt and "url" not in _ckpt:
        continue

    rule:
        name:
            f"checkpoint_{cbdatasets.slug(Path(_path).stem)}"
        output:
            checkpoint=_path,
        log:
            f"{LOGS}/checkpoints/{Path(_path).name}.log",
        conda:
            "../envs/models.yaml"
        params:
            spec=_ckpt,
            type=_type,
        script:
            "../scripts/checkpoint.py"


rule fetch_checkpoints:
    input:
        [p for p, (_, c) in fetchable_checkpoints().items()],


for _model in MODELS:

    rule:
        name:
            f"run_{_model}"
        input:
            unpack(run_inputs(_model)),
        output:
            **run_outputs(_model),
        log:
            f"{LOGS}/runs/{_model}/{{cls}}/{{image}}.log",
        benchmark:
            f"{R}/benchmarks/runs/{_model}/{{cls}}/{{image}}.tsv"
        group:
            "heavy_runs" if is_heavy(_model) else "light_runs"
        conda:
            {"sam": "../envs/sam.yaml", "ritm": "../envs/ritm.yaml"}.get(
                MODELS[_model]["type"], "../envs/base.yaml"
            )
        threads: 4 if is_heavy(_model) and not use_gpu() else 1
        resources:
            mem_mb=mem_mb(_model),
            runtime=runtime_min(_model),
            gpu=1 if is_heavy(_model) and use_gpu() else 0,
        params:
            model=_model,
            spec=MODELS[_model],
            protocols=protocols_of(_model),
            layout=LAYOUT,
            device=config["device"],
            precision=config["precision"],
            cache_dir=config["cache_dir"],
            cls=lambda w: CLASS_OF_SLUG[w.cls],
            image=lambda w: w.image,
        script:
            "../scripts/run_model.py"

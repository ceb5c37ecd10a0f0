"""Checkpoints, and one job per (model, image) running every protocol that model takes part in.

The model is built and the image encoded once per job; SAM's embeddings are also cached
across jobs and runs (config `cache_dir`), so adding a protocol or strategy re-encodes
nothing. A rule is generated per configured model so each has fixed outputs.

With config `chunk_size` > 1, SAM and RITM also get a `chunk_<model>` rule: one job per
slice of a class's images computes them with the model loaded once into the run memo
(clickbench.memo), and each per-image job then only materialises its outputs from it.
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


# the conda env of each model family's jobs (each family's package, its own pins); the
# light types (baselines, `python` plugins) run in envs/base.yaml
MODEL_ENVS = {
    "sam": "../envs/sam.yaml",
    "ritm": "../envs/ritm.yaml",
    "sam2": "../envs/sam2.yaml",
    "hq_sam": "../envs/hq_sam.yaml",
    "efficientvit_sam": "../envs/efficientvit_sam.yaml",
}


# the model jobs are the critical path: when a model job and a light one (dedup_summary,
# provenance) are both ready, start the model job; the light ones fill spare cores later
MODEL_PRIORITY = 1


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
        priority: MODEL_PRIORITY
        group:
            run_group(_model)
        conda:
            MODEL_ENVS.get(MODELS[_model]["type"], "../envs/base.yaml")
        threads: run_threads(_model)
        resources:
            **run_resources(_model),
        params:
            **model_params(_model),
            cls=lambda w: CLASS_OF_SLUG[w.cls],
            image=lambda w: w.image,
        script:
            "../scripts/run_model.py"

    if is_chunked(_model):

        rule:
            name:
                f"chunk_{_model}"
            input:
                unpack(chunk_inputs(_model)),
            output:
                marker=f"{R}/runs/.chunks/{_model}/{{cls}}/{{chunk}}.tsv",
            log:
                f"{LOGS}/chunks/{_model}/{{cls}}/{{chunk}}.log",
            benchmark:
                f"{R}/benchmarks/chunks/{_model}/{{cls}}/{{chunk}}.tsv"
            priority: MODEL_PRIORITY
            conda:
                MODEL_ENVS.get(MODELS[_model]["type"], "../envs/base.yaml")
            threads: heavy_threads(_model)
            resources:
                **chunk_resources(_model),
            params:
                **model_params(_model),
                cls=lambda w: CLASS_OF_SLUG[w.cls],
                images=lambda w: chunk_images(w.cls, w.chunk),
            script:
                "../scripts/run_chunk.py"

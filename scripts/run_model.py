"""One model x one image: every protocol the model takes part in (see rules/models.smk).

input:  image, mask, optional checkpoint (only a dependency: the builder reads
        spec["checkpoint"]["path"]), optional source (the replay source model's noc .npz;
        its ``max_score`` loop's clicks are replayed), optional chunk (the marker of the chunk
        job that computed this image, config ``chunk_size`` > 1).
params: model (name), spec (its config block), protocols (its plan: name -> config block
        with ``strategies``, clickbench.protocols.plan), layout, device, precision, cache_dir, cls (class name),
        image (image id).
output: ``<protocol>_npz`` (traces, clickbench.traces.save_traces) and ``<protocol>_tsv``
        (per-image rows) for every protocol in params.protocols.
log:    the run memo lookup; on a computation, timings of each stage: model build, set_image
        (SAM's encoder), every click.

The outputs come from the run memo (clickbench.memo) when it holds this image's result,
without importing torch or building the model; otherwise the model is built, ``set_image``
runs once, every protocol and strategy reuses it, and the result is stored in the memo
(clickbench.runner.run_image).
"""

from clickbench.runner import ImageTask, ModelJob, exit_fast, log_to, run_image

params = snakemake.params
job = ModelJob.from_params(params)
task = ImageTask(
    cls=params.cls,
    image=params.image,
    image_path=snakemake.input.image,
    mask_path=snakemake.input.mask,
    source_path=getattr(snakemake.input, "source", None),
)
with log_to(snakemake.log[0]):
    run_image(
        job,
        task,
        {name: getattr(snakemake.output, name) for name in job.output_files()},
        marker=getattr(snakemake.input, "chunk", None),
    )
if __name__ == "__main__":  # as Snakemake runs it (not under runpy in a test)
    exit_fast()  # skips torch's 0.6-1.2 s interpreter teardown; the outputs are closed

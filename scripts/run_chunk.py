"""One model x a chunk of one class's images, the model built once (config ``chunk_size`` > 1).

input:  images, masks (lists, in the order of params.images), optional checkpoint, optional
        sources (the replay source model's noc .npz per image, same order).
params: as scripts/run_model.py, with images (the chunk's image ids) instead of image.
output: marker, a TSV (class, image, key, status hit/computed, device): the results themselves
        go into the run memo (clickbench.memo), from which each image's run_<model> job
        materialises its outputs.
log:    memo hits and misses, the model build, SAM's batched encoding, every click.

Only images whose memo key misses are computed (clickbench.runner.run_chunk).
"""

from clickbench.runner import ImageTask, ModelJob, exit_fast, log_to, run_chunk

params = snakemake.params
inp = snakemake.input
sources = list(getattr(inp, "sources", None) or [None] * len(params.images))
tasks = [
    ImageTask(cls=params.cls, image=image, image_path=i, mask_path=m, source_path=s)
    for image, i, m, s in zip(params.images, inp.images, inp.masks, sources, strict=True)
]
with log_to(snakemake.log[0]):
    run_chunk(ModelJob.from_params(params), tasks, snakemake.output.marker)
if __name__ == "__main__":  # as Snakemake runs it (not under runpy in a test)
    exit_fast()  # skips torch's 0.6-1.2 s interpreter teardown; the outputs are closed

"""Per-image rows and traces -> the image panels: example grid and SAM's ambiguity masks.

Reads the per-image TSVs and dedup tables itself (clickbench.row_io.read_marked_rows, as
aggregate does) so that it runs beside aggregate instead of after it.

input: rows (the per-image TSVs), dedup (the per-class dedup tables), traces (the per-image
.npz); params: trace_keys (aligned with input.traces: protocol, model, class slug, image),
dataset, samples (dicts cls, image, slug, image_path, mask_path, layout),
metrics, protocols, models; output: one PNG per image figure of clickbench.outputs.FIGURES.
"""

import logging

from clickbench import figures, row_io, study

logging.basicConfig(
    filename=snakemake.log[0], level=logging.INFO, format="%(levelname)s %(message)s"
)

settings = study.Settings.from_config(
    snakemake.params.metrics, snakemake.params.protocols, snakemake.params.models
)
rows, _ = row_io.read_marked_rows(
    list(snakemake.input.rows), snakemake.params.dataset, list(snakemake.input.dedup)
)
outputs = figures.declared_outputs(snakemake.output.items(), "image")
figures.write_all(
    row_io.selected_rows(rows),
    {},
    settings,
    snakemake.params.samples,
    dict(zip(map(tuple, snakemake.params.trace_keys), snakemake.input.traces, strict=True)),
    outputs,
)
for name, paths in outputs.items():
    logging.info("%s -> %s", name, ", ".join(map(str, paths)))

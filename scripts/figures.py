"""Tables, per-image rows and traces -> the figures (see clickbench.figures).

input: per_image, per_class and noc tables (others are ignored), traces (the per-image .npz);
params: samples (dicts cls, image, slug, image_path, mask_path, layout), metrics, protocols,
models; output: one PNG per name of clickbench.figures.FIGURES, and `<name>_svg` for an SVG
copy of a plot.
"""

import logging

from clickbench import figures, tables

logging.basicConfig(
    filename=snakemake.log[0], level=logging.INFO, format="%(levelname)s %(message)s"
)

settings = tables.Settings.from_config(
    snakemake.params.metrics, snakemake.params.protocols, snakemake.params.models
)
rows = tables.selected_rows(tables.load_per_image(snakemake.input.per_image))
tabs = {name: tables.read_table(snakemake.input[name]) for name in ("per_class", "noc")}

outputs = {}
for name, path in snakemake.output.items():
    base = name[: -len("_svg")] if name.endswith("_svg") else name
    if base not in figures.FIGURES:
        raise ValueError(f"unknown figure output {name!r}; known: {', '.join(figures.FIGURES)}")
    outputs.setdefault(base, []).append(path)

figures.write_all(
    rows, tabs, settings, snakemake.params.samples, list(snakemake.input.traces), outputs
)
for name, paths in outputs.items():
    logging.info("%s -> %s", name, ", ".join(map(str, paths)))

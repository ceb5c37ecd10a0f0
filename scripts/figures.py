"""Tables -> the summary plots (see clickbench.plots; the image panels are example_figures.py).

input: per_image, per_class, noc, prompts, trials and trials_per_image tables; params: metrics, protocols,
models; output: one PNG per plot of clickbench.outputs.FIGURES, and `<name>_svg` for an SVG
copy.
"""

import logging

from clickbench import figures, row_io, study

logging.basicConfig(
    filename=snakemake.log[0], level=logging.INFO, format="%(levelname)s %(message)s"
)

settings = study.Settings.from_config(
    snakemake.params.metrics, snakemake.params.protocols, snakemake.params.models
)
rows = row_io.selected_rows(row_io.load_per_image(snakemake.input.per_image))
names = ("per_class", "noc", "prompts", "trials", "trials_per_image")
tabs = {name: row_io.read_table(snakemake.input[name]) for name in names}
outputs = figures.declared_outputs(snakemake.output.items(), "plot")
figures.write_all(rows, tabs, settings, [], [], outputs)
for name, paths in outputs.items():
    logging.info("%s -> %s", name, ", ".join(map(str, paths)))

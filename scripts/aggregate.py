"""Per-image TSVs -> tables/per_image.tsv and every aggregate table (see clickbench.tables
and clickbench.protocol_tables), and the per-image timings -> timing.tsv.

input.rows: the per-image TSVs; input.dedup: the per-class dedup tables, joined by (class,
image) to give each row `selected` (dedup's pick) and `index_pick` (the study's index rule);
input.timing: the per-image timing files. params: dataset (name), metrics, protocols, models
(config blocks); output: per_image, timing (the seconds per encoding and per model call) and
one named output per table of clickbench.tables.TABLES (describe, per_class, noc, miou,
ambiguity, paired, multiclick, selection) and of clickbench.protocol_tables.TABLES (boundary,
prompts, trials, trials_per_image, protocol_paired), as rules/report.smk declares them from
clickbench.outputs. Every table but selection is computed from the selected rows only. A
table whose models or protocols did not run is written header-only.
"""

import logging

from clickbench import protocol_tables, row_io, study, tables

logging.basicConfig(
    filename=snakemake.log[0], level=logging.INFO, format="%(levelname)s %(message)s"
)

settings = study.Settings.from_config(
    snakemake.params.metrics, snakemake.params.protocols, snakemake.params.models
)
dedup_paths = list(snakemake.input.dedup)
rows, flags = row_io.read_marked_rows(
    list(snakemake.input.rows), snakemake.params.dataset, dedup_paths
)
logging.info("%d rows from %d per-image files", len(rows), len(snakemake.input.rows))
logging.info("selection flags of %d images from %d dedup tables", len(flags), len(dedup_paths))
images = rows.drop_duplicates(["class", "image"])
logging.info(
    "%d images: %d dedup-selected, %d index-rule picks, %d index-only",
    len(images),
    int((images["selected"] == 1).sum()),
    int((images["index_pick"] == 1).sum()),
    int(((images["index_pick"] == 1) & (images["selected"] == 0)).sum()),
)
row_io.write_tsv(rows, snakemake.output.per_image)

plan = protocol_tables.Plan.from_config(snakemake.params.protocols)
built = {
    **tables.build_tables(rows, settings, flags),
    **protocol_tables.build_tables(rows, settings, plan, flags),
    "timing": protocol_tables.timing_table(snakemake.input.timing),
}
for name, table in built.items():
    row_io.write_tsv(table, getattr(snakemake.output, name))
    logging.info("%s: %d rows -> %s", name, len(table), getattr(snakemake.output, name))

"""Per-image TSVs -> tables/per_image.tsv and every aggregate table (see clickbench.tables
and clickbench.protocol_tables), and the per-image timings -> timing.tsv.

input.rows: the per-image TSVs; input.dedup (optional): the per-class dedup tables, joined by
(class, image) to give each row `selected` (dedup's pick) and `index_pick` (the study's index
rule); without them every row counts as selected. params: dataset (name), metrics, protocols,
models (config blocks); output: per_image plus one named output per table of
clickbench.tables.TABLES (describe, per_class, noc, miou, ambiguity, paired, multiclick,
selection) and of clickbench.protocol_tables.TABLES (boundary, prompts, trials,
trials_per_image, protocol_paired); `timing` (optional, with input.timing: the per-image
timing files) the seconds per encoding and per model call. Every table but selection is
computed from the selected rows only. A table whose models or protocols did not run is
written header-only.
"""

import logging

from clickbench import protocol_tables, row_io, study, tables

logging.basicConfig(
    filename=snakemake.log[0], level=logging.INFO, format="%(levelname)s %(message)s"
)

settings = study.Settings.from_config(
    snakemake.params.metrics, snakemake.params.protocols, snakemake.params.models
)
dedup_paths = snakemake.input.dedup if "dedup" in dict(snakemake.input.items()) else None
rows, flags = row_io.read_marked_rows(
    list(snakemake.input.rows), snakemake.params.dataset, dedup_paths
)
logging.info("%d rows from %d per-image files", len(rows), len(snakemake.input.rows))
if flags is not None:
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

declared = dict(snakemake.output.items())
known = (*tables.TABLES, *protocol_tables.TABLES)
unknown = set(declared) - set(known) - {"per_image", "timing"}
if unknown:
    raise ValueError(f"unknown table output(s) {sorted(unknown)}; known: {', '.join(known)}")
plan = protocol_tables.Plan.from_config(snakemake.params.protocols)
built = {
    **tables.build_tables(rows, settings, flags),
    **protocol_tables.build_tables(rows, settings, plan, flags),
}
if "timing" in declared:
    timing = protocol_tables.timing_table(snakemake.input.timing)
    row_io.write_tsv(timing, declared["timing"])
    logging.info("timing: %d rows -> %s", len(timing), declared["timing"])
for name in known:
    if name in declared:
        row_io.write_tsv(built[name], declared[name])
        logging.info("%s: %d rows -> %s", name, len(built[name]), declared[name])
    else:
        logging.warning("table %s computed but not declared as an output; not written", name)

"""Per-image TSVs -> tables/per_image.tsv and every aggregate table (see clickbench.tables).

input.rows: the per-image TSVs; params: dataset (name), metrics, protocols, models (config
blocks); output: per_image plus one named output per table of clickbench.tables.TABLES
(describe, per_class, noc, miou, ambiguity, paired, multiclick). A table whose models or
protocols did not run is written header-only.
"""

import logging

from clickbench import tables

logging.basicConfig(
    filename=snakemake.log[0], level=logging.INFO, format="%(levelname)s %(message)s"
)

settings = tables.Settings.from_config(
    snakemake.params.metrics, snakemake.params.protocols, snakemake.params.models
)
rows = tables.read_rows(list(snakemake.input.rows), snakemake.params.dataset)
logging.info("%d rows from %d per-image files", len(rows), len(snakemake.input.rows))
tables.write_tsv(rows, snakemake.output.per_image)

declared = dict(snakemake.output.items())
unknown = set(declared) - set(tables.TABLES) - {"per_image"}
if unknown:
    raise ValueError(
        f"unknown table output(s) {sorted(unknown)}; known: {', '.join(tables.TABLES)}"
    )
built = tables.build_tables(rows, settings)
for name in tables.TABLES:
    if name in declared:
        tables.write_tsv(built[name], declared[name])
        logging.info("%s: %d rows -> %s", name, len(built[name]), declared[name])
    else:
        logging.warning("table %s computed but not declared as an output; not written", name)

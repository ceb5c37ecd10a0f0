"""Dedup tables across classes: summary, skipped files, NA matching, index rule, contact sheet.

input.tables: the per-class dedup TSVs; params.classes: their class names (aligned);
params.native: the fish dataset root where NA_Fish_Dataset is looked for, or None;
params.dedup: the config block. Outputs: summary, skipped, warnings, native, index_rule (TSV) and
contact_sheet (PNG). Tables with nothing to list are written header-only.
"""

import logging

import pandas as pd

from clickbench import contact_sheet, dedup, native

logging.basicConfig(
    filename=snakemake.log[0], level=logging.INFO, format="%(levelname)s %(message)s"
)

cfg = dict(snakemake.params.dedup or {})
classes = list(snakemake.params.classes)
paths = [str(p) for p in snakemake.input.tables]
if len(classes) != len(paths):
    raise ValueError(f"{len(classes)} class names for {len(paths)} dedup tables")
tables = {c: dedup.read_table(p) for c, p in sorted(zip(classes, paths, strict=True))}

dedup.write_table(dedup.summarise(tables), snakemake.output.summary)
dedup.write_table(dedup.skipped_table(tables), snakemake.output.skipped)
dedup.write_table(dedup.warnings_table(tables), snakemake.output.warnings)

start, step = int(cfg.get("index_start", 1)), int(cfg.get("index_step", 20))
index_rows = [dedup.compare_index_rule(t, start, step) | {"class": c} for c, t in tables.items()]
dedup.write_table(
    pd.DataFrame(index_rows, columns=list(dedup.INDEX_RULE_COLUMNS)), snakemake.output.index_rule
)

matched = native.match_table(snakemake.params.native, tables, cfg.get("max_distance"))
dedup.write_table(matched, snakemake.output.native)
for status, n in matched["status"].value_counts().sort_index().items():
    logging.info("NA matching: %d %s", n, status)

contact_sheet.contact_sheet(
    tables, snakemake.output.contact_sheet, groups=int(cfg.get("contact_groups", 4))
)
logging.info("%d classes summarised", len(tables))

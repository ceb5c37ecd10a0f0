"""Dedup one class (clickbench.dedup.dedup_class) and write its table.

input.images: the class's images (sorted); params.image_ids (aligned), params.mask_paths (aligned,
"" where discovery found no mask), params.cls, params.layout, params.dedup (the validated config
block), params.on_bad_input. output.table: TSV, one row per image
(clickbench.dedup.COLUMNS), sorted by file number.
"""

import logging
from pathlib import Path

from clickbench import dedup
from clickbench.datasets import Sample

logging.basicConfig(
    filename=snakemake.log[0], level=logging.INFO, format="%(levelname)s %(message)s"
)

images = [str(p) for p in snakemake.input.images]
ids = list(snakemake.params.image_ids)
masks = list(snakemake.params.mask_paths)
if not (len(images) == len(ids) == len(masks)):
    raise ValueError(
        f"dedup: {len(images)} images, {len(ids)} ids and {len(masks)} masks are not aligned"
    )
cls = snakemake.params.cls
samples = [
    Sample(cls, i, Path(p), Path(m) if m else None)
    for i, p, m in zip(ids, images, masks, strict=True)
]
table = dedup.dedup_class(
    samples,
    snakemake.params.dedup,
    layout=snakemake.params.layout,
    on_bad_input=snakemake.params.on_bad_input,
)
dedup.write_table(table, snakemake.output.table)
ok = table[table["status"] == "ok"]
logging.info(
    "%s: %d images, %d skipped, %d groups, %d selected (method %s)",
    cls,
    len(table),
    len(table) - len(ok),
    ok["group"].nunique(),
    int(table["selected"].sum()),
    snakemake.params.dedup["method"],
)

"""Saved traces -> the results browser (clickbench.browser).

params.part "sample" (rule browser_sample): input npz, tsv (one image's traces, in the order
of params.runs, (protocol, model) pairs), params.sample (cls, image, image_path, mask_path,
layout); output: the sample's data file.
params.part "index" (rule browser): input rows (every per-image TSV), dedup (the per-class
dedup tables); params dataset, metrics, protocols, models; output index (index.html), data
(index.js), js, css, table (samples.tsv).
"""

import logging
from pathlib import Path

from clickbench import browser, row_io, study

logging.basicConfig(
    filename=snakemake.log[0], level=logging.INFO, format="%(levelname)s %(message)s"
)

if snakemake.params.part == "sample":
    runs = [
        (protocol, model, npz, tsv)
        for (protocol, model), npz, tsv in zip(
            snakemake.params.runs, snakemake.input.npz, snakemake.input.tsv, strict=True
        )
    ]
    payload = browser.sample_payload(snakemake.params.sample, runs)
    browser.write_sample(snakemake.output[0], payload)
    logging.info("%s: %d runs, %d masks", payload["id"], len(payload["runs"]), payload["masks_n"])
else:
    settings = study.Settings.from_config(
        snakemake.params.metrics, snakemake.params.protocols, snakemake.params.models
    )
    rows, _ = row_io.read_marked_rows(
        list(snakemake.input.rows), snakemake.params.dataset, list(snakemake.input.dedup)
    )
    payload = browser.index_payload(rows, settings, snakemake.params.dataset)
    out_dir = Path(snakemake.output.index).parent
    browser.write_index(out_dir, payload)
    row_io.write_tsv(browser.index_table(payload), snakemake.output.table)
    logging.info("%s: %d samples", snakemake.output.index, len(payload["samples"]))

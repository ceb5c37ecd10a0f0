"""Download and unpack a benchmark dataset at config `dataset.root` (rule download_dataset)."""

import logging

from clickbench.archives import fetch_dataset

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
fetch_dataset(snakemake.params.url, snakemake.output.root, snakemake.params.sha256)

"""Benchmark datasets from their authors' URL (config `dataset.url`, optional `sha256`)."""

if DEMO is None and CAN_DOWNLOAD:

    rule download_dataset:
        output:
            root=directory(DATASET["root"]),
        log:
            f"{LOGS}/download_dataset.log",
        conda:
            "../envs/base.yaml"
        params:
            url=DATASET["url"],
            sha256=DATASET.get("sha256"),
        script:
            "../scripts/download_dataset.py"

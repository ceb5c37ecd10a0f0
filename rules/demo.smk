"""The embedded demo dataset, generated from config (no download)."""

if DEMO is not None:

    rule demo_dataset:
        output:
            [
                p
                for p in __import__("clickbench.demo").demo.planned_files(
                    DATASET["root"], DEMO
                )
            ],
            manifest=str(Path(DATASET["root"]).parent / "manifest.tsv"),
        log:
            f"{LOGS}/demo_dataset.log",
        conda:
            "../envs/base.yaml"
        params:
            root=lambda w, output: str(
                Path(output.manifest).parent / Path(DATASET["root"]).name
            ),
            demo=DEMO,
        script:
            "../scripts/demo_dataset.py"

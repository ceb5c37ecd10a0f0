"""Generate the embedded demo dataset (clickbench.demo) from the config's `dataset.demo` block.

params.root: the dataset root (the `Fish_Dataset` level); params.demo: seed, species, originals,
copies, native. output: every planned file (clickbench.demo.planned_files) and
output.manifest (root/../manifest.tsv).
"""

import logging
from pathlib import Path

from clickbench import demo

logging.basicConfig(
    filename=snakemake.log[0], level=logging.INFO, format="%(levelname)s %(message)s"
)

root = Path(snakemake.params.root)
cfg = dict(snakemake.params.demo)
manifest = demo.generate_from_config(root, cfg)
planned = {str(Path(p)) for p in demo.planned_files(root, cfg)}
declared = {str(Path(p)) for p in snakemake.output} - {str(Path(snakemake.output.manifest))}
missing = sorted(p for p in declared if not Path(p).exists())
if missing:
    raise RuntimeError(
        f"demo generator did not write {len(missing)} declared file(s): {missing[:5]}"
    )
if declared != planned:
    logging.warning(
        "declared outputs differ from planned_files by %d path(s)", len(declared ^ planned)
    )
if Path(snakemake.output.manifest).resolve() != (root.parent / "manifest.tsv").resolve():
    raise RuntimeError(f"manifest written to {root.parent / 'manifest.tsv'}, declared elsewhere")
logging.info(
    "demo: %d species, %d files with masks, %d originals, manifest %s",
    manifest["species"].nunique(),
    int((manifest["file"] != "").sum()),
    int((manifest["is_original"] == 1).sum()),
    snakemake.output.manifest,
)

"""Provide one model checkpoint: generate a tiny one (`generate: tiny`) or download + verify.

snakemake.params.spec       the model's `checkpoint:` block (path, url, sha256, generate, seed)
snakemake.params.type       the model type (which tiny model to generate: registry.TINY_CHECKPOINTS)
snakemake.output.checkpoint where the checkpoint goes
snakemake.log[0]            the log
"""

import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))  # clickbench, uninstalled

from clickbench.checkpoints import provide  # noqa: E402

logging.basicConfig(
    filename=snakemake.log[0],
    level=logging.INFO,
    format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    force=True,
)
try:
    digest = provide(
        dict(snakemake.params.spec), snakemake.params.type, snakemake.output.checkpoint
    )
except Exception:
    logging.exception("could not provide %s", snakemake.output.checkpoint)
    raise
logging.info("%s ready, SHA-256 %s", snakemake.output.checkpoint, digest)

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

from clickbench import checkpoints  # noqa: E402

logging.basicConfig(
    filename=snakemake.log[0],
    level=logging.INFO,
    format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    force=True,
)
spec = dict(snakemake.params.spec)
out = snakemake.output.checkpoint
try:
    if spec.get("generate") == "tiny":  # test models: the production loaders never import them
        from clickbench.models.registry import make_tiny_checkpoint

        make_tiny_checkpoint(snakemake.params.type, out, seed=int(spec["seed"]))
        digest = checkpoints.verify(out, spec.get("sha256"))
    else:
        digest = checkpoints.provide(spec, out)
except Exception:
    logging.exception("could not provide %s", out)
    raise
logging.info("%s ready, SHA-256 %s", out, digest)

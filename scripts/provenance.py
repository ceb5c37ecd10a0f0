"""Write results/<dataset>/provenance.yaml: checkpoint hashes, package versions, config."""

import logging
import platform
import sys
from importlib import metadata

import yaml

from clickbench import __version__
from clickbench.checkpoints import sha256sum
from clickbench.models.registry import ACCELERATED_TYPES

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)

PACKAGES = [
    "clickbench", "numpy", "pillow", "opencv-python-headless", "scikit-image", "scipy",
    "imagehash", "pandas", "matplotlib", "torch", "torchvision", "segment-anything",
    "ritm-annotation", "sam2", "segment-anything-hq", "efficientsam", "snakemake",
]  # fmt: skip


def version(pkg):
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return None


checkpoints = {}
for name, spec in snakemake.params.models.items():
    if "checkpoint" in spec:
        path = spec["checkpoint"]["path"]
        checkpoints[name] = {"path": path, "sha256": sha256sum(path)}
        logging.info("hashed %s", path)

record = {
    "clickbench": __version__,
    "python": sys.version.split()[0],
    "platform": platform.platform(),
    "precision": snakemake.params.config["precision"],
    "device": snakemake.params.config["device"],
    # the SAM encoders' acceleration (clickbench.models.accelerate), per model that takes one
    "accelerate": {
        name: spec["accelerate"]
        for name, spec in snakemake.params.models.items()
        if spec["type"] in ACCELERATED_TYPES
    },
    "checkpoints": checkpoints,
    "skipped_models": list(snakemake.params.skipped),
    "packages": {p: version(p) for p in PACKAGES},
    "config": snakemake.params.config,
}
with open(snakemake.output[0], "w") as fh:
    yaml.safe_dump(record, fh, sort_keys=False)

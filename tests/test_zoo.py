"""config/zoo.yaml: every model family on a benchmark layout, its checkpoints fetchable."""

from __future__ import annotations

import pytest
from conftest import REPO, snakemake

from clickbench import checkpoints
from clickbench.config import load
from clickbench.models import efficientvit_sam, hq_sam, registry, sam, sam2

ZOO = REPO / "config" / "zoo.yaml"
VARIANTS = {
    "sam": sam.VARIANTS,
    "sam2": sam2.VARIANTS,
    "hq_sam": hq_sam.VARIANTS,
    "efficientvit_sam": efficientvit_sam.VARIANTS,
}


def test_zoo_runs_every_family_and_every_catalogue_checkpoint():
    cfg = load(ZOO)
    assert cfg["dataset"]["layout"] in ("grabcut", "berkeley", "davis", "coco_mval")
    models = cfg["models"]
    assert {s["type"] for s in models.values()} == set(registry.BUILDERS)
    catalogue = checkpoints.load_catalogue()
    urls = {m["checkpoint"]["url"] for m in models.values() if "checkpoint" in m}
    sam_like = {n for n, m in models.items() if m["type"] in VARIANTS}
    # every SAM-family checkpoint of the catalogue, and the study's RITM
    assert {e["url"] for e in catalogue.values() if e["type"] in VARIANTS} <= urls
    for name in sam_like:
        spec = models[name]
        assert spec["variant"] in VARIANTS[spec["type"]], name
        entry = next(e for e in catalogue.values() if e["url"] == spec["checkpoint"]["url"])
        assert (entry["type"], entry["variant"]) == (spec["type"], spec["variant"]), name
        assert spec["checkpoint"].get("sha256") == entry.get("sha256"), name
        assert spec["optional"], name
    assert set(cfg["protocols"]["noc"]["models"]) == set(models)
    assert set(cfg["protocols"]["first_click"]["models"]) == sam_like


@pytest.mark.workflow
def test_fetch_checkpoints_plans_one_download_per_zoo_checkpoint(tmp_path):
    """`snakemake --cores 1 fetch_checkpoints --configfile config/zoo.yaml` (dry run): one
    checkpoint job per distinct file, every one with its catalogue URL."""
    proc = snakemake(tmp_path, "-n", "--cores", "1", "fetch_checkpoints", configfile=ZOO)
    out = proc.stdout + proc.stderr
    paths = {m["checkpoint"]["path"] for m in load(ZOO)["models"].values() if "checkpoint" in m}
    assert len(paths) == 21
    for path in paths:
        assert path in out, path

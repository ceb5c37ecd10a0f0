"""Presets of published protocols: the settings the paper states, and the run they plan."""

from __future__ import annotations

import pytest
from conftest import REPO, snakemake

from clickbench import checkpoints
from clickbench.config import load

SEGNEXT = REPO / "config" / "segnext_sam.yaml"


def test_segnext_sam_preset_is_segnexts_protocol():
    """SAM vit_b on DAVIS, RITM's clicks on its own predictions for 20 clicks, the
    highest-score mask kept and its logits fed back; NoC@90/95, NoF@95 and 5-mIoU reported."""
    cfg = load(SEGNEXT)
    assert cfg["dataset"]["layout"] == "davis"
    ((name, sam),) = cfg["models"].items()
    assert (sam["type"], sam["variant"]) == ("sam", "vit_b")
    assert sam["selection"] == ["max_score"] and sam["mask_input"] is True
    assert sam["checkpoint"]["sha256"] == checkpoints.load_catalogue()["sam_vit_b"]["sha256"]
    assert set(cfg["protocols"]) == {"noc"}
    assert cfg["protocols"]["noc"]["models"] == [name]
    assert cfg["protocols"]["noc"]["max_clicks"] == 20
    assert cfg["protocols"]["noc"]["target_iou"] is None  # full curves: NoF needs all 20
    assert 0.95 in cfg["metrics"]["iou_thresholds"] and 5 in cfg["metrics"]["miou_at"]


@pytest.mark.workflow
def test_segnext_preset_fetch_plans_the_vit_b_download(tmp_path):
    """`snakemake --cores 1 fetch_checkpoints --configfile config/segnext_sam.yaml` (dry run)."""
    proc = snakemake(tmp_path, "-n", "--cores", "1", "fetch_checkpoints", configfile=SEGNEXT)
    assert "resources/checkpoints/sam_vit_b_01ec64.pth" in proc.stdout + proc.stderr

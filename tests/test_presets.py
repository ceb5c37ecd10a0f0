"""Presets of published protocols: the settings the paper states, and the run they plan."""

from __future__ import annotations

import pytest
from conftest import REPO, snakemake

from clickbench import checkpoints
from clickbench.config import load

SEGNEXT = REPO / "config" / "segnext_sam.yaml"
RITM_EVAL = REPO / "config" / "ritm_eval.yaml"


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


def test_ritm_eval_preset_is_evaluate_model_py():
    """RITM's scripts/evaluate_model.py as the paper ran it: HRNet18 IT-M (COCO+LVIS) in
    NoBRS mode, --thresh 0.49, ZoomIn target 400 on GrabCut, --n-clicks 20, --target-iou
    0.90 (each image stops there), NoC@80/85/90."""
    cfg = load(RITM_EVAL)
    assert cfg["dataset"]["layout"] == "grabcut"
    ((name, ritm),) = cfg["models"].items()
    assert ritm["type"] == "ritm" and ritm["brs_mode"] == "NoBRS"
    assert (ritm["prob_thresh"], ritm["zoom_in"], ritm["zoom_in_target_size"]) == (0.49, True, 400)
    assert ritm["checkpoint"]["url"] == checkpoints.load_catalogue()["ritm_hrnet18_itermask"]["url"]
    assert set(cfg["protocols"]) == {"noc"}
    noc = cfg["protocols"]["noc"]
    assert (noc["models"], noc["max_clicks"], noc["target_iou"]) == ([name], 20, 0.90)
    assert cfg["metrics"]["iou_thresholds"] == [0.80, 0.85, 0.90]


@pytest.mark.workflow
def test_segnext_preset_fetch_plans_the_vit_b_download(tmp_path):
    """`snakemake --cores 1 fetch_checkpoints --configfile config/segnext_sam.yaml` (dry run)."""
    proc = snakemake(tmp_path, "-n", "--cores", "1", "fetch_checkpoints", configfile=SEGNEXT)
    assert "resources/checkpoints/sam_vit_b_01ec64.pth" in proc.stdout + proc.stderr

"""The workflow on real benchmark images: GrabCut's layout and 128 ignore band, both baselines."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml
from conftest import REPO, link_grabcut, requires_grabcut, snakemake, write_config

# no state shared with the demo_run tests: its own group, free to run beside them
pytestmark = [pytest.mark.workflow, pytest.mark.xdist_group("grabcut_workflow"), requires_grabcut()]

IMAGES = ["124080", "153077", "banana1"]  # two with the ignore band, one .bmp image


def test_grabcut_layout_runs_both_baselines_and_reports_noc(tmp_path):
    root = link_grabcut(tmp_path / "GrabCut", IMAGES)
    cfg = {
        "dataset": {"name": "grabcut", "layout": "grabcut", "root": str(root)},
        "dedup": {"method": "none"},
        "models": {"grabcut": {"type": "grabcut"}, "random_walker": {"type": "random_walker"}},
        "protocols": {"noc": {"models": ["grabcut", "random_walker"], "max_clicks": 3}},
        "metrics": {"iou_thresholds": [0.85, 0.9], "miou_at": [1, 3]},
    }
    snakemake(tmp_path, "--cores", "2", configfile=write_config(tmp_path, cfg))
    tables = tmp_path / "results" / "grabcut" / "tables"
    noc = pd.read_csv(tables / "noc.tsv", sep="\t")
    overall = noc[noc["class"] == "(all)"] if "class" in noc else noc
    assert set(overall["method"]) == {"grabcut", "random_walker"}
    assert (overall["n"] == len(IMAGES)).all()
    for col in ("noc@85", "noc@90", "nof@85", "nof@90"):
        assert col in noc.columns
    assert ((overall["noc@90"] >= 1) & (overall["noc@90"] <= 3)).all()
    rows = pd.read_csv(tables / "per_image.tsv", sep="\t", dtype={"image": str})
    assert set(rows["image"]) == set(IMAGES)
    assert rows["iou"].between(0, 1).all()
    # GrabCut's one class is the dataset's; its images' first click IoU is real, not noise
    first = rows[(rows["click"] == 1) & (rows["model"] == "grabcut")]
    assert first["iou"].mean() > 0.3


def test_grabcut_config_runs_every_protocol_into_the_summary(tmp_path):
    """config/grabcut.yaml's protocols as shipped (noc, first_click, replay, box,
    random_clicks, perturbed), with tiny random SAM and RITM in the real checkpoint formats
    standing in for its checkpoints, on 3 GrabCut photos: every protocol's rows reach the
    tables and summary.md, RITM's box rows say "not applicable"."""
    root = link_grabcut(tmp_path / "GrabCut", IMAGES)
    cfg = yaml.safe_load((REPO / "config" / "grabcut.yaml").read_text())
    cfg["dataset"]["root"] = str(root)
    cfg["device"] = "cpu"
    tiny = {"sam": "sam_vit_h", "ritm": "ritm_h18s"}
    for kind, name in tiny.items():
        spec = cfg["models"][name]
        spec["checkpoint"] = {"path": f"resources/checkpoints/{kind}_tiny.pt", "generate": "tiny"}
        spec.pop("optional")
        if kind == "sam":
            spec["variant"] = "tiny"
        else:
            spec["brs_mode"] = "NoBRS"
    for protocol in cfg["protocols"].values():  # the shipped protocols, shorter
        if "max_clicks" in protocol:
            protocol["max_clicks"] = min(protocol["max_clicks"], 3)
        if "trials" in protocol:
            protocol["trials"] = 2
    cfg["metrics"]["miou_at"] = [1, 2, 3]
    snakemake(tmp_path, "--cores", "2", configfile=write_config(tmp_path, cfg))
    res = tmp_path / "results" / "grabcut"
    rows = pd.read_csv(res / "tables" / "per_image.tsv", sep="\t", dtype={"image": str})
    assert set(rows["protocol"]) == set(cfg["protocols"])
    prompts = pd.read_csv(res / "tables" / "prompts.tsv", sep="\t")
    ritm_box = prompts[prompts["method"].str.startswith("ritm_h18s") & (prompts["prompt"] == "box")]
    assert len(ritm_box) and ritm_box["note"].str.contains("not applicable").all()
    trials = pd.read_csv(res / "tables" / "trials.tsv", sep="\t")
    assert set(trials["protocol"]) == {"random_clicks", "perturbed"}
    summary = (res / "summary.md").read_text()
    for heading in ("## Box vs first click vs k clicks", "## Random and perturbed clicks"):
        assert heading in summary
    assert "No box-protocol results" not in summary
    assert "No random_clicks or perturbed results" not in summary

"""The workflow on real benchmark images: GrabCut's layout and 128 ignore band, both baselines."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import GRABCUT, requires_grabcut, snakemake, write_config

pytestmark = [pytest.mark.workflow, pytest.mark.xdist_group("workflow"), requires_grabcut()]

IMAGES = ["124080", "153077", "banana1"]  # two with the ignore band, one .bmp image


def test_grabcut_layout_runs_both_baselines_and_reports_noc(tmp_path):
    root = tmp_path / "GrabCut"
    (root / "data_GT").mkdir(parents=True)
    (root / "boundary_GT").mkdir()
    for name in IMAGES:
        image = next(GRABCUT.glob(f"data_GT/{name}.*"))
        (root / "data_GT" / image.name).symlink_to(image)
        (root / "boundary_GT" / f"{name}.bmp").symlink_to(GRABCUT / "boundary_GT" / f"{name}.bmp")
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

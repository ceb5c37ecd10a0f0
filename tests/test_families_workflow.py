"""SAM 2, HQ-SAM, EfficientViT-SAM and a user's own model (`type: python`) through the real workflow.

Each family's tiny random model is generated in its real checkpoint format by the workflow's
checkpoint rule (`generate: tiny`), loaded through the registry, and run in every protocol;
the per-image results hold every candidate mask and score at every click.

This is its own run rather than a part of the shared `demo_run`: that run's tests count the
encodings of its one SAM model, and the families' jobs would add to them.
"""

from __future__ import annotations

import copy

import pandas as pd
import pytest
from conftest import REPO, TEST_CONFIG, encodings, snakemake, write_config

from clickbench.traces import load_traces

pytestmark = [pytest.mark.workflow, pytest.mark.xdist_group("workflow")]

FAMILIES = {
    "sam2_tiny": {
        "type": "sam2",
        "variant": "tiny",
        "checkpoint": {"path": "resources/checkpoints/sam2_tiny.pt", "generate": "tiny"},
        "selection": ["max_score", "oracle", "single"],
    },
    "hq_sam_tiny": {
        "type": "hq_sam",
        "variant": "tiny",
        "checkpoint": {"path": "resources/checkpoints/hq_sam_tiny.pth", "generate": "tiny"},
        "selection": ["max_score", "single"],
    },
    "efficientvit_sam_tiny": {
        "type": "efficientvit_sam",
        "variant": "tiny",
        "checkpoint": {
            "path": "resources/checkpoints/efficientvit_sam_tiny.pt",
            "generate": "tiny",
        },
    },
    "color": {
        "type": "python",
        "factory": "color_model:build",
        "path": str(REPO / "examples"),
        "options": {"radius": 3},
    },
}
SAM_LIKE = ("sam2_tiny", "hq_sam_tiny", "efficientvit_sam_tiny")


@pytest.fixture(scope="module")
def families_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("families_run")
    cfg = copy.deepcopy(TEST_CONFIG)
    cfg["dataset"]["demo"].update(species=["Shrimp"], originals=2, copies=1)
    cfg["models"] = FAMILIES
    cfg["protocols"] = {
        "noc": {"models": list(FAMILIES), "max_clicks": 2},
        "first_click": {"models": list(SAM_LIKE)},
        "replay": {"source": "color", "models": list(SAM_LIKE)},
    }
    path = write_config(workdir, cfg)
    # five model types x two images: generous for a shared, loaded machine
    snakemake(workdir, "--cores", "2", configfile=path, timeout=2700)
    return workdir


def test_every_family_writes_every_candidate_at_every_click(families_run):
    res = families_run / "results" / "demo"
    per_image = pd.read_csv(res / "tables" / "per_image.tsv", sep="\t", dtype={"image": str})
    images = sorted(p.stem for p in (res / "runs" / "noc" / "color").glob("*/*.npz"))
    assert len(images) >= 2
    for proto, models in (("noc", FAMILIES), ("first_click", SAM_LIKE), ("replay", SAM_LIKE)):
        for model in models:
            npzs = sorted((res / "runs" / proto / model).glob("*/*.npz"))
            assert [p.stem for p in npzs] == images, (proto, model)
            rows = per_image[(per_image.protocol == proto) & (per_image.model == model)]
            assert sorted(rows["image"].unique()) == images, (proto, model)
            n_candidates = 1 if model == "color" else 4
            traces = load_traces(npzs[0])
            loops = set(traces)
            for t in traces.values():
                k = t.clicks.shape[0]
                assert k >= 1
                assert t.scores.shape == t.ious.shape == (k, n_candidates)
                assert t.masks.shape[:2] == (k, n_candidates) and t.masks.dtype == bool
                if model != "color":  # the random tiny models' candidates differ
                    assert tuple(t.multi) == (0, 1, 2) and t.single == 3
                    assert len({m.tobytes() for m in t.masks[0]}) > 1
            if proto == "noc":
                want = set(FAMILIES[model].get("selection", ["max_score"]))
                assert loops == want, (model, loops)


def test_one_encoding_per_image_per_model(families_run):
    images = list((families_run / "results/demo/runs/noc/color").glob("*/*.npz"))
    assert encodings(families_run) == len(SAM_LIKE) * len(images)


def test_the_python_model_responds_to_clicks(families_run):
    res = families_run / "results" / "demo"
    per_image = pd.read_csv(res / "tables" / "per_image.tsv", sep="\t", dtype={"image": str})
    color = per_image[(per_image.protocol == "noc") & (per_image.model == "color")]
    assert color["iou"].max() > 0.3  # a real segmentation of the generated fish, not noise

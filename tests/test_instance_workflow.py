"""The workflow on an instance layout: one image holding several objects is one sample per
object, and SAM encodes the image once per model for all of them (counted)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import encodings, snakemake, write_config
from PIL import Image
from test_instances import coins_labels

# no state shared with the demo_run tests: its own group, free to run beside them
pytestmark = [pytest.mark.workflow, pytest.mark.xdist_group("instance_workflow")]


def _relabel(labels: np.ndarray, keep: dict[int, int]) -> np.ndarray:
    out = np.zeros(labels.shape, np.uint8)
    for old, new in keep.items():
        out[labels == old] = new
    return out


def _dataset(root):
    """Two crops of scikit-image's coins photograph (grayscale): one holding 3 coins
    (values 1, 2, 3), one holding 1 (value 5), with their instance masks."""
    photo, labels = coins_labels()
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    a = (slice(0, 96), slice(100, 228))
    b = (slice(30, 126), slice(300, 384))
    Image.fromarray(photo[a]).save(root / "images" / "coins_a.png")
    Image.fromarray(_relabel(labels[a], {1: 1, 3: 2, 4: 3})).save(root / "masks" / "coins_a.png")
    Image.fromarray(photo[b]).save(root / "images" / "coins_b.jpg", quality=95)
    Image.fromarray(_relabel(labels[b], {2: 5})).save(root / "masks" / "coins_b.png")


def _config(root, dedup="none"):
    tiny = {"type": "sam", "variant": "tiny", "selection": ["max_score"]}
    return {
        "dataset": {"name": "coins", "layout": "instances", "root": str(root)},
        "dedup": {"method": dedup},
        "models": {
            "sam_a": {**tiny, "checkpoint": {"path": "resources/ckpt/a.pth", "generate": "tiny"}},
            "sam_b": {
                **tiny,
                "checkpoint": {"path": "resources/ckpt/b.pth", "generate": "tiny", "seed": 1},
            },
        },
        "protocols": {"noc": {"models": ["sam_a", "sam_b"], "max_clicks": 2}},
        "metrics": {"iou_thresholds": [0.85, 0.9], "miou_at": [1, 2]},
    }


def test_objects_of_one_image_are_samples_encoded_once_per_model(tmp_path):
    root = tmp_path / "data"
    _dataset(root)
    snakemake(tmp_path, "--cores", "2", configfile=write_config(tmp_path, _config(root)))
    objects = {"coins_a#1", "coins_a#2", "coins_a#3", "coins_b#5"}
    res = tmp_path / "results" / "coins"
    rows = pd.read_csv(res / "tables" / "per_image.tsv", sep="\t", dtype={"image": str})
    for model in ("sam_a", "sam_b"):
        assert set(rows.loc[rows["model"] == model, "image"]) == objects
        for obj in objects:
            assert (res / "runs" / "noc" / model / "coins" / f"{obj}.npz").is_file()
    # 4 objects in 2 images, 2 models: 2 x 2 encodings, not 4 x 2
    assert encodings(tmp_path) == 4
    # the objects of coins_a are different objects: their first-click masks differ
    first = rows[(rows["model"] == "sam_a") & (rows["click"] == 1)]
    assert first["iou"].between(0, 1).all()
    # the coins photograph is grayscale: read as cv2.imread reads it, and listed
    warnings = pd.read_csv(res / "tables" / "warnings.tsv", sep="\t", dtype=str)
    assert set(warnings["image"]) == objects
    assert warnings["warning"].str.contains("grayscale image").all()
    summary = pd.read_csv(res / "tables" / "dedup_summary.tsv", sep="\t")
    assert summary.set_index("class").loc["total", "warnings"] == 4


def test_phash_dedup_of_an_instance_layout_is_refused(tmp_path):
    root = tmp_path / "data"
    _dataset(root)
    cfg = write_config(tmp_path, _config(root, dedup="phash"))
    proc = snakemake(tmp_path, "-n", configfile=cfg, check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "several objects per image" in out and "dedup.method: none" in out

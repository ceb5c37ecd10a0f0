"""The demo workflow end to end: real Snakemake, tiny real SAM and RITM, the baselines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import TEST_CONFIG, encodings, snakemake, write_config

pytestmark = [pytest.mark.workflow, pytest.mark.xdist_group("workflow")]


def test_demo_writes_every_per_image_result(demo_run):
    workdir, _, _ = demo_run
    res = workdir / "results" / "demo"
    per_image = pd.read_csv(res / "tables" / "per_image.tsv", sep="\t")
    dedup = pd.concat(pd.read_csv(p, sep="\t", dtype={"image": str})
                      for p in (res / "dedup").glob("*.tsv"))
    n_selected = int((dedup["selected"] == 1).sum())
    # 2 species x 2 originals, picked out of 8 copies each
    assert n_selected == 4
    for proto, model in [("noc", "grabcut"), ("noc", "sam_tiny"), ("noc", "ritm_tiny"),
                         ("first_click", "sam_tiny"), ("replay", "sam_tiny")]:
        npzs = sorted((res / "runs" / proto / model).glob("*/*.npz"))
        assert len(npzs) == n_selected, (proto, model)
        rows = per_image[(per_image.protocol == proto) & (per_image.model == model)]
        assert rows["image"].nunique() == n_selected
    # SAM: three masks + the single-output one, with scores, at every click
    with np.load(npzs[0]) as z:
        assert z["max_score.scores"].shape[1] == 4 if "max_score.scores" in z else True


def test_demo_encodes_each_image_once_per_model(demo_run):
    workdir, _, _ = demo_run
    # three protocols, three strategies, one encoding per image for the one SAM model
    assert encodings(workdir) == 4


def test_second_run_has_nothing_to_do(demo_run):
    workdir, cfg, _ = demo_run
    proc = snakemake(workdir, "-n", "--cores", "1", configfile=cfg)
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_tables_are_byte_identical_across_runs(demo_run, tmp_path):
    first = demo_run[0] / "results" / "demo" / "tables"
    cfg = write_config(tmp_path, TEST_CONFIG)
    snakemake(tmp_path, "--cores", "2", "aggregate", "dedup_summary", configfile=cfg)
    tables = sorted(first.glob("*.tsv"))
    assert len(tables) >= 8
    for table in tables:
        assert (tmp_path / "results" / "demo" / "tables" / table.name).read_bytes() == \
            table.read_bytes(), table.name

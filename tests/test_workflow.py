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
    per_image = pd.read_csv(res / "tables" / "per_image.tsv", sep="\t", dtype={"image": str})
    dedup = pd.concat(
        pd.read_csv(p, sep="\t", dtype={"image": str}) for p in (res / "dedup").glob("*.tsv")
    )
    # 2 species x 2 originals, picked out of 8 copies each; the models also run on the study's
    # index-rule picks (00001 per class here) so the two selections can be compared
    assert int((dedup["selected"] == 1).sum()) == 4
    n_selected = int(((dedup["selected"] == 1) | (dedup["index_pick"] == 1)).sum())
    for proto, model in [
        ("noc", "grabcut"),
        ("noc", "sam_tiny"),
        ("noc", "ritm_tiny"),
        ("first_click", "sam_tiny"),
        ("replay", "sam_tiny"),
    ]:
        npzs = sorted((res / "runs" / proto / model).glob("*/*.npz"))
        assert len(npzs) == n_selected, (proto, model)
        rows = per_image[(per_image.protocol == proto) & (per_image.model == model)]
        assert len(rows[["class", "image"]].drop_duplicates()) == n_selected
    # SAM: three masks + the single-output one, with scores and IoUs, at every click
    for proto in ("noc", "first_click", "replay"):
        npz = sorted((res / "runs" / proto / "sam_tiny").glob("*/*.npz"))[0]
        with np.load(npz) as z:
            loops = {k.split(".")[0] for k in z.files}
            for loop in loops:
                k = z[f"{loop}.clicks"].shape[0]
                assert z[f"{loop}.scores"].shape == (k, 4)
                assert z[f"{loop}.ious"].shape == (k, 4)
                assert tuple(z[f"{loop}.multi"]) == (0, 1, 2) and int(z[f"{loop}.single"]) == 3
        assert loops == ({"max_score", "oracle", "single"} if proto == "noc" else {"max_score"})


def test_demo_encodes_each_image_once_per_model(demo_run):
    workdir, _, _ = demo_run
    evaluated = {
        p.relative_to(p.parents[1])
        for p in (workdir / "results/demo/runs/noc/sam_tiny").glob("*/*.npz")
    }
    # three protocols, three strategies, one encoding per image for the one SAM model
    assert len(evaluated) >= 4
    assert encodings(workdir) == len(evaluated)


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
        assert (
            tmp_path / "results" / "demo" / "tables" / table.name
        ).read_bytes() == table.read_bytes(), table.name


def test_report_holds_every_declared_table_and_figure(demo_run, tmp_path):
    workdir, cfg, _ = demo_run
    report = tmp_path / "report.html"
    snakemake(workdir, "--cores", "1", "--report", str(report), configfile=cfg)
    html = report.read_text()
    res = workdir / "results" / "demo"
    declared = [
        *sorted((res / "tables").glob("*.tsv")),
        *sorted((res / "figures").glob("*.png")),
        res / "summary.md",
    ]
    assert len(declared) >= 20
    for path in declared:
        rel = path.relative_to(workdir).as_posix()
        if path.name == "per_image.tsv":
            continue  # the raw rows stay on disk: the report carries the tables built from them
        assert f'"{rel}": {{"name": "{path.name}"' in html, f"{rel} is not in the report"
        assert f"filename={path.name};base64," in html, f"{rel} is not embedded"
    # captions travel with the results (report/<name>.rst)
    assert "the study's" in html and "headline table, extended to every method that ran" in html


def test_bad_image_fails_naming_the_file_or_is_listed_as_skipped(demo_run, tmp_path):
    from conftest import copy_run

    workdir = copy_run(demo_run[0], tmp_path / "w")
    cfg = write_config(workdir, TEST_CONFIG)
    shrimp = workdir / "resources/datasets/demo/Fish_Dataset/Shrimp/Shrimp"
    victim = sorted(shrimp.glob("*.png"))[1]
    victim.write_bytes(victim.read_bytes()[:2000])  # truncated PNG
    proc = snakemake(workdir, "--cores", "2", configfile=cfg, check=False)
    assert proc.returncode != 0
    log = (workdir / "results/demo/logs/dedup/shrimp.log").read_text() + proc.stderr
    assert str(victim.relative_to(workdir)) in log and "truncated" in log.lower()

    skip = {**TEST_CONFIG, "on_bad_input": "skip"}
    cfg = write_config(workdir, skip, "skip.yaml")
    snakemake(workdir, "--cores", "2", configfile=cfg)
    skipped = pd.read_csv(workdir / "results/demo/tables/skipped.tsv", sep="\t", dtype=str)
    assert skipped["path"].str.endswith(victim.name).any()
    assert skipped["problem"].str.contains("truncated", case=False).all()

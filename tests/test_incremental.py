"""Rerun only what changed: each case copies a finished demo run, changes one thing,
reruns, and counts the jobs that ran and the SAM encodings they did."""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import time

import numpy as np
import pandas as pd
import pytest
from conftest import (
    TEST_CONFIG,
    copy_run,
    encodings,
    ran_jobs,
    snakemake,
    snakemake_command,
    write_config,
)
from PIL import Image

pytestmark = [pytest.mark.workflow, pytest.mark.xdist_group("workflow")]

MODEL_RULES = {"run_grabcut", "run_sam_tiny", "run_ritm_tiny"}
CHEAP = {
    "aggregate",
    "figures",
    "example_figures",
    "summary",
    "dedup_summary",
    "dedup",
    "provenance",
    "browser",
    "browser_sample",
    "all",
}


def selected(workdir):
    res = workdir / "results" / "demo" / "dedup"
    tables = [
        pd.read_csv(p, sep="\t", dtype={"image": str}).assign(slug=p.stem)
        for p in sorted(res.glob("*.tsv"))
    ]
    df = pd.concat(tables)
    return df[df["selected"] == 1]


def model_jobs(proc):
    return [j for j in ran_jobs(proc) if j.rule in MODEL_RULES]


@pytest.fixture
def run_copy(demo_run, tmp_path):
    workdir = copy_run(demo_run[0], tmp_path / "w")
    cfg = write_config(workdir, TEST_CONFIG)
    os.utime(cfg, (1, 1))  # an old config file does not make anything look outdated
    return workdir, cfg


def test_changed_image_reruns_only_that_image(run_copy):
    workdir, cfg = run_copy
    row = selected(workdir).iloc[0]
    path = (
        workdir / row["image_path"] if not os.path.isabs(row["image_path"]) else row["image_path"]
    )
    img = np.array(Image.open(path))
    img[:8, :8] = 255 - img[:8, :8]  # a small change: the hash (and group) stays
    Image.fromarray(img).save(path)
    before = encodings(workdir)
    proc = snakemake(workdir, "--cores", "2", configfile=cfg)
    jobs = model_jobs(proc)
    assert jobs, "the changed image's work did not rerun"
    assert {j.image for j in jobs} == {row["image"]}
    assert {j.cls for j in jobs} == {row["slug"]}
    assert {j.rule for j in ran_jobs(proc)} <= MODEL_RULES | CHEAP
    # the results browser redraws that image's data file only
    redrawn = {(j.cls, j.image) for j in ran_jobs(proc) if j.rule == "browser_sample"}
    assert redrawn == {(row["slug"], row["image"])}
    assert encodings(workdir) - before == 1


def test_changed_mask_reruns_only_that_image_without_encoding(run_copy):
    workdir, cfg = run_copy
    row = selected(workdir).iloc[-1]
    path = workdir / row["mask_path"]
    mask = np.array(Image.open(path))
    ys, xs = np.nonzero(mask)
    mask[ys[: len(ys) // 10], xs[: len(xs) // 10]] = 0
    Image.fromarray(mask).save(path)
    before = encodings(workdir)
    proc = snakemake(workdir, "--cores", "2", configfile=cfg)
    jobs = model_jobs(proc)
    assert {j.image for j in jobs} == {row["image"]}
    assert encodings(workdir) == before


def test_added_image_runs_dedup_then_only_the_new_image(run_copy):
    workdir, cfg = run_copy
    sel = selected(workdir)
    donor = sel[sel["slug"] != sel["slug"].iloc[0]].iloc[0]
    target_slug = sel["slug"].iloc[0]
    target = next(
        p
        for p in (workdir / "resources/datasets/demo/Fish_Dataset").iterdir()
        if p.is_dir() and p.name.lower().replace("-", "_").replace(" ", "_") == target_slug
    )
    new_img = target / target.name / "09999.png"
    new_mask = target / f"{target.name} GT" / "09999.png"
    img = np.array(Image.open(workdir / donor["image_path"]))
    img[:8, :8] = 255 - img[:8, :8]  # new content: the embedding cache must not know it
    Image.fromarray(img).save(new_img)
    new_mask.write_bytes((workdir / donor["mask_path"]).read_bytes())
    before = encodings(workdir)
    proc = snakemake(workdir, "--cores", "2", configfile=cfg)
    rules = [j.rule for j in ran_jobs(proc)]
    assert rules.count("dedup") == 1
    jobs = model_jobs(proc)
    assert {(j.cls, j.image) for j in jobs} == {(target_slug, "09999")}
    assert encodings(workdir) - before == 1


def test_strategy_change_and_new_protocol_encode_nothing(run_copy):
    workdir, _ = run_copy
    cfg = copy.deepcopy(TEST_CONFIG)
    cfg["models"]["sam_tiny"]["selection"] = ["max_score", "oracle"]
    cfg["models"]["sam_tiny"]["mask_input"] = True
    cfg["protocols"]["first_click"]["models"] = ["sam_tiny", "ritm_tiny"]
    path = write_config(workdir, cfg, "changed.yaml")
    before = encodings(workdir)
    proc = snakemake(workdir, "--cores", "2", configfile=path)
    assert {j.rule for j in model_jobs(proc)} == {"run_sam_tiny", "run_ritm_tiny"}
    assert encodings(workdir) == before


def test_changed_checkpoint_reruns_that_model_only(run_copy):
    workdir, _ = run_copy
    cfg = copy.deepcopy(TEST_CONFIG)
    cfg["models"]["ritm_tiny"]["checkpoint"]["seed"] = 1
    path = write_config(workdir, cfg, "changed.yaml")
    before = encodings(workdir)
    proc = snakemake(workdir, "--cores", "2", configfile=path)
    rules = {j.rule for j in model_jobs(proc)}
    # RITM's own jobs rerun; SAM's replay consumes RITM's clicks, so its jobs rerun too,
    # from cached embeddings; the baselines do not
    assert "run_ritm_tiny" in rules and "run_grabcut" not in rules
    assert encodings(workdir) == before


def test_sigkill_mid_model_rule_then_restart_gives_identical_tables(demo_run, tmp_path):
    cfg = write_config(tmp_path, TEST_CONFIG)
    cmd = snakemake_command(tmp_path, "--cores", "2", configfile=cfg)
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    logs = tmp_path / "results" / "demo" / "logs" / "runs" / "sam_tiny"

    def inside_the_model_rule() -> bool:
        # the sentinel: a SAM job has built its model and encoded its image (the runner logs
        # "set_image: ..." then), so it is in its click loop, outputs not yet written
        return logs.exists() and any("set_image:" in p.read_text() for p in logs.rglob("*.log"))

    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and not inside_the_model_rule():
        assert proc.poll() is None, "the run finished before a SAM job encoded its image"
        time.sleep(0.05)
    assert inside_the_model_rule(), "no SAM job started within 600 s"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    # a killed Snakemake leaves its lock behind: the documented restart is --unlock, then run
    snakemake(tmp_path, "--unlock", "--cores", "1", configfile=cfg)
    snakemake(tmp_path, "--cores", "2", configfile=cfg)
    first = demo_run[0] / "results" / "demo" / "tables"
    for table in sorted(first.glob("*.tsv")):
        assert (
            tmp_path / "results" / "demo" / "tables" / table.name
        ).read_bytes() == table.read_bytes(), table.name

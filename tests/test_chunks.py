"""Chunked model jobs (config `chunk_size` > 1): one job per chunk of a class's images
computes them into the run memo with the model loaded once; the per-image jobs materialise.

Counted through `<cache_dir>/runs/computed.log` (one line per real computation) and SAM's
`encodings.log`; compared byte for byte with the unchunked run of conftest's `demo_run`."""

from __future__ import annotations

import copy
import math
import os
import re
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from conftest import TEST_CONFIG, copy_run, encodings, ran_jobs, snakemake, write_config
from PIL import Image

from clickbench.memo import computations

pytestmark = [pytest.mark.workflow, pytest.mark.xdist_group("workflow")]

CHUNK = 2
CHUNKED = ("sam_tiny", "ritm_tiny")  # the heavy models; grabcut stays one job per image
MODELS = ("grabcut", *CHUNKED)


def chunk_config(size: int = CHUNK) -> dict:
    cfg = copy.deepcopy(TEST_CONFIG)
    cfg["chunk_size"] = size
    return cfg


def evaluated(workdir) -> pd.DataFrame:
    """The images the models run on (dedup picks and index-rule picks), with their slug."""
    res = workdir / "results" / "demo" / "dedup"
    df = pd.concat(
        pd.read_csv(p, sep="\t", dtype={"image": str}).assign(slug=p.stem)
        for p in sorted(res.glob("*.tsv"))
    )
    return df[(df["status"] == "ok") & ((df["selected"] == 1) | (df["index_pick"] == 1))]


def computed(workdir) -> list[tuple[str, str, str]]:
    """(model, class, image) of every real computation in the run memo's journal."""
    return computations(workdir / "resources" / "cache")


def planned(proc) -> Counter:
    """Jobs per rule of a dry run (grouped jobs print indented, so not through ran_jobs)."""
    return Counter(re.findall(r"^\s*(?:local)?rule (\S+):", proc.stdout + proc.stderr, re.M))


def run_log(workdir, model, slug, image) -> str:
    return (
        workdir / "results" / "demo" / "logs" / "runs" / model / slug / f"{image}.log"
    ).read_text()


@pytest.fixture(scope="module")
def chunk_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("chunk_run")
    cfg = write_config(workdir, chunk_config())
    proc = snakemake(workdir, "--cores", "2", configfile=cfg)
    return workdir, cfg, proc


def test_chunk_size_one_adds_nothing_to_the_dag(demo_run, tmp_path):
    workdir, cfg, _ = demo_run
    force = ("-n", "--nolock", "--cores", "1", "-R", "run_sam_tiny", "run_ritm_tiny")
    plain = planned(snakemake(workdir, *force, configfile=cfg))
    n = len(evaluated(workdir))
    assert not [r for r in plain if r.startswith("chunk_")]
    assert plain["run_sam_tiny"] == plain["run_ritm_tiny"] == n
    chunked = write_config(tmp_path, chunk_config())
    counts = planned(snakemake(workdir, *force, configfile=chunked))
    per_class = evaluated(workdir).groupby("slug").size()
    n_chunks = sum(math.ceil(k / CHUNK) for k in per_class)
    assert counts["chunk_sam_tiny"] == counts["chunk_ritm_tiny"] == n_chunks
    assert "chunk_grabcut" not in counts
    assert counts["run_sam_tiny"] == counts["run_ritm_tiny"] == n


def test_chunked_run_gives_the_same_bytes(demo_run, chunk_run):
    ref, work = demo_run[0] / "results" / "demo", chunk_run[0] / "results" / "demo"
    tables = sorted((ref / "tables").glob("*.tsv"))
    assert len(tables) >= 8
    for table in tables:
        assert (work / "tables" / table.name).read_bytes() == table.read_bytes(), table.name
    per_image = sorted(p for p in (ref / "runs").rglob("*") if p.is_file())
    assert len(per_image) == 2 * 5 * len(evaluated(demo_run[0]))  # npz + tsv, 5 (protocol, model)
    for path in per_image:
        rel = path.relative_to(ref)
        assert (work / rel).read_bytes() == path.read_bytes(), rel


def test_each_image_computed_and_encoded_once(chunk_run):
    workdir, cfg, proc = chunk_run
    images = evaluated(workdir)
    want = {(cls, image) for cls, image in zip(images["class"], images["image"], strict=True)}
    done = Counter(computed(workdir))
    assert set(done.values()) == {1}
    for model in MODELS:
        assert {(c, i) for m, c, i in done if m == model} == want, model
    # SAM encoded every image once, in its chunk job (batched), never in a per-image job
    assert encodings(workdir) == len(want)
    journal = workdir / "resources" / "cache" / "sam" / "encodings.log"
    keys = Counter(line.split("\t")[1] for line in journal.read_text().splitlines())
    assert set(keys.values()) == {1}
    for model in CHUNKED:
        markers = sorted((workdir / "results/demo/runs/.chunks" / model).glob("*/*.tsv"))
        rows = pd.concat(pd.read_csv(p, sep="\t", dtype={"image": str}) for p in markers)
        assert sorted(rows["status"]) == ["computed"] * len(want)
        for slug, image in zip(images["slug"], images["image"], strict=True):
            assert "from the run memo" in run_log(workdir, model, slug, image)
    rules = Counter(j.rule for j in ran_jobs(proc))
    n_chunks = sum(math.ceil(k / CHUNK) for k in images.groupby("slug").size())
    assert rules["chunk_sam_tiny"] == rules["chunk_ritm_tiny"] == n_chunks
    again = snakemake(workdir, "-n", "--cores", "1", configfile=cfg)
    assert "Nothing to be done" in again.stdout + again.stderr


def test_changed_image_recomputes_only_that_image(chunk_run, tmp_path):
    workdir = copy_run(chunk_run[0], tmp_path / "w")
    cfg = write_config(workdir, chunk_config())
    os.utime(cfg, (1, 1))
    row = evaluated(workdir).iloc[0]
    path = workdir / row["image_path"]
    img = np.array(Image.open(path))
    img[:8, :8] = 255 - img[:8, :8]  # a small change: the hash (and group) stays
    Image.fromarray(img).save(path)
    before, enc = len(computed(workdir)), encodings(workdir)
    proc = snakemake(workdir, "--cores", "2", configfile=cfg)
    assert sorted(computed(workdir)[before:]) == sorted(
        (m, row["class"], row["image"]) for m in MODELS
    )
    assert encodings(workdir) - enc == 1
    jobs = ran_jobs(proc)
    chunk_jobs = [(j.rule, j.cls) for j in jobs if j.rule.startswith("chunk_")]
    assert sorted(chunk_jobs) == sorted((f"chunk_{m}", row["slug"]) for m in CHUNKED)
    # the chunk's other images are materialised from the memo, nothing else reruns
    runs = {(j.rule, j.cls, j.image) for j in jobs if j.rule.startswith("run_")}
    assert {(r, c) for r, c, _ in runs} <= {(f"run_{m}", row["slug"]) for m in MODELS}
    for rule, slug, image in runs:
        if image != row["image"]:
            assert rule != "run_grabcut"
            assert "from the run memo" in run_log(workdir, rule[len("run_") :], slug, image)

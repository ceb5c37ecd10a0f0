"""Thread layout on a CPU (rules/common.smk `heavy_threads`): a heavy model's jobs take one
thread each when the run has at least as many of them as cores, so they run side by side;
with fewer, 4 (capped at --cores)."""

from __future__ import annotations

import re

import pytest
from conftest import TEST_CONFIG, snakemake, write_config

pytestmark = pytest.mark.workflow


def threads_by_rule(text: str) -> dict[str, set[int]]:
    """rule -> the `threads:` Snakemake printed for its jobs."""
    out: dict[str, set[int]] = {}
    # a dry run indents its job blocks, a real run does not
    for block in re.split(r"\n(?=\s*\[[^\]]+\]\n|\s*(?:local)?(?:rule|checkpoint) )", text):
        rule = re.search(r"^\s*(?:local)?(?:rule|checkpoint) (\S+):", block, re.M)
        threads = re.search(r"^\s+threads: (\d+)$", block, re.M)
        if rule and "jobid:" in block:  # Snakemake prints `threads:` only when it is not 1
            out.setdefault(rule.group(1), set()).add(int(threads.group(1)) if threads else 1)
    return out


@pytest.fixture(scope="module")
def deduped(tmp_path_factory):
    """The test demo up to its dedup checkpoints (the job counts depend on them), so that
    dry runs print every model job with its threads; the models never run."""
    work = tmp_path_factory.mktemp("threads")
    cfg = write_config(work, TEST_CONFIG)
    snakemake(work, "--cores", "2", "--until", "dedup", configfile=cfg)
    return work, cfg


def dry_run_threads(deduped, cores: int) -> dict[str, set[int]]:
    work, cfg = deduped
    proc = snakemake(work, "--cores", str(cores), "-n", configfile=cfg)
    return threads_by_rule(proc.stdout + "\n" + proc.stderr)


def test_model_jobs_run_side_by_side_on_two_cores(deduped):
    """The demo evaluates 4 images per model: 4 RITM and 4 SAM jobs >= 2 cores, one thread
    each."""
    threads = dry_run_threads(deduped, 2)
    assert threads["run_ritm_tiny"] == {1}
    assert threads["run_sam_tiny"] == {1}
    assert threads["run_grabcut"] == {1}


def test_models_keep_their_threads_with_more_cores_than_jobs(deduped):
    """With 8 cores the same 4 jobs per model cannot fill the machine: each keeps 4 threads."""
    threads = dry_run_threads(deduped, 8)
    assert threads["run_ritm_tiny"] == {4}
    assert threads["run_sam_tiny"] == {4}


def test_chunks_count_as_jobs(tmp_path):
    """Chunks are per class: with chunk_size 2, the demo's 2 classes x 2 images make 2 chunk
    jobs per model, one thread each on 2 cores; one class makes 1 chunk, which keeps 2."""
    one_class = {**TEST_CONFIG["dataset"], "demo": {**TEST_CONFIG["dataset"]["demo"]}}
    one_class["demo"]["species"] = ["Shrimp"]
    for name, dataset, want in (("two", TEST_CONFIG["dataset"], {1}), ("one", one_class, {2})):
        work = tmp_path / name
        work.mkdir()
        cfg = write_config(work, {**TEST_CONFIG, "dataset": dataset, "chunk_size": 2})
        snakemake(work, "--cores", "2", "--until", "dedup", configfile=cfg)
        proc = snakemake(work, "--cores", "2", "-n", configfile=cfg)
        threads = threads_by_rule(proc.stdout + "\n" + proc.stderr)
        assert threads["chunk_ritm_tiny"] == want, name
        assert threads["chunk_sam_tiny"] == want, name

"""Thread layout on a CPU (rules/common.smk `heavy_threads`): RITM jobs take one thread each
when the run has at least as many of them as cores, so they run side by side; SAM keeps 4
(capped at --cores)."""

from __future__ import annotations

import re

import pytest
from conftest import copy_run, snakemake

pytestmark = pytest.mark.workflow


def threads_by_rule(text: str) -> dict[str, set[int]]:
    """rule -> the `threads:` Snakemake printed for its jobs."""
    out: dict[str, set[int]] = {}
    for block in re.split(r"\n(?=\[[^\]]+\]\n|(?:local)?(?:rule|checkpoint) )", text):
        rule = re.search(r"^(?:local)?(?:rule|checkpoint) (\S+):", block, re.M)
        threads = re.search(r"^\s+threads: (\d+)$", block, re.M)
        if rule and "jobid:" in block:  # Snakemake prints `threads:` only when it is not 1
            out.setdefault(rule.group(1), set()).add(int(threads.group(1)) if threads else 1)
    return out


def test_ritm_jobs_run_side_by_side_on_two_cores(demo_run):
    """The demo evaluates 4 images per model on 2 cores: 4 RITM jobs >= 2 cores."""
    _, _, proc = demo_run
    threads = threads_by_rule(proc.stdout + "\n" + proc.stderr)
    assert threads["run_ritm_tiny"] == {1}
    assert threads["run_sam_tiny"] == {2}  # 4, capped at --cores 2


def test_ritm_keeps_its_threads_with_more_cores_than_jobs(demo_run, tmp_path):
    """With 8 cores the same 4 RITM jobs cannot fill the machine: each keeps 4 threads."""
    workdir, cfg, _ = demo_run
    work = copy_run(workdir, tmp_path / "run")
    proc = snakemake(
        work, "--cores", "8", "-n", "--forcerun", "run_ritm_tiny", configfile=work / cfg.name
    )
    assert threads_by_rule(proc.stdout + "\n" + proc.stderr)["run_ritm_tiny"] == {4}

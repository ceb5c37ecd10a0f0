"""The demo workflow through profiles/slurm on a real single-node SLURM."""

from __future__ import annotations

import re

import pytest
from conftest import REPO, TEST_CONFIG, snakemake, write_config
from slurm_cluster import SlurmCluster, why_not

pytestmark = [pytest.mark.slurm, pytest.mark.workflow, pytest.mark.xdist_group("workflow")]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    reason = why_not()
    if reason:
        pytest.skip(f"cannot start SLURM here: {reason}")
    with SlurmCluster(tmp_path_factory.mktemp("slurm"), mem_mb=16000) as c:
        yield c


def test_demo_through_slurm_profile_matches_local_run(cluster, demo_run, tmp_path):
    local_dir = demo_run[0]
    cfg = write_config(tmp_path, TEST_CONFIG)
    proc = snakemake(
        tmp_path,
        "--profile",
        str(REPO / "profiles" / "slurm"),
        "--slurm-no-account",
        "--slurm-status-command",
        "squeue",
        "--slurm-init-seconds-before-status-checks",
        "1",
        "--default-resources",
        "mem_mb=1000",
        "runtime=10",
        "slurm_partition=debug",
        "--jobs",
        "4",
        "--max-threads",
        "2",
        configfile=cfg,
        env=cluster.env,
        timeout=1500,
    )
    log = proc.stdout + proc.stderr
    job_ids = set(re.findall(r"SLURM jobid (\d+)", log))
    assert job_ids, f"no job went through sbatch:\n{log[-4000:]}"
    # every model job ran on the cluster; the cheap aggregations are local rules
    tables = sorted((local_dir / "results" / "demo" / "tables").glob("*.tsv"))
    assert tables
    for table in tables:
        mine = tmp_path / "results" / "demo" / "tables" / table.name
        assert mine.read_bytes() == table.read_bytes(), f"{table.name} differs from the local run"

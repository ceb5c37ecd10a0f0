"""Shared fixtures: paths, and real Snakemake runs of the workflow in temporary folders."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
GRABCUT = SHARED / "datasets" / "GrabCut"


def link_grabcut(root: Path, names) -> Path:
    """A GrabCut benchmark folder at ``root`` holding the photos ``names`` (stems) of the real
    one, linked: ``data_GT/<photo>`` and ``boundary_GT/<stem>.bmp``."""
    (root / "data_GT").mkdir(parents=True)
    (root / "boundary_GT").mkdir()
    for name in names:
        image = next(GRABCUT.glob(f"data_GT/{name}.*"))
        (root / "data_GT" / image.name).symlink_to(image)
        (root / "boundary_GT" / f"{name}.bmp").symlink_to(GRABCUT / "boundary_GT" / f"{name}.bmp")
    return root


def requires_grabcut():
    return pytest.mark.skipif(
        not (GRABCUT / "data_GT").is_dir(),
        reason=f"the GrabCut benchmark is not at {GRABCUT} (it ships beside the repo in ../shared)",
    )


#: a demo small enough for tests: 2 species x 2 originals x 3 copies, tiny SAM and RITM
TEST_CONFIG = {
    "dataset": {
        "name": "demo",
        "layout": "fish",
        "root": "resources/datasets/demo/Fish_Dataset",
        "demo": {
            "seed": 0,
            "species": ["Gilt-Head Bream", "Shrimp"],
            "originals": 2,
            "copies": 3,
        },
    },
    "dedup": {"method": "phash"},
    "device": "cpu",
    "models": {
        "grabcut": {"type": "grabcut"},
        "sam_tiny": {
            "type": "sam",
            "variant": "tiny",
            "checkpoint": {"path": "resources/checkpoints/sam_tiny.pth", "generate": "tiny"},
            "selection": ["max_score", "oracle", "single"],
        },
        "ritm_tiny": {
            "type": "ritm",
            "checkpoint": {"path": "resources/checkpoints/ritm_tiny.pth", "generate": "tiny"},
            "brs_mode": "NoBRS",
        },
    },
    "protocols": {
        "noc": {"models": ["grabcut", "sam_tiny", "ritm_tiny"], "max_clicks": 3},
        "first_click": {"models": ["sam_tiny"]},
        "replay": {"source": "ritm_tiny", "models": ["sam_tiny"]},
    },
    "metrics": {"iou_thresholds": [0.85, 0.9], "miou_at": [1, 2, 3]},
}


def write_config(workdir: Path, config: dict, name: str = "config.yaml") -> Path:
    path = Path(workdir) / name
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def snakemake_command(workdir: Path, *args: str, configfile: Path | None = None) -> list[str]:
    """The command line that runs this repository's workflow in ``workdir`` (tests and
    benchmarks): this interpreter's Snakemake, ``-s`` the Snakefile, then ``args``."""
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile")]
    cmd += ["--directory", str(workdir)]
    if configfile is not None:
        cmd += ["--configfile", str(configfile)]
    return cmd + list(args)


def run_script(name: str, tmp_path: Path, inputs: dict, outputs: dict, params: dict) -> None:
    """Run ``scripts/<name>`` as Snakemake's ``script:`` directive does (a ``snakemake``
    global with input/output/params/log)."""
    import runpy
    from types import SimpleNamespace

    io = pytest.importorskip("snakemake.iocontainers")
    sm = SimpleNamespace(
        input=io.Namedlist(fromdict=inputs),
        output=io.Namedlist(fromdict=outputs),
        params=io.Namedlist(fromdict=params),
        log=io.Namedlist(fromdict={"log": str(Path(tmp_path) / f"{name}.log")}),
    )
    runpy.run_path(
        str(REPO / "scripts" / name), init_globals={"snakemake": sm}, run_name="__main__"
    )


def snakemake(
    workdir: Path,
    *args: str,
    configfile: Path | None = None,
    check: bool = True,
    timeout: float = 900,
    env: dict | None = None,
) -> subprocess.CompletedProcess:
    """Run the real workflow with ``workdir`` as working directory; returns the process."""
    cmd = snakemake_command(workdir, *args, configfile=configfile)
    started = time.time()
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake failed ({proc.returncode}): {' '.join(cmd)}\n"
            f"--- stdout ---\n{proc.stdout[-6000:]}\n--- stderr ---\n{proc.stderr[-10000:]}"
        )
    proc.workdir, proc.started = Path(workdir), started  # for ran_jobs
    return proc


def copy_run(src: Path, dst: Path) -> Path:
    """Copy a finished workflow folder keeping mtimes, so Snakemake sees the same state."""
    shutil.copytree(src, dst, symlinks=True, copy_function=shutil.copy2)
    return dst


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """One complete run of the small test demo, shared by the workflow tests (read only)."""
    workdir = tmp_path_factory.mktemp("demo_run")
    cfg = write_config(workdir, TEST_CONFIG)
    proc = snakemake(workdir, "--cores", "2", configfile=cfg)
    return workdir, cfg, proc


def ran_jobs(proc: subprocess.CompletedProcess) -> list[RanJob]:
    """Every job the run of :func:`snakemake` that returned ``proc`` did, oldest first, from
    Snakemake's own records (:mod:`clickbench.records`): the jobs that started after it was
    launched. ``cls``/``image`` are the job's first output's folder and stem (a model, chunk
    or browser job writes ``.../<cls>/<image or chunk>.<ext>``)."""
    from clickbench import records

    jobs = records.jobs(proc.workdir, since=proc.started)
    return [RanJob(j.rule, Path(j.outputs[0]).parent.name, Path(j.outputs[0]).stem) for j in jobs]


class RanJob(NamedTuple):
    rule: str
    cls: str
    image: str


def encodings(workdir: Path) -> int:
    """How many SAM image encodings the embedding cache's journal has recorded."""
    from clickbench.embedding_cache import count_encodings

    return count_encodings(Path(workdir) / "resources" / "cache")

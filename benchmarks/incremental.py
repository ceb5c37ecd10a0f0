"""Absorbing one changed image: rerun wall time over the full run's, and encodings in the rerun.

Runs the demo workflow (tiny SAM and RITM, GrabCut; config as tests/conftest.py's TEST_CONFIG
unless --config is given) in a scratch folder, changes a few pixels of one evaluated image,
reruns, and prints both wall times, their ratio, the jobs that ran, and how many SAM image
encodings the rerun did (target: exactly one).

    .venv/bin/python benchmarks/incremental.py [--config FILE] [--cores 2]
"""

from __future__ import annotations

import argparse
import csv
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from conftest import TEST_CONFIG, encodings, snakemake_command  # noqa: E402


def run(workdir: Path, cfg: Path, cores: int) -> tuple[float, str]:
    cmd = snakemake_command(workdir, "--cores", str(cores), configfile=cfg)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"snakemake failed:\n{proc.stderr[-4000:]}")
    return wall, proc.stdout + proc.stderr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path)
    ap.add_argument("--cores", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="clickbench-incr-") as tmp:
        work = Path(tmp)
        cfg = work / "config.yaml"
        config = yaml.safe_load(args.config.read_text()) if args.config else TEST_CONFIG
        cfg.write_text(yaml.safe_dump(config))
        full, _ = run(work, cfg, args.cores)
        name = config["dataset"]["name"]
        table = sorted((work / "results" / name / "dedup").glob("*.tsv"))[0]
        with open(table, newline="") as fh:
            row = next(r for r in csv.DictReader(fh, delimiter="\t") if r["selected"] == "1")
        path = work / row["image_path"]
        img = np.array(Image.open(path))
        img[:8, :8] = 255 - img[:8, :8]
        Image.fromarray(img).save(path)
        before = encodings(work)
        rerun, log = run(work, cfg, args.cores)
        jobs = re.findall(r"^(?:local)?(?:rule|checkpoint) (\S+):", log, re.M)
        counts = {j: jobs.count(j) for j in sorted(set(jobs))}
        print(f"changed image: {row['class']} / {row['image']}")
        print("| full run | rerun after one changed image | ratio | SAM encodings in the rerun |")
        print("|---|---|---|---|")
        print(f"| {full:.1f} s | {rerun:.1f} s | {rerun / full:.3f} | {encodings(work) - before} |")
        print("jobs in the rerun:", ", ".join(f"{k} x{v}" for k, v in counts.items()))


if __name__ == "__main__":
    main()

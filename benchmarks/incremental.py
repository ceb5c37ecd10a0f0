"""Absorbing one changed image: rerun wall time over the full run's, what the rerun computed,
and, with chunks, what the run memo and the chunk markers save against recomputing a chunk.

Runs a small demo workflow in a scratch folder (config/config.yaml's demo with 2 species x
2 originals x 3 copies and its GrabCut, tiny SAM and tiny RITM; ``--config`` for your own),
changes a few pixels of one evaluated image, reruns, and prints both wall times, their ratio,
the jobs that ran (Snakemake's records), the images the run memo computed and how many SAM
image encodings the rerun did (target: exactly one image, one encoding).

With ``--chunk-size N`` (N > 1) the heavy models run N images per job. A changed image then
reruns its chunk job, which computes that image and finds the others in the run memo, and
the chunk's per-image jobs copy their files out of the memo. The script prints that
machinery's cost (the per-image jobs' wall time, and the chunk job's wall time less the
changed image's model time) beside what recomputing the chunk's other images would cost
(their model time in the full run's timing tables).

    .venv/bin/python benchmarks/incremental.py [--config FILE] [--cores 2] [--chunk-size 2]
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO / "benchmarks")]

from workflow import model_of, read_benchmark_tsv, read_timings, snakemake_command  # noqa: E402

from clickbench import datasets, records  # noqa: E402
from clickbench.embedding_cache import count_encodings  # noqa: E402
from clickbench.memo import computations  # noqa: E402

KEEP_MODELS = ("grabcut", "sam_tiny", "ritm_tiny")


def small_demo() -> dict:
    """config/config.yaml's demo, smaller: 2 species x 2 originals x 3 copies, GrabCut and
    the tiny SAM and RITM in noc, SAM's first click and its replay of RITM's clicks."""
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    cfg["dataset"]["demo"].update(species=["Gilt-Head Bream", "Shrimp"], originals=2, copies=3)
    cfg["models"] = {m: cfg["models"][m] for m in KEEP_MODELS}
    cfg["protocols"] = {
        "noc": {"models": list(KEEP_MODELS), "max_clicks": 3},
        "first_click": {"models": ["sam_tiny"]},
        "replay": {"source": "ritm_tiny", "models": ["sam_tiny"]},
    }
    cfg["metrics"]["miou_at"] = [1, 2, 3]
    cfg["chunk_size"] = 1  # one job per image, as these figures were first measured
    return cfg


def run(work: Path, cfg: Path, cores: int) -> tuple[float, list[records.Job]]:
    cmd = snakemake_command(work, "--cores", str(cores), configfile=cfg)
    started, t0 = time.time(), time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"snakemake failed:\n{proc.stderr[-4000:]}")
    return wall, records.jobs(work, since=started)


def model_seconds(timings, model: str, slug: str, images) -> float:
    """Model time (every ``set_image`` and model call) of ``images`` of the class ``slug``."""
    t = timings[(timings["model"] == model) & (timings["class"].map(datasets.slug) == slug)]
    return float(t[t["image"].isin(list(images))]["seconds"].sum())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--chunk-size", type=int, default=1)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="clickbench-incr-") as tmp:
        work = Path(tmp)
        cfg = work / "config.yaml"
        config = yaml.safe_load(args.config.read_text()) if args.config else small_demo()
        config["chunk_size"] = args.chunk_size
        cfg.write_text(yaml.safe_dump(config))
        full, _ = run(work, cfg, args.cores)
        name = config["dataset"]["name"]
        results = work / "results" / name
        timings = read_timings(results)
        table = sorted((results / "dedup").glob("*.tsv"))[0]
        with open(table, newline="") as fh:
            row = next(r for r in csv.DictReader(fh, delimiter="\t") if r["selected"] == "1")
        path = work / row["image_path"]
        img = np.array(Image.open(path))
        img[:8, :8] = 255 - img[:8, :8]
        Image.fromarray(img).save(path)
        cache = work / "resources" / "cache"
        before, memo_before = count_encodings(cache), len(computations(cache))
        rerun, jobs = run(work, cfg, args.cores)
        done = computations(cache)[memo_before:]
        counts = Counter(j.rule for j in jobs)
        print(f"changed image: {row['class']} / {row['image']}; chunk_size {args.chunk_size}")
        print("| full run | rerun after one changed image | ratio | SAM encodings in the rerun |")
        print("|---|---|---|---|")
        print(
            f"| {full:.1f} s | {rerun:.1f} s | {rerun / full:.3f} | {count_encodings(cache) - before} |"
        )
        print("jobs in the rerun:", ", ".join(f"{k} x{v}" for k, v in sorted(counts.items())))
        print("computed by the rerun (run memo):", sorted(set(done)))
        if args.chunk_size > 1:
            chunk_report(results, jobs, timings, read_timings(results), row["image"])


def chunk_report(results: Path, jobs, timings, rerun_timings, changed: str) -> None:
    """What the memo and the markers cost in the rerun, against recomputing the chunk."""
    print()
    print(
        "| model | chunk job wall s | of it, the changed image's model time s | per-image "
        "jobs from the memo | their wall s | recomputing the chunk's other images, model s |"
    )
    print("|---|---|---|---|---|---|")  # fmt: skip
    for job in jobs:
        if not job.rule.startswith("chunk_"):
            continue
        model = model_of(job.rule)
        log = Path(job.logs[0])
        cls = log.parent.name
        bench = read_benchmark_tsv(
            results / "benchmarks" / "chunks" / model / cls / f"{log.stem}.tsv"
        )
        per_image = [
            j for j in jobs if j.rule == f"run_{model}" and Path(j.outputs[0]).parent.name == cls
        ]
        images = {Path(j.outputs[0]).stem for j in per_image}
        others = images - {changed}
        mine = model_seconds(rerun_timings, model, cls, [changed])
        print(
            f"| {model} | {bench['wall_s']:.1f} | {mine:.1f} | {len(per_image)} | "
            f"{sum(j.seconds for j in per_image):.1f} | "
            f"{model_seconds(timings, model, cls, others):.1f} |"
        )


if __name__ == "__main__":
    main()

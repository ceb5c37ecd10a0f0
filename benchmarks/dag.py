"""DAG build time and peak memory of a dry run at the real dataset size and at 10x.

Builds a fake fish dataset (empty image files: a dry run never opens them) of
9 classes x 1000 images with dedup tables selecting 50 per class (the real study's size),
and the same at 10x (9 x 10,000 images, 500 selected per class), then times
`snakemake -n` over the full workflow (baselines, SAM and RITM in three protocols) and
reads its peak resident memory from /usr/bin/time. Targets: < 20 s and < 2 GB at 1x,
no worse than linear growth to 10x.

    .venv/bin/python benchmarks/dag.py [--scales 1 10]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from conftest import snakemake_command  # noqa: E402

CLASSES = [
    "Black Sea Sprat", "Gilt-Head Bream", "Hourse Mackerel", "Red Mullet", "Red Sea Bream",
    "Sea Bass", "Shrimp", "Striped Red Mullet", "Trout",
]  # fmt: skip


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def build(workdir: Path, per_class: int, every: int) -> Path:
    root = workdir / "data" / "Fish_Dataset"
    results = workdir / "results" / "dag" / "dedup"
    results.mkdir(parents=True)
    for cls in CLASSES:
        imgs, masks = root / cls / cls, root / cls / f"{cls} GT"
        imgs.mkdir(parents=True)
        masks.mkdir(parents=True)
        lines = ["class\timage\tselected\tindex_pick\tstatus"]
        for i in range(1, per_class + 1):
            name = f"{i:05d}"
            (imgs / f"{name}.png").touch()
            (masks / f"{name}.png").touch()
            pick = int((i - 1) % every == 0)
            lines.append(f"{cls}\t{name}\t{pick}\t{pick}\tok")
        (results / f"{slug(cls)}.tsv").write_text("\n".join(lines) + "\n")
    ckpts = workdir / "ckpt"
    ckpts.mkdir()
    for name in ("sam.pth", "ritm.pth"):
        (ckpts / name).write_bytes(b"0")
    later = time.time() + 5  # dedup tables newer than every image: nothing to redo there
    for p in results.glob("*.tsv"):
        os.utime(p, (later, later))
    cfg = {
        "dataset": {"name": "dag", "layout": "fish", "root": str(root)},
        "dedup": {"method": "phash"},
        "models": {
            "grabcut": {"type": "grabcut"},
            "random_walker": {"type": "random_walker"},
            "sam": {
                "type": "sam",
                "variant": "vit_b",
                "checkpoint": {"path": str(ckpts / "sam.pth")},
                "selection": ["max_score", "oracle", "single"],
            },
            "ritm": {"type": "ritm", "checkpoint": {"path": str(ckpts / "ritm.pth")}},
        },
        "protocols": {
            "noc": {"models": ["grabcut", "random_walker", "sam", "ritm"]},
            "first_click": {"models": ["sam"]},
            "replay": {"source": "ritm", "models": ["sam"]},
        },
    }
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def dry_run(workdir: Path, cfg: Path) -> tuple[float, float, int]:
    cmd = ["/usr/bin/time", "-v"]
    cmd += snakemake_command(workdir, "-n", "--cores", "2", configfile=cfg)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"dry run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1))
    total = re.search(r"^total\s+(\d+)", proc.stdout + proc.stderr, re.M)
    return wall, rss_kb / 1024, int(total.group(1)) if total else -1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", type=int, nargs="+", default=[1, 10])
    args = ap.parse_args()
    print(f"{'scale':>5} {'images':>7} {'selected':>8} {'jobs':>6} {'wall s':>7} {'peak MB':>8}")
    rows = []
    for scale in args.scales:
        with tempfile.TemporaryDirectory() as tmp:
            cfg = build(Path(tmp), per_class=1000 * scale, every=20)
            wall, mb, jobs = dry_run(Path(tmp), cfg)
        rows.append((scale, wall, mb))
        print(f"{scale:>5} {9000 * scale:>7} {450 * scale:>8} {jobs:>6} {wall:>7.1f} {mb:>8.0f}")
    if len(rows) > 1:
        (s0, w0, m0), (s1, w1, m1) = rows[0], rows[-1]
        print(
            f"growth {s1 // s0}x data: time x{w1 / w0:.1f}, memory x{m1 / m0:.1f} "
            f"(linear would be x{s1 // s0})"
        )


if __name__ == "__main__":
    main()

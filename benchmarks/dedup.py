"""Time perceptual-hash dedup on a generated dataset of the real one's size.

Generates 9 classes x 1000 images (50 originals x 20 images: the original and 19 augmented
copies, 590 x 445 PNGs with masks, the Kaggle layout) with ``clickbench.demo`` (not timed), then
times ``clickbench.dedup.dedup_class`` on every class, the classes spread over ``--workers``
processes as ``snakemake --cores N`` would run the per-class jobs. The time includes reading and
validating every image and mask, hashing, grouping and the mask-consistency check. Prints images
per second, the total, and the pairwise precision and recall of the groups against the
generator's manifest.

    python benchmarks/dedup.py                  # 9 x 1000 images, 2 workers
    python benchmarks/dedup.py --data /tmp/fish # keep (and reuse) the generated images
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd

from clickbench.dedup_eval import pair_counts

SPECIES = [
    "Black Sea Sprat",
    "Gilt-Head Bream",
    "Hourse Mackerel",
    "Red Mullet",
    "Red Sea Bream",
    "Sea Bass",
    "Shrimp",
    "Striped Red Mullet",
    "Trout",
]


def _generate(args) -> str:
    import cv2

    cv2.setNumThreads(1)
    from clickbench import demo

    base, species, seed, originals, copies = args
    root = Path(base) / species.replace(" ", "_") / "Fish_Dataset"
    if not (root.parent / "manifest.tsv").exists():
        demo.generate(
            root, seed=seed, species=[species], originals=originals, copies=copies, native=False
        )
    return str(root)


def _dedup(root: str) -> tuple[str, float, float, pd.DataFrame]:
    import cv2

    cv2.setNumThreads(1)
    from clickbench import datasets, dedup

    t0, c0 = time.perf_counter(), time.process_time()
    samples = datasets.discover({"name": "bench", "layout": "fish", "root": root})
    table = dedup.dedup_class(samples, {"method": "phash"})
    return root, time.perf_counter() - t0, time.process_time() - c0, table


def machine() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({len(os.sched_getaffinity(0))} usable), {model}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--classes", type=int, default=9)
    ap.add_argument("--originals", type=int, default=50)
    ap.add_argument("--copies", type=int, default=19, help="augmented copies per original")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=2020)
    ap.add_argument("--data", help="folder for the generated images (kept; reused if present)")
    args = ap.parse_args()

    tmp = None
    if args.data:
        base = Path(args.data)
        base.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="clickbench-dedup-bench-")
        base = Path(tmp.name)
    species = SPECIES[: args.classes]
    jobs = [
        (str(base), s, args.seed + i, args.originals, args.copies) for i, s in enumerate(species)
    ]
    print(f"machine: {machine()}")
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        roots = list(pool.map(_generate, jobs))
    n_images = len(species) * args.originals * (args.copies + 1)
    print(f"generated {n_images} images in {base} in {time.perf_counter() - t0:.1f} s (not timed)")

    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        results = list(pool.map(_dedup, roots))
    wall = time.perf_counter() - t0

    tp = fp = fn = 0
    cpu_total = 0.0
    print(f"{'class':<20} {'images':>6} {'groups':>6} {'seconds':>8} {'cpu s':>7} {'img/s':>7}")
    for root, seconds, cpu, table in results:
        cpu_total += cpu
        manifest = pd.read_csv(Path(root).parent / "manifest.tsv", sep="\t", dtype={"image": str})
        truth = manifest.set_index("image").loc[table["image"], "original"]
        a, b, c = pair_counts(truth, table["group"])
        tp, fp, fn = tp + a, fp + b, fn + c
        cls = table["class"].iloc[0]
        print(
            f"{cls:<20} {len(table):>6} {table['group'].nunique():>6} {seconds:>8.1f} "
            f"{cpu:>7.1f} {len(table) / seconds:>7.1f}"
        )
    precision, recall = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
    print(
        f"total: {n_images} images in {wall:.1f} s wall with {args.workers} worker(s): "
        f"{n_images / wall:.0f} images/s; pairwise precision {precision:.4f}, recall {recall:.4f}"
    )
    print(
        f"CPU time of the dedup processes: {cpu_total:.1f} s ({1000 * cpu_total / n_images:.1f} ms "
        f"per image); on {args.workers} otherwise idle cores that is {cpu_total / args.workers:.1f} s "
        f"wall ({n_images * args.workers / cpu_total:.0f} images/s). Load average at the end: "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()

"""The weight-free baselines on the real GrabCut benchmark, in the ``noc`` protocol.

    python benchmarks/grabcut_baselines.py [--root ../shared/datasets/GrabCut]
        [--max-clicks 20] [--models grabcut random_walker] [--images N] [--jobs 1]

Runs each model through :func:`clickbench.protocols.run_noc` on every image (RITM's click
simulator, 20 clicks, no early stop) using the library directly, and prints NoC@85, NoC@90,
NoF@85/90 (strict: never reaching the threshold; RITM's count in brackets), and mIoU after
1, 2, 3, 5, 10, 20 clicks. Published NoC@90 on GrabCut: graph cut about 10, random walker
about 12. Model options (``--radius``, ``--iterations``, ``--beta``) default to the builders' defaults.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from clickbench import metrics
from clickbench.datasets import discover, load_sample
from clickbench.models.baselines import (
    GRABCUT_DEFAULTS,
    RANDOM_WALKER_DEFAULTS,
    GrabCutModel,
    RandomWalkerModel,
)
from clickbench.protocols import run_noc

THRESHOLDS = (0.85, 0.90)
KS = (1, 2, 3, 5, 10, 20)


def make_model(name: str, args) -> GrabCutModel | RandomWalkerModel:
    if name == "grabcut":
        return GrabCutModel(radius=args.radius, iterations=args.iterations)
    if name == "random_walker":
        return RandomWalkerModel(radius=args.radius, beta=args.beta)
    raise ValueError(name)


def run_one(job) -> tuple[str, str, list[float], float]:
    name, sample, args = job
    image, gt, ignore = load_sample(sample, "grabcut")
    model = make_model(name, args)
    t0 = time.perf_counter()
    model.set_image(image)
    (trace,) = run_noc(model, gt, ignore, ["max_score"], max_clicks=args.max_clicks).values()
    return name, sample.image_id, trace.curve.tolist(), time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default="../shared/datasets/GrabCut")
    parser.add_argument("--max-clicks", type=int, default=20)
    parser.add_argument("--models", nargs="+", default=["grabcut", "random_walker"])
    parser.add_argument("--images", type=int, default=0, help="first N images only (0: all)")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--radius", type=int, default=GRABCUT_DEFAULTS["radius"])
    parser.add_argument("--iterations", type=int, default=GRABCUT_DEFAULTS["iterations"])
    parser.add_argument("--beta", type=float, default=RANDOM_WALKER_DEFAULTS["beta"])
    args = parser.parse_args()

    samples = discover({"name": "GrabCut", "layout": "grabcut", "root": args.root})
    if args.images:
        samples = samples[: args.images]
    jobs = [(name, s, args) for name in args.models for s in samples]
    curves: dict[str, dict[str, list[float]]] = {name: {} for name in args.models}
    seconds: dict[str, float] = dict.fromkeys(args.models, 0.0)
    with ProcessPoolExecutor(args.jobs) as pool:
        for name, image_id, curve, secs in pool.map(run_one, jobs):
            curves[name][image_id] = curve
            seconds[name] += secs
            print(f"  {name} {image_id}: " + " ".join(f"{v:.2f}" for v in curve), flush=True)

    print(f"\nGrabCut, {len(samples)} images, noc protocol, {args.max_clicks} clicks\n")
    ks = [k for k in KS if k <= args.max_clicks]
    head = ["model", "NoC@85", "NoC@90", "NoF@85", "NoF@90"] + [f"mIoU@{k}" for k in ks]
    head.append("s/click")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for name in args.models:
        cs = [np.asarray(curves[name][s.image_id], np.float32) for s in samples]
        nocs = [metrics.noc(cs, t, args.max_clicks) for t in THRESHOLDS]
        nofs = [
            f"{metrics.nof(cs, t, args.max_clicks)} ({metrics.nof(cs, t, args.max_clicks, 'ritm')})"
            for t in THRESHOLDS
        ]
        miou = metrics.miou_at(cs, ks)
        spc = seconds[name] / sum(len(c) for c in cs)
        cells = [name] + [f"{v:.2f}" for v in nocs] + nofs + [f"{v:.3f}" for v in miou]
        print("| " + " | ".join(cells + [f"{spc:.2f}"]) + " |")
    print("\nNoF: images never reaching the threshold (RITM's compute_noc_metric count).")


if __name__ == "__main__":
    main()

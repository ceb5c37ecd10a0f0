"""What boundary IoU adds to every click step: its cost beside IoU's, on the real GrabCut masks.

Every step of every loop scores each candidate with IoU and boundary IoU
(``clickbench.protocols.run_loop``); SAM gives 4 candidates per step. This times, side by side
in one process, for each GrabCut mask with 4 candidates (the mask shifted by 0, 3, 6, 12 pixels):

- ``metrics.iou_batch`` (4 candidates),
- ``metrics.boundary_iou_batch`` (4 candidates, the ground truth's band computed once per
  image as the loop does),
- the reference code's boundary (``boundary_iou/utils/boundary_utils.py``: 3x3 erosion repeated
  ``width`` times) against ours (one erosion with a ``2 width + 1`` square), 4 masks,

and prints medians over the images and their ratios. ``--root`` is the GrabCut folder
(``data_GT/``, ``boundary_GT/``).

    python benchmarks/measures.py --root ../shared/datasets/GrabCut
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from clickbench import metrics
from clickbench.datasets import load_ground_truth


def reference_boundary(mask: np.ndarray, width: int) -> np.ndarray:
    m = mask.astype(np.uint8)
    h, w = m.shape
    padded = cv2.copyMakeBorder(m, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    eroded = cv2.erode(padded, np.ones((3, 3), np.uint8), iterations=width)[1 : h + 1, 1 : w + 1]
    return (m - eroded).astype(bool)


def best_of(f, repeat: int = 5) -> float:
    f()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return min(times)


def time_one(gt, ignore, masks, width, band) -> dict[str, float]:
    return {
        "iou": best_of(lambda: metrics.iou_batch(gt, ignore, masks)),
        "biou": best_of(lambda: metrics.boundary_iou_batch(gt, ignore, masks, gt_boundary=band)),
        "ref": best_of(lambda: [reference_boundary(m, width) for m in masks]),
        "ours": best_of(lambda: [metrics.mask_to_boundary(m, width) for m in masks]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("../shared/datasets/GrabCut"))
    args = parser.parse_args()
    paths = sorted((args.root / "boundary_GT").iterdir())
    rows = {"iou": [], "biou": [], "ref": [], "ours": []}
    for path in paths:
        shape = np.asarray(Image.open(path)).shape[:2]
        gt, ignore = load_ground_truth(path, "grabcut", shape)
        masks = np.stack([np.roll(gt, s, axis=1) for s in (0, 3, 6, 12)])
        width = metrics.boundary_width(gt.shape)
        band = metrics.mask_to_boundary(gt, width)
        for m in masks:  # the two boundaries are the same set
            assert np.array_equal(metrics.mask_to_boundary(m, width), reference_boundary(m, width))
        for key, seconds in time_one(gt, ignore, masks, width, band).items():
            rows[key].append(seconds)
    med = {k: statistics.median(v) * 1e3 for k, v in rows.items()}
    print(f"{len(paths)} GrabCut masks, 4 candidates each, median of per-image best-of-5 (ms):")
    print(f"  iou_batch            {med['iou']:.2f}")
    print(f"  boundary_iou_batch   {med['biou']:.2f}  ({med['biou'] / med['iou']:.1f} x IoU)")
    print(f"  boundaries, reference 3x3 x width  {med['ref']:.2f}")
    print(
        f"  boundaries, one square erosion     {med['ours']:.2f}  "
        f"({med['ref'] / med['ours']:.2f} x faster)"
    )


if __name__ == "__main__":
    main()

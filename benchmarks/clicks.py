"""Time of one simulated click against one ``cv2.distanceTransform`` on the same image.

    python benchmarks/clicks.py [--repeat 50]

For a 590x445 image (the fish dataset) and a 1024x1024 one (SAM's input size) it prints,
side by side, the median time of one precise L2 ``cv2.distanceTransform`` of the padded
image (OpenCV's default path), of :func:`clickbench.clicks.next_click` mid-loop (a
prediction with false negatives and false positives, three clicks made) and of the first
click (empty prediction), with their ratios to the transform. The simulator runs at most two
transforms (FN and FP, each on its region's bounding box) plus a few passes over boolean
arrays; the target is a ratio of at most about 3.
"""

from __future__ import annotations

import argparse
import statistics
import time

import cv2
import numpy as np

from clickbench.clicks import Click, next_click


def scene(h: int, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ground truth (an ellipse), an ignore band around it, a shifted, dilated prediction."""
    gt = np.zeros((h, w), np.uint8)
    cv2.ellipse(gt, (w // 2, h // 2), (w // 3, h // 3), 20.0, 0, 360, 1, -1)
    k = np.ones((3, 3), np.uint8)
    ignore = (cv2.dilate(gt, k, iterations=3) - cv2.erode(gt, k, iterations=3)).astype(bool)
    pred = np.roll(cv2.dilate(gt, k, iterations=8), (h // 20, w // 15), axis=(0, 1))
    return gt.astype(bool), ignore, pred.astype(bool)


def median_time(fn, args: tuple, repeat: int) -> float:
    fn(*args)  # warm up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    print(f"opencv {cv2.__version__}, {cv2.getNumThreads()} threads, median of {args.repeat}")
    header = f"{'image':>10} {'distanceTransform':>18} {'next_click':>11} {'ratio':>6} {'first click':>12} {'ratio':>6}"
    print(header)
    for h, w in ((445, 590), (1024, 1024)):
        gt, ignore, pred = scene(h, w)
        clicked = [Click(h // 2, w // 2, True), Click(10, 10, False), Click(h // 3, w // 4, True)]
        fn_padded = np.pad(gt & ~pred & ~ignore, 1).astype(np.uint8)
        dt_args = (fn_padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        t_dt = median_time(cv2.distanceTransform, dt_args, args.repeat)
        t_click = median_time(next_click, (gt, ignore, pred, clicked), args.repeat)
        t_first = median_time(next_click, (gt, ignore, None, ()), args.repeat)
        print(
            f"{f'{w}x{h}':>10} {t_dt * 1e3:>15.2f} ms {t_click * 1e3:>8.2f} ms {t_click / t_dt:>6.2f}"
            f" {t_first * 1e3:>9.2f} ms {t_first / t_dt:>6.2f}"
        )


if __name__ == "__main__":
    main()

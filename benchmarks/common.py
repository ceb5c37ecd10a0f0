"""What every benchmark here shares: the machine's facts, a matrix product's FLOP/s, the
synthetic workload, CPU-time counters and a summary of timings."""

from __future__ import annotations

import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch

H, W = 445, 590  # the synthetic images' size, the study's photos' aspect


def machine() -> dict:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        flags = next(
            (ln for ln in Path("/proc/cpuinfo").read_text().splitlines() if ln.startswith("flags")),
            "",
        )
    except OSError:
        flags = ""
    return {
        "nproc": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu": model,
        "avx512_bf16": "avx512_bf16" in flags,
        "amx_bf16": "amx_bf16" in flags,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "loadavg_at_start": os.getloadavg(),
    }


def matmul_flops(dtype: torch.dtype, n: int = 2048, reps: int = 5) -> float:
    """Best FLOP/s of an n x n matrix product in ``dtype`` (2 n^3 FLOP)."""
    g = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=g).to(dtype)
    b = torch.randn(n, n, generator=g).to(dtype)
    a @ b  # warm up
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best


def synthetic_images(n: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """(image, gt) pairs: a textured ellipse ("fish") on a speckled background, 590x445."""
    rng = np.random.default_rng(seed)
    out = []
    yy, xx = np.mgrid[:H, :W]
    for _ in range(n):
        cy, cx = rng.uniform(0.35, 0.65) * H, rng.uniform(0.35, 0.65) * W
        ry, rx = rng.uniform(0.15, 0.3) * H, rng.uniform(0.2, 0.35) * W
        gt = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
        bg = rng.normal(170, 25, (H, W, 3))
        fg = rng.normal(0, 12, (H, W, 3)) + rng.uniform(40, 110, 3)
        img = np.where(gt[..., None], fg, bg)
        out.append((np.clip(img, 0, 255).astype(np.uint8), gt))
    return out


def summary(xs) -> dict:
    xs = list(xs)
    if not xs:
        return {"n": 0}
    return {
        "n": len(xs),
        "mean": statistics.fmean(xs),
        "median": statistics.median(xs),
        "min": min(xs),
        "max": max(xs),
    }


def cpu_busy_s() -> float | None:
    """Busy CPU seconds of the whole machine so far (all cores, /proc/stat)."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def own_cpu_s() -> float:
    """CPU seconds of this process and of its waited-for descendants."""
    import resource

    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        ru = resource.getrusage(who)
        total += ru.ru_utime + ru.ru_stime
    return total


def children_cpu_s() -> float:
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime

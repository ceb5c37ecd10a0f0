"""SAM vit_b's encoder on a busy CPU: plain, sdpa and chunked, with and without a competitor.

    nice python benchmarks/encoder_contention.py [--reps 2] [--precision bf16]

One process builds segment-anything's randomly initialised vit_b (relative positions drawn
at random) three times: plain, ``accelerate: sdpa`` and ``accelerate: chunked``
(clickbench.models.accelerate), and encodes one 1024x1024 input with each in turn, ``--reps``
rounds, first alone, then beside a competing process that keeps one core busy (a Python busy
loop), as a light job or another model job does on a shared workstation. Printed: each
encoder's wall times, alone and beside the competitor. The point is the ratio between the
two: an encoder made of many small parallel operations (one OpenMP barrier after each) waits
at every barrier for the thread the competitor holds off its core.
"""

from __future__ import annotations

import argparse
import copy
import json
import subprocess
import sys
import time

import torch
from segment_anything import sam_model_registry

from clickbench.models import accelerate


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--precision", choices=("fp32", "bf16"), default="bf16")
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    plain = accelerate.randomize_rel_pos(sam_model_registry["vit_b"]().eval())
    encoders = {
        "none": plain,
        "sdpa": accelerate.apply(copy.deepcopy(plain), "sdpa"),
        "chunked": accelerate.apply(copy.deepcopy(plain), "chunked"),
    }
    x = torch.randn(1, 3, 1024, 1024)

    def encode(sam) -> float:
        t = time.perf_counter()
        with (
            torch.no_grad(),
            torch.autocast("cpu", torch.bfloat16, enabled=args.precision == "bf16"),
        ):
            sam.image_encoder(x)
        return time.perf_counter() - t

    for sam in encoders.values():  # warm-up
        encode(sam)
    out: dict = {"threads": torch.get_num_threads(), "precision": args.precision}
    for busy in (False, True):
        rival = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
        try:
            times = {m: [] for m in encoders}
            for _ in range(args.reps):
                for m, sam in encoders.items():
                    times[m].append(encode(sam))
        finally:
            if rival:
                rival.kill()
        out["beside a busy core" if busy else "alone"] = times
    print(
        f"| vit_b {args.precision}, {out['threads']} threads | alone, s | beside a busy core, s |"
    )
    print("| --- | --- | --- |")
    for m in encoders:
        cells = [", ".join(f"{t:.2f}" for t in out[k][m]) for k in ("alone", "beside a busy core")]
        print(f"| {m} | {cells[0]} | {cells[1]} |")
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()

"""Peak memory of one SAM vit_b encoding per acceleration mode and precision.

    python benchmarks/encoder_memory.py                 # vit_b, every mode but compile
    python benchmarks/encoder_memory.py --variant vit_h

Each (mode, precision) runs in a process of its own (the peak resident set size,
``ru_maxrss``, is per process): segment-anything's randomly initialised model is built, the
mode applied (clickbench.models.accelerate), one 1024x1024 input encoded under ``no_grad``
(bf16: ``torch.autocast``). Printed: the peak RSS and its growth over the built model, which
is what the encoding itself holds at its peak (the plain encoder's global-attention logits
and their copies in ``add_decomposed_rel_pos``).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys

MODES = ("none", "chunked", "sdpa")


def measure(variant: str, mode: str, precision: str) -> dict:
    import torch
    from segment_anything import sam_model_registry

    from clickbench.models import accelerate

    sam = accelerate.apply(sam_model_registry[variant]().eval(), mode)
    x = torch.randn(1, 3, 1024, 1024)
    built = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with torch.no_grad(), torch.autocast("cpu", torch.bfloat16, enabled=precision == "bf16"):
        sam.image_encoder(x)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"peak_mb": peak / 1024, "encoding_mb": (peak - built) / 1024}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--variant", default="vit_b")
    ap.add_argument("--one", nargs=2, metavar=("MODE", "PRECISION"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(measure(args.variant, *args.one)))
        return {}
    out = {}
    print(f"| {args.variant} encoding | peak RSS MB | held by the encoding MB |")
    print("| --- | ---: | ---: |")
    for mode in MODES:
        for precision in ("fp32", "bf16"):
            cmd = [sys.executable, __file__, "--variant", args.variant, "--one", mode, precision]
            res = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
            out[f"{mode}/{precision}"] = res
            print(f"| {mode} {precision} | {res['peak_mb']:.0f} | {res['encoding_mb']:.0f} |")
    return out


if __name__ == "__main__":
    main()

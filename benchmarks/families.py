"""Per-family model costs on this machine: image encode and per-click decode, side by side.

    nice python benchmarks/families.py              # full-size random weights + the tiny ones
    python benchmarks/families.py --quick           # the tiny models only (seconds)

Every SAM-family adapter of clickbench (SAM, SAM 2.1, HQ-SAM, EfficientViT-SAM) with
randomly initialised weights, built from each package's own classes (no download): the
full-size variants that fit a CPU run here (SAM ``vit_b``, SAM 2.1 ``hiera_t``, HQ-SAM
``vit_b`` and ``vit_tiny``, EfficientViT-SAM ``l0``) and each family's ``tiny`` test model.
On ``--images`` synthetic 590x445 images (benchmarks/common.py's), each model encodes every
image once (``set_image``, no embedding cache) and decodes ``--clicks`` clicks on it (one
``predict`` call = all four candidates). Reported: median seconds per encode and per click,
and each encode relative to SAM ``vit_b``'s measured in the same run. Random weights cost
what trained ones cost (the same operations); only the masks differ.

Results go to stdout (markdown) and ``--out`` (JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO / "benchmarks")]

from common import machine, synthetic_images  # noqa: E402  (benchmarks/common.py)

from clickbench.clicks import Click  # noqa: E402


def builders(quick: bool) -> list[tuple[str, str, callable]]:
    """(family, variant, () -> InteractiveModel) for every model to time."""
    from segment_anything import sam_model_registry

    from clickbench.models import efficientvit_sam, hq_sam, sam, sam2

    def wrap(cls, arch, variant, **kw):
        return lambda: cls(arch(), variant=variant, checkpoint_sha256="random", **kw)

    out = [
        ("sam", "tiny", wrap(sam.SamModel, sam.VARIANTS["tiny"], "tiny")),
        ("sam2", "tiny", wrap(sam2.Sam2Model, lambda: sam2.build_architecture("tiny"), "tiny")),
        ("hq_sam", "tiny", wrap(hq_sam.HqSamModel, hq_sam.build_hq_tiny, "tiny")),
        (
            "efficientvit_sam",
            "tiny",
            wrap(
                efficientvit_sam.EfficientVitSamModel,
                efficientvit_sam.build_efficientvit_tiny,
                "tiny",
            ),
        ),
    ]
    if not quick:
        out += [
            ("sam", "vit_b", wrap(sam.SamModel, sam_model_registry["vit_b"], "vit_b")),
            (
                "sam2",
                "sam2.1_hiera_t",
                wrap(
                    sam2.Sam2Model,
                    lambda: sam2.build_architecture("sam2.1_hiera_t"),
                    "sam2.1_hiera_t",
                ),
            ),
            ("hq_sam", "vit_b", wrap(hq_sam.HqSamModel, hq_sam.VARIANTS["vit_b"], "vit_b")),
            (
                "hq_sam",
                "vit_tiny",
                wrap(hq_sam.HqSamModel, hq_sam.VARIANTS["vit_tiny"], "vit_tiny"),
            ),
            (
                "efficientvit_sam",
                "l0",
                wrap(
                    efficientvit_sam.EfficientVitSamModel,
                    lambda: efficientvit_sam.build_architecture("l0"),
                    "l0",
                ),
            ),
        ]
    return out


def clicks_on(image_shape, n: int) -> list[Click]:
    """``n`` fixed clicks spread over the image (positive first, then alternating)."""
    h, w = image_shape[:2]
    return [
        Click(int(h * (0.3 + 0.4 * ((i * 7) % 10) / 10)), int(w * (0.3 + 0.04 * i)), i % 2 == 0)
        for i in range(n)
    ]


def bench(make, data, clicks: int) -> dict:
    torch.manual_seed(0)
    t0 = time.perf_counter()
    model = make()
    build_s = time.perf_counter() - t0
    params = sum(p.numel() for p in model.sam.parameters()) if hasattr(model, "sam") else None
    if params is None:
        params = sum(p.numel() for p in model.model.parameters())
    encode, decode = [], []
    for image, _ in data:
        t0 = time.perf_counter()
        model.set_image(image)
        encode.append(time.perf_counter() - t0)
        cl = clicks_on(image.shape, clicks)
        for k in range(1, clicks + 1):
            t0 = time.perf_counter()
            model.predict(cl[:k])
            decode.append(time.perf_counter() - t0)
    return {
        "params": params,
        "build_s": build_s,
        "encode_s": encode,
        "decode_s": decode,
        "encode_median_s": statistics.median(encode),
        "decode_median_s": statistics.median(decode),
    }


def run(data, clicks: int, quick: bool) -> dict:
    """``family:variant`` -> :func:`bench` of every model of :func:`builders`, in turn."""
    out = {}
    for family, variant, make in builders(quick):
        print(f"{family} {variant} ...", file=sys.stderr, flush=True)
        out[f"{family}:{variant}"] = bench(make, data, clicks)
    return out


def table(models: dict) -> str:
    """The markdown table of :func:`run`'s results."""
    ref = models.get("sam:vit_b", {}).get("encode_median_s")
    lines = [
        "| family | variant | parameters | encode s (median) | per click s (median) | encode / SAM vit_b |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for key, r in models.items():
        fam, var = key.split(":", 1)
        rel = f"{r['encode_median_s'] / ref:.2f}" if ref else "—"
        lines.append(
            f"| {fam} | {var} | {r['params'] / 1e6:.1f} M | {r['encode_median_s']:.3f} | "
            f"{r['decode_median_s']:.3f} | {rel} |"
        )
    return "\n".join(lines)


def markdown(res: dict) -> str:
    return (
        f"{res['machine'].get('cpu', '')}, torch threads {res['threads']}, "
        f"1-min load average at start {res['load_start']:.2f}, at end {res['load_end']:.2f}"
        f"\n\n{table(res['models'])}"
    )


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--images", type=int, default=2)
    ap.add_argument("--clicks", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="the tiny models only")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "families.json")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    data = synthetic_images(args.images)
    res = {
        "machine": machine(),
        "threads": torch.get_num_threads(),
        "images": args.images,
        "clicks": args.clicks,
        "load_start": os.getloadavg()[0],
    }
    res["models"] = run(data, args.clicks, args.quick)
    res["load_end"] = os.getloadavg()[0]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=1))
    print(markdown(res))
    return res


if __name__ == "__main__":
    main()

"""Batched image encoding on a CUDA GPU: images/s in fp32 and bf16, against the same run's
bf16 matmul rate (benchmarks/gpu.sh runs it; it needs a CUDA device).

    python benchmarks/gpu_encode.py [--images 64] [--batch 8] [--out FILE.json]

Randomly initialised full-size models, no download:

- SAM ``vit_h`` (segment-anything's ``sam_model_registry``) through clickbench's
  ``SamModel.encode`` (the workflow's own batched path), plain and ``accelerate: sdpa`` and
  ``chunked``; each embedding's relative error against the plain one is reported beside its
  speed;
- SAM 2.1 ``sam2.1_hiera_large`` (``sam2.build_sam.build_sam2`` with the package's Hydra
  config, no checkpoint), ``forward_image`` on normalised 1024x1024 batches. When
  ``import sam2`` fails this part is skipped and the reason is recorded.

Each figure: one warm-up batch, then ``--images`` images in batches of ``--batch``, timed with
``torch.cuda.synchronize``. bf16 runs under ``torch.autocast("cuda", torch.bfloat16)``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from clickbench.models.accelerate import relative_error  # noqa: E402
from clickbench.models.sam import SamModel  # noqa: E402

SAM2_CONFIG = "configs/sam2.1/sam2.1_hiera_l.yaml"


def matmul_flops(dtype: torch.dtype, n: int = 8192, reps: int = 10) -> float:
    a = torch.randn(n, n, device="cuda", dtype=dtype)
    b = torch.randn(n, n, device="cuda", dtype=dtype)
    a @ b
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    torch.cuda.synchronize()
    return 2 * n**3 * reps / (time.perf_counter() - t)


def tflop_per_image(run) -> float:
    """TFLOP of ``run(1)`` (one image) by torch's FLOP counter (multiply-add = 2 FLOP; vit_h's
    encoder counts 5.96 TFLOP, vit_b's 0.972)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        run(1)
    return counter.get_total_flops() / 1e12


def timed(run, n_images: int, batch: int) -> float:
    """images/s of ``run(k)`` (encodes k images) over ``n_images``, after one warm-up batch."""
    run(batch)
    torch.cuda.synchronize()
    t = time.perf_counter()
    done = 0
    while done < n_images:
        k = min(batch, n_images - done)
        run(k)
        done += k
    torch.cuda.synchronize()
    return n_images / (time.perf_counter() - t)


def images(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (768, 1024, 3), dtype=np.uint8) for _ in range(n)]


def bench_vit_h(args, pool) -> dict:
    from segment_anything import sam_model_registry

    out: dict = {}
    ref = tflop = None
    for accel in ("none", "sdpa", "chunked"):
        torch.manual_seed(0)
        sam = sam_model_registry["vit_h"]().eval().to("cuda")
        for prec in ("fp32", "bf16"):
            m = SamModel(
                sam, variant="vit_h", checkpoint_sha256="random", device="cuda",
                precision=prec, accelerate=accel,
            )  # fmt: skip
            if tflop is None:  # the plain fp32 encoder's count, for every row
                tflop = out["tflop_per_image"] = tflop_per_image(lambda k, m=m: m.encode(pool[:k]))
            rate = timed(lambda k, m=m: m.encode(pool[:k]), args.images, args.batch)
            row = {"images_per_s": rate, "tflop_per_s": rate * tflop}
            emb = m.encode(pool[:1])[0].features
            if accel == "none" and prec == "fp32":
                ref = emb
            row["embedding_rel_error_vs_plain_fp32"] = relative_error(emb, ref)
            out[f"{accel}_{prec}"] = row
            print(f"vit_h accelerate={accel} {prec}: {rate:.2f} images/s", flush=True)
        del sam
        torch.cuda.empty_cache()
    return out


def bench_sam2(args) -> dict:
    try:
        import sam2  # noqa: F401
        from sam2.build_sam import build_sam2
    except Exception as err:  # noqa: BLE001 - any import failure is the reason to skip
        print(f"sam2.1_hiera_large skipped: import sam2 failed ({err})", flush=True)
        return {"skipped": f"import sam2 failed: {type(err).__name__}: {err}"}
    torch.manual_seed(0)
    model = build_sam2(SAM2_CONFIG, None, device="cuda", mode="eval")
    x = torch.randn(args.batch, 3, 1024, 1024, device="cuda")
    out: dict = {}
    for prec in ("fp32", "bf16"):

        def run(k, prec=prec):
            with torch.no_grad(), torch.autocast("cuda", torch.bfloat16, enabled=prec == "bf16"):
                model.forward_image(x[:k])

        if "tflop_per_image" not in out:
            out["tflop_per_image"] = tflop_per_image(run)
        rate = timed(run, args.images, args.batch)
        out[prec] = {"images_per_s": rate, "tflop_per_s": rate * out["tflop_per_image"]}
        print(f"sam2.1_hiera_large {prec}: {rate:.2f} images/s", flush=True)
    return out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "gpu_encode.json")
    args = ap.parse_args(argv)
    if not torch.cuda.is_available():
        raise SystemExit("gpu_encode.py needs a CUDA device (torch.cuda.is_available() is False)")
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32
    torch.backends.cudnn.allow_tf32 = False
    res: dict = {
        "device": torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "images": args.images,
        "batch": args.batch,
        "matmul_tflop_per_s": {
            "fp32": matmul_flops(torch.float32) / 1e12,
            "bf16": matmul_flops(torch.bfloat16) / 1e12,
        },
    }
    pool = images(args.batch)
    res["vit_h"] = bench_vit_h(args, pool)
    res["sam2.1_hiera_large"] = bench_sam2(args)
    bf16 = res["matmul_tflop_per_s"]["bf16"]
    for name in ("vit_h", "sam2.1_hiera_large"):
        for row in res[name].values():
            if isinstance(row, dict):
                row["fraction_of_bf16_matmul"] = row["tflop_per_s"] / bf16
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=1))
    return res


if __name__ == "__main__":
    main()

"""Batched image encoding on a CUDA GPU: images/s in fp32 and bf16, against the same run's
bf16 matmul rate (benchmarks/gpu.sh runs it; it needs a CUDA device).

    python benchmarks/gpu_encode.py [--images 64] [--batch 8] [--out FILE.json]

Randomly initialised full-size models, no download:

- SAM ``vit_h`` (:data:`clickbench.models.sam.VARIANTS`, segment-anything's builder) through
  clickbench's ``SamModel.encode`` (the workflow's own batched path), plain and ``accelerate:
  sdpa`` and ``chunked``; each embedding's relative error against the plain one is reported
  beside its speed;
- SAM 2.1 ``sam2.1_hiera_l`` (``clickbench.models.sam2.build_architecture``: ``build_sam2``
  with the package's Hydra config, no checkpoint), ``forward_image`` on normalised 1024x1024
  batches. When ``import sam2`` fails this part is skipped and the reason is recorded.

Each figure: one warm-up batch, then ``--images`` images in batches of ``--batch``, timed with
``torch.cuda.synchronize``. bf16 runs under ``torch.autocast("cuda", torch.bfloat16)``.

``--rehearse`` runs the same code on the CPU with the tiny SAM and the tiny SAM 2 (the
project's test models, :mod:`clickbench.models.tiny`) on a few images, so the script's every
line but the device's name is exercised where there is no GPU (tests/test_accelerate.py runs
it through ``GPU_SH_REHEARSE=1 bash benchmarks/gpu.sh``). Its figures mean nothing.
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
from clickbench.models.sam import VARIANTS as SAM_VARIANTS  # noqa: E402
from clickbench.models.sam import SamModel  # noqa: E402

#: (SAM variant, SAM 2 variant, matmul size) of a real run and of a rehearsal on the CPU
MODELS = {"cuda": ("vit_h", "sam2.1_hiera_l", 8192), "cpu": ("tiny", "tiny", 512)}


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def matmul_flops(dtype: torch.dtype, device: str, n: int, reps: int = 10) -> float:
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    sync(device)
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    sync(device)
    return 2 * n**3 * reps / (time.perf_counter() - t)


def tflop_per_image(run) -> float:
    """TFLOP of ``run(1)`` (one image) by torch's FLOP counter (multiply-add = 2 FLOP; vit_h's
    encoder counts 5.96 TFLOP, vit_b's 0.972)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        run(1)
    return counter.get_total_flops() / 1e12


def timed(run, n_images: int, batch: int, device: str) -> float:
    """images/s of ``run(k)`` (encodes k images) over ``n_images``, after one warm-up batch."""
    run(batch)
    sync(device)
    t = time.perf_counter()
    done = 0
    while done < n_images:
        k = min(batch, n_images - done)
        run(k)
        done += k
    sync(device)
    return n_images / (time.perf_counter() - t)


def images(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (768, 1024, 3), dtype=np.uint8) for _ in range(n)]


def bench_sam(args, pool, variant: str) -> dict:
    out: dict = {"variant": variant}
    ref = tflop = None
    for accel in ("none", "sdpa", "chunked"):
        torch.manual_seed(0)
        sam = SAM_VARIANTS[variant]().eval().to(args.device)
        for prec in ("fp32", "bf16"):
            m = SamModel(
                sam, variant=variant, checkpoint_sha256="random", device=args.device,
                precision=prec, accelerate=accel,
            )  # fmt: skip
            if tflop is None:  # the plain fp32 encoder's count, for every row
                tflop = out["tflop_per_image"] = tflop_per_image(lambda k, m=m: m.encode(pool[:k]))
            rate = timed(lambda k, m=m: m.encode(pool[:k]), args.images, args.batch, args.device)
            row = {"images_per_s": rate, "tflop_per_s": rate * tflop}
            emb = m.encode(pool[:1])[0].features
            if accel == "none" and prec == "fp32":
                ref = emb
            row["embedding_rel_error_vs_plain_fp32"] = relative_error(emb, ref)
            out[f"{accel}_{prec}"] = row
            print(f"{variant} accelerate={accel} {prec}: {rate:.2f} images/s", flush=True)
        del sam
        if args.device == "cuda":
            torch.cuda.empty_cache()
    return out


def bench_sam2(args, variant: str) -> dict:
    try:
        import sam2  # noqa: F401

        from clickbench.models.sam2 import build_architecture
    except Exception as err:  # noqa: BLE001 - any import failure is the reason to skip
        print(f"{variant} skipped: import sam2 failed ({err})", flush=True)
        return {"skipped": f"import sam2 failed: {type(err).__name__}: {err}"}
    torch.manual_seed(0)
    model = build_architecture(variant, device=args.device)
    x = torch.randn(args.batch, 3, 1024, 1024, device=args.device)
    out: dict = {"variant": variant}
    for prec in ("fp32", "bf16"):

        def run(k, prec=prec):
            with (
                torch.no_grad(),
                torch.autocast(args.device, torch.bfloat16, enabled=prec == "bf16"),
            ):
                model.forward_image(x[:k])

        if "tflop_per_image" not in out:
            out["tflop_per_image"] = tflop_per_image(run)
        rate = timed(run, args.images, args.batch, args.device)
        out[prec] = {"images_per_s": rate, "tflop_per_s": rate * out["tflop_per_image"]}
        print(f"{variant} {prec}: {rate:.2f} images/s", flush=True)
    return out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "gpu_encode.json")
    ap.add_argument(
        "--rehearse",
        action="store_true",
        help="the same code on the CPU with the tiny models (checks the script; no figures)",
    )
    args = ap.parse_args(argv)
    args.device = "cpu" if args.rehearse else "cuda"
    if not args.rehearse and not torch.cuda.is_available():
        raise SystemExit("gpu_encode.py needs a CUDA device (torch.cuda.is_available() is False)")
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32
    torch.backends.cudnn.allow_tf32 = False
    sam_variant, sam2_variant, n = MODELS[args.device]
    res: dict = {
        "device": torch.cuda.get_device_name(0) if args.device == "cuda" else "cpu",
        "rehearsal": args.rehearse,
        "torch": torch.__version__,
        "images": args.images,
        "batch": args.batch,
        "matmul_tflop_per_s": {
            "fp32": matmul_flops(torch.float32, args.device, n) / 1e12,
            "bf16": matmul_flops(torch.bfloat16, args.device, n) / 1e12,
        },
    }
    pool = images(args.batch)
    res["sam"] = bench_sam(args, pool, sam_variant)
    res["sam2"] = bench_sam2(args, sam2_variant)
    bf16 = res["matmul_tflop_per_s"]["bf16"]
    for name in ("sam", "sam2"):
        for row in res[name].values():
            if isinstance(row, dict):
                row["fraction_of_bf16_matmul"] = row["tflop_per_s"] / bf16
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=1))
    return res


if __name__ == "__main__":
    main()

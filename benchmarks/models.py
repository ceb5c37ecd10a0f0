"""Model costs on this machine: SAM encode/decode, RITM clicks, bf16 vs fp32.

    nice python benchmarks/models.py                     # the full run (a few minutes on 2 cores)
    python benchmarks/models.py --quick                  # tiny models only (seconds)
    python benchmarks/models.py --workflow CONFIG        # also: workflow wall time / model time

Randomly initialised full-size models (no download): SAM ``vit_b`` (segment-anything's own
``sam_model_registry["vit_b"]``) and RITM HRNet18s IT-M (``HRNetModel`` with
hrnet18s_cocolvis_itermask_3p's arguments, initialised as RITM's training script does, then
calibrated as the tiny model so that masks respond to clicks). On 4 synthetic 590x445 images
x 10 simulated clicks (clickbench's RITM click simulator, protocols.run_loop):

- time per image encode (SAM, fp32 and bf16), per SAM decode (one call = 4 candidates),
  per RITM click (f-BRS-B and NoBRS, evaluate_model.py's predictor settings);
- the encoder's achieved FLOP/s (vit_b: about 972 GFLOP per 1024x1024 image) against a
  large matrix product's FLOP/s measured in the same run, in fp32 and bf16;
- how much bf16 changes SAM's output: the fp32 loop's clicks are replayed with the bf16
  encoder and every candidate's IoU compared (mean |dIoU|), on tiny and full-size weights;
- with ``--workflow``: snakemake on that config in a scratch folder, its wall time over the
  sum of the pure model times of the work it did (encodes, decodes, RITM clicks, from the
  per-image outputs and this run's unit costs). The issue's target is at most 1.15.

Results go to stdout (a markdown summary) and ``--out`` (JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from clickbench.models.base import InteractiveModel  # noqa: E402
from clickbench.models.ritm import RitmModel, make_predictor  # noqa: E402
from clickbench.models.sam import SamModel  # noqa: E402
from clickbench.models.tiny import TINY_RITM, calibrate_ritm, make_tiny_model  # noqa: E402
from clickbench.protocols import run_loop  # noqa: E402

VIT_B_ENCODER_GFLOP = 972.0  # per 1024x1024 image (multiply-add = 2 FLOP)
H, W = 445, 590


# ---------------------------------------------------------------- machine
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


# ---------------------------------------------------------------- data
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


# ---------------------------------------------------------------- timing wrappers
class Timed(InteractiveModel):
    """Records the wall time of every predict call of the wrapped model."""

    def __init__(self, model: InteractiveModel):
        self.model = model
        self.times: list[float] = []

    def set_image(self, image):
        self.model.set_image(image)

    def reset(self):
        self.model.reset()

    def predict(self, clicks, previous=None, previous_choice=None):
        t = time.perf_counter()
        out = self.model.predict(clicks, previous, previous_choice)
        self.times.append(time.perf_counter() - t)
        return out


def sam_model(sam, precision: str, name: str) -> SamModel:
    return SamModel(sam, variant=name, checkpoint_sha256=f"random-{name}", precision=precision)


def bench_sam(sam, name: str, data, clicks: int, encode: bool = True) -> dict:
    """fp32 loop (timed), then bf16 encodes replaying the fp32 clicks; dIoU per candidate."""
    out: dict = {"encode_s": {"fp32": [], "bf16": []}, "encode_cpu_s": {"fp32": [], "bf16": []}}
    out.update({"decode_s": [], "diou": [], "kept_diou": []})
    out["choice_changed"] = 0
    out["pixels_changed"] = []
    fp32, bf16 = Timed(sam_model(sam, "fp32", name)), Timed(sam_model(sam, "bf16", name))
    for image, gt in data:
        for prec, m in (("fp32", fp32), ("bf16", bf16)):
            t, c = time.perf_counter(), time.process_time()
            m.set_image(image)
            out["encode_s"][prec].append(time.perf_counter() - t)
            out["encode_cpu_s"][prec].append(time.process_time() - c)
        a = run_loop(fp32, gt, None, strategy="max_score", max_clicks=clicks)
        out["decode_s"].extend(fp32.times)
        fp32.times.clear()
        b = run_loop(
            bf16, gt, None, strategy="max_score", max_clicks=len(a.clicks), clicks=a.clicks
        )
        bf16.times.clear()
        out["diou"].extend(np.abs(a.ious - b.ious).ravel().tolist())
        ka = a.ious[np.arange(len(a.chosen)), a.chosen]
        kb = b.ious[np.arange(len(b.chosen)), b.chosen]
        out["kept_diou"].extend(np.abs(ka - kb).tolist())
        out["choice_changed"] += int(np.sum(a.chosen != b.chosen))
        out["pixels_changed"].append(float(np.mean(a.masks != b.masks)))
    return out


def bench_ritm(net, data, clicks: int) -> dict:
    out = {}
    for mode in ("f-BRS-B", "NoBRS"):
        m = Timed(RitmModel(net, make_predictor(net, mode, "cpu"), prob_thresh=0.49))
        for image, gt in data:
            m.set_image(image)
            run_loop(m, gt, None, strategy="max_score", max_clicks=clicks)
        out[mode] = list(m.times)
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


# ---------------------------------------------------------------- the workflow ratio
def workflow_ratio(configfile: Path, cores: int, unit: dict) -> dict:
    """Run snakemake on ``configfile`` in a scratch folder; wall time over pure model time.

    Pure model time is rebuilt from what the run did (the per-image TSVs: clicks per model,
    protocol and strategy; one encode per image per SAM model) times this run's unit costs
    ``unit`` = {"sam_encode_s", "sam_decode_s", "ritm_click_s"} (per model name or "*").
    """
    import csv

    work = Path(tempfile.mkdtemp(prefix="clickbench-wf-"))
    shutil.copytree(REPO / "config", work / "config")
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(work),
        "--configfile",
        str(Path(configfile).resolve()),
        "--cores",
        str(cores),
        "--quiet",
    ]
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]),
    )
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        return {"error": proc.stderr[-3000:], "workdir": str(work)}
    pure = 0.0
    steps: dict[str, int] = {}
    encodes: dict[str, set] = {}
    for tsv in (work / "results").glob("*/runs/*/*/*/*.tsv"):
        model = tsv.parent.parent.name
        with open(tsv, newline="") as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
        loops = {(r["strategy"], r["click"]) for r in rows}
        if tsv.parent.parent.parent.name in ("first_click", "replay"):
            loops = {r["click"] for r in rows}  # one loop, re-scored per strategy
        steps[model] = steps.get(model, 0) + len(loops)
        encodes.setdefault(model, set()).add((tsv.parent.name, tsv.stem))

    def cost(kind, model):
        table = unit.get(kind, {})
        return table.get(model, table.get("*"))

    for model, n in steps.items():
        enc, dec, click = (
            cost("sam_encode_s", model),
            cost("sam_decode_s", model),
            cost("ritm_click_s", model),
        )
        if enc is not None and dec is not None and "sam" in model:
            pure += enc * len(encodes[model]) + dec * n
        elif click is not None and "ritm" in model:
            pure += click * n
    return {
        "wall_s": wall,
        "pure_model_s": pure,
        "ratio": wall / pure if pure else None,
        "steps": steps,
        "images": {m: len(v) for m, v in encodes.items()},
        "workdir": str(work),
    }


# ---------------------------------------------------------------- main
def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--images", type=int, default=4)
    ap.add_argument("--clicks", type=int, default=10)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--quick", action="store_true", help="tiny models only")
    ap.add_argument("--workflow", type=Path, help="also time snakemake on this config")
    ap.add_argument("--cores", type=int, default=os.cpu_count())
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "models.json")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    res: dict = {"machine": machine(), "images": args.images, "clicks": args.clicks}
    log = lambda *a: print(*a, file=sys.stderr, flush=True)  # noqa: E731
    data = synthetic_images(args.images)

    log("matmul ...")
    res["matmul_flops"] = {
        "fp32": matmul_flops(torch.float32),
        "bf16": matmul_flops(torch.bfloat16),
    }

    log("tiny SAM ...")
    res["sam_tiny"] = bench_sam(make_tiny_model("sam", 0), "tiny", data, args.clicks)
    log("tiny RITM ...")
    res["ritm_tiny"] = bench_ritm(make_tiny_model("ritm", 0), data, args.clicks)

    if not args.quick:
        from ritm_annotation.model import initializer
        from ritm_annotation.model.is_hrnet_model import HRNetModel
        from segment_anything import sam_model_registry

        log("SAM vit_b (random weights) ...")
        torch.manual_seed(0)
        vit_b = sam_model_registry["vit_b"]().eval()
        res["sam_vit_b"] = bench_sam(vit_b, "vit_b", data, args.clicks)
        del vit_b
        log("RITM HRNet18s (random weights) ...")
        torch.manual_seed(0)
        net = HRNetModel(**{**TINY_RITM, "width": 18, "ocr_width": 48})
        net.apply(initializer.XavierGluon(rnd_type="gaussian", magnitude=2.0))
        res["ritm_hrnet18s"] = bench_ritm(calibrate_ritm(net), data, args.clicks)

    # derived figures
    derived: dict = {}
    for key in ("sam_tiny", "sam_vit_b"):
        if key not in res:
            continue
        r = res[key]
        d = {
            "encode_s": {p: summary(v) for p, v in r["encode_s"].items()},
            "encode_cpu_s": {p: summary(v) for p, v in r["encode_cpu_s"].items()},
            "decode_s": summary(r["decode_s"]),
            "mean_abs_diou_bf16": float(np.mean(r["diou"])),
            "max_abs_diou_bf16": float(np.max(r["diou"])),
            "mean_abs_diou_kept_bf16": float(np.mean(r["kept_diou"])),
            "max_score_choice_changed": r["choice_changed"],
            "steps": len(r["kept_diou"]),
            "mean_pixels_changed_bf16": float(np.mean(r["pixels_changed"])),
        }
        if key == "sam_vit_b":
            for p in ("fp32", "bf16"):
                med = d["encode_s"][p]["median"]
                d[f"encoder_flops_{p}"] = VIT_B_ENCODER_GFLOP * 1e9 / med
                d[f"encoder_fraction_of_matmul_{p}"] = (
                    d[f"encoder_flops_{p}"] / res["matmul_flops"][p]
                )
            d["bf16_speedup"] = d["encode_s"]["fp32"]["median"] / d["encode_s"]["bf16"]["median"]
        derived[key] = d
    for key in ("ritm_tiny", "ritm_hrnet18s"):
        if key in res:
            derived[key] = {mode: summary(v) for mode, v in res[key].items()}
    res["derived"] = derived

    if args.workflow:
        big = "sam_vit_b" in derived
        sam_d = derived["sam_vit_b" if big else "sam_tiny"]
        ritm_d = derived["ritm_hrnet18s" if big else "ritm_tiny"]
        unit = {
            "sam_encode_s": {"*": sam_d["encode_s"]["fp32"]["median"]},
            "sam_decode_s": {"*": sam_d["decode_s"]["median"]},
            "ritm_click_s": {"*": ritm_d["NoBRS"]["median"]},
        }
        log(f"workflow {args.workflow} ...")
        res["workflow"] = workflow_ratio(args.workflow, args.cores, unit)
        res["workflow"]["unit_costs"] = unit

    res["machine"]["loadavg_at_end"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=1, default=float))
    print(markdown(res))
    return res


def markdown(res: dict) -> str:
    m, d = res["machine"], res["derived"]
    lines = [
        f"Machine: {m['cpu']}, nproc {m['nproc']}, torch {m['torch']} with {m['torch_threads']} "
        f"threads, AVX-512 BF16 {'yes' if m['avx512_bf16'] else 'no'}, 1-min load average "
        f"{m['loadavg_at_start'][0]:.1f} at start, {m.get('loadavg_at_end', [float('nan')])[0]:.1f} "
        "at end (other jobs share the cores).",
        f"Workload: {res['images']} synthetic {W}x{H} images x {res['clicks']} clicks.",
        "",
        "| figure | fp32 | bf16 |",
        "| --- | --- | --- |",
        f"| 2048^3 matmul | {res['matmul_flops']['fp32'] / 1e9:.0f} GFLOP/s | "
        f"{res['matmul_flops']['bf16'] / 1e9:.0f} GFLOP/s |",
    ]
    for key, label in (("sam_vit_b", "SAM vit_b"), ("sam_tiny", "SAM tiny")):
        if key not in d:
            continue
        s = d[key]
        lines.append(
            f"| {label} encode, median s/image | {s['encode_s']['fp32']['median']:.2f} | "
            f"{s['encode_s']['bf16']['median']:.2f} |"
        )
        lines.append(
            f"| {label} encode, median CPU s/image (all threads) | "
            f"{s['encode_cpu_s']['fp32']['median']:.2f} | {s['encode_cpu_s']['bf16']['median']:.2f} |"
        )
        if key == "sam_vit_b":
            lines.append(
                f"| vit_b encoder achieved (972 GFLOP/image) | {s['encoder_flops_fp32'] / 1e9:.0f} GFLOP/s "
                f"({100 * s['encoder_fraction_of_matmul_fp32']:.0f}% of matmul) | "
                f"{s['encoder_flops_bf16'] / 1e9:.0f} GFLOP/s "
                f"({100 * s['encoder_fraction_of_matmul_bf16']:.0f}% of matmul) |"
            )
        lines.append(
            f"| {label} decode (4 candidates), median s | {s['decode_s']['median']:.3f} | |"
        )
        lines.append(
            f"| {label} bf16 vs fp32: mean / max abs dIoU per candidate; kept mask | | "
            f"{s['mean_abs_diou_bf16']:.4f} / {s['max_abs_diou_bf16']:.4f}; "
            f"{s['mean_abs_diou_kept_bf16']:.4f} ({s['max_score_choice_changed']} of {s['steps']} "
            f"choices changed, {100 * s['mean_pixels_changed_bf16']:.2f}% of mask pixels) |"
        )
    for key, label in (("ritm_hrnet18s", "RITM HRNet18s"), ("ritm_tiny", "RITM tiny")):
        if key in d:
            for mode in ("f-BRS-B", "NoBRS"):
                lines.append(f"| {label} {mode}, median s/click | {d[key][mode]['median']:.3f} | |")
    if "workflow" in res:
        wf = res["workflow"]
        if "error" in wf:
            lines.append(f"\nWorkflow run failed: {wf['error'][-500:]}")
        else:
            lines.append(
                f"\nWorkflow: wall {wf['wall_s']:.1f} s, pure model time {wf['pure_model_s']:.1f} s, "
                f"ratio {wf['ratio']:.2f}"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()

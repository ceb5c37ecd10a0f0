"""Model costs on this machine: SAM encode/decode, RITM clicks, bf16 vs fp32.

    nice python benchmarks/models.py                     # the full run (a few minutes on 2 cores)
    python benchmarks/models.py --quick                  # tiny models only (seconds)
    nice python benchmarks/models.py --workflow          # also: workflow wall time / model time
    python benchmarks/models.py --workflow CONFIG        # ... on a config of yours
    nice python benchmarks/models.py --accelerate chunked,sdpa,compile --no-ritm   # SAM encoders
    nice python benchmarks/models.py --hq --accelerate chunked,sdpa --no-ritm     # ... HQ-SAM's
    nice python benchmarks/models.py --workflow --no-micro --chunk-size 2 \
        --layouts current,side-by-side,side-by-side+chunked+bf16          # images per hour
    nice python benchmarks/models.py --families --no-ritm --accelerate none  # every family
    nice python benchmarks/models.py --ritm-speed --images 3 --clicks 10   # RITM f-BRS-B, issue 16

Randomly initialised full-size models (no download): SAM ``vit_b`` (segment-anything's own
``sam_model_registry["vit_b"]``) and RITM HRNet18s IT-M (``HRNetModel`` with
hrnet18s_cocolvis_itermask_3p's arguments, initialised as RITM's training script does, then
calibrated as the tiny model so that masks respond to clicks). On 4 synthetic 590x445 images
x 10 simulated clicks (clickbench's RITM click simulator, protocols.run_loop):

- time per image encode (SAM, fp32 and bf16, plain and with each ``--accelerate`` mode of
  clickbench.models.accelerate, every encoder on each image back to back), per SAM decode
  (one call = 4 candidates), per RITM click (f-BRS-B and NoBRS, evaluate_model.py's
  predictor settings);
- the acceleration's equality check on these full-size weights (relative positions drawn
  at random: segment-anything initialises them to zero): embedding relative error, |dIoU|
  of every candidate and kept-mask choices over the plain fp32 loop's clicks;
- the encoder's achieved FLOP/s (vit_b: about 972 GFLOP per 1024x1024 image) against a
  large matrix product's FLOP/s measured in the same run, in fp32 and bf16;
- with ``--hq``: the same SAM benchmarks and checks on HQ-SAM (random full-size ``vit_b``
  from segment-anything-hq's registry and the tiny HQ-SAM), whose ViT encoder takes the same
  ``accelerate`` modes; its check compares the packed embedding (features and the first
  global block's ViT map);
- with ``--families``: every SAM-family adapter's encode and per-click time, side by side
  (benchmarks/families.py: SAM, SAM 2.1, HQ-SAM, EfficientViT-SAM, full size and tiny);
- how much bf16 changes SAM's output: the fp32 loop's clicks are replayed with the bf16
  encoder and every candidate's IoU compared (mean |dIoU|), on tiny and full-size weights;
- with ``--workflow``: the whole workflow's wall time over the pure model time of the work it
  did (the issue's target: at most 1.15). Without CONFIG it is self-contained: the two
  models above are saved in their real checkpoint formats (SAM: state dict; RITM:
  ``{"config", "state_dict"}``) in a scratch folder, with a config for the same workload
  (the demo generator, 1 species x ``--images`` originals x 0 copies, so dedup keeps
  exactly those; SAM with max_score/oracle/single in noc, first_click and replay of RITM's
  clicks; RITM f-BRS-B in noc; ``--clicks`` clicks; CPU), and ``snakemake --cores N`` runs
  there (``--directory`` + ``-s`` this repository's Snakefile) before the micro-benchmarks.
  A demo dataset is generated first, untimed (``snakemake demo_dataset``): it stands in for
  a downloaded dataset, as the saved checkpoints stand in for downloaded weights.
  The workflow harness is benchmarks/workflow.py: pure model time from the per-image
  timing tables the model jobs write, job times from Snakemake's benchmark files and
  records; a second pure-time estimate multiplies the work by this run's unit costs. With
  ``--quick`` the workflow runs the tiny checkpoints (a smoke test). ``--layouts`` runs it
  once per thread layout / encoder setting (:data:`LAYOUTS`), one after another in folders
  of their own, and compares images per hour;
- with ``--ritm-speed`` only: f-BRS-B per click on real GrabCut photos as RITM's own predictor,
  with frozen weights and with clickbench's allocator setting, each in its own process, every
  click's probability map compared bit for bit (:func:`ritm_speed`).

Results go to stdout (a markdown summary) and ``--out`` (JSON).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
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
sys.path[:0] = [str(REPO / "src"), str(REPO / "benchmarks")]

import families  # noqa: E402  (benchmarks/families.py)
from common import (  # noqa: E402
    H,
    W,
    cpu_busy_s,
    machine,
    matmul_flops,
    own_cpu_s,
    summary,
    synthetic_images,
)
from workflow import (  # noqa: E402
    LAYOUTS,
    SELF_CONTAINED,
    add_unit_cost_estimate,
    compare_layouts,
    layouts_markdown,
    save_checkpoints,
    self_contained_config,
    user_config,
    workflow_markdown,
    workflow_ratio,
)

from clickbench.models import accelerate as acceleration  # noqa: E402
from clickbench.models.accelerate import relative_error, trace_differences  # noqa: E402
from clickbench.models.base import InteractiveModel  # noqa: E402
from clickbench.models.ritm import (  # noqa: E402
    DEFAULTS,
    RitmModel,
    keep_freed_memory,
    make_predictor,
)
from clickbench.models.sam import SamModel  # noqa: E402
from clickbench.models.tiny import TINY_RITM, calibrate_ritm, make_tiny_model, seeded  # noqa: E402
from clickbench.protocols import run_loop  # noqa: E402

VIT_B_ENCODER_GFLOP = 972.0  # per 1024x1024 image (multiply-add = 2 FLOP)


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


def sam_model(
    sam, precision: str, name: str, accelerate: str = "none", cls: type = SamModel
) -> SamModel:
    return cls(
        sam,
        variant=name,
        checkpoint_sha256=f"random-{name}",
        precision=precision,
        accelerate=accelerate,
    )


def embedding_of(model: SamModel) -> np.ndarray:
    """What the predictor holds after ``set_image``: SAM's features; HQ-SAM's also the first
    global block's ViT map (the two flattened into one vector)."""
    p = model.predictor
    parts = [p.features, *getattr(p, "interm_features", [])]
    return np.concatenate([t.float().numpy().ravel() for t in parts])


def bench_sam(sam, name: str, data, clicks: int, modes=("none",), cls: type = SamModel) -> dict:
    """Per image: every (acceleration mode, precision) encodes it in turn (so a change of the
    machine's load hits all of them alike), timed; the plain fp32 loop simulates the clicks
    and is timed per decode; every other encoder replays them, and its IoUs, kept choices and
    embedding are compared with the plain encoder's in the same precision (bf16 also with
    plain fp32). ``modes``: acceleration modes besides ``none`` (each on its own copy)."""
    modes = ["none", *[m for m in modes if m != "none"]]
    precs = ("fp32", "bf16")
    sams = {m: sam if m == "none" else copy.deepcopy(sam) for m in modes}  # SamModel applies m
    models = {(m, p): Timed(sam_model(sams[m], p, name, m, cls)) for m in modes for p in precs}
    out: dict = {"modes": modes, "decode_s": [], "warmup_s": {}}
    for key in ("encode_s", "encode_cpu_s", "rel_error", "diff"):
        out[key] = {f"{m}/{p}": [] for m in modes for p in precs}
    for (m, p), model in models.items():
        if m == "compile":  # compilation (once per shape) is not an encoding's cost
            t = time.perf_counter()
            model.set_image(data[0][0])
            out["warmup_s"][f"{m}/{p}"] = time.perf_counter() - t
    for image, gt in data:
        emb = {}
        for (m, p), model in models.items():
            t, c = time.perf_counter(), time.process_time()
            model.set_image(image)
            out["encode_s"][f"{m}/{p}"].append(time.perf_counter() - t)
            out["encode_cpu_s"][f"{m}/{p}"].append(time.process_time() - c)
            emb[m, p] = embedding_of(model.model)
        ref = models["none", "fp32"]
        a = run_loop(ref, gt, None, strategy="max_score", max_clicks=clicks)
        out["decode_s"].extend(ref.times)
        traces = {("none", "fp32"): a}
        for (m, p), model in models.items():
            model.times.clear()
            if (m, p) != ("none", "fp32"):
                traces[m, p] = run_loop(
                    model, gt, None, strategy="max_score", max_clicks=len(a.clicks), clicks=a.clicks
                )
                model.times.clear()
        for m, p in models:
            # plain bf16 against plain fp32 (what bf16 changes); an acceleration against the
            # plain encoder in the same precision (what the acceleration changes)
            base = ("none", "fp32") if m == "none" else ("none", p)
            out["rel_error"][f"{m}/{p}"].append(relative_error(emb[m, p], emb[base]))
            out["diff"][f"{m}/{p}"].append(trace_differences(traces[base], traces[m, p]))
    return out


def hrnet18s():
    """RITM HRNet18s IT-M with RITM's initialiser (seed 0), calibrated as the tiny model."""
    from ritm_annotation.model import initializer
    from ritm_annotation.model.is_hrnet_model import HRNetModel

    torch.manual_seed(0)
    net = HRNetModel(**{**TINY_RITM, "width": 18, "ocr_width": 48})
    net.apply(initializer.XavierGluon(rnd_type="gaussian", magnitude=2.0))
    return calibrate_ritm(net)


def ritm_worker(net, data, clicks: int) -> dict:
    """One RITM job's work (f-BRS-B loops on ``data``), timed: what a chunk job computes
    (with its allocator setting, as :func:`clickbench.models.ritm.build` makes it)."""
    keep_freed_memory()
    t, c = time.perf_counter(), time.process_time()
    times = bench_ritm(net, data, clicks, modes=("f-BRS-B",))["f-BRS-B"]
    return {
        "wall_s": time.perf_counter() - t,
        "cpu_s": time.process_time() - c,
        "clicks": len(times),
        "threads": torch.get_num_threads(),
    }


def ritm_layouts(args) -> dict:
    """RITM f-BRS-B on ``--images`` images, as the workflow's two CPU layouts run it: one
    process with ``--cores`` threads doing them all (today's chunk job), against ``--cores``
    single-thread processes side by side, each on its share (rules/common.smk
    heavy_threads). Every process builds the same seeded weights; wall time from launch
    to the last exit, and each process's own loop time."""
    out: dict = {}
    n, cores = args.images, args.cores
    plans = {
        "current": [(cores, 0, n)],
        "side-by-side": [(1, i * n // cores, (i + 1) * n // cores) for i in range(cores)],
    }
    for name, plan in plans.items():
        t = time.perf_counter()
        procs = [
            subprocess.Popen(
                [sys.executable, __file__, "--threads", str(threads), "--ritm-worker",
                 f"{a}:{b}", "--images", str(n), "--clicks", str(args.clicks)]
                + (["--quick"] if args.quick else []),
                stdout=subprocess.PIPE,
                text=True,
            )
            for threads, a, b in plan
        ]  # fmt: skip
        workers = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
        out[name] = {"wall_s": time.perf_counter() - t, "workers": workers}
        print(f"RITM layout {name}: {out[name]['wall_s']:.1f} s", file=sys.stderr, flush=True)
    out["side_by_side_speedup"] = out["current"]["wall_s"] / out["side-by-side"]["wall_s"]
    return out


#: --ritm-speed's variants (issue 16): RITM's own get_predictor on the net as built (trainable
#: weights: what this benchmark timed before), clickbench's make_predictor (frozen weights, as
#: RITM's load_is_model and clickbench's load_ritm leave them), and that with the allocator
#: setting clickbench.models.ritm.build makes
RITM_SPEED_VARIANTS = ("ritm", "frozen", "frozen+kept")


class _Probed(Timed):
    """Timed, plus each click's CPU seconds, minor page faults and RITM's probability map."""

    def __init__(self, model: RitmModel):
        super().__init__(model)
        self.cpu_s: list[float] = []
        self.faults: list[int] = []
        self.probs: list[np.ndarray] = []

    def predict(self, clicks, previous=None, previous_choice=None):
        import resource

        f, c = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.process_time()
        out = super().predict(clicks, previous, previous_choice)
        self.cpu_s.append(time.process_time() - c)
        self.faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f)
        self.probs.append(self.model.probs)
        return out


def ritm_speed_worker(variant: str, photos, clicks: int, probs_out: Path, quick: bool) -> dict:
    """f-BRS-B on ``photos`` in this (fresh) process as ``variant``: per-click wall and CPU
    seconds and minor page faults; every click's probability map saved to ``probs_out``.
    HRNet18s, or the tiny RITM with ``quick``."""
    import resource

    from ritm_annotation.inference.predictors import get_predictor

    if variant == "frozen+kept" and not keep_freed_memory():
        raise SystemExit("the allocator setting needs glibc")
    net = make_tiny_model("ritm", 0) if quick else hrnet18s()
    if variant == "ritm":  # make_predictor's arguments, without its freeze
        predictor = get_predictor(
            net, "f-BRS-B", "cpu", prob_thresh=DEFAULTS["prob_thresh"],
            zoom_in_params={"target_size": DEFAULTS["zoom_in_target_size"]}, predictor_params={},
        )  # fmt: skip
    else:
        predictor = make_predictor(net, "f-BRS-B", "cpu")
    model = _Probed(RitmModel(net, predictor, prob_thresh=DEFAULTS["prob_thresh"]))
    clicks_made = []
    for image, gt, ignore in photos:
        model.set_image(image)
        trace = run_loop(model, gt, ignore, strategy="max_score", max_clicks=clicks)
        clicks_made.append(trace.clicks.tolist())
    np.savez(probs_out, *model.probs)
    return {"wall_s": model.times, "cpu_s": model.cpu_s, "faults": model.faults,
            "clicks": clicks_made, "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}  # fmt: skip


def grabcut_photos(root: Path, n: int) -> list[tuple]:
    """The first ``n`` GrabCut photos (the ``grabcut`` layout's order, by name): (image,
    object mask, ignore or None), as the workflow reads them."""
    from clickbench.datasets import discover, load_sample

    samples = discover({"name": "GrabCut", "layout": "grabcut", "root": str(root)})[:n]
    if len(samples) < n:
        raise SystemExit(f"fewer than {n} GrabCut photos in {root} (see --grabcut)")
    return [load_sample(sample, "grabcut") for sample in samples]


def ritm_speed(args) -> dict:
    """Issue 16: f-BRS-B per click, each :data:`RITM_SPEED_VARIANTS` in a fresh single-thread
    process (the allocator setting is process-wide), ``--rounds`` rounds in alternating
    order, on ``--images`` GrabCut photos x ``--clicks`` clicks; per-click time ratios against
    ``ritm`` (its clicks, paired), and every click's probability map against ``ritm``'s."""
    order = list(RITM_SPEED_VARIANTS)
    runs: dict = {v: [] for v in order}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for v in order if r % 2 == 0 else order[::-1]:
                probs = Path(tmp) / f"{v}-{r}.npz"
                cmd = [sys.executable, __file__, "--threads", "1", "--ritm-speed-worker", v,
                       "--probs", str(probs), "--images", str(args.images),
                       "--clicks", str(args.clicks), "--grabcut", str(args.grabcut)]  # fmt: skip
                cmd += ["--quick"] if args.quick else []
                done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True)
                runs[v].append(json.loads(done.stdout.strip().splitlines()[-1]))
                with np.load(probs) as z:
                    runs[v][-1]["probs"] = [z[k] for k in z.files]
                log_line = f"{v} round {r}: {sum(runs[v][-1]['cpu_s']):.1f} CPU s"
                print(log_line, file=sys.stderr, flush=True)
    ref = runs["ritm"][0]
    ref_cpu = np.min([run["cpu_s"] for run in runs["ritm"]], axis=0)  # per click, best round
    thresh = DEFAULTS["prob_thresh"]
    out: dict = {}
    for v in order:
        cpu = np.min([run["cpu_s"] for run in runs[v]], axis=0)
        wall = np.min([run["wall_s"] for run in runs[v]], axis=0)
        pairs = [(p, q) for run in runs[v] for p, q in zip(run["probs"], ref["probs"], strict=True)]
        out[v] = {
            "click_cpu_s": summary(cpu),
            "click_wall_s": summary(wall),
            "cpu_ratio_vs_ritm": float(cpu.sum() / ref_cpu.sum()),
            "median_click_cpu_ratio_vs_ritm": float(np.median(cpu / ref_cpu)),
            "faults_per_click": float(np.mean([np.mean(run["faults"]) for run in runs[v]])),
            "maxrss_mb": max(run["maxrss_kb"] for run in runs[v]) / 1024,
            "same_clicks": all(run["clicks"] == ref["clicks"] for run in runs[v]),
            "max_abs_prob_diff": max(float(np.abs(p - q).max()) for p, q in pairs),
            "mask_pixels_changed": sum(int(((p > thresh) != (q > thresh)).sum()) for p, q in pairs),
            "bit_identical": all(np.array_equal(p, q) for p, q in pairs),
        }
    return out


def bench_ritm(net, data, clicks: int, modes=("f-BRS-B", "NoBRS")) -> dict:
    out = {}
    for mode in modes:
        m = Timed(
            RitmModel(net, make_predictor(net, mode, "cpu"), prob_thresh=DEFAULTS["prob_thresh"])
        )
        for image, gt in data:
            m.set_image(image)
            run_loop(m, gt, None, strategy="max_score", max_clicks=clicks)
        out[mode] = list(m.times)
    return out


# ---------------------------------------------------------------- SAM figures
#: the equality check an acceleration must pass before it may become a default (issue 16)
EQUALITY = {"max_rel_error_fp32": 1e-3, "mean_abs_diou": 1e-3, "choices_changed": 0}


def derive_sam(r: dict, matmul: dict, full_size: bool) -> dict:
    """Medians, FLOP/s, speed-ups and the equality check from :func:`bench_sam`'s output.

    Speed-ups against plain fp32 are the median of the per-image ratios (every encoder ran
    on an image back to back, so the ratio sees one state of the machine), for wall and CPU
    time."""
    d: dict = {"decode_s": summary(r["decode_s"]), "warmup_s": r.get("warmup_s", {})}
    d["encode_s"] = {k: summary(v) for k, v in r["encode_s"].items()}
    d["encode_cpu_s"] = {k: summary(v) for k, v in r["encode_cpu_s"].items()}
    base, base_cpu = r["encode_s"]["none/fp32"], r["encode_cpu_s"]["none/fp32"]
    d["speedup_vs_plain_fp32"], d["cpu_speedup_vs_plain_fp32"], d["check"] = {}, {}, {}
    for k, times in r["encode_s"].items():
        d["speedup_vs_plain_fp32"][k] = statistics.median(
            b / t for b, t in zip(base, times, strict=True)
        )
        d["cpu_speedup_vs_plain_fp32"][k] = statistics.median(
            b / t for b, t in zip(base_cpu, r["encode_cpu_s"][k], strict=True)
        )
        if full_size:
            prec = k.split("/")[1]
            flops = VIT_B_ENCODER_GFLOP * 1e9 / d["encode_s"][k]["median"]
            d.setdefault("encoder_flops", {})[k] = flops
            d.setdefault("encoder_fraction_of_matmul", {})[k] = flops / matmul[prec]
        if k == "none/fp32":
            continue
        diffs = r["diff"][k]
        diou = [x for df in diffs for x in df["abs_diou"]]
        c = {
            "against": "none/fp32" if k.startswith("none/") else f"none/{k.split('/')[1]}",
            "max_rel_error": max(r["rel_error"][k]),
            "mean_abs_diou": float(np.mean(diou)),
            "max_abs_diou": float(np.max(diou)),
            "mean_abs_diou_kept": float(np.mean([x for df in diffs for x in df["kept_abs_diou"]])),
            "choices_changed": sum(df["choices_changed"] for df in diffs),
            "steps": sum(df["steps"] for df in diffs),
            "candidates": len(diou),
            "pixels_changed": float(np.mean([df["pixels_changed"] for df in diffs])),
        }
        if not k.startswith("none/"):
            c["equal"] = (
                c["mean_abs_diou"] <= EQUALITY["mean_abs_diou"]
                and c["choices_changed"] <= EQUALITY["choices_changed"]
                and (k.endswith("bf16") or c["max_rel_error"] <= EQUALITY["max_rel_error_fp32"])
            )
            # a zero norm of the difference: every embedding equals the plain one bit for bit
            c["bit_identical"] = c["max_rel_error"] == 0
        d["check"][k] = c
    return d


# ---------------------------------------------------------------- main
def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--images", type=int, default=4)
    ap.add_argument("--clicks", type=int, default=10)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--quick", action="store_true", help="tiny models only")
    ap.add_argument(
        "--accelerate",
        default="chunked,sdpa",
        help="comma-separated SAM acceleration modes timed and checked beside the plain "
        "encoder (clickbench.models.accelerate: chunked, sdpa, compile; 'none' for the plain one only)",
    )
    ap.add_argument("--no-ritm", action="store_true", help="skip the RITM micro-benchmarks")
    ap.add_argument(
        "--hq",
        action="store_true",
        help="the SAM benchmarks on HQ-SAM (random full-size vit_b and the tiny HQ-SAM)",
    )
    ap.add_argument(
        "--families",
        action="store_true",
        help="also time every SAM-family adapter's encode and click (benchmarks/families.py; "
        "full size and tiny, tiny only with --quick)",
    )
    ap.add_argument(
        "--ritm-layouts",
        action="store_true",
        help="only time RITM f-BRS-B on --images images as one --cores-thread process against "
        "--cores single-thread processes side by side",
    )
    ap.add_argument("--ritm-worker", default=None, help=argparse.SUPPRESS)  # START:STOP
    ap.add_argument(
        "--ritm-speed",
        action="store_true",
        help="only time RITM f-BRS-B per click as RITM's own predictor on the net as built, with "
        "frozen weights, and with the allocator setting (issue 16), on --images GrabCut photos",
    )
    ap.add_argument("--ritm-speed-worker", default=None, help=argparse.SUPPRESS)  # VARIANT
    ap.add_argument("--probs", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--rounds", type=int, default=2, help="--ritm-speed: rounds per variant")
    ap.add_argument(
        "--grabcut",
        type=Path,
        default=REPO.parent / "shared" / "datasets" / "GrabCut",
        help="--ritm-speed: the GrabCut benchmark",
    )
    ap.add_argument(
        "--layouts",
        default=None,
        help="with --workflow: run it once per comma-separated layout, one after another, and "
        f"compare images per hour ({', '.join(LAYOUTS)})",
    )
    ap.add_argument(
        "--workflow",
        nargs="?",
        const=SELF_CONTAINED,
        default=None,
        metavar="CONFIG",
        help="also run the workflow and time it against its pure model time: without CONFIG "
        "on this run's own vit_b and HRNet18s checkpoints (tiny ones with --quick) and the "
        "issue's workload; with CONFIG on that config (paths resolved against the current "
        "directory)",
    )
    ap.add_argument(
        "--keep-checkpoints",
        action="store_true",
        help="keep the self-contained run's checkpoints in the scratch folder",
    )
    ap.add_argument(
        "--workdir", type=Path, default=None, help="scratch folder (default: a new temp folder)"
    )
    ap.add_argument(
        "--chunk-size",
        type=int,
        default=1,
        help="the self-contained config's chunk_size (images per SAM/RITM job; default 1)",
    )
    ap.add_argument(
        "--no-micro",
        action="store_true",
        help="with --workflow: run the workflow only, no micro-benchmarks (no unit costs)",
    )
    ap.add_argument("--cores", type=int, default=os.cpu_count())
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "models.json")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.hq and args.workflow:
        ap.error("--hq: the micro-benchmarks only (the workflow's models are SAM and RITM)")
    modes = [m for m in args.accelerate.split(",") if m]
    for m in modes:
        if m not in acceleration.MODES:
            ap.error(f"--accelerate: unknown mode {m!r} (known: {', '.join(acceleration.MODES)})")

    t_start = time.perf_counter()
    res: dict = {"machine": machine(), "images": args.images, "clicks": args.clicks}
    log = lambda *a: print(*a, file=sys.stderr, flush=True)  # noqa: E731
    data = synthetic_images(args.images)
    if args.ritm_worker:
        start, stop = map(int, args.ritm_worker.split(":"))
        net = make_tiny_model("ritm", 0) if args.quick else hrnet18s()
        print(json.dumps(ritm_worker(net, data[start:stop], args.clicks)))
        return {}
    if args.ritm_speed_worker:
        photos = grabcut_photos(args.grabcut, args.images)
        variant = args.ritm_speed_worker
        out = ritm_speed_worker(variant, photos, args.clicks, args.probs, args.quick)
        print(json.dumps(out))
        return {}
    if args.ritm_speed:
        res["ritm_speed"] = ritm_speed(args)
        res["machine"]["loadavg_at_end"] = os.getloadavg()
        out = args.out.with_name("ritm_speed.json")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(res, indent=1, default=float))
        print(json.dumps(res, indent=1, default=float))
        return res
    if args.ritm_layouts:
        res["ritm_layouts"] = ritm_layouts(args)
        res["machine"]["loadavg_at_end"] = os.getloadavg()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(res, indent=1, default=float))
        print(json.dumps(res["ritm_layouts"], indent=1))
        return res

    self_contained = args.workflow == SELF_CONTAINED
    work = None
    if args.workflow:
        work = args.workdir or Path(tempfile.mkdtemp(prefix="clickbench-wf-"))
    busy0, own0 = cpu_busy_s(), own_cpu_s()

    # the models: built first, so that the workflow (run first, while the machine is as it
    # was at start) gets exactly the weights the micro-benchmark measures
    # segment-anything zero-initialises the relative positions; trained weights have them, and
    # the accelerated encoders' check must see them (clickbench.models.accelerate)
    if args.hq:
        from clickbench.models.hq_sam import VARIANTS as FAMILY_VARIANTS
        from clickbench.models.hq_sam import HqSamModel as family
    else:
        from clickbench.models.sam import VARIANTS as FAMILY_VARIANTS

        family = SamModel
    res["sam_family"] = family.name
    sam_tiny = acceleration.randomize_rel_pos(seeded(FAMILY_VARIANTS["tiny"], 0).eval())
    ritm_tiny = make_tiny_model("ritm", 0)
    vit_b = net = None
    if not args.quick:
        torch.manual_seed(0)
        vit_b = acceleration.randomize_rel_pos(FAMILY_VARIANTS["vit_b"]().eval())
        net = hrnet18s()

    if args.workflow:
        if self_contained:
            log(f"writing the checkpoints to {work} ...")
            if args.quick:
                ckpts = save_checkpoints(work, sam_tiny, "tiny", ritm_tiny, "ritm_tiny")
            else:
                ckpts = save_checkpoints(work, vit_b, "vit_b", net, "ritm_h18s")
            config = self_contained_config(ckpts, args.images, args.clicks, args.chunk_size)
        else:
            config = user_config(args.workflow, work)
        log(f"workflow in {work} (1-min load average {os.getloadavg()[0]:.2f}) ...")
        if args.layouts:
            res["layouts"] = compare_layouts(work, config, args.cores, args.layouts.split(","))
        else:
            res["workflow"] = workflow_ratio(work, config, args.cores)
        if self_contained and not args.keep_checkpoints:
            shutil.rmtree(work / "checkpoints", ignore_errors=True)  # 400 MB of random weights

    micro = not (args.no_micro and args.workflow)
    if micro:
        log("matmul ...")
        res["matmul_flops"] = {
            "fp32": matmul_flops(torch.float32),
            "bf16": matmul_flops(torch.bfloat16),
        }
        log(f"tiny {family.label} ...")
        res["sam_tiny"] = bench_sam(sam_tiny, "tiny", data, args.clicks, modes, family)
        if not args.no_ritm:
            log("tiny RITM ...")
            res["ritm_tiny"] = bench_ritm(ritm_tiny, data, args.clicks)
    del sam_tiny, ritm_tiny
    if micro and not args.quick:
        log(f"{family.label} vit_b (random weights) ...")
        res["sam_vit_b"] = bench_sam(vit_b, "vit_b", data, args.clicks, modes, family)
        if not args.no_ritm:
            log("RITM HRNet18s (random weights) ...")
            res["ritm_hrnet18s"] = bench_ritm(net, data, args.clicks)
    del vit_b, net
    if micro and args.families:
        log("model families ...")
        res["families"] = families.run(data, args.clicks, args.quick)

    # derived figures
    derived: dict = {}
    for key in ("sam_tiny", "sam_vit_b"):
        if key in res:
            derived[key] = derive_sam(res[key], res["matmul_flops"], key == "sam_vit_b")
    for key in ("ritm_tiny", "ritm_hrnet18s"):
        if key in res:
            derived[key] = {mode: summary(v) for mode, v in res[key].items()}
    res["derived"] = derived

    if args.workflow and self_contained and micro:
        big = "sam_vit_b" in derived
        sam_d = derived["sam_vit_b" if big else "sam_tiny"]
        ritm_d = derived.get("ritm_hrnet18s" if big else "ritm_tiny")
        unit = {
            ckpts["sam"]["name"]: {
                "encode_s": sam_d["encode_s"]["none/fp32"]["median"],
                "decode_s": sam_d["decode_s"]["median"],
            },
        }
        if ritm_d is not None:
            unit[ckpts["ritm"]["name"]] = {"click_s": ritm_d["f-BRS-B"]["median"]}
        add_unit_cost_estimate(res["workflow"], unit)

    busy1 = cpu_busy_s()
    if busy0 is not None and busy1 is not None:  # whole run: CPU others used meanwhile
        mine = own_cpu_s() - own0
        res["machine"]["run_wall_s"] = time.perf_counter() - t_start
        res["machine"]["others_cpu_s"] = max(0.0, busy1 - busy0 - mine)
    res["machine"]["loadavg_at_end"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=1, default=float))
    print(markdown(res))
    return res


def sam_markdown(s: dict, label: str) -> list[str]:
    """Rows of the fp32 | bf16 table for one SAM: per acceleration mode, encode times,
    achieved FLOP/s, speed-up over plain fp32 and the equality check."""
    modes = sorted({k.split("/")[0] for k in s["encode_s"]}, key=lambda m: m != "none")
    lines = []

    def cell(k, fmt):
        return fmt(k) if k in s["encode_s"] else ""

    for m in modes:
        tag = f"{label} accelerate={m}"
        lines.append(
            f"| {tag}: encode, median s/image (CPU s, all threads) | "
            + " | ".join(
                cell(
                    f"{m}/{p}",
                    lambda k: (
                        f"{s['encode_s'][k]['median']:.2f} ({s['encode_cpu_s'][k]['median']:.1f})"
                    ),
                )
                for p in ("fp32", "bf16")
            )
            + " |"
        )
        if "encoder_fraction_of_matmul" in s:
            lines.append(
                f"| {tag}: encoder achieved (972 GFLOP/image) | "
                + " | ".join(
                    f"{s['encoder_flops'][f'{m}/{p}'] / 1e9:.0f} GFLOP/s, "
                    f"{100 * s['encoder_fraction_of_matmul'][f'{m}/{p}']:.0f}% of matmul"
                    for p in ("fp32", "bf16")
                )
                + " |"
            )
        lines.append(
            f"| {tag}: speed-up over plain fp32, median per-image ratio, wall (CPU) | "
            + " | ".join(
                f"{s['speedup_vs_plain_fp32'][f'{m}/{p}']:.2f}x "
                f"({s['cpu_speedup_vs_plain_fp32'][f'{m}/{p}']:.2f}x)"
                for p in ("fp32", "bf16")
            )
            + " |"
        )
        for p in ("fp32", "bf16"):
            c = s["check"].get(f"{m}/{p}")
            if c is None:
                continue
            verdict = "" if "equal" not in c else (" **equal**" if c["equal"] else " **NOT equal**")
            if c.get("bit_identical"):
                verdict += " (bit-identical embeddings)"
            text = (
                f"vs {c['against']}: embedding rel. error {c['max_rel_error']:.1e}; mean / max "
                f"abs dIoU {c['mean_abs_diou']:.5f} / {c['max_abs_diou']:.5f} over "
                f"{c['candidates']} candidates; kept mask {c['mean_abs_diou_kept']:.5f}, "
                f"{c['choices_changed']} of {c['steps']} choices changed, "
                f"{100 * c['pixels_changed']:.2f}% of mask pixels{verdict}"
            )
            row = ["", ""]
            row[p == "bf16"] = text
            lines.append(f"| {tag}: {p} check | {row[0]} | {row[1]} |")
    for k, w in s.get("warmup_s", {}).items():
        lines.append(f"| {label} {k}: first encoding (compilation) | {w:.1f} s | |")
    lines.append(f"| {label} decode (4 candidates), median s | {s['decode_s']['median']:.3f} | |")
    return lines


def markdown(res: dict) -> str:
    m, d = res["machine"], res["derived"]
    lines = [
        f"Machine: {m['cpu']}, nproc {m['nproc']}, torch {m['torch']} with {m['torch_threads']} "
        f"threads, AVX-512 BF16 {'yes' if m['avx512_bf16'] else 'no'}, 1-min load average "
        f"{m['loadavg_at_start'][0]:.1f} at start, {m.get('loadavg_at_end', [float('nan')])[0]:.1f} "
        "at end"
        + (
            f"; other processes used {m['others_cpu_s']:.0f} CPU-s of the "
            f"{m['nproc'] * m['run_wall_s']:.0f} the cores had during the {m['run_wall_s']:.0f} s run."
            if "others_cpu_s" in m
            else "."
        ),
        f"Workload: {res['images']} synthetic {W}x{H} images x {res['clicks']} clicks.",
    ]
    if "matmul_flops" in res:
        lines += [
            "",
            "| figure | fp32 | bf16 |",
            "| --- | --- | --- |",
            f"| 2048^3 matmul | {res['matmul_flops']['fp32'] / 1e9:.0f} GFLOP/s | "
            f"{res['matmul_flops']['bf16'] / 1e9:.0f} GFLOP/s |",
        ]
    name = "HQ-SAM" if res.get("sam_family") == "hq_sam" else "SAM"
    for key, label in (("sam_vit_b", f"{name} vit_b"), ("sam_tiny", f"{name} tiny")):
        if key in d:
            lines += sam_markdown(d[key], label)
    for key, label in (("ritm_hrnet18s", "RITM HRNet18s"), ("ritm_tiny", "RITM tiny")):
        if key in d:
            for mode in ("f-BRS-B", "NoBRS"):
                lines.append(f"| {label} {mode}, median s/click | {d[key][mode]['median']:.3f} | |")
    if "families" in res:
        lines += ["", families.table(res["families"])]
    if "workflow" in res:
        lines += ["", workflow_markdown(res["workflow"])]
    if "layouts" in res:
        lines += ["", layouts_markdown(res["layouts"])]
    return "\n".join(lines)


if __name__ == "__main__":
    main()

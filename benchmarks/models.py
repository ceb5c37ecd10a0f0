"""Model costs on this machine: SAM encode/decode, RITM clicks, bf16 vs fp32.

    nice python benchmarks/models.py                     # the full run (a few minutes on 2 cores)
    python benchmarks/models.py --quick                  # tiny models only (seconds)
    nice python benchmarks/models.py --workflow          # also: workflow wall time / model time
    python benchmarks/models.py --workflow CONFIG        # ... on a config of yours
    nice python benchmarks/models.py --accelerate sdpa,compile --no-ritm   # SAM encoders only
    nice python benchmarks/models.py --workflow --no-micro --chunk-size 2 \
        --layouts current,side-by-side,side-by-side+sdpa+bf16             # images per hour

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
  Pure model time is what the workflow's own job logs record (scripts/run_model.py:
  ``set_image`` and every click); each job's Snakemake benchmark gives its wall time, the
  rest of which is split into model build (re-measured outside: imports, checkpoint
  verification, load), start-up and the job's non-model work; Snakemake's printed log
  splits the non-model rules. A second pure-time estimate multiplies the work by this run's
  unit costs. With ``--quick`` the workflow runs the tiny checkpoints (a smoke test).
  ``--layouts`` runs it once per thread layout / encoder setting (:data:`LAYOUTS`), one
  after another in folders of their own, and compares images per hour.

Results go to stdout (a markdown summary) and ``--out`` (JSON).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import re
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
sys.path[:0] = [str(REPO / "src"), str(REPO / "tests")]

from conftest import snakemake_command  # noqa: E402

from clickbench.models import accelerate as acceleration  # noqa: E402
from clickbench.models.accelerate import relative_error, trace_differences  # noqa: E402
from clickbench.models.base import InteractiveModel  # noqa: E402
from clickbench.models.ritm import DEFAULTS, RitmModel, make_predictor  # noqa: E402
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


def sam_model(sam, precision: str, name: str, accelerate: str = "none") -> SamModel:
    return SamModel(
        sam,
        variant=name,
        checkpoint_sha256=f"random-{name}",
        precision=precision,
        accelerate=accelerate,
    )


def bench_sam(sam, name: str, data, clicks: int, modes=("none",)) -> dict:
    """Per image: every (acceleration mode, precision) encodes it in turn (so a change of the
    machine's load hits all of them alike), timed; the plain fp32 loop simulates the clicks
    and is timed per decode; every other encoder replays them, and its IoUs, kept choices and
    embedding are compared with the plain encoder's in the same precision (bf16 also with
    plain fp32). ``modes``: acceleration modes besides ``none`` (each on its own copy)."""
    modes = ["none", *[m for m in modes if m != "none"]]
    precs = ("fp32", "bf16")
    sams = {m: sam if m == "none" else copy.deepcopy(sam) for m in modes}  # SamModel applies m
    models = {(m, p): Timed(sam_model(sams[m], p, name, m)) for m in modes for p in precs}
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
            emb[m, p] = model.model.predictor.features.float().numpy()
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
    """One RITM job's work (f-BRS-B loops on ``data``), timed: what a chunk job computes."""
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
    SIDE_BY_SIDE_TYPES). Every process builds the same seeded weights; wall time from launch
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
SELF_CONTAINED = "self-contained"
MODEL_RULES = ("run_", "chunk_")  # rule-name prefixes of the model jobs
_LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \w+ (\S+): (.*)$")
_PREPARE = re.compile(r"^prepare \(batched encoding\) of \d+ images: ([0-9.]+) s$")
_BUILD = re.compile(r"^build (?:\S+ )?on \S+: ([0-9.]+) s$")
_CLICK = re.compile(r"^\S+ click \d+ \(-?\d+, -?\d+, [+-]\): ([0-9.]+) s$")
_SMK_STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")
_SMK_START = re.compile(r"^(?:local)?(?:rule|checkpoint) (\S+):$")
_SMK_JOBID = re.compile(r"^\s+jobid: (\d+)$")
_SMK_THREADS = re.compile(r"^\s+threads: (\d+)$")
_SMK_DONE = re.compile(r"^Finished jobid: (\d+) \(Rule: (\S+)\)$")


def save_checkpoints(work: Path, sam, sam_variant: str, ritm, ritm_name: str) -> dict:
    """Write the benchmark's models in the real checkpoint formats; path and SHA-256 of each.

    SAM: its state dict (as the official ``sam_vit_b_01ec64.pth``); RITM: ``{"config",
    "state_dict"}`` (as RITM's trainer saves it). Written before the workflow's clock starts:
    they stand in for downloaded files.
    """
    from clickbench.checkpoints import sha256sum

    ckdir = work / "checkpoints"
    ckdir.mkdir(parents=True, exist_ok=True)
    out = {}
    for kind, name, obj in (
        ("sam", f"sam_{sam_variant}", sam.state_dict()),
        ("ritm", ritm_name, {"config": ritm._config, "state_dict": ritm.state_dict()}),
    ):
        path = ckdir / f"{name}.pth"
        torch.save(obj, path)
        out[kind] = {
            "name": name,
            "path": str(path),
            "sha256": sha256sum(path),
            "bytes": path.stat().st_size,
        }
    out["sam"]["variant"] = sam_variant
    return out


def self_contained_config(ckpts: dict, images: int, clicks: int, chunk_size: int = 1) -> dict:
    """The issue's workload as a workflow config: the demo generator with ``images`` originals
    of one species and no copies (dedup keeps every original, the index rule adds none), SAM
    with three strategies in noc / first_click / replay, RITM f-BRS-B in noc, on the CPU."""
    sam, ritm = ckpts["sam"], ckpts["ritm"]
    return {
        "dataset": {
            "name": "bench",
            "layout": "fish",
            "root": "resources/datasets/bench/Fish_Dataset",
            "demo": {"seed": 0, "species": ["Gilt-Head Bream"], "originals": images, "copies": 0},
        },
        "dedup": {"method": "phash", "evaluate_index_picks": False},
        "device": "cpu",
        "precision": "fp32",
        "chunk_size": chunk_size,
        "models": {
            sam["name"]: {
                "type": "sam",
                "variant": sam["variant"],
                "checkpoint": {"path": sam["path"], "sha256": sam["sha256"]},
                "selection": ["max_score", "oracle", "single"],
            },
            ritm["name"]: {
                "type": "ritm",
                "checkpoint": {"path": ritm["path"], "sha256": ritm["sha256"]},
                "brs_mode": "f-BRS-B",
            },
        },
        "protocols": {
            "noc": {"models": [sam["name"], ritm["name"]], "max_clicks": clicks},
            "first_click": {"models": [sam["name"]]},
            "replay": {"source": ritm["name"], "models": [sam["name"]]},
        },
    }


def user_config(configfile: Path, work: Path) -> dict:
    """A user's config for the scratch folder: relative checkpoint paths and a non-demo
    dataset root are resolved against the current directory (the cache stays in the scratch
    folder, so every image is really encoded)."""
    import yaml

    cfg = yaml.safe_load(Path(configfile).read_text())
    ds = cfg.get("dataset", {})
    if "demo" not in ds and "root" in ds:
        ds["root"] = str(Path(ds["root"]).resolve())
    for spec in cfg.get("models", {}).values():
        ck = spec.get("checkpoint")
        if ck and "path" in ck:
            ck["path"] = str(Path(ck["path"]).resolve())
        if spec.get("type") == "python" and "path" in spec:  # a plugin's module folder
            spec["path"] = str(Path(spec["path"]).resolve())
    return cfg


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


def parse_job_log(path: Path) -> dict:
    """What scripts/run_model.py logged for one (model, image) job: its stages in seconds."""
    from datetime import datetime

    out = {"build_s": 0.0, "builds": 0, "set_image_s": 0.0, "set_images": 0, "click_s": []}
    out.update(first=None, last=None)
    for line in path.read_text().splitlines():
        m = _LOG_LINE.match(line)
        if not m:
            continue
        t = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
        out["first"] = t if out["first"] is None else out["first"]
        out["last"] = t
        msg = m.group(3)
        if b := _BUILD.match(msg):
            out["build_s"] += float(b.group(1))
            out["builds"] += 1
        elif b := _PREPARE.match(msg):  # a chunk job's batched SAM encoding
            out["set_image_s"] += float(b.group(1))
        elif msg.startswith("set_image: "):
            out["set_image_s"] += float(msg.split()[1])
            out["set_images"] += 1
        elif c := _CLICK.match(msg):
            out["click_s"].append(float(c.group(1)))
    out["span_s"] = (out["last"] - out["first"]) if out["first"] is not None else 0.0
    return out


def read_benchmark_tsv(path: Path) -> dict:
    import csv

    with open(path, newline="") as fh:
        row = next(csv.DictReader(fh, delimiter="\t"))
    return {"wall_s": float(row["s"]), "cpu_s": float(row.get("cpu_time") or "nan")}


def snakemake_timeline(text: str) -> list[dict]:
    """Jobs from Snakemake's printed log: rule, start and end (1 s resolution, epoch)."""
    from datetime import datetime

    stamp, rule, jobs, open_, last = None, None, [], {}, None
    for line in text.splitlines():
        if m := _SMK_STAMP.match(line.strip()):
            stamp = datetime.strptime(" ".join(m.group(1).split()), "%a %b %d %H:%M:%S %Y")
            stamp = stamp.timestamp()
        elif m := _SMK_START.match(line.strip()):
            rule = m.group(1)
        elif (m := _SMK_JOBID.match(line)) and rule is not None:
            # Snakemake prints `threads:` only when it is not 1
            last = open_[m.group(1)] = {"rule": rule, "start": stamp, "threads": 1}
            rule = None
        elif (m := _SMK_THREADS.match(line)) and last is not None:
            last["threads"] = int(m.group(1))
            last = None
        elif m := _SMK_DONE.match(line.strip()):
            job = open_.pop(m.group(1), None)
            if job is not None:
                job["end"] = stamp
                jobs.append(job)
    return jobs


def _timed_python(code: str, env: dict, reps: int = 3) -> float:
    """Median wall time of ``python -c code`` in a fresh interpreter."""
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


_BUILD_SPLIT = """
import json, sys, time
t0 = time.perf_counter()
import clickbench.models.{kind} as M
from clickbench import checkpoints
t1 = time.perf_counter()
checkpoints.verify({path!r}, {sha!r})
t2 = time.perf_counter()
checkpoints.sha256sum({path!r})
t3 = time.perf_counter()
{load}
t4 = time.perf_counter()
print(json.dumps({{"import_s": t1 - t0, "verify_stamped_s": t2 - t1, "hash_s": t3 - t2,
                  "load_s": t4 - t3}}))
"""


def build_split(spec: dict, env: dict) -> dict:
    """Re-measure, outside the workflow, what a job's logged ``build`` consists of: importing
    torch and the model library, verifying the checkpoint (stamp hit; the full SHA-256 the
    first job of a model pays), loading it. Plus the interpreter start-up and the imports a
    job does before its first log line (Snakemake's script preamble, clickbench)."""
    ck = spec["checkpoint"]
    if spec["type"] == "sam":
        load = (
            f"M.load_sam({spec['variant']!r}, {ck['path']!r}, 'cpu', sha256={ck.get('sha256')!r})"
        )
    else:
        load = (
            f"net, _ = M.load_ritm({ck['path']!r}, 'cpu', sha256={ck.get('sha256')!r}); "
            f"M.make_predictor(net, {spec.get('brs_mode', 'f-BRS-B')!r}, 'cpu')"
        )
    code = _BUILD_SPLIT.format(kind=spec["type"], path=ck["path"], sha=ck.get("sha256"), load=load)
    runs = []
    for _ in range(3):
        p = subprocess.run(
            [sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True
        )
        runs.append(json.loads(p.stdout.strip().splitlines()[-1]))
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def preamble_split(env: dict) -> dict:
    bare = _timed_python("pass", env)
    smk = _timed_python("import snakemake.script", env)
    cb = _timed_python(
        "import snakemake.script, clickbench.protocols, clickbench.datasets, "
        "clickbench.models.registry",
        env,
    )
    return {
        "python_start_s": bare,
        "snakemake_script_import_s": smk - bare,
        "clickbench_import_s": cb - smk,
    }


def add_unit_cost_estimate(wf: dict, unit: dict) -> None:
    """A second estimate of the pure model time: the work the workflow did (encodes, SAM
    decodes, RITM clicks, counted from its logs) at the micro-benchmark's unit costs
    ``unit`` = model name -> {"encode_s", "decode_s"} (SAM) or {"click_s"} (RITM)."""
    if "per_model" not in wf:
        return
    est = 0.0
    for name, agg in wf["per_model"].items():
        u = unit.get(name, {})
        if agg["type"] == "sam":
            est += (
                u.get("encode_s", 0.0) * agg["set_images"] + u.get("decode_s", 0.0) * agg["clicks"]
            )
        else:
            est += u.get("click_s", 0.0) * agg["clicks"]
    wf["unit_costs"] = unit
    wf["pure_model_unit_cost_s"] = est


def workflow_ratio(work: Path, config: dict, cores: int, extra: tuple[str, ...] = ()) -> dict:
    """Run snakemake on ``config`` in ``work``; its wall time over the pure model time.

    Pure model time is what the workflow's own per-job logs record as model work
    (``set_image`` and every click of scripts/run_model.py). Every job's wall time (its
    Snakemake benchmark TSV) is split into that, the logged model build, the rest of the
    logged span (image loading, click simulation, IoU, writing outputs) and the time
    outside the log (interpreter start-up, Snakemake's script preamble, imports, exit);
    the rest of the wall time is the non-model workflow, split by rule from Snakemake's
    printed log.
    """
    import yaml

    work.mkdir(parents=True, exist_ok=True)
    cfg_path = work / "config.yaml"
    cfg_path.write_text(yaml.safe_dump(config, sort_keys=False))
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(
            p for p in (str(REPO / "src"), os.environ.get("PYTHONPATH")) if p
        ),
    )
    cmd = snakemake_command(work, "--cores", str(cores), *extra, configfile=cfg_path)
    generation_s = None
    if config["dataset"].get("demo"):
        # the generated images stand in for a downloaded dataset, as the saved checkpoints
        # stand in for downloaded weights: made before the clock starts, timed apart
        t = time.perf_counter()
        gen = subprocess.run(
            snakemake_command(work, "--cores", str(cores), "demo_dataset", configfile=cfg_path),
            cwd=work,
            env=env,
            capture_output=True,
        )
        generation_s = time.perf_counter() - t
        if gen.returncode != 0:
            return {"workdir": str(work), "error": gen.stderr.decode()[-3000:]}
    load0, busy0, kids0 = os.getloadavg(), cpu_busy_s(), children_cpu_s()
    t0_epoch, t = time.time(), time.perf_counter()
    proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    busy1, kids1 = cpu_busy_s(), children_cpu_s()
    (work / "snakemake.stdout").write_text(proc.stdout)
    (work / "snakemake.stderr").write_text(proc.stderr)
    res: dict = {
        "workdir": str(work),
        "command": " ".join(cmd),
        "cores": cores,
        "wall_s": wall,
        "data_generation_s": generation_s,
        "loadavg_before": load0,
        "loadavg_after": os.getloadavg(),
        "workflow_cpu_s": kids1 - kids0,
    }
    if busy0 is not None and busy1 is not None:
        res["machine_busy_cpu_s"] = busy1 - busy0
        res["others_cpu_s"] = max(0.0, (busy1 - busy0) - (kids1 - kids0))
    if proc.returncode != 0:
        res["error"] = proc.stderr[-3000:]
        return res

    ds = config["dataset"]["name"]
    results = work / "results" / ds
    models = config["models"]
    jobs = []
    # per-image jobs (benchmarks/runs/<model>/<cls>/<image>.tsv) and, where a config sets
    # chunk_size > 1 and the rules implement it, chunk jobs (benchmarks/chunks/...)
    benches = [("runs", b) for b in (results / "benchmarks" / "runs").glob("*/*/*.tsv")]
    benches += [("chunks", b) for b in (results / "benchmarks" / "chunks").glob("*/*/*.tsv")]
    for kind, bench in sorted(benches):
        model, cls, image = bench.parent.parent.name, bench.parent.name, bench.stem
        logged = parse_job_log(results / "logs" / kind / model / cls / f"{image}.log")
        job = {"kind": kind, "model": model, "type": models[model]["type"], "cls": cls}
        job["image"] = image
        job.update(read_benchmark_tsv(bench))
        job.update(
            build_s=logged["build_s"],
            builds=logged["builds"],
            set_image_s=logged["set_image_s"],
            set_images=logged["set_images"],
            clicks=len(logged["click_s"]),
            click_s=sum(logged["click_s"]),
            click_times=logged["click_s"],
            span_s=logged["span_s"],
        )
        job["model_s"] = job["set_image_s"] + job["click_s"]
        job["in_job_other_s"] = job["span_s"] - job["build_s"] - job["model_s"]
        job["outside_log_s"] = job["wall_s"] - job["span_s"]
        jobs.append(job)
    res["jobs"] = jobs
    res["encodings"] = count_encodings(work / config.get("cache_dir", "resources/cache"))

    per_model: dict = {}
    keys = ("wall_s", "cpu_s", "model_s", "set_image_s", "set_images", "click_s", "clicks")
    keys += ("build_s", "builds")
    keys += ("in_job_other_s", "outside_log_s")
    for job in jobs:
        agg = per_model.setdefault(
            job["model"], {k: 0.0 for k in keys} | {"jobs": 0, "type": job["type"]}
        )
        agg["jobs"] += 1
        for k in keys:
            agg[k] += job[k]
    for name, agg in per_model.items():
        times = [c for j in jobs if j["model"] == name for c in j["click_times"]]
        enc = [
            j["set_image_s"] / j["set_images"]
            for j in jobs
            if j["model"] == name and j["set_images"]
        ]
        agg["median_click_s"] = statistics.median(times) if times else None
        # a fresh process's first model call pays one-off set-up (allocations, oneDNN
        # primitives, lazy imports): the excess of each job's first click over its median
        agg["first_click_excess_s"] = sum(
            max(0.0, j["click_times"][0] - statistics.median(j["click_times"]))
            for j in jobs
            if j["model"] == name and j["click_times"]
        )
        agg["median_set_image_s"] = statistics.median(enc) if enc else None
    res["per_model"] = per_model
    pure = sum(j["model_s"] for j in jobs)
    model_jobs_wall = sum(j["wall_s"] for j in jobs)
    res["pure_model_s"] = pure
    res["model_jobs_wall_s"] = model_jobs_wall
    res["ratio"] = wall / pure if pure else None

    # the non-model part of the wall time, by rule (Snakemake prints 1 s time stamps)
    timeline = snakemake_timeline(proc.stdout + "\n" + proc.stderr)
    by_rule: dict = {}
    light_spans = []
    for job in timeline:
        if (
            None in (job["start"], job["end"])
            or job["rule"] == "all"
            or job["rule"].startswith(MODEL_RULES)
        ):
            continue
        r = by_rule.setdefault(job["rule"], {"jobs": 0, "s": 0.0})
        r["jobs"] += 1
        r["s"] += job["end"] - job["start"]
        light_spans.append((job["start"], job["end"]))
    res["non_model_rules"] = by_rule
    res["non_model_s"] = wall - model_jobs_wall
    # light jobs may run side by side (example_figures beside aggregate): their wall-clock
    # time is the union of their spans, not the sum
    res["non_model_jobs_wall_s"] = union_length(light_spans)
    res["snakemake_own_s"] = res["non_model_s"] - res["non_model_jobs_wall_s"]
    starts = [j["start"] for j in timeline if j["start"] is not None]
    if starts:
        res["until_first_job_s"] = min(starts) - t0_epoch
    # were model jobs ever concurrent? (with 2 cores and threads >= 2 they must not be)
    model_spans = sorted(
        (j["start"], j["end"]) for j in timeline if j["rule"].startswith(MODEL_RULES)
    )
    res["model_job_threads"] = {}
    for job in timeline:
        if job["rule"].startswith(MODEL_RULES):
            res["model_job_threads"].setdefault(job["rule"], set()).add(job["threads"])
    res["model_job_threads"] = {k: sorted(v) for k, v in res["model_job_threads"].items()}
    res["model_jobs_overlap"] = any(
        b[0] < a[1] for a, b in zip(model_spans, model_spans[1:], strict=False)
    )

    res["build_split"] = {name: build_split(models[name], env) for name in per_model}
    res["preamble_split"] = preamble_split(env)
    return res


#: thread layouts and encoder settings --layouts compares; each: what it changes
LAYOUTS = {
    "current": "every SAM and RITM job asks for 4 threads (capped at --cores), as before "
    "rules/common.smk's SIDE_BY_SIDE_TYPES: --set-threads <ritm rules>=4",
    "side-by-side": "the workflow's default: RITM jobs take one thread each when there are at "
    "least as many as cores, so they run side by side; SAM keeps 4",
    "side-by-side+sdpa": "side-by-side, and SAM with accelerate: sdpa (fp32)",
    "side-by-side+sdpa+bf16": "side-by-side, SAM with accelerate: sdpa and precision: bf16",
}


def compare_layouts(work: Path, config: dict, cores: int, layouts: list[str]) -> dict:
    """The workflow once per layout (:data:`LAYOUTS`) in its own folder, one after another:
    wall time, images per hour and the ratio to the first layout's images per hour."""
    out: dict = {}
    for name in layouts:
        if name not in LAYOUTS:
            raise SystemExit(f"--layouts: unknown layout {name!r} (known: {', '.join(LAYOUTS)})")
        cfg = copy.deepcopy(config)
        extra: tuple[str, ...] = ()
        ritm = [m for m, spec in cfg["models"].items() if spec["type"] == "ritm"]
        sam = [m for m, spec in cfg["models"].items() if spec["type"] == "sam"]
        if name == "current":
            rules = [f"run_{m}=4" for m in ritm]
            if cfg.get("chunk_size", 1) > 1:
                rules += [f"chunk_{m}=4" for m in ritm]
            extra = ("--set-threads", *rules)
        if "sdpa" in name:
            for m in sam:
                cfg["models"][m]["accelerate"] = "sdpa"
        if name.endswith("bf16"):
            cfg["precision"] = "bf16"
        print(f"layout {name} ...", file=sys.stderr, flush=True)
        wf = workflow_ratio(work / f"layout-{name}", cfg, cores, extra)
        evaluated = wf.get("per_model", {})
        n_images = max((int(a["set_images"]) for a in evaluated.values()), default=0)
        if "error" not in wf:
            wf["images"] = n_images
            wf["images_per_hour"] = 3600 * n_images / wf["wall_s"]
        wf["layout"] = LAYOUTS[name]
        out[name] = wf
    first = out[layouts[0]].get("images_per_hour")
    for wf in out.values():
        if first and "images_per_hour" in wf:
            wf["throughput_vs_first"] = wf["images_per_hour"] / first
    return out


def layouts_markdown(layouts: dict) -> str:
    lines = [
        "| layout | wall s | images | images/hour | vs first | RITM threads per job | "
        "other processes' CPU-s | ratio wall / model |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, wf in layouts.items():
        if "error" in wf:
            lines.append(f"| {name} | failed: see {wf['workdir']} | | | | | | |")
            continue
        threads = wf.get("model_job_threads", {})
        ritm_threads = sorted(
            {
                t
                for rule, ts in threads.items()
                if "ritm" in rule and rule[:6] == "chunk_"
                for t in ts
            }
            or {t for rule, ts in threads.items() if "ritm" in rule for t in ts}
        )
        lines.append(
            f"| {name} | {wf['wall_s']:.0f} | {wf['images']} | {wf['images_per_hour']:.0f} | "
            f"{wf.get('throughput_vs_first', float('nan')):.2f}x | "
            f"{', '.join(map(str, ritm_threads)) or '?'} | {wf.get('others_cpu_s', float('nan')):.0f} | "
            f"{wf['ratio']:.3f} |"
        )
    return "\n".join(lines)


def union_length(spans) -> float:
    """Total length of the union of ``(start, end)`` spans."""
    total, end = 0.0, None
    for a, b in sorted(spans):
        if end is None or a > end:
            total, end = total + (b - a), b
        elif b > end:
            total, end = total + (b - end), b
    return total


def count_encodings(cache_dir: Path) -> int:
    journal = Path(cache_dir) / "sam" / "encodings.log"
    return len(journal.read_text().splitlines()) if journal.exists() else 0


def workflow_markdown(wf: dict) -> str:
    if "error" in wf:
        return f"Workflow run failed (in {wf['workdir']}):\n\n```\n{wf['error'][-1500:]}\n```"
    wall, pure = wf["wall_s"], wf["pure_model_s"]
    pm = wf["per_model"]

    def micro(name, key):
        u = wf.get("unit_costs", {}).get(name, {}).get(key)
        return f" (micro-benchmark {u:.3f})" if u is not None else ""

    def row(label, s, note=""):
        return f"| {label} | {s:.1f} | {100 * s / wall:.1f}% | {note} |"

    n_jobs = sum(a["jobs"] for a in pm.values())
    lines = [
        f"Workflow: `snakemake --cores {wf['cores']}` in {wf['workdir']}; 1-min load average "
        f"{wf['loadavg_before'][0]:.2f} before, {wf['loadavg_after'][0]:.2f} after; "
        + (
            f"other processes used {wf['others_cpu_s']:.0f} CPU-s of the "
            f"{wf['cores'] * wall:.0f} available during the run "
            f"(the workflow itself {wf['workflow_cpu_s']:.0f} CPU-s). "
            if "others_cpu_s" in wf
            else ""
        )
        + f"SAM encodings recorded by the cache: {wf['encodings']}. Model jobs overlapped: "
        + (
            "yes (light per-image jobs of chunked models run side by side, so the job times "
            "below add up to more than the time they took)."
            if wf["model_jobs_overlap"]
            else "no."
        )
        + (
            f" The demo dataset was generated before the clock started, in "
            f"{wf['data_generation_s']:.1f} s (it stands in for a downloaded dataset)."
            if wf.get("data_generation_s") is not None
            else ""
        ),
        "",
        "| part of the workflow's wall time | s | share of wall | notes |",
        "| --- | --- | --- | --- |",
        row("**wall time, whole workflow**", wall),
    ]
    for name, a in sorted(pm.items()):
        if a["type"] == "sam":
            enc = f"median {a['median_set_image_s']:.2f} s/image{micro(name, 'encode_s')}"
            lines.append(
                row(
                    f"model: {name} set_image (encode), {int(a['set_images'])} images",
                    a["set_image_s"],
                    enc,
                )
            )
            clicks, note = a["click_s"], ""
        else:  # RITM's set_image only stores the image
            clicks, note = (
                a["click_s"] + a["set_image_s"],
                f" (+ set_image {a['set_image_s']:.2f} s)",
            )
        lines.append(
            row(
                f"model: {name} clicks, {int(a['clicks'])} calls",
                clicks,
                f"median {a['median_click_s']:.3f} s/click"
                f"{micro(name, 'decode_s' if a['type'] == 'sam' else 'click_s')}{note}; first "
                f"click of each job {a['first_click_excess_s']:.1f} s over its median in all",
            )
        )
    lines.append(row("**pure model time (from the job logs)**", pure))
    bs, ps = wf.get("build_split", {}), wf.get("preamble_split", {})
    for name, a in sorted(pm.items()):
        b = bs.get(name)
        note = (
            f"re-measured: import {b['import_s']:.2f} + verify {b['verify_stamped_s']:.3f} "
            f"(full SHA-256 {b['hash_s']:.2f}, first job only) + load {b['load_s']:.2f} s"
            if b
            else ""
        )
        n = max(1, int(a["builds"]))
        label = (
            f"per job: {name} model build, {n} build{'s' * (n > 1)}, {a['build_s'] / n:.2f} s each"
        )
        lines.append(row(label, a["build_s"], note))
    outside = sum(a["outside_log_s"] for a in pm.values())
    note = (
        f"re-measured: python {ps['python_start_s']:.2f} + snakemake.script "
        f"{ps['snakemake_script_import_s']:.2f} + clickbench {ps['clickbench_import_s']:.2f} s"
        if ps
        else ""
    )
    lines.append(
        row(
            f"per job: start-up, script preamble, imports before the log, exit; {n_jobs} jobs, "
            f"{outside / n_jobs:.2f} s/job",
            outside,
            note,
        )
    )
    lines.append(
        row(
            f"per job: in-job non-model work, {n_jobs} jobs",
            sum(a["in_job_other_s"] for a in pm.values()),
            "image/mask load, click simulation, IoU, writing .npz/.tsv",
        )
    )
    per_job = sum(a["build_s"] + a["outside_log_s"] + a["in_job_other_s"] for a in pm.values())
    lines.append(row("**per-job overhead, total**", per_job))
    for rule, r in sorted(wf["non_model_rules"].items(), key=lambda kv: -kv[1]["s"]):
        lines.append(
            row(
                f"non-model rule: {rule} ({r['jobs']} job{'s' * (r['jobs'] > 1)})",
                r["s"],
                "Snakemake's 1 s time stamps",
            )
        )
    lines.append(
        row(
            "non-model jobs on the wall clock (their spans' union)",
            wf["non_model_jobs_wall_s"],
            "jobs of different rules may run side by side",
        )
    )
    lines.append(
        row(
            "Snakemake itself: start-up, DAG, checkpoint re-evaluation, launching jobs",
            wf["snakemake_own_s"],
            f"{wf.get('until_first_job_s', float('nan')):.0f} s until the first job started",
        )
    )
    lines.append(row("**non-model workflow, total**", wf["non_model_s"]))
    lines.append(f"| **ratio wall / pure model time** | **{wf['ratio']:.3f}** | | target <= 1.15 |")
    if "pure_model_unit_cost_s" in wf:
        est = wf["pure_model_unit_cost_s"]
        lines.append(
            f"| (pure model time at the micro-benchmark's unit costs; ratio) | {est:.1f} | | "
            f"{wall / est:.3f} |"
        )
    return "\n".join(lines)


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
        default="sdpa",
        help="comma-separated SAM acceleration modes timed and checked beside the plain "
        "encoder (clickbench.models.accelerate: sdpa, compile; 'none' for the plain one only)",
    )
    ap.add_argument("--no-ritm", action="store_true", help="skip the RITM micro-benchmarks")
    ap.add_argument(
        "--ritm-layouts",
        action="store_true",
        help="only time RITM f-BRS-B on --images images as one --cores-thread process against "
        "--cores single-thread processes side by side",
    )
    ap.add_argument("--ritm-worker", default=None, help=argparse.SUPPRESS)  # START:STOP
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
    sam_tiny = acceleration.randomize_rel_pos(make_tiny_model("sam", 0))
    ritm_tiny = make_tiny_model("ritm", 0)
    vit_b = net = None
    if not args.quick:
        from segment_anything import sam_model_registry

        torch.manual_seed(0)
        vit_b = acceleration.randomize_rel_pos(sam_model_registry["vit_b"]().eval())
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
        log("tiny SAM ...")
        res["sam_tiny"] = bench_sam(sam_tiny, "tiny", data, args.clicks, modes)
        if not args.no_ritm:
            log("tiny RITM ...")
            res["ritm_tiny"] = bench_ritm(ritm_tiny, data, args.clicks)
    del sam_tiny, ritm_tiny
    if micro and not args.quick:
        log("SAM vit_b (random weights) ...")
        res["sam_vit_b"] = bench_sam(vit_b, "vit_b", data, args.clicks, modes)
        if not args.no_ritm:
            log("RITM HRNet18s (random weights) ...")
            res["ritm_hrnet18s"] = bench_ritm(net, data, args.clicks)
    del vit_b, net

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
    for key, label in (("sam_vit_b", "SAM vit_b"), ("sam_tiny", "SAM tiny")):
        if key in d:
            lines += sam_markdown(d[key], label)
    for key, label in (("ritm_hrnet18s", "RITM HRNet18s"), ("ritm_tiny", "RITM tiny")):
        if key in d:
            for mode in ("f-BRS-B", "NoBRS"):
                lines.append(f"| {label} {mode}, median s/click | {d[key][mode]['median']:.3f} | |")
    if "workflow" in res:
        lines += ["", workflow_markdown(res["workflow"])]
    if "layouts" in res:
        lines += ["", layouts_markdown(res["layouts"])]
    return "\n".join(lines)


if __name__ == "__main__":
    main()

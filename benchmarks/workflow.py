"""The workflow harness of benchmarks/models.py: the whole workflow's wall time against the
pure model time of the work it did (``--workflow``), and thread layouts side by side
(``--layouts``).

Everything is read from what the workflow records as data, not from its printed logs: the
pure model time from the per-image timing tables the model jobs write
(``results/<dataset>/timing/<model>/<class>/<image>.tsv``, :func:`clickbench.runner.timing_rows`:
every ``set_image`` call or share of a batched encoding and every model call); each model
job's wall and CPU time from its Snakemake benchmark file; which jobs ran, of which rule and
when, from Snakemake's own records (:mod:`clickbench.records`). What a model job spends
besides the model (interpreter start-up, imports, checkpoint verification and load, image
loading, the click simulator, IoU, writing) is its wall time less its model time; the
build and start-up parts of it are re-measured outside the workflow.
"""

from __future__ import annotations

import copy
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import torch
from common import children_cpu_s, cpu_busy_s

from clickbench import records
from clickbench.embedding_cache import count_encodings
from clickbench.models import accelerate as acceleration

REPO = Path(__file__).resolve().parents[1]
SELF_CONTAINED = "self-contained"
MODEL_RULES = ("run_", "chunk_")  # rule-name prefixes of the model jobs
SET_IMAGE_EVENTS = ("encode", "cache_load", "batch_encode")  # clickbench.runner.timing_rows


def snakemake_command(work: Path, *args: str, configfile: Path | None = None) -> list[str]:
    """This interpreter's Snakemake on this repository's Snakefile, in ``work``."""
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile")]
    cmd += ["--directory", str(work)]
    if configfile is not None:
        cmd += ["--configfile", str(configfile)]
    return cmd + list(args)


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


def read_benchmark_tsv(path: Path) -> dict:
    import csv

    with open(path, newline="") as fh:
        row = next(csv.DictReader(fh, delimiter="\t"))
    return {"wall_s": float(row["s"]), "cpu_s": float(row.get("cpu_time") or "nan")}


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
    """Re-measure, outside the workflow, what a model job's build consists of: importing
    torch and the model library, verifying the checkpoint (stamp hit; the full SHA-256 the
    first job of a model pays), loading it. Plus the interpreter start-up and the imports a
    job does first (Snakemake's script preamble, clickbench)."""
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
    decodes, RITM clicks, counted from its timing tables) at the micro-benchmark's unit costs
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


def model_of(rule: str) -> str | None:
    """The model a model job's rule (``run_<model>``, ``chunk_<model>``) belongs to."""
    for prefix in MODEL_RULES:
        if rule.startswith(prefix):
            return rule[len(prefix) :]
    return None


def read_timings(results: Path) -> pd.DataFrame:
    """Every per-image timing table the run wrote, with its rows in the order written."""
    paths = sorted((results / "timing").glob("*/*/*.tsv"))
    frames = [pd.read_csv(p, sep="\t", dtype={"image": str}, keep_default_na=False) for p in paths]
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def model_costs(timings: pd.DataFrame, model: str) -> dict:
    """One model's pure time from the timing tables: ``set_image`` calls (or batched
    encoding shares) and model calls, their medians, and each image's first call's excess
    over that image's median call (a fresh process's one-off set-up)."""
    t = timings[timings["model"] == model] if len(timings) else timings
    if not len(t):
        return {"set_image_s": 0.0, "set_images": 0, "click_s": 0.0, "clicks": 0}
    enc = t[t["event"].isin(SET_IMAGE_EVENTS)]
    calls = t[t["event"] == "predict"]
    per_image = enc.groupby(["class", "image"])["seconds"].sum()
    excess = 0.0
    for _, c in calls.groupby(["class", "image"], sort=False):
        excess += max(0.0, float(c["seconds"].iloc[0]) - float(c["seconds"].median()))
    return {
        "set_image_s": float(enc["seconds"].sum()),
        "set_images": int(len(per_image)),
        "click_s": float(calls["seconds"].sum()),
        "clicks": int(len(calls)),
        "median_set_image_s": float(per_image.median()) if len(per_image) else None,
        "median_click_s": float(calls["seconds"].median()) if len(calls) else None,
        "first_click_excess_s": excess,
    }


def workflow_ratio(work: Path, config: dict, cores: int, extra: tuple[str, ...] = ()) -> dict:
    """Run snakemake on ``config`` in ``work``; its wall time over the pure model time (see
    the module's docstring for where each figure comes from)."""
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

    results = work / "results" / config["dataset"]["name"]
    models = config["models"]
    jobs = records.jobs(work, since=t0_epoch)
    timings = read_timings(results)
    per_model: dict = {}
    for job in jobs:
        name = model_of(job.rule)
        if name is None:
            continue
        agg = per_model.setdefault(
            name, {"type": models[name]["type"], "jobs": 0, "wall_s": 0.0, "cpu_s": 0.0}
        )
        agg["jobs"] += 1
        kind = "chunks" if job.rule.startswith("chunk_") else "runs"
        log = Path(job.logs[0])  # logs/<kind>/<model>/<class>/<image or chunk>.log
        bench = read_benchmark_tsv(
            results / "benchmarks" / kind / name / log.parent.name / f"{log.stem}.tsv"
        )
        agg["wall_s"] += bench["wall_s"]
        agg["cpu_s"] += bench["cpu_s"]
    for name, agg in per_model.items():
        agg.update(model_costs(timings, name))
        agg["model_s"] = agg["set_image_s"] + agg["click_s"]
        agg["other_s"] = agg["wall_s"] - agg["model_s"]
    res["per_model"] = per_model
    res["encodings"] = count_encodings(work / config.get("cache_dir", "resources/cache"))
    pure = sum(a["model_s"] for a in per_model.values())
    model_jobs_wall = sum(a["wall_s"] for a in per_model.values())
    res["pure_model_s"] = pure
    res["model_jobs_wall_s"] = model_jobs_wall
    res["ratio"] = wall / pure if pure else None

    # the non-model part of the wall time, by rule, from Snakemake's records; jobs may run
    # side by side (RITM chunks, light jobs beside a model job), so the parts are unions of
    # job spans on the wall clock, not sums of job times
    by_rule: dict = {}
    model_spans, light_spans = [], []
    for job in jobs:
        if model_of(job.rule) is None:
            r = by_rule.setdefault(job.rule, {"jobs": 0, "s": 0.0})
            r["jobs"] += 1
            r["s"] += job.seconds
            light_spans.append((job.start, job.end))
        else:
            model_spans.append((job.start, job.end))
    res["non_model_rules"] = by_rule
    res["model_jobs_wall_clock_s"] = union_length(model_spans)
    res["non_model_s"] = wall - res["model_jobs_wall_clock_s"]
    res["non_model_jobs_wall_s"] = union_length(light_spans)
    res["snakemake_own_s"] = wall - union_length(model_spans + light_spans)
    if jobs:
        res["until_first_job_s"] = jobs[0].start - t0_epoch
    model_spans.sort()
    res["model_jobs_overlap"] = any(
        b[0] < a[1] for a, b in zip(model_spans, model_spans[1:], strict=False)
    )
    res["build_split"] = {name: build_split(models[name], env) for name in per_model}
    res["preamble_split"] = preamble_split(env)
    return res


#: thread layouts and encoder settings --layouts compares; each: what it changes
LAYOUTS = {
    "current": "every SAM and RITM job asks for 4 threads (capped at --cores), as before "
    "issue 16: --set-threads <model rules>=4",
    "ritm-side-by-side": "RITM jobs take one thread each when there are at least as many as "
    "cores, SAM keeps 4 (the layout of the issue's first stop): --set-threads <sam rules>=4",
    "side-by-side": "the workflow's default (rules/common.smk heavy_threads): every model's jobs "
    "take one thread each when it has at least as many as cores, so they run side by side",
}
#: a layout name may add SAM settings: +<accelerate mode> (clickbench.models.accelerate),
#: +bf16 (precision: bf16), e.g. side-by-side+chunked+bf16


def compare_layouts(work: Path, config: dict, cores: int, layouts: list[str]) -> dict:
    """The workflow once per layout (:data:`LAYOUTS`) in its own folder, one after another:
    wall time, images per hour and the ratio to the first layout's images per hour."""
    out: dict = {}
    for name in layouts:
        base, *extras = name.split("+")
        unknown = set(extras) - {"bf16", *acceleration.MODES}
        if base not in LAYOUTS or unknown:
            raise SystemExit(
                f"--layouts: unknown layout {name!r} (known: {', '.join(LAYOUTS)}, each with "
                f"+bf16 and +<accelerate mode> optional)"
            )
        cfg = copy.deepcopy(config)
        extra: tuple[str, ...] = ()
        ritm = [m for m, spec in cfg["models"].items() if spec["type"] == "ritm"]
        sam = [m for m, spec in cfg["models"].items() if spec["type"] == "sam"]
        four = {"current": ritm + sam, "ritm-side-by-side": sam}.get(base, [])
        if four:
            rules = [f"run_{m}=4" for m in four]
            if cfg.get("chunk_size", 1) > 1:
                rules += [f"chunk_{m}=4" for m in four]
            extra = ("--set-threads", *rules)
        for mode in set(extras) & set(acceleration.MODES):
            for m in sam:
                cfg["models"][m]["accelerate"] = mode
        if "bf16" in extras:
            cfg["precision"] = "bf16"
        print(f"layout {name} ...", file=sys.stderr, flush=True)
        wf = workflow_ratio(work / f"layout-{name}", cfg, cores, extra)
        evaluated = wf.get("per_model", {})
        n_images = max((a["set_images"] for a in evaluated.values()), default=0)
        if "error" not in wf:
            wf["images"] = n_images
            wf["images_per_hour"] = 3600 * n_images / wf["wall_s"]
        wf["layout"] = LAYOUTS[base] + "".join(f"; SAM {x}" for x in extras)
        out[name] = wf
    first = out[layouts[0]].get("images_per_hour")
    for wf in out.values():
        if first and "images_per_hour" in wf:
            wf["throughput_vs_first"] = wf["images_per_hour"] / first
    return out


def layouts_markdown(layouts: dict) -> str:
    lines = [
        "| layout | wall s | images | images/hour | vs first | other processes' CPU-s | "
        "ratio wall / model |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, wf in layouts.items():
        if "error" in wf:
            lines.append(f"| {name} | failed: see {wf['workdir']} | | | | | |")
            continue
        lines.append(
            f"| {name} | {wf['wall_s']:.0f} | {wf['images']} | {wf['images_per_hour']:.0f} | "
            f"{wf.get('throughput_vs_first', float('nan')):.2f}x | "
            f"{wf.get('others_cpu_s', float('nan')):.0f} | {wf['ratio']:.3f} |"
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
                f"call on each image {a['first_click_excess_s']:.1f} s over its median in all",
            )
        )
    lines.append(row("**pure model time (from the timing tables)**", pure))
    bs, ps = wf.get("build_split", {}), wf.get("preamble_split", {})
    start = (
        f"python {ps['python_start_s']:.2f} + snakemake.script "
        f"{ps['snakemake_script_import_s']:.2f} + clickbench {ps['clickbench_import_s']:.2f} s"
        if ps
        else ""
    )
    for name, a in sorted(pm.items()):
        b = bs.get(name)
        build = (
            f"import {b['import_s']:.2f} + verify {b['verify_stamped_s']:.3f} (full SHA-256 "
            f"{b['hash_s']:.2f}, first job only) + load {b['load_s']:.2f} s"
            if b
            else ""
        )
        lines.append(
            row(
                f"per job: {name}, all but the model, {a['jobs']} jobs, "
                f"{a['other_s'] / max(1, a['jobs']):.2f} s/job",
                a["other_s"],
                f"re-measured per job: start-up {start}; build {build}; the rest is image "
                "loading, click simulation, IoU, writing .npz/.tsv",
            )
        )
    per_job = sum(a["other_s"] for a in pm.values())
    lines.append(row("**per-job overhead, total**", per_job))
    for rule, r in sorted(wf["non_model_rules"].items(), key=lambda kv: -kv[1]["s"]):
        lines.append(
            row(
                f"non-model rule: {rule} ({r['jobs']} job{'s' * (r['jobs'] > 1)})",
                r["s"],
                "Snakemake's records",
            )
        )
    lines.append(
        row(
            "non-model jobs on the wall clock (their spans' union)",
            wf["non_model_jobs_wall_s"],
            "jobs of different rules may run side by side, and beside model jobs",
        )
    )
    lines.append(
        row(
            "no job running: Snakemake's start-up, DAG, checkpoint re-evaluation, launches",
            wf["snakemake_own_s"],
            f"{wf.get('until_first_job_s', float('nan')):.0f} s until the first job started",
        )
    )
    lines.append(
        row(
            "**wall time with no model job running**",
            wf["non_model_s"],
            f"model jobs held the wall clock {wf['model_jobs_wall_clock_s']:.1f} s",
        )
    )
    lines.append(f"| **ratio wall / pure model time** | **{wf['ratio']:.3f}** | | target <= 1.15 |")
    if "pure_model_unit_cost_s" in wf:
        est = wf["pure_model_unit_cost_s"]
        lines.append(
            f"| (pure model time at the micro-benchmark's unit costs; ratio) | {est:.1f} | | "
            f"{wall / est:.3f} |"
        )
    return "\n".join(lines)

"""Config validation, dataset discovery and the input functions every stage shares."""

import os
import sys
from pathlib import Path

# the library under the workflow: importable here and, through PYTHONPATH, in every job's
# script, also inside per-rule conda environments (which do not install clickbench).
# Set, not read: the workflow needs no envvars from its user.
_SRC = str(Path(workflow.basedir) / "src")
sys.path.insert(0, _SRC)
os.environ.update(
    PYTHONPATH=os.pathsep.join(p for p in (_SRC, os.getenv("PYTHONPATH", "")) if p)
)

from clickbench import config as cbconfig
from clickbench.archives import download_refusal
from clickbench import datasets as cbdatasets
from clickbench import outputs as cboutputs
from clickbench import protocols as cbprotocols
from clickbench.errors import BadInputError
from clickbench.checkpoints import absent_optional
from clickbench.models.plugin import PluginError, plugin_folder
from clickbench.models.registry import HEAVY_TYPES
from clickbench.models.registry import mem_mb as model_mem_mb
from clickbench.snakemake_exit import cancel_rescheduling_timers

try:
    config = cbconfig.validate(config)
except cbconfig.ConfigError as err:
    raise WorkflowError(f"invalid configuration:\n{err}") from None

DATASET = config["dataset"]
LAYOUT = DATASET["layout"]
R = f"results/{DATASET['name']}"
LOGS = f"{R}/logs"
DEMO = DATASET.get("demo")
METRICS = config.get("metrics", {})


# ---------------------------------------------------------------- samples
#: the dataset's URL can be fetched by the workflow (rule download_dataset); a Kaggle page
#: cannot (it needs an account): for those the error below says how to get the data
CAN_DOWNLOAD = (
    "url" in DATASET and download_refusal(DATASET["url"], DATASET["root"]) is None
)
#: the dataset is absent but downloadable: this run downloads it and the next run evaluates
#: it, since the images to fan out over are only known then
NEED_DOWNLOAD = DEMO is None and not Path(DATASET["root"]).exists() and CAN_DOWNLOAD


#: why the configured dataset cannot be evaluated (absent, not downloadable), or None. It is
#: raised when the evaluation is asked for (rule all), not at start-up, so that
#: `fetch_checkpoints` works before the data is there.
DATASET_MISSING = None


def _discover():
    global DATASET_MISSING
    # the demo generator writes its manifest last: until it exists (not generated yet, or
    # being generated while a cluster job re-reads this file) the planned names are the truth
    manifest = Path(DATASET["root"]).parent / "manifest.tsv"
    if DEMO is not None and not manifest.exists():
        from clickbench import demo as cbdemo

        return cbdemo.planned_samples(DATASET["root"], DEMO)
    if NEED_DOWNLOAD:
        print(
            f"clickbench: dataset.root {DATASET['root']} is absent: this run downloads it from "
            f"{DATASET['url']}; run snakemake again afterwards to evaluate it",
            file=sys.stderr,
        )
        return []
    if not Path(DATASET["root"]).exists():
        how = (
            f"it {download_refusal(DATASET['url'], DATASET['root'])}"
            if "url" in DATASET
            else f"see config/README.md for how to get the {LAYOUT} dataset"
        )
        DATASET_MISSING = f"dataset.root {DATASET['root']!r} does not exist; {how}"
        return []
    try:
        return cbdatasets.discover(DATASET, cache_dir=config["cache_dir"])
    except BadInputError as err:
        raise WorkflowError(str(err)) from None


SAMPLES = _discover()
if (
    LAYOUT in cbdatasets.INSTANCE_LAYOUTS
    and config.get("dedup", {}).get("method", "phash") == "phash"
):
    raise WorkflowError(
        f"dataset.layout {LAYOUT!r} holds several objects per image (one sample each): "
        "dedup.method 'phash' would group the objects of one image as copies and keep one; "
        "set dedup.method: none"
    )
CLASSES = sorted({s.cls for s in SAMPLES})
SLUG = {c: cbdatasets.slug(c) for c in CLASSES}
CLASS_OF_SLUG = {v: k for k, v in SLUG.items()}
BY_SLUG = {SLUG[c]: [s for s in SAMPLES if s.cls == c] for c in CLASSES}
SAMPLE = {(SLUG[s.cls], s.image_id): s for s in SAMPLES}
if not SAMPLES and not NEED_DOWNLOAD and DATASET_MISSING is None:
    raise WorkflowError(
        f"dataset.root {DATASET['root']!r}: no images found for layout {LAYOUT!r}"
    )


def evaluation_targets(wildcards):
    """What `snakemake` with no target builds: the dataset's download when that is all this
    run can do, else every table, figure and the summary."""
    if DATASET_MISSING is not None:
        raise WorkflowError(DATASET_MISSING)
    if NEED_DOWNLOAD:
        return [DATASET["root"]]
    stages = (
        rules.dedup_summary,
        rules.aggregate,
        rules.figures,
        rules.example_figures,
        rules.summary,
        rules.browser,
    )
    return [path for stage in stages for path in stage.output]


wildcard_constraints:
    cls="|".join(sorted(BY_SLUG)),
    image=r"[^/]+",
    chunk=r"\d+",


# ---------------------------------------------------------------- models
def _active_models():
    """Configured models minus the optional ones whose checkpoint is absent (one warning
    per absent checkpoint file)."""
    skipped, warnings = absent_optional(config["models"])
    for line in warnings:
        print(line, file=sys.stderr)
    active = {n: s for n, s in config["models"].items() if n not in skipped}
    return active, skipped


MODELS, SKIPPED_MODELS = _active_models()

# a `python` model's folder is checked when the workflow starts: a warning, since targets
# that run no job of that model (fetch_checkpoints, dedup) need no folder; its jobs then
# fail with the same message
for _name, _spec in MODELS.items():
    if _spec["type"] == "python" and _spec.get("path") is not None:
        try:
            plugin_folder(_spec["factory"], _spec["path"])
        except PluginError as err:
            print(
                f"clickbench: config key models.{_name}.path: {err}; its jobs will fail",
                file=sys.stderr,
            )


def protocols_of(model):
    """Protocol name -> config block, strategies resolved, for the protocols `model` runs
    (active ones only; clickbench.protocols.plan)."""
    return cbprotocols.plan(config["protocols"], model, MODELS)


def run_outputs(model):
    """A model's run outputs: every protocol's .npz and .tsv, and the image's timings
    (outside runs/: measured, so they differ between runs; clickbench.runner.timing_rows).
    """
    out = {
        f"{p}_{ext}": f"{R}/runs/{p}/{model}/{{cls}}/{{image}}.{ext}"
        for p in protocols_of(model)
        for ext in ("npz", "tsv")
    }
    out["timing"] = f"{R}/timing/{model}/{{cls}}/{{image}}.tsv"
    return out


def per_image_timings(wildcards):
    return [
        f"{R}/timing/{m}/{slug}/{image}.tsv"
        for m in MODELS
        for slug, image in selected_pairs()
    ]


def is_heavy(model):
    return MODELS[model]["type"] in HEAVY_TYPES


def use_gpu():
    return config["device"] == "cuda"


# ---------------------------------------------------------------- fan-out over dedup
def selected_images(slug):
    """Image ids to evaluate in one class (reads the dedup checkpoint's table): the picked
    originals, plus the study's index-rule picks when `dedup.evaluate_index_picks` is set,
    so the two selections can be compared (tables/selection.tsv)."""
    import csv

    table = checkpoints.dedup.get(cls=slug).output.table
    with open(table, newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    with_index = config["dedup"]["evaluate_index_picks"]
    return sorted(
        r["image"]
        for r in rows
        if r["status"] == "ok"
        and (r["selected"] == "1" or (with_index and r.get("index_pick") == "1"))
    )


def selected_pairs():
    return [
        (slug, image) for slug in sorted(BY_SLUG) for image in selected_images(slug)
    ]


def run_keys():
    """(protocol, model, class slug, image) of every per-image result the tables read."""
    pairs = selected_pairs()
    return [
        (p, m, slug, image)
        for m in MODELS
        for p in protocols_of(m)
        for slug, image in pairs
    ]


def per_image_tsvs(wildcards):
    return [f"{R}/runs/{p}/{m}/{slug}/{image}.tsv" for p, m, slug, image in run_keys()]


def per_image_npzs(wildcards):
    """Aligned with run_keys() (example_figures passes both)."""
    return [f"{R}/runs/{p}/{m}/{slug}/{image}.npz" for p, m, slug, image in run_keys()]


def checkpoint_paths():
    """Unique checkpoint path -> (model type, checkpoint block) for active heavy models."""
    out = {}
    for spec in MODELS.values():
        if "checkpoint" in spec:
            out.setdefault(
                spec["checkpoint"]["path"], (spec["type"], spec["checkpoint"])
            )
    return out


def fetchable_checkpoints():
    out = {}
    for spec in config["models"].values():
        ckpt = spec.get("checkpoint", {})
        if "url" in ckpt:
            out.setdefault(ckpt["path"], (spec["type"], ckpt))
    return out


# the fish layout's non-augmented originals (NA_Fish_Dataset) are looked up from the root
NATIVE_ROOT = DATASET["root"] if LAYOUT == "fish" else None


def mem_mb(model):
    return model_mem_mb(MODELS[model])


def runtime_min(model):
    """Minutes per job (one image), generous for CPU runs."""
    spec = MODELS[model]
    if spec["type"] in HEAVY_TYPES:
        return 10 if use_gpu() else 60
    return 10


# ---------------------------------------------------------------- model jobs and chunks
CHUNK_SIZE = config["chunk_size"]


def is_chunked(model):
    """With `chunk_size` > 1, SAM and RITM compute a chunk of one class's images per job
    (`chunk_<model>`, the model loaded once) into the run memo (clickbench.memo); their
    per-image `run_<model>` jobs then only materialise their outputs from it."""
    return CHUNK_SIZE > 1 and is_heavy(model)


def computes_heavy(model):
    """Whether a model's per-image run job does the heavy work itself."""
    return is_heavy(model) and not is_chunked(model)


def run_group(model):
    """Cluster job group of a model's run jobs (profiles/slurm batches `light_runs` and
    `replay_runs`). Jobs materialising from the memo are light, but one that replays a
    chunked model's clicks goes apart: a group must not reach itself through a job outside
    it (run_sam -> chunk_sam -> run_ritm)."""
    if computes_heavy(model):
        return "heavy_runs"
    if is_chunked(model) and "replay" in protocols_of(model):
        return "replay_runs"
    return "light_runs"


def heavy_jobs(model):
    """How many jobs compute `model`: one per chunk of a class's images, or one per image
    (reads the dedup checkpoints: call it only once they exist, as `threads:` callables are).
    """
    from snakemake.exceptions import IncompleteCheckpointException

    n = 0
    for slug in sorted(BY_SLUG):
        try:
            k = len(selected_images(slug))
        except IncompleteCheckpointException:
            # asked before the class's dedup has run (a cluster run evaluates a group's
            # resources early; Snakemake would then take the callable's value as 0, not a
            # number of threads): every discovered image is the upper bound
            k = len(BY_SLUG[slug])
        n += -(-k // CHUNK_SIZE) if is_chunked(model) else k
    return n


def heavy_threads(model):
    """`threads:` of a job that computes a heavy model: 1 on a GPU; on a CPU 1 when the model
    has at least as many jobs as --cores, so that they run side by side, else 4 (capped at
    --cores). Side by side fills the cores better than threads within a job: RITM's f-BRS
    runs its L-BFGS steps on one core, and even SAM's encoder, which uses 2 threads well,
    cannot share the cores with a single-thread RITM job (benchmarks/README.md).
    """

    def threads(wildcards):
        if use_gpu():
            return 1
        if heavy_jobs(model) >= workflow.cores:
            return 1
        return 4

    return threads


def run_threads(model):
    return heavy_threads(model) if computes_heavy(model) else 1


def run_resources(model):
    if is_chunked(model):  # materialises from the memo: no model, no accelerator
        return {"mem_mb": 1000, "runtime": 10, "gpu": 0}
    return {
        "mem_mb": mem_mb(model),
        "runtime": runtime_min(model),
        "gpu": 1 if computes_heavy(model) and use_gpu() else 0,
    }


def chunk_resources(model):
    return {
        "mem_mb": mem_mb(model),
        "runtime": runtime_min(model) * CHUNK_SIZE,
        "gpu": 1 if use_gpu() else 0,
    }


def model_params(model):
    """Params shared by a model's run and chunk rules (scripts/run_model.py, run_chunk.py)."""
    return {
        "model": model,
        "spec": MODELS[model],
        "protocols": protocols_of(model),
        "layout": LAYOUT,
        "device": config["device"],
        "precision": config["precision"],
        "cache_dir": config["cache_dir"],
    }


def chunk_images(slug, chunk):
    """Image ids of chunk number `chunk` of a class: a consecutive slice of its selection."""
    start = int(chunk) * CHUNK_SIZE
    return selected_images(slug)[start : start + CHUNK_SIZE]


def chunk_marker(model, slug, image):
    """The marker of the chunk job that computes `image`, or None (not in the selection)."""
    images = selected_images(slug)
    if image not in images:
        return None
    return f"{R}/runs/.chunks/{model}/{slug}/{images.index(image) // CHUNK_SIZE}.tsv"


def _image_inputs(model, slug, image):
    """Image, mask, checkpoint and replay source of one model on one image."""
    sample = SAMPLE[(slug, image)]
    out = {"image": sample.image, "mask": sample.mask}
    spec = MODELS[model]
    if "checkpoint" in spec:
        out["checkpoint"] = spec["checkpoint"]["path"]
    if "replay" in protocols_of(model):
        source = config["protocols"]["replay"]["source"]
        out["source"] = f"{R}/runs/noc/{source}/{slug}/{image}.npz"
    return out


def run_inputs(model):
    """Input function of a model's run rule: image, mask, checkpoint, replay source, and
    the chunk job's marker when the model is chunked."""

    def inputs(w):
        out = _image_inputs(model, w.cls, w.image)
        if is_chunked(model):
            marker = chunk_marker(model, w.cls, w.image)
            if marker is not None:
                out["chunk"] = marker
        return out

    return inputs


def chunk_inputs(model):
    """Input function of a model's chunk rule: lists of images, masks and replay sources (in
    the chunk's image order) and the checkpoint."""

    def inputs(w):
        images = chunk_images(w.cls, w.chunk)
        if not images:
            raise WorkflowError(f"class {w.cls!r} has no image chunk {w.chunk}")
        per_image = [_image_inputs(model, w.cls, image) for image in images]
        out = {
            "images": [i["image"] for i in per_image],
            "masks": [i["mask"] for i in per_image],
        }
        if "checkpoint" in per_image[0]:
            out["checkpoint"] = per_image[0]["checkpoint"]
        if "source" in per_image[0]:
            out["sources"] = [i["source"] for i in per_image]
        return out

    return inputs

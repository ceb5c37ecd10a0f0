"""One model on one image, or on a chunk of images with the model built once.

The work behind ``scripts/run_model.py`` (a per-image job) and ``scripts/run_chunk.py`` (a
chunk job, when config ``chunk_size`` > 1): both go through the run memo
(:mod:`clickbench.memo`), so a result is computed once and then only materialised.

Per image (:func:`run_image`): look the image's memo key up; on a hit hard-link the entry's
files into the job's outputs (no torch import, no model build); on a miss build the model,
run every protocol, write the outputs and store them in the memo.

Per chunk (:func:`run_chunk`): the images of one class whose keys miss are computed with one
model: SAM first encodes all of them into its embedding cache in batches
(:meth:`clickbench.models.sam.SamModel.prepare`), then each image runs its protocols and is
stored. A marker table (class, image, key, status ``hit``/``computed``, device) records what
the job did; the per-image jobs that follow it materialise from the memo.
"""

from __future__ import annotations

import atexit
import contextlib
import csv
import logging
import os
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from clickbench import protocols as P
from clickbench import traces as T
from clickbench.datasets import instance_of, load_ground_truth, load_image
from clickbench.memo import ResultMemo, key_for
from clickbench.models import registry
from clickbench.models.base import InteractiveModel

log = logging.getLogger("clickbench.runner")

#: columns of a chunk job's marker table
MARKER_COLUMNS = ("class", "image", "key", "status", "device")
#: columns of an image's timing table (output ``timing``; clickbench.tables.timing_table)
TIMING_COLUMNS = (
    "class",
    "image",
    "model",
    "device",
    "protocol",
    "loop",
    "step",
    "event",
    "seconds",
)


@contextlib.contextmanager
def log_to(path: str | Path):
    """Send the root logger's INFO records to ``path`` (a job's log) for the block."""
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield
    except Exception:
        log.exception("failed")
        raise
    finally:
        handler.close()
        root.removeHandler(handler)


def exit_fast(status: int = 0):
    """End a model job's process at once: run the ``atexit`` handlers (logging's shutdown is
    one) and flush the standard streams, then skip the interpreter's teardown.

    With torch and a model loaded that teardown (freeing every module and tensor, C++ static
    destructors) takes 0.6 to 1.2 s per job and serves nothing: a job's outputs are written,
    fsynced and closed before this is called. Call it last, only after the job succeeded; a
    failing job raises and exits the normal way."""
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed or broken: nothing left to save
            pass
    os._exit(status)


class Timed(InteractiveModel):
    """Passes every call through to ``inner`` and logs how long it took."""

    def __init__(self, inner: InteractiveModel, label: str):
        self.inner, self.label = inner, label
        self.supports_box = inner.supports_box
        #: seconds of the last set_image call
        self.set_image_seconds: float | None = None

    def set_image(self, image):
        t0 = time.perf_counter()
        self.inner.set_image(image)
        self.set_image_seconds = time.perf_counter() - t0
        log.info("set_image: %.3f s", self.set_image_seconds)

    def reset(self):
        self.inner.reset()

    def predict(self, clicks, previous=None, previous_choice=None, **box):
        t0 = time.perf_counter()
        pred = self.inner.predict(clicks, previous=previous, previous_choice=previous_choice, **box)
        seconds = time.perf_counter() - t0
        if clicks:
            c = clicks[-1]
            last = f"({c.row}, {c.col}, {'+' if c.positive else '-'})"
        else:
            last = "(none)"
        prompt = f" box {tuple(box['box'])}" if box.get("box") is not None else ""
        log.info("%s click %d %s%s: %.3f s", self.label, len(clicks), last, prompt, seconds)
        return pred


@dataclass(frozen=True)
class ModelJob:
    """What every image of a model job shares (the rule's params, see rules/models.smk)."""

    model: str
    spec: dict
    #: the model's protocol plan (:func:`clickbench.protocols.plan`)
    protocols: dict
    layout: str
    device: str
    precision: str
    cache_dir: str

    @classmethod
    def from_params(cls, params) -> ModelJob:
        return cls(
            model=params.model,
            spec=dict(params.spec),
            protocols={name: dict(block) for name, block in dict(params.protocols).items()},
            layout=params.layout,
            device=params.device,
            precision=params.precision,
            cache_dir=params.cache_dir,
        )

    @property
    def heavy(self) -> bool:
        return self.spec["type"] in registry.HEAVY_TYPES

    @property
    def memo(self) -> ResultMemo:
        return ResultMemo(self.cache_dir, self.model)

    def device_type(self) -> str:
        """The device the model runs on: light models always ``cpu``; ``auto`` is resolved
        (which imports torch), any other setting is taken as it is."""
        if not self.heavy:
            return "cpu"
        if self.device == "auto":
            return registry.resolve_device("auto")
        return self.device

    def output_files(self) -> dict[str, str]:
        """Output name of the run rule -> file name in a memo entry: every protocol's
        ``.npz``/``.tsv``, and ``timing`` (the image's timings, see :func:`timing_rows`)."""
        out = {f"{p}_{ext}": f"{p}.{ext}" for p in self.protocols for ext in ("npz", "tsv")}
        out["timing"] = "timing.tsv"
        return out


@dataclass(frozen=True)
class ImageTask:
    """One image of a job: class name, image id, its files and the replay source, if any."""

    cls: str
    image: str
    image_path: str
    mask_path: str
    source_path: str | None = None


def memo_key(job: ModelJob, task: ImageTask, device: str) -> tuple[str, dict]:
    return key_for(
        model=job.model,
        cls=task.cls,
        image=task.image,
        image_path=task.image_path,
        mask_path=task.mask_path,
        spec=job.spec,
        protocols=job.protocols,
        layout=job.layout,
        device=device,
        precision=job.precision,
        source_path=task.source_path if "replay" in job.protocols else None,
    )


def build_model(job: ModelJob, device: str) -> InteractiveModel:
    t0 = time.perf_counter()
    model = registry.build(
        job.spec, device=device, precision=job.precision, cache_dir=job.cache_dir
    )
    log.info("build on %s: %.3f s", device, time.perf_counter() - t0)
    return model


def timing_rows(
    task: ImageTask,
    model: str,
    device: str,
    set_image_seconds: float,
    encoded: bool,
    results: Mapping[str, Mapping[str, T.Trace]],
    batch_share: float | None = None,
) -> list[dict]:
    """An image's timings, one row per event (columns :data:`TIMING_COLUMNS`):

    - ``encode``: the ``set_image`` call, when it did the image's work (SAM: ran the encoder);
    - ``cache_load``: the ``set_image`` call, when SAM found the embedding in its cache;
    - ``batch_encode``: the image's share of a chunk job's batched encoding (``batch_share``);
    - ``predict``: one model call of loop ``loop`` of ``protocol``, at step ``step`` (1-based).
    Timings are measured, so unlike every other output they differ between runs."""
    base = {"class": task.cls, "image": task.image, "model": model, "device": device}
    rows = [
        {
            **base,
            "protocol": "",
            "loop": "",
            "step": 0,
            "event": "encode" if encoded else "cache_load",
            "seconds": set_image_seconds,
        }
    ]
    if batch_share is not None:
        rows.append({**rows[0], "event": "batch_encode", "seconds": batch_share})
    for protocol, traces in results.items():
        for loop, trace in traces.items():
            for k, sec in enumerate(trace.seconds if trace.seconds is not None else ()):
                rows.append(
                    {
                        **base,
                        "protocol": protocol,
                        "loop": loop,
                        "step": k + 1,
                        "event": "predict",
                        "seconds": float(sec),
                    }
                )
    return rows


def compute(
    job: ModelJob,
    model: InteractiveModel,
    task: ImageTask,
    outputs: Mapping[str, str | Path],
    image=None,
    *,
    device: str = "cpu",
    batch_share: float | None = None,
) -> None:
    """Run every protocol of ``job`` on one image; write ``outputs`` (the run rule's names:
    ``<protocol>_npz``, ``<protocol>_tsv``, ``timing``). The model is encoded on the image
    once. ``device``: the one it runs on (for the timings); ``batch_share``: this image's
    share of a batched encoding done before (seconds), if any."""
    log.info("model %s (%s), image %s / %s", job.model, job.spec["type"], task.cls, task.image)
    if image is None:
        image = load_image(task.image_path)
    instance = instance_of(task.image, job.layout)  # the object, in an instance layout
    gt, ignore = load_ground_truth(task.mask_path, job.layout, image.shape, instance)
    timed = Timed(model, job.model)
    timed.set_image(image)
    source_clicks = None
    if "replay" in job.protocols and task.source_path:
        source_clicks = P.replay_source_clicks(task.source_path)
        log.info("replay: %d clicks from %s", len(source_clicks), task.source_path)
    t0 = time.perf_counter()
    results = P.run_protocols(
        timed,
        gt,
        ignore,
        job.protocols,
        source_clicks=source_clicks,
        keep_logits=bool(job.spec.get("save_logits", False)),
        image_key=(task.cls, task.image),
    )
    log.info("all protocols: %.3f s", time.perf_counter() - t0)
    if "box" in job.protocols and not results.get("box"):
        log.info("box: not applicable, %s takes no box prompt", job.spec["type"])
    for name, traces in results.items():
        T.save_traces(outputs[f"{name}_npz"], traces)
        rows = T.trace_rows(
            traces,
            protocol=name,
            model=job.model,
            cls=task.cls,
            image=task.image,
            strategies=job.protocols[name]["strategies"],
        )
        T.write_rows_tsv(outputs[f"{name}_tsv"], rows)
        for loop, trace in traces.items():
            log.info("%s/%s: %d clicks, IoU %s", name, loop, trace.n_clicks, trace.curve.round(4))
    encoded = getattr(model, "last_hit", None) is not True
    timing = timing_rows(
        task, job.model, device, timed.set_image_seconds, encoded, results, batch_share
    )
    T.write_rows_tsv(outputs["timing"], timing, columns=TIMING_COLUMNS)


def _store(job: ModelJob, task: ImageTask, key: str, ingredients: dict, outputs) -> None:
    """Store a computed image's outputs (run rule names -> paths) in the memo."""
    files = {entry: outputs[name] for name, entry in job.output_files().items()}
    job.memo.store(key, files, cls=task.cls, image=task.image, ingredients=ingredients)


def run_image(
    job: ModelJob,
    task: ImageTask,
    outputs: Mapping[str, str | Path],
    *,
    marker: str | Path | None = None,
) -> str:
    """One image: materialise ``outputs`` (the run rule's output names -> paths) from the
    memo, else compute and store them. Returns ``hit`` or ``computed``.

    marker: the chunk job's marker when the image belongs to one (config ``chunk_size`` > 1):
    the key is then made with the device that job ran on (it resolved ``auto``), and a miss,
    which should not happen, is computed here with a warning.
    """
    device = None
    if marker is not None:
        device = read_marker(marker).get(task.image, {}).get("device")
    device = device or job.device_type()
    key, ingredients = memo_key(job, task, device)
    files = job.output_files()
    outputs = {name: outputs[name] for name in files}
    if job.memo.materialise(key, {files[name]: outputs[name] for name in files}):
        log.info("%s %s / %s: from the run memo (key %s)", job.model, task.cls, task.image, key)
        return "hit"
    if marker is not None:
        log.warning(
            "%s %s / %s: not in the run memo although chunk job %s ran (is cache_dir %s shared "
            "between the jobs?); computing it here",
            job.model,
            task.cls,
            task.image,
            marker,
            job.cache_dir,
        )
    log.info("%s %s / %s: computing (run memo key %s)", job.model, task.cls, task.image, key)
    compute(job, build_model(job, device), task, outputs, device=device)
    _store(job, task, key, ingredients, outputs)
    return "computed"


def read_marker(path: str | Path) -> dict[str, dict[str, str]]:
    """A chunk marker's rows by image id."""
    with open(path, newline="") as fh:
        return {row["image"]: row for row in csv.DictReader(fh, delimiter="\t")}


def run_chunk(
    job: ModelJob,
    tasks: Sequence[ImageTask],
    marker: str | Path,
    *,
    batch_size: int | None = None,
) -> list[dict]:
    """A chunk of images of one class: compute each image whose memo key misses, with the
    model built once (SAM: the misses batch-encoded first, ``batch_size`` at a time; None is
    :meth:`~clickbench.models.sam.SamModel.prepare`'s default), store them, write ``marker``.
    Returns the marker's rows."""
    device = job.device_type()
    memo = job.memo
    keyed = [(task, *memo_key(job, task, device)) for task in tasks]
    misses = [(task, key, ing) for task, key, ing in keyed if memo.lookup(key) is None]
    log.info(
        "%s: %d images, %d in the run memo, %d to compute on %s",
        job.model,
        len(tasks),
        len(tasks) - len(misses),
        len(misses),
        device,
    )
    if misses:
        model = build_model(job, device)
        images = {}  # by file: the objects of one image (instance layouts) share it
        for task, _, _ in misses:
            if task.image_path not in images:
                images[task.image_path] = load_image(task.image_path)
        prepare = getattr(model, "prepare", None)
        share = None
        if prepare is not None and job.cache_dir is not None:
            t0 = time.perf_counter()
            prepare(list(images.values()), batch_size)
            seconds = time.perf_counter() - t0
            log.info("prepare (batched encoding) of %d images: %.3f s", len(images), seconds)
            share = seconds / len(images)
        memo.root.mkdir(parents=True, exist_ok=True)
        for task, key, ingredients in misses:
            with tempfile.TemporaryDirectory(dir=memo.root, prefix=".scratch.") as scratch:
                outputs = {
                    name: str(Path(scratch) / entry) for name, entry in job.output_files().items()
                }
                compute(
                    job,
                    model,
                    task,
                    outputs,
                    image=images[task.image_path],
                    device=device,
                    batch_share=share,
                )
                _store(job, task, key, ingredients, outputs)
    computed = {key for _, key, _ in misses}
    rows = [
        {
            "class": task.cls,
            "image": task.image,
            "key": key,
            "status": "computed" if key in computed else "hit",
            "device": device,
        }
        for task, key, _ in keyed
    ]
    T.write_rows_tsv(marker, rows, columns=MARKER_COLUMNS)
    return rows


__all__ = [
    "MARKER_COLUMNS",
    "TIMING_COLUMNS",
    "ImageTask",
    "ModelJob",
    "Timed",
    "build_model",
    "compute",
    "exit_fast",
    "log_to",
    "memo_key",
    "read_marker",
    "run_chunk",
    "run_image",
    "timing_rows",
]

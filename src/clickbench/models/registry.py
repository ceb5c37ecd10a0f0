"""Model registry: one entry per model type, as segment-anything's ``sam_model_registry``.

Each builder is ``builder(spec, options) -> InteractiveModel`` where ``spec`` is the model's
validated config block and ``options`` a :class:`~clickbench.models.base.BuildOptions`
(device, precision, cache folder); :func:`build` is the one entry point. Builders are imported lazily so that
light rules never import torch.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from clickbench.models.base import BuildOptions, InteractiveModel

BUILDERS: dict[str, str] = {
    "grabcut": "clickbench.models.baselines:build_grabcut",
    "random_walker": "clickbench.models.baselines:build_random_walker",
    "sam": "clickbench.models.sam:build",
    "ritm": "clickbench.models.ritm:build",
    "sam2": "clickbench.models.sam2:build",
    "hq_sam": "clickbench.models.hq_sam:build",
    "efficientvit_sam": "clickbench.models.efficientvit_sam:build",
    "python": "clickbench.models.plugin:build",
}

#: model types that need a checkpoint and run on an accelerator when one is configured
HEAVY_TYPES = frozenset({"sam", "ritm", "sam2", "hq_sam", "efficientvit_sam"})

#: model types with SAM's four candidates (three multimask + single) and SAM's place in the
#: study's comparisons (the first-click view, the oracle-vs-max-score and replay pairs)
SAM_FAMILY = frozenset({"sam", "sam2", "hq_sam", "efficientvit_sam"})

#: model types whose config takes an encoder ``accelerate`` mode other than "none"
#: (clickbench.models.accelerate: SAM's ViT attention, which HQ-SAM's ViT variants share; the
#: config schema says the same, and refuses it for HQ-SAM's vit_tiny, a TinyViT)
ACCELERATED_TYPES = frozenset({"sam", "hq_sam"})

#: model type -> ``make(path, seed)`` writing a tiny random checkpoint in the type's real
#: format (config ``checkpoint.generate: tiny``)
TINY_CHECKPOINTS: dict[str, str] = {
    "sam": "clickbench.models.tiny:make_tiny_checkpoint",
    "ritm": "clickbench.models.tiny:make_tiny_checkpoint",
    "sam2": "clickbench.models.sam2:make_tiny_checkpoint",
    "hq_sam": "clickbench.models.hq_sam:make_tiny_checkpoint",
    "efficientvit_sam": "clickbench.models.efficientvit_sam:make_tiny_checkpoint",
}

#: memory (MB) one job of a model needs (Snakemake's ``mem_mb``): per type, or per variant
#: for types whose size depends on it. The one table: ``rules/common.smk`` reads it.
_SAM2_MB = {"t": 4000, "s": 4000, "b+": 6000, "l": 10000}
MEM_MB: dict[str, int | dict[str, int]] = {
    "grabcut": 1000,
    "random_walker": 1000,
    "sam": {"vit_h": 16000, "vit_l": 12000, "vit_b": 8000, "tiny": 2000},
    "hq_sam": {"vit_h": 16000, "vit_l": 12000, "vit_b": 8000, "vit_tiny": 4000, "tiny": 2000},
    "sam2": {
        **{f"sam2{v}_hiera_{size}": mb for v in ("", ".1") for size, mb in _SAM2_MB.items()},
        "tiny": 2000,
    },
    "efficientvit_sam": {v: 4000 for v in ("l0", "l1", "l2", "xl0", "xl1")} | {"tiny": 2000},
    "ritm": 6000,
    "python": 4000,  # a user's own model: override with `--set-resources run_<name>:mem_mb=...`
}


def mem_mb(spec: dict) -> int:
    """Memory (MB) a job of the model a (validated) config block describes needs."""
    entry = MEM_MB[spec["type"]]
    if isinstance(entry, int):
        return entry
    try:
        return entry[spec["variant"]]
    except KeyError:
        raise ValueError(
            f"no memory figure for {spec['type']} variant {spec.get('variant')!r}; "
            f"known: {', '.join(sorted(entry))}"
        ) from None


def resolve_device(device: str) -> str:
    """Map ``auto`` to ``cuda``, ``mps`` or ``cpu`` (whichever is available); check the rest."""
    if device == "cpu":
        return "cpu"
    import torch

    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("config device: cuda, but torch sees no CUDA device")
    if device == "mps" and not torch.backends.mps.is_available():
        raise RuntimeError("config device: mps, but torch sees no MPS device")
    return device


def _load(target: str):
    module, func = target.split(":")
    return getattr(importlib.import_module(module), func)


def make_tiny_checkpoint(kind: str, path: str | Path, seed: int = 0) -> Path:
    """Write the tiny randomly initialised checkpoint of model type ``kind`` to ``path``."""
    try:
        target = TINY_CHECKPOINTS[kind]
    except KeyError:
        raise ValueError(
            f"no tiny checkpoint for model type {kind!r}; known: {', '.join(sorted(TINY_CHECKPOINTS))}"
        ) from None
    make = _load(target)
    if target.startswith("clickbench.models.tiny:"):
        return make(kind, path, seed=seed)
    return make(path, seed=seed)


def build(
    spec: dict,
    *,
    device: str = "cpu",
    precision: str = "fp32",
    cache_dir: str | Path | None = None,
) -> InteractiveModel:
    """Build the model a config block describes (validated, the schema's defaults filled in:
    :func:`clickbench.config.validate_model`; a bad block raises ``ConfigError``)."""
    try:
        target = BUILDERS[spec["type"]]
    except KeyError:
        raise ValueError(
            f"unknown model type {spec.get('type')!r}; known: {', '.join(sorted(BUILDERS))}"
        ) from None
    from clickbench.config import validate_model  # config imports this module's tables

    spec = validate_model(spec)
    options = BuildOptions(device=device, precision=precision, cache_dir=cache_dir)
    return _load(target)(spec, options)

"""Model registry: one entry per model type, as segment-anything's ``sam_model_registry``.

Each builder is ``builder(spec, device=..., precision=..., cache_dir=...) -> InteractiveModel``
where ``spec`` is the model's validated config block. Builders are imported lazily so that
light rules never import torch.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from clickbench.config import validate_model
from clickbench.models.base import InteractiveModel

BUILDERS: dict[str, str] = {
    "grabcut": "clickbench.models.baselines:build_grabcut",
    "random_walker": "clickbench.models.baselines:build_random_walker",
    "sam": "clickbench.models.sam:build",
    "ritm": "clickbench.models.ritm:build",
}

#: model types that need a checkpoint and run on an accelerator when one is configured
HEAVY_TYPES = frozenset({"sam", "ritm"})

#: memory (MB) one job of a model needs (Snakemake's ``mem_mb``): per type, or per variant
#: for types whose size depends on it. The one table: ``rules/common.smk`` reads it.
MEM_MB: dict[str, int | dict[str, int]] = {
    "grabcut": 1000,
    "random_walker": 1000,
    "sam": {"vit_h": 16000, "vit_l": 12000, "vit_b": 8000, "tiny": 2000},
    "ritm": 6000,
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
    spec = validate_model(spec)
    module, func = target.split(":")
    builder = getattr(importlib.import_module(module), func)
    return builder(spec, device=device, precision=precision, cache_dir=cache_dir)

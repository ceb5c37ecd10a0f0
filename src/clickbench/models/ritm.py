"""RITM (Sofiiuk et al.) through the ``ritm-annotation`` package, set up as RITM evaluates.

RITM's ``scripts/evaluate_model.py`` (default ``--eval-mode cvpr``, no ``--clicks-limit``)
loads the checkpoint with ``utils.load_is_model(path, device)`` and builds its predictor as
``get_predictor(model, mode, device, prob_thresh=0.49, predictor_params={},
zoom_in_params={"target_size": 400})`` (600 on DAVIS); ``get_predictor`` itself then adds
``with_flip=True``, L-BFGS settings, and ``net_clicks_limit=8`` for f-BRS. ZoomIn's other
parameters keep their defaults (``skip_clicks=1, expansion_ratio=1.4, min_crop_size=200,
recompute_thresh_iou=0.5``). :func:`build` reproduces exactly that; the config may change
``brs_mode``, ``zoom_in`` (on/off), ``prob_thresh`` and ``zoom_in_target_size``, whose
defaults (RITM's values above) are the schema's (``clickbench/data/config.schema.yaml``, :data:`DEFAULTS`).

Checkpoints as RITM publishes them: ``{"state_dict", "config"}`` saved by RITM's trainer,
whose config names the model class under RITM's own package, e.g.
``isegm.model.is_hrnet_model.HRNetModel``. The PyPI port ``ritm-annotation`` holds the same
classes under ``ritm_annotation.`` (same parameters, same state-dict keys and shapes: checked
for HRNet18s/18/32 against RITM's code). :func:`checked_config` maps ``isegm.`` to
``ritm_annotation.`` and accepts only ritm-annotation's model classes (subclasses of
``ISModel``) and torch/ritm-annotation classes as class-valued parameters: the config is
data, it must not name arbitrary code to run. The file is read with ``weights_only=True``
(:func:`clickbench.checkpoints.read_torch`: the format needs no unpickling of objects) and the
weights are loaded strictly: RITM's ``load_is_model`` uses ``strict=False``, which would run
randomly initialised layers for any key that does not match; here a missing or unexpected
key fails, naming it.

Two settings make f-BRS cheaper on a CPU without changing a bit of its results (issue 16,
benchmarks/README.md): :func:`make_predictor` freezes the network's weights (f-BRS
differentiates its loss only with respect to its per-channel scale and bias; RITM's own
``load_is_model`` freezes them too, so a backward pass through trainable weights, which a
freshly built network has, computes weight gradients nobody reads), and :func:`build` makes
the C allocator keep freed memory (:func:`keep_freed_memory`): each L-BFGS evaluation frees
and reallocates tensors of ~15 MB, which glibc would otherwise return to the kernel and
page-fault in again.

RITM's predictor is stateful: it feeds its previous prediction back to the network and its
ZoomIn keeps the current crop. :class:`RitmModel` drives it as RITM's ``evaluate_sample``
does, one ``get_prediction`` per new click, and restores a fresh state on ``reset``.
"""

from __future__ import annotations

import ctypes
import importlib
import inspect
import logging
import platform
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from ritm_annotation.inference.clicker import Click as RitmClick
from ritm_annotation.inference.clicker import Clicker
from ritm_annotation.inference.predictors import get_predictor
from ritm_annotation.model.is_model import ISModel
from ritm_annotation.utils.serialization import load_model

from clickbench import checkpoints
from clickbench.clicks import Click
from clickbench.config import model_defaults
from clickbench.errors import BadInputError
from clickbench.models.base import BuildOptions, InteractiveModel, Prediction

log = logging.getLogger(__name__)

BRS_MODES = ("NoBRS", "f-BRS-A", "f-BRS-B", "f-BRS-C")

#: the schema's defaults of a ``ritm`` block: brs_mode, zoom_in, prob_thresh, zoom_in_target_size
DEFAULTS = model_defaults("ritm")

#: RITM's package, as its checkpoints' configs spell class paths; and the PyPI port's
RELEASE_PACKAGE, PYPI_PACKAGE = "isegm", "ritm_annotation"
#: where class-valued parameters of a RITM config may come from (after the mapping)
PARAM_CLASS_PREFIXES = ("torch.nn.", f"{PYPI_PACKAGE}.model.")


def _to_pypi(class_path: str) -> str:
    head, _, rest = class_path.partition(".")
    return f"{PYPI_PACKAGE}.{rest}" if head == RELEASE_PACKAGE else class_path


def _resolve(class_path: str):
    """The object ``class_path`` names, or None (only called on allowed prefixes)."""
    module, _, name = class_path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError):
        return None


def checked_config(path: str | Path, config: dict) -> dict:
    """A RITM checkpoint's ``config`` with class paths mapped to ritm-annotation and checked.

    ``isegm.X`` becomes ``ritm_annotation.X``; the model class must be one of
    ritm-annotation's :class:`ISModel` subclasses (HRNetModel, DeeplabModel), class-valued
    parameters must be torch.nn or ritm-annotation classes. Anything else fails naming the
    file and the class (e.g. a SimpleClick ``isegm.model.is_plainvit_model.PlainVitModel``).
    """
    if not isinstance(config, dict) or not isinstance(config.get("class"), str):
        raise BadInputError(path, "RITM config has no model `class`")
    name = config["class"]
    mapped = _to_pypi(name)
    cls = _resolve(mapped) if mapped.startswith(f"{PYPI_PACKAGE}.model.") else None
    if not (inspect.isclass(cls) and issubclass(cls, ISModel)):
        raise BadInputError(
            path,
            f"config class {name!r} is not a RITM model that ritm-annotation provides "
            f"(ritm_annotation.model.*: HRNetModel, DeeplabModel)",
        )
    params = {}
    for pname, param in dict(config.get("params", {})).items():
        param = dict(param)
        if param.get("type") == "class":
            value = _to_pypi(str(param["value"]))
            if not value.startswith(PARAM_CLASS_PREFIXES) or not inspect.isclass(_resolve(value)):
                raise BadInputError(
                    path,
                    f"config parameter {pname!r} names class {param['value']!r}, which is "
                    "not a torch.nn or ritm-annotation class",
                )
            param["value"] = value
        params[pname] = param
    return {"class": mapped, "params": params}


def read_checkpoint(path: str | Path, sha256: str | None = None) -> tuple[dict, str]:
    """Verify and read a RITM checkpoint ``{"state_dict", "config"}``; return it and its SHA-256.

    Read with ``weights_only=True``; a file that needs full unpickling is refused unless
    ``sha256`` (configured, and matched) vouches for it (:func:`clickbench.checkpoints.read_torch`).
    """
    state, digest = checkpoints.read_torch(path, sha256, what="a RITM checkpoint")
    if isinstance(state, list):  # multi-stage checkpoints (NoBRS only): not used by the study
        raise BadInputError(path, "multi-stage RITM checkpoints are not supported")
    if not isinstance(state, dict) or not {"config", "state_dict"} <= set(state):
        raise BadInputError(
            path, "not a RITM checkpoint: expected a dict with config and state_dict"
        )
    return state, digest


def freeze(net: torch.nn.Module) -> torch.nn.Module:
    """Turn off the gradients of ``net``'s weights (as RITM's ``load_is_model``); return it."""
    for param in net.parameters():
        param.requires_grad = False
    return net


#: glibc's mallopt parameters (malloc.h)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
#: what the allocator may keep: blocks up to this size come from the heap, and freed memory
#: at its top goes back to the kernel only beyond it
KEEP_FREED_BYTES = 1 << 30
#: M_MMAP_THRESHOLD's documented upper limit on 64-bit glibc (``man mallopt``), if a C
#: library refuses the larger value
MMAP_THRESHOLD_MAX = 32 << 20
_kept_freed_memory = False


def keep_freed_memory() -> bool:
    """Make glibc's malloc reuse freed memory instead of unmapping it; True if it applied.

    By default glibc serves large blocks with mmap (the threshold adapts, up to 32 MB) and
    returns a heap top beyond twice that threshold to the kernel, so an f-BRS click, which
    frees and reallocates its ~15 MB activations in every L-BFGS evaluation, page-faults
    them in again each time. Fixing both thresholds at :data:`KEEP_FREED_BYTES` (the mmap
    one first: setting either turns off the adaptation, and a fixed 128 kB mmap threshold
    would fault far more) keeps the memory mapped; the process's resident size no longer
    shrinks (its peak was 6% higher on HRNet18s, benchmarks/README.md). Arithmetic is
    untouched (torch aligns its blocks itself): f-BRS's masks stay bit-identical
    (tests/test_ritm_speed.py). Process-wide and idempotent; False, doing nothing, where the
    C library is not glibc.
    """
    global _kept_freed_memory
    if _kept_freed_memory:
        return True
    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    if not (
        mallopt(M_MMAP_THRESHOLD, KEEP_FREED_BYTES) or mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX)
    ):
        return False
    _kept_freed_memory = bool(mallopt(M_TRIM_THRESHOLD, KEEP_FREED_BYTES))
    return _kept_freed_memory


def load_ritm(
    path: str | Path, device: str = "cpu", *, sha256: str | None = None
) -> tuple[torch.nn.Module, str]:
    """Verify and load a RITM model, frozen, in eval mode; return it and the file's SHA-256.

    As RITM's ``load_is_model``, except that the class paths are checked (:func:`checked_config`)
    and the weights loaded strictly (a missing or unexpected key fails, naming it).
    """
    state, digest = read_checkpoint(path, sha256)
    config = checked_config(path, state["config"])
    try:
        net = load_model(config)
    except Exception as err:  # noqa: BLE001
        raise BadInputError(path, f"RITM config cannot be instantiated: {err}") from None
    what = f"RITM {config['class']}"
    net = checkpoints.load_weights(path, net, state["state_dict"], what=what, device=device)
    return freeze(net), digest


def make_predictor(
    net: torch.nn.Module,
    brs_mode: str = DEFAULTS["brs_mode"],
    device: str = "cpu",
    *,
    prob_thresh: float = DEFAULTS["prob_thresh"],
    zoom_in: bool = DEFAULTS["zoom_in"],
    zoom_in_target_size: int = DEFAULTS["zoom_in_target_size"],
):
    """RITM's predictor with evaluate_model.py's settings (see the module docstring), on
    ``net`` with its weights frozen (:func:`freeze`: same results, f-BRS's backward skips the
    weight gradients)."""
    if brs_mode not in BRS_MODES:
        raise ValueError(f"brs_mode must be one of {', '.join(BRS_MODES)}, not {brs_mode!r}")
    zoom_in_params = {"target_size": zoom_in_target_size} if zoom_in else None
    return get_predictor(
        freeze(net),
        brs_mode,
        device,
        prob_thresh=prob_thresh,
        zoom_in_params=zoom_in_params,
        predictor_params={},
    )


def ritm_click(click: Click) -> RitmClick:
    """clickbench's Click -> RITM's (RITM's ``coords`` are (row, col) as well)."""
    return RitmClick(is_positive=bool(click.positive), coords=(int(click.row), int(click.col)))


class RitmModel(InteractiveModel):
    """RITM as an :class:`InteractiveModel`: one mask per step, ``probs > prob_thresh``."""

    name = "ritm"

    def __init__(self, net: torch.nn.Module, predictor, *, prob_thresh: float):
        self.net = net
        self.predictor = predictor
        self.prob_thresh = prob_thresh
        self._image: np.ndarray | None = None
        self._clicks: list[Click] = []
        self._clicker = Clicker()
        self._last: Prediction | None = None
        #: the last step's probability map (H, W) float32
        self.probs: np.ndarray | None = None

    def set_image(self, image: np.ndarray) -> None:
        self._image = np.asarray(image)
        self.reset()

    def reset(self) -> None:
        """A fresh click sequence: RITM's ``set_input_image`` again (zero previous mask, ZoomIn reset)."""
        if self._image is None:
            raise RuntimeError("set_image must be called before reset")
        self.predictor.set_input_image(self._image)
        self._clicks = []
        self._clicker = Clicker()
        self._last = None
        self.probs = None

    @torch.no_grad()
    def _step(self, click: Click) -> Prediction:
        self._clicker.add_click(ritm_click(click))
        self._clicks.append(click)
        probs = self.predictor.get_prediction(self._clicker)
        self.probs = np.asarray(probs, dtype=np.float32)
        mask = probs > self.prob_thresh
        self._last = Prediction(
            masks=mask[None].astype(bool),
            scores=np.ones(1, dtype=np.float32),
            logits=None,
            multi=(0,),
            single=None,
        )
        return self._last

    def predict(
        self,
        clicks: Sequence[Click],
        previous: Prediction | None = None,
        previous_choice: int | None = None,
    ) -> Prediction:
        """Prediction after ``clicks`` (oldest first), RITM's previous-mask state carried on.

        The usual call adds one click to the previous call's clicks. Asked again for the
        same clicks it returns the same prediction; for any other sequence it resets and
        replays the clicks one at a time, which is what RITM's loop would have computed.
        ``previous``/``previous_choice`` are ignored: RITM keeps its own previous mask.
        """
        if self._image is None:
            raise RuntimeError("set_image must be called before predict")
        clicks = [Click(int(c.row), int(c.col), bool(c.positive)) for c in clicks]
        if not clicks:
            raise ValueError("RITM needs at least one click")
        n = len(self._clicks)
        if clicks == self._clicks and self._last is not None:
            return self._last
        if len(clicks) == n + 1 and clicks[:n] == self._clicks:
            return self._step(clicks[-1])
        self.reset()
        for click in clicks:
            pred = self._step(click)
        return pred


def build(spec: dict, options: BuildOptions) -> RitmModel:
    """Build RITM from a model's validated config block (``checkpoint``, ``brs_mode``, ...;
    :func:`clickbench.models.registry.build` validates and fills in the schema's defaults).

    Of ``options`` only the device applies: RITM runs in float32 as published, uncached.
    The process's allocator keeps freed memory from then on (:func:`keep_freed_memory`).
    """
    device = options.device
    keep_freed_memory()
    ckpt = spec["checkpoint"]
    net, digest = load_ritm(ckpt["path"], device, sha256=ckpt.get("sha256"))
    predictor = make_predictor(
        net,
        spec["brs_mode"],
        device,
        prob_thresh=float(spec["prob_thresh"]),
        zoom_in=bool(spec["zoom_in"]),
        zoom_in_target_size=int(spec["zoom_in_target_size"]),
    )
    log.info(
        "RITM loaded from %s (SHA-256 %s), %s, %s", ckpt["path"], digest, spec["brs_mode"], device
    )
    return RitmModel(net, predictor, prob_thresh=float(spec["prob_thresh"]))


__all__ = [
    "BRS_MODES",
    "DEFAULTS",
    "RitmModel",
    "build",
    "freeze",
    "keep_freed_memory",
    "load_ritm",
    "make_predictor",
    "checked_config",
    "read_checkpoint",
    "ritm_click",
]

"""RITM (Sofiiuk et al.) through the ``ritm-annotation`` package, set up as RITM evaluates.

RITM's ``scripts/evaluate_model.py`` (default ``--eval-mode cvpr``, no ``--clicks-limit``)
loads the checkpoint with ``utils.load_is_model(path, device)`` and builds its predictor as
``get_predictor(model, mode, device, prob_thresh=0.49, predictor_params={},
zoom_in_params={"target_size": 400})`` (600 on DAVIS); ``get_predictor`` itself then adds
``with_flip=True``, L-BFGS settings, and ``net_clicks_limit=8`` for f-BRS. ZoomIn's other
parameters keep their defaults (``skip_clicks=1, expansion_ratio=1.4, min_crop_size=200,
recompute_thresh_iou=0.5``). :func:`build` reproduces exactly that; the config may change
``brs_mode``, ``zoom_in`` (on/off), ``prob_thresh`` and ``zoom_in_target_size``.

RITM's predictor is stateful: it feeds its previous prediction back to the network and its
ZoomIn keeps the current crop. :class:`RitmModel` drives it as RITM's ``evaluate_sample``
does, one ``get_prediction`` per new click, and restores a fresh state on ``reset``.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from ritm_annotation.inference.clicker import Click as RitmClick
from ritm_annotation.inference.clicker import Clicker
from ritm_annotation.inference.predictors import get_predictor
from ritm_annotation.utils.serialization import load_model

from clickbench import checkpoints
from clickbench.clicks import Click
from clickbench.errors import BadInputError
from clickbench.models.base import InteractiveModel, Prediction

log = logging.getLogger(__name__)

BRS_MODES = ("NoBRS", "f-BRS-A", "f-BRS-B", "f-BRS-C")

#: RITM evaluate_model.py's ZoomIn target size ("cvpr" mode): 400, or 600 on DAVIS
ZOOM_IN_TARGET_SIZE = 400


def read_checkpoint(path: str | Path, *, trusted: bool = False) -> dict:
    """Read a RITM checkpoint ``{"config", "state_dict"}``.

    ``torch.load(weights_only=True)`` is used: the format holds only tensors, strings,
    numbers, lists, tuples and dicts. A file that needs full unpickling is refused unless
    ``trusted`` (its SHA-256 matched a configured hash), as RITM's own ``load_is_model`` would
    unpickle anything.
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if not trusted:
            raise BadInputError(
                path,
                "needs full unpickling (not loadable with weights_only=True); configure its "
                f"sha256 to trust it: {str(err).splitlines()[0]}",
            ) from None
        log.warning("%s: loading with full unpickling (its SHA-256 matched the config)", path)
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # noqa: BLE001
        raise BadInputError(path, f"cannot be read as a RITM checkpoint: {err}") from None
    if isinstance(state, list):  # multi-stage checkpoints (NoBRS only): not used by the study
        raise BadInputError(path, "multi-stage RITM checkpoints are not supported")
    if not isinstance(state, dict) or not {"config", "state_dict"} <= set(state):
        raise BadInputError(
            path, "not a RITM checkpoint: expected a dict with config and state_dict"
        )
    return state


def load_ritm(path: str | Path, device: str = "cpu", *, trusted: bool = False) -> torch.nn.Module:
    """Load a RITM model as RITM's ``load_is_model`` does (``strict=False``), frozen, eval mode."""
    state = read_checkpoint(path, trusted=trusted)
    try:
        net = load_model(state["config"])
    except Exception as err:  # noqa: BLE001
        raise BadInputError(path, f"RITM config cannot be instantiated: {err}") from None
    result = net.load_state_dict(state["state_dict"], strict=False)
    if result.missing_keys or result.unexpected_keys:
        own = len(net.state_dict())
        if len(result.missing_keys) == own:
            raise BadInputError(path, "no weight in the checkpoint matches the model's config")
        log.warning(
            "%s: %d missing and %d unexpected keys (RITM loads with strict=False)",
            path,
            len(result.missing_keys),
            len(result.unexpected_keys),
        )
    for param in net.parameters():
        param.requires_grad = False
    net.to(device)
    net.eval()
    return net


def make_predictor(
    net: torch.nn.Module,
    brs_mode: str = "f-BRS-B",
    device: str = "cpu",
    *,
    prob_thresh: float = 0.49,
    zoom_in: bool = True,
    zoom_in_target_size: int = ZOOM_IN_TARGET_SIZE,
):
    """RITM's predictor with evaluate_model.py's settings (see the module docstring)."""
    if brs_mode not in BRS_MODES:
        raise ValueError(f"brs_mode must be one of {', '.join(BRS_MODES)}, not {brs_mode!r}")
    zoom_in_params = {"target_size": zoom_in_target_size} if zoom_in else None
    return get_predictor(
        net,
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

    def __init__(self, net: torch.nn.Module, predictor, *, prob_thresh: float = 0.49):
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


def build(
    spec: dict,
    *,
    device: str = "cpu",
    precision: str = "fp32",
    cache_dir: str | Path | None = None,
) -> RitmModel:
    """Build RITM from a model's config block (``checkpoint``, ``brs_mode``, ``zoom_in``, ...).

    ``precision`` and ``cache_dir`` concern SAM only; RITM runs in float32 as published.
    """
    ckpt = spec["checkpoint"]
    digest = checkpoints.verify(ckpt["path"], ckpt.get("sha256"))
    net = load_ritm(ckpt["path"], device, trusted=ckpt.get("sha256") is not None)
    prob_thresh = float(spec.get("prob_thresh", 0.49))
    predictor = make_predictor(
        net,
        spec.get("brs_mode", "f-BRS-B"),
        device,
        prob_thresh=prob_thresh,
        zoom_in=bool(spec.get("zoom_in", True)),
        zoom_in_target_size=int(spec.get("zoom_in_target_size", ZOOM_IN_TARGET_SIZE)),
    )
    log.info(
        "RITM loaded from %s (SHA-256 %s), %s, %s",
        ckpt["path"],
        digest,
        spec.get("brs_mode"),
        device,
    )
    return RitmModel(net, predictor, prob_thresh=prob_thresh)


__all__ = [
    "BRS_MODES",
    "RitmModel",
    "build",
    "load_ritm",
    "make_predictor",
    "read_checkpoint",
    "ritm_click",
]

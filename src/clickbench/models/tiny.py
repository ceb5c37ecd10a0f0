"""Tiny randomly initialised SAM and RITM models, saved in the real checkpoint formats.

Tests and the embedded demo cannot download the real weights, so they build the models
from the libraries' own classes at a fraction of the size and save them exactly as the
real checkpoints are stored:

- SAM: a plain ``state_dict`` of :class:`segment_anything.modeling.Sam`, loadable by the
  ``tiny`` entry of :data:`clickbench.models.sam.VARIANTS` (HQ-SAM's tiny variant is the same
  architecture with HQ-SAM's decoder, :func:`build_sam_tiny`) (image size 1024, patch 16,
  64x64 embedding and 256x256 low-res masks as in the real models; a 2-block ViT of width
  64 and a decoder of width 64).
- RITM: ``{"state_dict": model.state_dict(), "config": model._config}`` of
  :class:`ritm_annotation.model.is_hrnet_model.HRNetModel` (HRNet18s' IT-M settings at
  width 8), as RITM's trainer saves it (``isegm/utils/misc.py save_checkpoint``), with the
  class paths RITM's released files carry: RITM's code is the package ``isegm``, so the
  config names ``isegm.model.is_hrnet_model.HRNetModel`` (:func:`released_config`), not the
  ``ritm_annotation`` module path of the PyPI port. Its output is calibrated so masks respond
  to clicks (:func:`build_ritm_tiny`).

Weights are drawn from a seeded generator, so a seed always gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

from clickbench.atomic import write_atomic

T = TypeVar("T")

#: the tiny SAM's architecture (ImageEncoderViT / PromptEncoder / MaskDecoder arguments)
TINY_SAM = {
    "encoder_embed_dim": 64,
    "encoder_depth": 2,
    "encoder_num_heads": 2,
    "encoder_global_attn_indexes": (1,),
    "prompt_embed_dim": 64,
    "decoder_mlp_dim": 256,
    "decoder_num_heads": 2,
}

#: the tiny RITM's HRNetModel arguments (hrnet18s_cocolvis_itermask_3p's, width 18 -> 8)
TINY_RITM = {
    "width": 8,
    "ocr_width": 16,
    "small": True,
    "with_aux_output": True,
    "use_leaky_relu": True,
    "use_rgb_conv": False,
    "use_disks": True,
    "norm_radius": 5,
    "with_prev_mask": True,
}


def build_sam_tiny(
    package: str = "segment_anything", decoder: str = "MaskDecoder", **decoder_options
):
    """A small ``Sam`` of ``package``, built as its ``build_sam._build_sam`` builds vit_*.

    Same image size (1024), patch size (16), window size, relative positions and mask
    decoder structure; only widths and depths are smaller (:data:`TINY_SAM`). ``package``
    and ``decoder`` name the modeling classes: segment-anything's by default, HQ-SAM's
    with ``("segment_anything_hq", "MaskDecoderHQ", vit_dim=...)``. Returned in eval mode.
    """
    import importlib

    import torch

    modeling = importlib.import_module(f"{package}.modeling")
    t = TINY_SAM
    image_size, patch = 1024, 16
    grid = image_size // patch
    sam = modeling.Sam(
        image_encoder=modeling.ImageEncoderViT(
            depth=t["encoder_depth"],
            embed_dim=t["encoder_embed_dim"],
            img_size=image_size,
            mlp_ratio=4,
            norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
            num_heads=t["encoder_num_heads"],
            patch_size=patch,
            qkv_bias=True,
            use_rel_pos=True,
            global_attn_indexes=list(t["encoder_global_attn_indexes"]),
            window_size=14,
            out_chans=t["prompt_embed_dim"],
        ),
        prompt_encoder=modeling.PromptEncoder(
            embed_dim=t["prompt_embed_dim"],
            image_embedding_size=(grid, grid),
            input_image_size=(image_size, image_size),
            mask_in_chans=16,
        ),
        mask_decoder=getattr(modeling, decoder)(
            num_multimask_outputs=3,
            transformer=modeling.TwoWayTransformer(
                depth=2,
                embedding_dim=t["prompt_embed_dim"],
                mlp_dim=t["decoder_mlp_dim"],
                num_heads=t["decoder_num_heads"],
            ),
            transformer_dim=t["prompt_embed_dim"],
            iou_head_depth=3,
            iou_head_hidden_dim=t["prompt_embed_dim"],
            **decoder_options,
        ),
        pixel_mean=[123.675, 116.28, 103.53],
        pixel_std=[58.395, 57.12, 57.375],
    )
    sam.eval()
    return sam


#: the tiny RITM's click-map scale (ScaleLayer) and output logit spread after calibration
TINY_RITM_CLICK_SCALE = 5.0
TINY_RITM_LOGIT_STD = 4.0


def build_ritm_tiny():
    """A small RITM :class:`HRNetModel`, initialised as RITM's training scripts do.

    Freshly initialised, the network ignores clicks (the click maps enter through a
    ScaleLayer initialised at 0.05) and its logits are in the hundreds, so every mask is
    empty or full. Two deterministic adjustments make it a useful stand-in: the click-map
    scale is set to :data:`TINY_RITM_CLICK_SCALE`, and the final classifier is rescaled so
    that on a fixed probe input its logits have spread :data:`TINY_RITM_LOGIT_STD` around 0.
    """
    from ritm_annotation.model import initializer
    from ritm_annotation.model.is_hrnet_model import HRNetModel

    model = HRNetModel(**TINY_RITM)
    model.apply(initializer.XavierGluon(rnd_type="gaussian", magnitude=2.0))
    model.eval()
    return calibrate_ritm(model)


def calibrate_ritm(
    model, click_scale: float = TINY_RITM_CLICK_SCALE, logit_std: float = TINY_RITM_LOGIT_STD
):
    """Make a randomly initialised RITM model respond to clicks (see :func:`build_ritm_tiny`).

    Sets every ScaleLayer (the click maps' gain) to ``click_scale`` and rescales the final
    classifier so that its logits on a fixed probe have spread ``logit_std`` and median 0.
    Deterministic; returns the model.
    """
    import torch
    from ritm_annotation.model.ops import ScaleLayer

    model.eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, ScaleLayer):
                module.scale.fill_(click_scale / module.lr_mult)
        probe = torch.rand(1, 4, 128, 128, generator=torch.Generator().manual_seed(0))
        probe[:, 3] = 0  # previous mask channel
        points = torch.tensor([[[64, 64, 0], [-1, -1, -1]]])
        head = model.feature_extractor.cls_head
        logits = model(probe, points)["instances"]
        gain = logit_std / float(logits.std())
        head.weight.mul_(gain)
        head.bias.mul_(gain)
        head.bias.sub_(model(probe, points)["instances"].median())
    return model


#: RITM's own package name, as the class paths in its released checkpoints spell it
RITM_RELEASE_PACKAGE = "isegm"
#: the PyPI port's package name, which ``model._config`` spells when built from it
RITM_PYPI_PACKAGE = "ritm_annotation"


def released_config(config: dict) -> dict:
    """``model._config`` of a ritm-annotation model as RITM's own code would have written it:
    the model class (and any class-valued parameter) under ``isegm.`` instead of
    ``ritm_annotation.``; torch classes (``torch.nn.modules.batchnorm.BatchNorm2d``) as they
    are. The parameter names and values of the two packages' HRNetModel are the same."""

    def rename(path: str) -> str:
        head, _, rest = path.partition(".")
        return f"{RITM_RELEASE_PACKAGE}.{rest}" if head == RITM_PYPI_PACKAGE else path

    params = {
        name: {**p, "value": rename(p["value"])} if p["type"] == "class" else dict(p)
        for name, p in config["params"].items()
    }
    return {"class": rename(config["class"]), "params": params}


def seeded(build: Callable[[], T], seed: int = 0) -> T:
    """``build()`` with torch's generator seeded by ``seed`` (its state restored after): the
    same seed builds the same weights."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def save_checkpoint(path: str | Path, obj) -> Path:
    """``torch.save(obj)`` to ``path`` atomically; returns the path."""
    import torch

    path = Path(path)
    write_atomic(path, lambda fh: torch.save(obj, fh))
    return path


def make_tiny_model(kind: str, seed: int = 0):
    """Build the tiny ``kind`` (``sam`` or ``ritm``) model with weights drawn from ``seed``."""
    builders = {"sam": build_sam_tiny, "ritm": build_ritm_tiny}
    if kind not in builders:
        raise ValueError(f"unknown tiny model kind {kind!r}; known: {', '.join(builders)}")
    return seeded(builders[kind], seed)


def make_tiny_checkpoint(kind: str, path: str | Path, seed: int = 0) -> Path:
    """Save a tiny randomly initialised ``kind`` model to ``path`` in its real format.

    ``sam``: the model's ``state_dict``. ``ritm``: ``{"state_dict", "config"}`` with RITM's
    released class paths (:func:`released_config`). The file is written atomically; the same
    seed gives the same bytes.
    """
    model = make_tiny_model(kind, seed)
    if kind == "sam":
        obj = model.state_dict()
    else:
        obj = {"state_dict": model.state_dict(), "config": released_config(model._config)}
    return save_checkpoint(path, obj)


__all__ = [
    "RITM_PYPI_PACKAGE",
    "RITM_RELEASE_PACKAGE",
    "TINY_RITM",
    "TINY_RITM_CLICK_SCALE",
    "TINY_RITM_LOGIT_STD",
    "TINY_SAM",
    "build_ritm_tiny",
    "build_sam_tiny",
    "calibrate_ritm",
    "make_tiny_checkpoint",
    "make_tiny_model",
    "released_config",
    "save_checkpoint",
    "seeded",
]

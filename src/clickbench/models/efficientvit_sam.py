"""EfficientViT-SAM (a light SAM) through the ``efficientsam`` package.

EfficientViT-SAM keeps SAM's prompt encoder and mask decoder and replaces the ViT image
encoder with an EfficientViT backbone and neck. ``efficientsam`` 1.0.0 packages its code
(``efficientsam.sam_model_zoo.create_efficientvit_sam_model``,
``efficientsam.models.efficientvit.EfficientViTSamPredictor``). Differences from SAM v1:

- the encoder takes the image resized so its long side is 512 (``l0``, ``l1``, ``l2``) or
  1024 (``xl0``, ``xl1``), padded to a square; the prompt frame stays SAM's (long side
  1024), so click coordinates and low-res logits are in SAM v1's frame;
- the package's predictor scales coordinates by (new / old) per axis, as SAM's
  ``ResizeLongestSide`` up to rounding of the resized size.

Candidates are :mod:`clickbench.models.sam`'s four (the decoder is SAM's): the shared
``SamModel.predict`` runs on this predictor; encoding, the embedding cache and the key-checked
loading are this module's. Checkpoints are the plain state dicts the package loads
(``{"state_dict": ...}`` is unwrapped as its ``load_state_dict_from_file`` does).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from clickbench import checkpoints
from clickbench.embedding_cache import Embedding, EmbeddingCache, cache_key
from clickbench.models.sam import PRECISIONS, SamModel
from clickbench.models.state_dicts import load_exact, read_checkpoint

log = logging.getLogger(__name__)

#: the package's model names (efficientsam.sam_model_zoo.REGISTERED_EFFICIENTVIT_SAM_MODEL)
PACKAGE_NAMES = {v: f"efficientvit-sam-{v}" for v in ("l0", "l1", "l2", "xl0", "xl1")}


def build_efficientvit_tiny():
    """A small EfficientViT-SAM from the package's own classes: a 5-stage EfficientViT of
    widths 8-32 (one block each), a one-block neck, SAM's decoder at its fixed width 256
    with a 256-wide MLP; encoder input 512, as ``l0``. Norm eps as the package sets it."""
    from efficientsam.models.efficientvit import (
        EfficientViTLargeBackbone,
        EfficientViTSam,
        EfficientViTSamImageEncoder,
        SamNeck,
    )
    from efficientsam.models.nn.norm import set_norm_eps
    from efficientsam.segment_anything.modeling import (
        MaskDecoder,
        PromptEncoder,
        TwoWayTransformer,
    )

    backbone = EfficientViTLargeBackbone(width_list=[8, 8, 16, 16, 32], depth_list=[1, 1, 1, 1, 1])
    neck = SamNeck(
        fid_list=["stage4", "stage3", "stage2"],
        in_channel_list=[32, 16, 16],
        head_width=16,
        head_depth=1,
        expand_ratio=1,
        middle_op="fmb",
    )
    model = EfficientViTSam(
        image_encoder=EfficientViTSamImageEncoder(backbone, neck),
        prompt_encoder=PromptEncoder(
            embed_dim=256,
            image_embedding_size=(64, 64),
            input_image_size=(1024, 1024),
            mask_in_chans=16,
        ),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(depth=2, embedding_dim=256, mlp_dim=256, num_heads=2),
            transformer_dim=256,
            iou_head_depth=3,
            iou_head_hidden_dim=64,
        ),
        image_size=(1024, 512),
    )
    set_norm_eps(model, 1e-6)
    model.eval()
    return model


def build_architecture(variant: str):
    """The untrained model of ``variant`` (``l0`` ... ``xl1``, ``tiny``), in eval mode."""
    if variant == "tiny":
        return build_efficientvit_tiny()
    if variant not in PACKAGE_NAMES:
        known = ", ".join([*PACKAGE_NAMES, "tiny"])
        raise ValueError(f"unknown EfficientViT-SAM variant {variant!r}; known: {known}")
    from efficientsam.sam_model_zoo import create_efficientvit_sam_model

    return create_efficientvit_sam_model(PACKAGE_NAMES[variant], pretrained=False).eval()


VARIANTS = (*PACKAGE_NAMES, "tiny")


def load_efficientvit_sam(variant: str, path: str | Path, device: str = "cpu"):
    """Build ``variant`` and load its checkpoint, every key checked."""
    state = read_checkpoint(path, "an EfficientViT-SAM checkpoint")
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    model = build_architecture(variant)
    load_exact(model, state, path, f"EfficientViT-SAM variant {variant!r}")
    model.to(device)
    model.eval()
    return model


class EfficientVitSamModel(SamModel):
    """EfficientViT-SAM as an :class:`InteractiveModel`: SAM's candidates and decoder calls
    (:meth:`SamModel.predict`) on the package's predictor; its own encoder input."""

    name = "efficientvit_sam"

    def __init__(
        self,
        model,
        *,
        variant: str,
        checkpoint_sha256: str,
        device: str = "cpu",
        precision: str = "fp32",
        cache_dir: str | Path | None = None,
        mask_input: bool = False,
    ):
        # SamModel's attributes, with the package's predictor (SamPredictor needs a ViT)
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
        from efficientsam.models.efficientvit import EfficientViTSamPredictor

        self.predictor = EfficientViTSamPredictor(model)
        self.variant = variant
        self.checkpoint_sha256 = checkpoint_sha256
        self.device = device
        self.precision = precision
        self.mask_input = mask_input
        self.accelerate = "none"  # the schema allows no other value for this type
        self.cache = EmbeddingCache(cache_dir) if cache_dir is not None else None
        self.encodings = 0
        self.last_hit: bool | None = None

    def _key(self, image: np.ndarray) -> tuple[str, dict[str, str]]:
        _, meta = super()._key(image)
        meta = {**meta, "variant": f"efficientvit_sam:{self.variant}"}
        return cache_key(*meta.values()), meta

    @torch.no_grad()
    def encode(self, images: Sequence[np.ndarray]) -> list[Embedding]:
        """Encode as ``EfficientViTSamPredictor.set_image`` (the model's own transform)."""
        from efficientsam.segment_anything.utils.transforms import ResizeLongestSide

        m = self.sam
        dtype = PRECISIONS[self.precision]
        out = []
        for image in images:
            if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
                raise ValueError(
                    f"expected an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}"
                )
            batch = m.transform(image).unsqueeze(0).to(self.device)
            if dtype is None:
                features = m.image_encoder(batch)
            else:
                with torch.autocast(device_type=self._device_type(), dtype=dtype):
                    features = m.image_encoder(batch)
            size = tuple(int(s) for s in image.shape[:2])
            out.append(
                Embedding(
                    features=features.float().cpu().numpy(),
                    original_size=size,
                    input_size=ResizeLongestSide.get_preprocess_shape(
                        *size, long_side_length=m.image_size[0]
                    ),
                )
            )
        self.encodings += len(images)
        return out

    def set_embedding(self, emb: Embedding) -> None:
        p = self.predictor
        p.reset_image()
        p.features = torch.as_tensor(emb.features, device=self.device)
        p.original_size = tuple(emb.original_size)
        p.input_size = tuple(emb.input_size)
        p.is_image_set = True


def build(
    spec: dict,
    *,
    device: str = "cpu",
    precision: str = "fp32",
    cache_dir: str | Path | None = None,
) -> EfficientVitSamModel:
    """Build EfficientViT-SAM from a model's config block (``variant``, ``checkpoint``,
    ``mask_input``); the checkpoint is verified against its SHA-256 first."""
    ckpt = spec["checkpoint"]
    variant = spec["variant"]
    digest = checkpoints.verify(ckpt["path"], ckpt.get("sha256"))
    model = load_efficientvit_sam(variant, ckpt["path"], device)
    log.info("EfficientViT-SAM %s loaded from %s (SHA-256 %s)", variant, ckpt["path"], digest)
    return EfficientVitSamModel(
        model,
        variant=variant,
        checkpoint_sha256=digest,
        device=device,
        precision=precision,
        cache_dir=cache_dir,
        mask_input=bool(spec["mask_input"]),
    )


def make_tiny_checkpoint(path: str | Path, seed: int = 0) -> Path:
    """Save the ``tiny`` variant with weights drawn from ``seed`` as a plain state dict."""
    from clickbench.atomic import write_atomic

    path = Path(path)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_efficientvit_tiny()
    write_atomic(path, lambda fh: torch.save(model.state_dict(), fh))
    return path


__all__ = [
    "VARIANTS",
    "EfficientVitSamModel",
    "build",
    "build_efficientvit_tiny",
    "load_efficientvit_sam",
    "make_tiny_checkpoint",
]

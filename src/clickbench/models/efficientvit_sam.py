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

Candidates are :mod:`clickbench.models.sam`'s four (the decoder is SAM's): :class:`SamModel`'s
embedding cache, ``set_image`` and ``predict`` run on this package's predictor; the encoding
and the builders are this module's, the key-checked loading :mod:`clickbench.checkpoints`'. Checkpoints are the plain state dicts the package loads
(``{"state_dict": ...}`` is unwrapped as its ``load_state_dict_from_file`` does).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from clickbench import checkpoints
from clickbench.embedding_cache import Embedding
from clickbench.models.sam import SamModel
from clickbench.models.tiny import save_checkpoint, seeded

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


def load_efficientvit_sam(
    variant: str, path: str | Path, device: str = "cpu", *, sha256: str | None = None
):
    """Verify ``path``, build ``variant`` and load its checkpoint, every key checked; return
    the model and the file's SHA-256."""
    state, digest = checkpoints.read_torch(path, sha256, what="an EfficientViT-SAM checkpoint")
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    what = f"EfficientViT-SAM variant {variant!r}"
    model = checkpoints.load_weights(
        path, build_architecture(variant), state, what=what, device=device
    )
    return model, digest


class EfficientVitSamModel(SamModel):
    """EfficientViT-SAM as an :class:`InteractiveModel`: SAM's candidates and decoder calls
    (:class:`SamModel`) on the package's predictor; its own encoder input."""

    name = "efficientvit_sam"
    label = "EfficientViT-SAM"
    cache_prefix = "efficientvit_sam:"

    @classmethod
    def load(cls, spec: dict, device: str):
        ckpt = spec["checkpoint"]
        return load_efficientvit_sam(
            spec["variant"], ckpt["path"], device, sha256=ckpt.get("sha256")
        )

    def _predictor(self, model):
        """The package's predictor (``SamPredictor`` needs a ViT encoder)."""
        from efficientsam.models.efficientvit import EfficientViTSamPredictor

        return EfficientViTSamPredictor(model)

    def _encode(self, images: Sequence[np.ndarray]) -> list[Embedding]:
        """As ``EfficientViTSamPredictor.set_image`` (the model's own transform), one image
        at a time."""
        from efficientsam.segment_anything.utils.transforms import ResizeLongestSide

        m = self.sam
        out = []
        for image in images:
            batch = m.transform(image).unsqueeze(0).to(self.device)
            features = self.run_encoder(m.image_encoder, batch)
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
        return out


#: the registry's builder (:meth:`~clickbench.models.sam_family.SamFamilyModel.build`)
build = EfficientVitSamModel.build


def make_tiny_checkpoint(path: str | Path, seed: int = 0) -> Path:
    """Save the ``tiny`` variant with weights drawn from ``seed`` as a plain state dict."""
    return save_checkpoint(path, seeded(build_efficientvit_tiny, seed).state_dict())


__all__ = [
    "VARIANTS",
    "EfficientVitSamModel",
    "build",
    "build_efficientvit_tiny",
    "load_efficientvit_sam",
    "make_tiny_checkpoint",
]

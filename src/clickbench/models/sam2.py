"""SAM 2 and SAM 2.1 through the ``sam2`` package (``build_sam2``, ``SAM2ImagePredictor``).

At every click step the model returns four candidates from one mask-decoder call, in the
same order as :mod:`clickbench.models.sam`:

    index 0, 1, 2   the three masks of ``multimask_output=True``    (Prediction.multi)
    index 3         the mask of ``multimask_output=False``          (Prediction.single)

``SAM2ImagePredictor.predict`` with ``multimask_output=False`` does not simply return
decoder token 0: ``build_sam2``'s default postprocessing (``apply_postprocessing=True``)
turns on the mask decoder's *dynamic multimask fallback*: when token 0's mask is unstable
(the IoU between its logits thresholded at +0.05 and at -0.05 is below 0.98), the best of
the three multimask outputs by predicted IoU is returned instead. Candidate 3 applies the
same rule (config ``multimask_fallback``, default true, as ``build_sam2``); the tests
compare every candidate, score and low-res logit with the predictor's own two calls.

Differences from SAM v1 that this module handles:

- ``set_image`` resizes the image to a 1024 x 1024 square (aspect not kept); SAM v1 resizes
  the longest side to 1024 and pads. The 256 x 256 low-res logits therefore live in
  different frames: SAM 2 logits fed to SAM v1 as ``mask_input`` (or back) are misplaced.
  clickbench only ever feeds a model its own previous logits.
- Click coordinates go in as pixels of the original image with ``normalize_coords=True``
  (x / W and y / H, times 1024), as ``SAM2ImagePredictor.predict`` does by default.
- The returned low-res logits are clamped to [-32, 32], as the predictor returns them; the
  masks are thresholded before the clamp, as the predictor does.
- ``build_sam2`` defaults to ``device="cuda"``; clickbench always passes its resolved
  device (config ``device``), so a CPU run never touches CUDA.
- The architecture comes from a Hydra config inside the package (``configs/sam2.1/...``,
  :data:`VARIANTS`); the weights from the checkpoint, ``{"model": state_dict}``, read with
  ``weights_only=True`` and loaded with every key checked (:mod:`clickbench.checkpoints`).

The embedding cache, ``set_image`` and ``predict`` plumbing is
:class:`~clickbench.models.sam_family.SamFamilyModel`'s; this module gives SAM 2's predictor,
encoding and decoder call. SAM 2 takes no box prompt here (``supports_box`` false) and, as
before the shared class, has no batched :meth:`prepare`: it encodes in ``set_image``.

The image features (a 64 x 64 embedding and two high-resolution maps, 128 x 128 and
256 x 256) are cached on disk as one ``(1, C, 64, 64)`` array: the high-resolution maps are
folded into 64 x 64 by ``pixel_unshuffle`` (exact and reversible, :func:`pack_features`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from clickbench import checkpoints
from clickbench.clicks import Click
from clickbench.embedding_cache import Embedding
from clickbench.errors import BadInputError
from clickbench.models.sam_family import (
    TOKEN_ORDER,
    SamFamilyModel,
    clicks_to_points,
    variant_entry,
)
from clickbench.models.tiny import save_checkpoint, seeded

#: Hydra overrides of ``sam2.1_hiera_t`` that make the tiny test model: a 5-block Hiera of
#: width 8 and every 256-wide part (neck, decoder, memory) at width 64 (1.2 M parameters).
TINY_OVERRIDES = (
    "++model.image_encoder.trunk.embed_dim=8",
    "++model.image_encoder.trunk.num_heads=1",
    "++model.image_encoder.trunk.stages=[1,1,2,1]",
    "++model.image_encoder.trunk.global_att_blocks=[3]",
    "++model.image_encoder.neck.backbone_channel_list=[64,32,16,8]",
    "++model.image_encoder.neck.d_model=64",
    "++model.image_encoder.neck.position_encoding.num_pos_feats=64",
    "++model.memory_attention.num_layers=1",
    "++model.memory_attention.d_model=64",
    "++model.memory_attention.layer.d_model=64",
    "++model.memory_attention.layer.dim_feedforward=256",
    "++model.memory_attention.layer.self_attention.embedding_dim=64",
    "++model.memory_attention.layer.cross_attention.embedding_dim=64",
    "++model.memory_encoder.in_dim=64",
    "++model.memory_encoder.mask_downsampler.embed_dim=64",
    "++model.memory_encoder.fuser.layer.dim=64",
)

#: variant -> (Hydra config name inside the sam2 package, overrides)
VARIANTS: dict[str, tuple[str, tuple[str, ...]]] = {
    **{
        f"sam2{v}_hiera_{size}": (f"configs/sam2{v}/sam2{v}_hiera_{size}.yaml", ())
        for v in ("", ".1")
        for size in ("t", "s", "b+", "l")
    },
    "tiny": ("configs/sam2.1/sam2.1_hiera_t.yaml", TINY_OVERRIDES),
}


def build_architecture(
    variant: str, *, multimask_fallback: bool = True, device: str = "cpu"
) -> torch.nn.Module:
    """The untrained ``SAM2Base`` of ``variant``, built by ``sam2.build_sam.build_sam2``
    (no checkpoint; ``apply_postprocessing=multimask_fallback``), in eval mode."""
    config_name, overrides = variant_entry(VARIANTS, variant, "SAM 2")
    from sam2.build_sam import build_sam2

    return build_sam2(
        config_name,
        None,
        device=device,
        apply_postprocessing=multimask_fallback,
        hydra_overrides_extra=list(overrides),
    )


def load_sam2(
    variant: str,
    path: str | Path,
    device: str = "cpu",
    *,
    multimask_fallback: bool = True,
    sha256: str | None = None,
) -> tuple[torch.nn.Module, str]:
    """Verify ``path``, build ``variant`` and load a ``{"model": state_dict}`` checkpoint into
    it, every key checked (a missing, unexpected or misshapen tensor fails naming it); return
    the model and the file's SHA-256."""
    ckpt, digest = checkpoints.read_torch(path, sha256, what="a SAM 2 checkpoint")
    if not isinstance(ckpt, dict) or "model" not in ckpt:
        found = sorted(ckpt)[:5] if isinstance(ckpt, dict) else type(ckpt).__name__
        raise BadInputError(
            path, f"not a SAM 2 checkpoint: expected {{'model': state_dict}}, found {found}"
        )
    model = build_architecture(variant, multimask_fallback=multimask_fallback)
    what = f"SAM 2 variant {variant!r}"
    return checkpoints.load_weights(path, model, ckpt["model"], what=what, device=device), digest


def high_res_channels(model) -> tuple[int, int]:
    """Channels of the 256 x 256 and 128 x 128 feature maps the mask decoder takes."""
    dec = model.sam_mask_decoder
    return dec.conv_s0.out_channels, dec.conv_s1.out_channels


def pack_features(features: dict) -> np.ndarray:
    """``SAM2ImagePredictor._features`` of one image -> one (1, C, 64, 64) float32 array:
    ``image_embed`` then ``high_res_feats`` [1] (2x2 unshuffled) and [0] (4x4 unshuffled)."""
    s0, s1 = features["high_res_feats"]
    parts = [features["image_embed"], F.pixel_unshuffle(s1, 2), F.pixel_unshuffle(s0, 4)]
    return torch.cat(parts, dim=1).float().cpu().numpy()


def unpack_features(packed: np.ndarray, channels: tuple[int, int], device: str) -> dict:
    """Inverse of :func:`pack_features` (``channels``: :func:`high_res_channels`)."""
    c0, c1 = channels
    t = torch.as_tensor(packed, device=device)
    embed_c = t.shape[1] - 4 * c1 - 16 * c0
    embed, s1, s0 = torch.split(t, [embed_c, 4 * c1, 16 * c0], dim=1)
    return {
        "image_embed": embed.contiguous(),
        "high_res_feats": [F.pixel_shuffle(s0, 4), F.pixel_shuffle(s1, 2)],
    }


class Sam2Model(SamFamilyModel):
    """SAM 2 / 2.1 as an :class:`InteractiveModel` (candidates: see the module docstring)."""

    name = "sam2"
    label = "SAM 2"
    cache_prefix = "sam2:"
    #: no batched encoding (see the module docstring): the runner calls ``prepare`` only
    #: on models that have one
    prepare = None

    def __init__(self, model, *, multimask_fallback: bool = True, **kwargs):
        super().__init__(**kwargs)
        from sam2.sam2_image_predictor import SAM2ImagePredictor

        self.predictor = SAM2ImagePredictor(model)
        self.multimask_fallback = multimask_fallback
        self._channels = high_res_channels(model)

    @classmethod
    def load(cls, spec: dict, device: str):
        ckpt = spec["checkpoint"]
        fallback = bool(spec["multimask_fallback"])
        path, sha256 = ckpt["path"], ckpt.get("sha256")
        return load_sam2(spec["variant"], path, device, multimask_fallback=fallback, sha256=sha256)

    @classmethod
    def settings(cls, spec: dict) -> dict:
        return {"multimask_fallback": bool(spec["multimask_fallback"])}

    @property
    def model(self):
        return self.predictor.model

    # ------------------------------------------------------------------ encoding
    def _encode(self, images: Sequence[np.ndarray]) -> list[Embedding]:
        """As ``SAM2ImagePredictor.set_image`` (one batch); returns packed embeddings."""
        p, m = self.predictor, self.model
        batch = torch.stack([p._transforms(image) for image in images]).to(self.device)
        backbone_out = self.run_encoder(m.forward_image, batch)
        _, vision_feats, _, _ = m._prepare_backbone_features(backbone_out)
        if m.directly_add_no_mem_embed:
            vision_feats[-1] = vision_feats[-1] + m.no_mem_embed
        n = len(images)
        feats = [
            feat.float().permute(1, 2, 0).reshape(n, -1, *size)
            for feat, size in zip(vision_feats[::-1], p._bb_feat_sizes[::-1], strict=True)
        ][::-1]
        out = []
        for j, image in enumerate(images):
            one = {
                "image_embed": feats[-1][j : j + 1],
                "high_res_feats": [f[j : j + 1] for f in feats[:-1]],
            }
            out.append(
                Embedding(
                    features=pack_features(one),
                    original_size=tuple(int(s) for s in image.shape[:2]),
                    input_size=(m.image_size, m.image_size),
                )
            )
        return out

    def set_embedding(self, emb: Embedding) -> None:
        """Put an embedding into the predictor, as ``SAM2ImagePredictor.set_image`` leaves it."""
        p = self.predictor
        p.reset_predictor()
        p._features = unpack_features(emb.features, self._channels, self.device)
        p._orig_hw = [tuple(emb.original_size)]
        p._is_image_set = True

    # ------------------------------------------------------------------ decoding
    def _image_is_set(self) -> bool:
        return self.predictor._is_image_set

    def _decode(self, clicks: Sequence[Click], box, mask_logits: np.ndarray | None):
        """As ``SAM2ImagePredictor.predict`` with ``normalize_coords=True``; candidate 3 with
        the dynamic multimask fallback when on; logits clamped to [-32, 32] after the masks
        are thresholded."""
        p, m = self.predictor, self.model
        coords, labels = clicks_to_points(clicks)
        mask_t, coords_t, labels_t, _ = p._prep_prompts(
            coords, labels, None, mask_logits, normalize_coords=True
        )
        sparse, dense = m.sam_prompt_encoder(points=(coords_t, labels_t), boxes=None, masks=mask_t)
        dec = m.sam_mask_decoder
        low_res, iou, _, _ = dec.predict_masks(
            image_embeddings=p._features["image_embed"],
            image_pe=m.sam_prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            repeat_image=False,
            high_res_features=p._features["high_res_feats"],
        )
        if self.multimask_fallback and dec.dynamic_multimask_via_stability:
            single, single_iou = dec._dynamic_multimask_via_stability(low_res, iou)
        else:
            single, single_iou = low_res[:, :1], iou[:, :1]
        multi = [i for i in TOKEN_ORDER if i != 0]
        low_res = torch.cat([low_res[:, multi], single], dim=1)
        iou = torch.cat([iou[:, multi], single_iou], dim=1)
        masks = p._transforms.postprocess_masks(low_res, p._orig_hw[-1]) > p.mask_threshold
        return masks, iou, torch.clamp(low_res, -32.0, 32.0)


#: the registry's builder (:meth:`~clickbench.models.sam_family.SamFamilyModel.build`)
build = Sam2Model.build


def make_tiny_checkpoint(path: str | Path, seed: int = 0) -> Path:
    """Save the ``tiny`` variant with weights drawn from ``seed`` as ``{"model": state_dict}``
    (the official checkpoints' format), atomically; the same seed gives the same bytes."""
    model = seeded(lambda: build_architecture("tiny"), seed)
    return save_checkpoint(path, {"model": model.state_dict()})


__all__ = [
    "VARIANTS",
    "Sam2Model",
    "build",
    "build_architecture",
    "load_sam2",
    "make_tiny_checkpoint",
    "pack_features",
    "unpack_features",
]

"""HQ-SAM through the ``segment-anything-hq`` package (imported as ``segment_anything_hq``).

HQ-SAM is SAM with one more output token (the HQ token) whose mask is computed from the
decoder's upscaled embedding fused with an early ViT feature map (``interm_embeddings[0]``,
after the first global-attention block). Its own ``SamPredictor.predict`` returns one mask:

- ``multimask_output=True``: the SAM multimask token with the highest predicted IoU, its
  logits *plus* the HQ token's logits, with that IoU as the score;
- ``multimask_output=False``: SAM token 0 plus the HQ logits, token 0's IoU;
- ``hq_token_only=True``: the HQ token's logits alone (the score as above).

clickbench decodes once and returns four candidates in :mod:`clickbench.models.sam`'s
order, each the corresponding SAM token plus the HQ token (or the HQ mask alone, repeated,
with ``hq_token_only``), with the SAM token's IoU as score: ``max_score`` over
``multi=(0, 1, 2)`` is exactly ``predict(multimask_output=True)`` and ``single=3`` exactly
``predict(multimask_output=False)`` (the tests compare them bit for bit); ``oracle`` picks
the best of the three corrected masks.

The image transform is SAM v1's (longest side resized to 1024, padded), so coordinates and
low-res logits are in SAM v1's frame. Variants are ``segment_anything_hq``'s registry
(``vit_b``, ``vit_l``, ``vit_h``, ``vit_tiny``: the light HQ-SAM on MobileSAM's TinyViT) and
``tiny`` (:func:`build_hq_tiny`: :data:`clickbench.models.tiny.TINY_SAM`'s widths). The package's own loader reads checkpoints with
``strict=False`` and prints what did not match, running random weights in their place;
clickbench reads the plain state dict itself (``weights_only=True``) and fails naming
every missing or unexpected key (:func:`clickbench.checkpoints.load_weights`).

Embedding cache, ``set_image`` and ``predict`` are :class:`~clickbench.models.sam.SamModel`'s
(a box prompt too, as ``predict(box=...)``); this module gives HQ-SAM's predictor, its
encoder outputs and its decoder call. The embedding cache holds ``features`` (1, 256, 64, 64) and ``interm_embeddings[0]``
(1, 64, 64, vit_dim) as one (1, 256 + vit_dim, 64, 64) array.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from clickbench import checkpoints
from clickbench.embedding_cache import Embedding
from clickbench.models import accelerate as acceleration
from clickbench.models.sam import TOKEN_ORDER, SamModel
from clickbench.models.sam_family import variant_entry
from clickbench.models.tiny import TINY_SAM, build_sam_tiny, save_checkpoint, seeded


def build_hq_tiny():
    """A small HQ-SAM, built as ``segment_anything_hq.build_sam._build_sam`` builds vit_*:
    image size 1024, patch 16, windowed ViT with relative positions, the HQ decoder; only
    widths and depths are smaller (those of the tiny SAM, :func:`~.tiny.build_sam_tiny`)."""
    vit_dim = TINY_SAM["encoder_embed_dim"]
    return build_sam_tiny("segment_anything_hq", "MaskDecoderHQ", vit_dim=vit_dim)


def _registry_builder(name: str) -> Callable[[], torch.nn.Module]:
    def build_untrained():
        from segment_anything_hq import sam_model_registry

        return sam_model_registry[name](checkpoint=None)

    return build_untrained


#: variant -> builder of the untrained architecture (weights come from the checkpoint)
VARIANTS: dict[str, Callable[[], torch.nn.Module]] = {
    **{v: _registry_builder(v) for v in ("vit_b", "vit_l", "vit_h", "vit_tiny")},
    "tiny": build_hq_tiny,
}


def load_hq_sam(
    variant: str, path: str | Path, device: str = "cpu", *, sha256: str | None = None
) -> tuple[torch.nn.Module, str]:
    """Verify ``path``, build ``variant`` and load its plain state-dict checkpoint, every key
    checked; return the model and the file's SHA-256."""
    builder = variant_entry(VARIANTS, variant, "HQ-SAM")
    state, digest = checkpoints.read_torch(path, sha256, what="an HQ-SAM checkpoint")
    what = f"HQ-SAM variant {variant!r}"
    return checkpoints.load_weights(path, builder(), state, what=what, device=device), digest


class HqSamModel(SamModel):
    """HQ-SAM as an :class:`InteractiveModel` (candidates: see the module docstring).

    Shares :class:`~clickbench.models.sam.SamModel`'s embedding cache, prompts and
    bookkeeping; the predictor, encoder outputs and decoder are HQ-SAM's."""

    name = "hq_sam"
    label = "HQ-SAM"
    cache_prefix = "hq_sam:"

    def __init__(self, sam, *, hq_token_only: bool = False, **kwargs):
        super().__init__(sam, **kwargs)
        self.hq_token_only = hq_token_only

    @classmethod
    def load(cls, spec: dict, device: str):
        ckpt = spec["checkpoint"]
        return load_hq_sam(spec["variant"], ckpt["path"], device, sha256=ckpt.get("sha256"))

    @classmethod
    def settings(cls, spec: dict) -> dict:
        return {**super().settings(spec), "hq_token_only": bool(spec["hq_token_only"])}

    def _predictor(self, sam):
        """segment-anything-hq's predictor on the encoder as configured: the ViT variants take
        SAM's ``accelerate`` modes (clickbench.models.accelerate), whose attention is theirs."""
        from segment_anything_hq import SamPredictor as HqPredictor

        return HqPredictor(acceleration.apply(sam, self.accelerate))

    def _encode(self, images: Sequence[np.ndarray]) -> list[Embedding]:
        """As ``segment_anything_hq.SamPredictor.set_image``: features and the first
        intermediate ViT embedding, packed (see the module docstring)."""
        out = []
        for image in images:
            t = self._input(image)
            batch = self.sam.preprocess(t[None])
            features, interm = self.run_encoder(self.sam.image_encoder, batch)
            vit = interm[0].permute(0, 3, 1, 2)
            packed = torch.cat([features.float(), vit.float()], dim=1).cpu().numpy()
            out.append(
                Embedding(
                    features=packed,
                    original_size=tuple(int(s) for s in image.shape[:2]),
                    input_size=tuple(int(s) for s in t.shape[-2:]),
                )
            )
        return out

    def set_embedding(self, emb: Embedding) -> None:
        """As :meth:`SamModel.set_embedding`, the packed array split into ``features`` and
        ``interm_features`` as its ``set_image`` leaves them."""
        super().set_embedding(emb)
        p = self.predictor
        t, c = p.features, self.sam.prompt_encoder.embed_dim
        p.features = t[:, :c].contiguous()
        p.interm_features = [t[:, c:].permute(0, 2, 3, 1)]

    def _decoder(self, sparse: torch.Tensor, dense: torch.Tensor):
        """HQ-SAM's decoder: each SAM token plus the HQ token (or the HQ token alone)."""
        p, sam = self.predictor, self.sam
        dec = sam.mask_decoder
        vit_features = p.interm_features[0].permute(0, 3, 1, 2)
        hq_features = dec.embedding_encoder(p.features) + dec.compress_vit_feat(vit_features)
        low_res, iou = dec.predict_masks(
            image_embeddings=p.features,
            image_pe=sam.prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            hq_features=hq_features,
        )
        order = list(TOKEN_ORDER)
        hq = low_res[:, -1:]
        if self.hq_token_only:
            low_res = hq.expand(-1, len(order), -1, -1)
        else:
            low_res = low_res[:, order] + hq
        return low_res, iou[:, order]


#: the registry's builder (:meth:`~clickbench.models.sam_family.SamFamilyModel.build`)
build = HqSamModel.build


def make_tiny_checkpoint(path: str | Path, seed: int = 0) -> Path:
    """Save the ``tiny`` HQ-SAM with weights drawn from ``seed`` as a plain ``state_dict``
    (the official checkpoints' format), atomically; the same seed gives the same bytes."""
    return save_checkpoint(path, seeded(build_hq_tiny, seed).state_dict())


__all__ = [
    "VARIANTS",
    "HqSamModel",
    "build",
    "build_hq_tiny",
    "load_hq_sam",
    "make_tiny_checkpoint",
]

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
``tiny`` (:func:`build_hq_tiny`). The package's own loader reads checkpoints with
``strict=False`` and prints what did not match, running random weights in their place;
clickbench reads the plain state dict itself (``weights_only=True``) and fails naming
every missing or unexpected key (:mod:`.state_dicts`).

The embedding cache holds ``features`` (1, 256, 64, 64) and ``interm_embeddings[0]``
(1, 64, 64, vit_dim) as one (1, 256 + vit_dim, 64, 64) array.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import numpy as np
import torch

from clickbench import checkpoints
from clickbench.clicks import Click
from clickbench.embedding_cache import Embedding, cache_key
from clickbench.models.base import Prediction
from clickbench.models.sam import MULTI, PRECISIONS, SINGLE, TOKEN_ORDER, SamModel, clicks_to_points
from clickbench.models.state_dicts import load_exact, read_checkpoint

log = logging.getLogger(__name__)

#: the tiny HQ-SAM's widths (as clickbench.models.tiny.TINY_SAM, plus the HQ decoder's)
TINY_HQ = {
    "encoder_embed_dim": 64,
    "encoder_depth": 2,
    "encoder_num_heads": 2,
    "encoder_global_attn_indexes": (1,),
    "prompt_embed_dim": 64,
    "decoder_mlp_dim": 256,
    "decoder_num_heads": 2,
}


def build_hq_tiny():
    """A small HQ-SAM, built as ``segment_anything_hq.build_sam._build_sam`` builds vit_*:
    image size 1024, patch 16, windowed ViT with relative positions, the HQ decoder; only
    widths and depths are smaller (2 ViT blocks of width 64, decoder width 64)."""
    from segment_anything_hq.modeling import (
        ImageEncoderViT,
        MaskDecoderHQ,
        PromptEncoder,
        Sam,
        TwoWayTransformer,
    )

    t = TINY_HQ
    image_size, patch = 1024, 16
    grid = image_size // patch
    sam = Sam(
        image_encoder=ImageEncoderViT(
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
        prompt_encoder=PromptEncoder(
            embed_dim=t["prompt_embed_dim"],
            image_embedding_size=(grid, grid),
            input_image_size=(image_size, image_size),
            mask_in_chans=16,
        ),
        mask_decoder=MaskDecoderHQ(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(
                depth=2,
                embedding_dim=t["prompt_embed_dim"],
                mlp_dim=t["decoder_mlp_dim"],
                num_heads=t["decoder_num_heads"],
            ),
            transformer_dim=t["prompt_embed_dim"],
            iou_head_depth=3,
            iou_head_hidden_dim=t["prompt_embed_dim"],
            vit_dim=t["encoder_embed_dim"],
        ),
        pixel_mean=[123.675, 116.28, 103.53],
        pixel_std=[58.395, 57.12, 57.375],
    )
    sam.eval()
    return sam


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


def load_hq_sam(variant: str, path: str | Path, device: str = "cpu") -> torch.nn.Module:
    """Build ``variant`` and load its plain state-dict checkpoint, every key checked."""
    try:
        builder = VARIANTS[variant]
    except KeyError:
        raise ValueError(
            f"unknown HQ-SAM variant {variant!r}; known: {', '.join(sorted(VARIANTS))}"
        ) from None
    state = read_checkpoint(path, "an HQ-SAM checkpoint")
    sam = builder()
    load_exact(sam, state, path, f"HQ-SAM variant {variant!r}")
    sam.to(device)
    sam.eval()
    return sam


class HqSamModel(SamModel):
    """HQ-SAM as an :class:`InteractiveModel` (candidates: see the module docstring).

    Shares :class:`~clickbench.models.sam.SamModel`'s embedding cache, batching and
    bookkeeping; the predictor, encoder outputs and decoder are HQ-SAM's."""

    name = "hq_sam"

    def __init__(self, sam, *, hq_token_only: bool = False, **kwargs):
        super().__init__(sam, **kwargs)
        from segment_anything_hq import SamPredictor as HqPredictor

        self.predictor = HqPredictor(sam)
        self.hq_token_only = hq_token_only

    def _key(self, image: np.ndarray) -> tuple[str, dict[str, str]]:
        key, meta = super()._key(image)
        meta = {**meta, "variant": f"hq_sam:{self.variant}"}
        return cache_key(*meta.values()), meta

    @torch.no_grad()
    def encode(self, images: Sequence[np.ndarray]) -> list[Embedding]:
        """Encode as ``segment_anything_hq.SamPredictor.set_image``: features and the first
        intermediate ViT embedding, packed (see the module docstring)."""
        transform = self.predictor.transform
        out = []
        dtype = PRECISIONS[self.precision]
        for image in images:
            if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
                raise ValueError(
                    f"expected an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}"
                )
            resized = transform.apply_image(image)
            t = torch.as_tensor(resized, device=self.device).permute(2, 0, 1).contiguous()[None]
            batch = self.sam.preprocess(t)
            if dtype is None:
                features, interm = self.sam.image_encoder(batch)
            else:
                with torch.autocast(device_type=self._device_type(), dtype=dtype):
                    features, interm = self.sam.image_encoder(batch)
            vit = interm[0].permute(0, 3, 1, 2)
            packed = torch.cat([features.float(), vit.float()], dim=1).cpu().numpy()
            out.append(
                Embedding(
                    features=packed,
                    original_size=tuple(int(s) for s in image.shape[:2]),
                    input_size=tuple(int(s) for s in resized.shape[:2]),
                )
            )
        self.encodings += len(images)
        return out

    def set_embedding(self, emb: Embedding) -> None:
        """Put an embedding into the predictor, as its ``set_image`` leaves it."""
        p = self.predictor
        p.reset_image()
        t = torch.as_tensor(emb.features, device=self.device)
        c = self.sam.prompt_encoder.embed_dim
        p.features = t[:, :c].contiguous()
        p.interm_features = [t[:, c:].permute(0, 2, 3, 1)]
        p.original_size = tuple(emb.original_size)
        p.input_size = tuple(emb.input_size)
        p.is_image_set = True

    @torch.no_grad()
    def predict(
        self,
        clicks: Sequence[Click],
        previous: Prediction | None = None,
        previous_choice: int | None = None,
    ) -> Prediction:
        """Four candidates (masks (4, H, W) bool, scores (4,), logits (4, 256, 256)),
        ``multi=(0, 1, 2)``, ``single=3``; see the module docstring."""
        p = self.predictor
        if not p.is_image_set:
            raise RuntimeError("set_image must be called before predict")
        if not clicks:
            raise ValueError("HQ-SAM needs at least one click")
        coords, labels = clicks_to_points(clicks)
        coords = p.transform.apply_coords(coords, p.original_size)
        coords_t = torch.as_tensor(coords, dtype=torch.float, device=self.device)[None]
        labels_t = torch.as_tensor(labels, dtype=torch.int, device=self.device)[None]
        mask_t = None
        if self.mask_input and previous is not None:
            if previous.logits is None or previous_choice is None:
                raise ValueError("mask_input needs the previous prediction's logits and choice")
            prev = np.asarray(previous.logits[previous_choice], dtype=np.float32)[None]
            mask_t = torch.as_tensor(prev, dtype=torch.float, device=self.device)[None]
        sam = self.sam
        sparse, dense = sam.prompt_encoder(points=(coords_t, labels_t), boxes=None, masks=mask_t)
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
        iou = iou[:, order]
        masks = sam.postprocess_masks(low_res, p.input_size, p.original_size) > sam.mask_threshold
        return Prediction(
            masks=masks[0].cpu().numpy(),
            scores=iou[0].float().cpu().numpy().astype(np.float32),
            logits=low_res[0].float().cpu().numpy().astype(np.float32),
            multi=MULTI,
            single=SINGLE,
        )


def build(
    spec: dict,
    *,
    device: str = "cpu",
    precision: str = "fp32",
    cache_dir: str | Path | None = None,
) -> HqSamModel:
    """Build HQ-SAM from a model's config block (``variant``, ``checkpoint``,
    ``hq_token_only``, ``mask_input``); the checkpoint is verified against its SHA-256."""
    ckpt = spec["checkpoint"]
    variant = spec["variant"]
    digest = checkpoints.verify(ckpt["path"], ckpt.get("sha256"))
    sam = load_hq_sam(variant, ckpt["path"], device)
    log.info(
        "HQ-SAM %s loaded from %s (SHA-256 %s), %s %s",
        variant,
        ckpt["path"],
        digest,
        device,
        precision,
    )
    return HqSamModel(
        sam,
        hq_token_only=bool(spec["hq_token_only"]),
        variant=variant,
        checkpoint_sha256=digest,
        device=device,
        precision=precision,
        cache_dir=cache_dir,
        mask_input=bool(spec["mask_input"]),
    )


def make_tiny_checkpoint(path: str | Path, seed: int = 0) -> Path:
    """Save the ``tiny`` HQ-SAM with weights drawn from ``seed`` as a plain ``state_dict``
    (the official checkpoints' format), atomically; the same seed gives the same bytes."""
    from clickbench.atomic import write_atomic

    path = Path(path)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        sam = build_hq_tiny()
    write_atomic(path, lambda fh: torch.save(sam.state_dict(), fh))
    return path


__all__ = [
    "TINY_HQ",
    "VARIANTS",
    "HqSamModel",
    "build",
    "build_hq_tiny",
    "load_hq_sam",
    "make_tiny_checkpoint",
]

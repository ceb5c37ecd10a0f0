"""Faster SAM image encoders on the same weights (a SAM model's config key ``accelerate``).

Modes, applied in place to a built, loaded :class:`segment_anything.modeling.Sam` by
:func:`apply` (the state dict and every parameter stay as they are):

    none      segment-anything's own modules, as built
    sdpa      every ViT attention block runs through
              ``torch.nn.functional.scaled_dot_product_attention`` (a fused kernel that
              never stores the softmax matrix separately), with segment-anything's
              decomposed relative-position term (``add_decomposed_rel_pos``) passed as its
              additive mask
    compile   ``sdpa``, then ``torch.compile`` of the image encoder (TorchInductor; the first
              encoding of each input shape pays the compilation: minutes on 2 busy cores)

What differs from segment-anything's ``Attention.forward`` is only the order of floating-point
operations: the attention logits are ``(q k^T) * scale + rel_pos`` inside the kernel instead of
``(q * scale) k^T + rel_pos`` outside it. tests/test_accelerate.py compares embeddings,
predicted IoUs and kept masks against the plain encoder; benchmarks/models.py does the same on
full-size vit_b weights and times it. The mode is part of the embedding cache key.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from segment_anything.modeling import Sam
from segment_anything.modeling.image_encoder import Attention, get_rel_pos

from clickbench.traces import Trace

#: config value -> what it does (see the module docstring); "none" is the schema's default
MODES = ("none", "sdpa", "compile")


def rel_pos_bias(
    q: torch.Tensor, rel_pos_h: torch.Tensor, rel_pos_w: torch.Tensor, hw: tuple[int, int]
) -> torch.Tensor:
    """segment-anything's decomposed relative-position term as an additive attention mask.

    q: (B, heads, H * W, C) queries (unscaled, as ``add_decomposed_rel_pos`` takes them);
    returns (B, heads, H * W, H * W): ``rel_h[q, k_row] + rel_w[q, k_col]``, which
    ``add_decomposed_rel_pos`` adds to the attention logits (query and key grids equal).
    """
    h, w = hw
    rh = get_rel_pos(h, h, rel_pos_h)  # (h, h, C)
    rw = get_rel_pos(w, w, rel_pos_w)  # (w, w, C)
    b, n, _, c = q.shape
    r_q = q.reshape(b, n, h, w, c)
    # contiguous (small) terms: a broadcast sum takes the einsum outputs' strides otherwise,
    # and the reshape to (..., H*W, H*W) would then copy the whole (large) mask once more
    rel_h = torch.einsum("bnhwc,hkc->bnhwk", r_q, rh).contiguous()
    rel_w = torch.einsum("bnhwc,wkc->bnhwk", r_q, rw).contiguous()
    return (rel_h[..., :, None] + rel_w[..., None, :]).reshape(b, n, h * w, h * w)


class SdpaAttention(Attention):
    """segment-anything's ``Attention`` with the same parameters, computed by
    ``scaled_dot_product_attention`` (see the module docstring). Input and output as the
    original: (B, H, W, dim)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, _ = x.shape
        qkv = self.qkv(x).reshape(b, h * w, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # (B, heads, H * W, C) each
        mask = None
        if self.use_rel_pos:
            mask = rel_pos_bias(q, self.rel_pos_h, self.rel_pos_w, (h, w))
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=self.scale)
        out = out.view(b, self.num_heads, h, w, -1).permute(0, 2, 3, 1, 4).reshape(b, h, w, -1)
        return self.proj(out)


def apply_to_attention(module: Attention) -> SdpaAttention:
    """Turn one segment-anything ``Attention`` into an :class:`SdpaAttention` in place."""
    if type(module) is not Attention:
        raise TypeError(f"expected segment-anything's Attention, not {type(module).__name__}")
    module.__class__ = SdpaAttention
    return module  # type: ignore[return-value]


def apply(sam: Sam, mode: str) -> Sam:
    """Accelerate ``sam``'s image encoder in place (``mode`` one of :data:`MODES`); returns it.

    The attention modules change class (to :class:`SdpaAttention`), not parameters, so the
    model's state dict is unchanged. ``compile`` compiles the encoder's forward in place
    (``nn.Module.compile``). Applying a mode again (two SamModels on one Sam) changes nothing.
    """
    if mode not in MODES:
        raise ValueError(f"accelerate must be one of {', '.join(MODES)}, not {mode!r}")
    if mode == "none":
        return sam
    blocks = [m for m in sam.image_encoder.modules() if isinstance(m, Attention)]
    for module in blocks:
        if type(module) is Attention:
            apply_to_attention(module)
    if not blocks:
        raise ValueError(
            f"accelerate: {mode} found no segment-anything Attention block in "
            f"{type(sam.image_encoder).__name__}"
        )
    if mode == "compile" and mode_of(sam) != "compile":
        sam.image_encoder.compile(dynamic=False)
    return sam


def randomize_rel_pos(sam: Sam, std: float = 0.1, seed: int = 0) -> Sam:
    """Draw every relative-position table of ``sam``'s encoder from N(0, std^2), in place.

    segment-anything initialises them to zero, so a randomly initialised model (the tests'
    tiny one, the benchmarks' full-size ones) would never exercise the term :class:`SdpaAttention`
    passes as its mask; trained checkpoints hold non-zero tables.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in sam.image_encoder.named_parameters():
            if name.endswith(("rel_pos_h", "rel_pos_w")):
                param.copy_(torch.randn(param.shape, generator=gen) * std)
    return sam


def relative_error(features: np.ndarray, reference: np.ndarray) -> float:
    """``||features - reference|| / ||reference||`` (Frobenius norms, in float64)."""
    f = np.asarray(features, dtype=np.float64)
    r = np.asarray(reference, dtype=np.float64)
    return float(np.linalg.norm(f - r) / np.linalg.norm(r))


def trace_differences(reference: Trace, other: Trace) -> dict:
    """How much ``other`` (the same loop replayed with another encoder: the reference's clicks
    fed through ``protocols.run_loop(..., clicks=reference.clicks)``) differs from
    ``reference``: the numbers the equality check of an acceleration (or of bf16) reads.

    Returns abs_diou (every candidate of every step, flattened), kept_abs_diou (the kept
    candidate per step, each trace's own choice), choices_changed (steps whose kept candidate
    differs), steps, and pixels_changed (fraction of candidate mask pixels that differ).
    """
    if not np.array_equal(reference.clicks, other.clicks):
        raise ValueError("the traces were not made with the same clicks")
    steps = np.arange(len(reference.chosen))
    kept_a = reference.ious[steps, reference.chosen]
    kept_b = other.ious[steps, other.chosen]
    return {
        "abs_diou": np.abs(reference.ious - other.ious).ravel().tolist(),
        "kept_abs_diou": np.abs(kept_a - kept_b).tolist(),
        "choices_changed": int(np.sum(reference.chosen != other.chosen)),
        "steps": len(steps),
        "pixels_changed": float(np.mean(reference.masks != other.masks)),
    }


def mode_of(sam: Sam) -> str:
    """The mode :func:`apply` left ``sam`` in (``none`` when never applied)."""
    enc = sam.image_encoder
    if getattr(enc, "_compiled_call_impl", None) is not None:
        return "compile"
    if any(isinstance(m, SdpaAttention) for m in enc.modules()):
        return "sdpa"
    return "none"


__all__ = [
    "MODES",
    "SdpaAttention",
    "apply",
    "apply_to_attention",
    "mode_of",
    "randomize_rel_pos",
    "rel_pos_bias",
    "relative_error",
    "trace_differences",
]

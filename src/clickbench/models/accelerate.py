"""Faster SAM image encoders on the same weights (config key ``accelerate`` of a SAM or an
HQ-SAM model: :data:`clickbench.models.registry.ACCELERATED_TYPES`).

Modes, applied in place to a built, loaded :class:`segment_anything.modeling.Sam` (or
segment-anything-hq's ``Sam``, whose ViT attention is the same code: :func:`attention_types`)
by :func:`apply` (the state dict and every parameter stay as they are):

    none      segment-anything's own modules, as built
    chunked   every ViT attention block does segment-anything's own arithmetic, operation for
              operation in the same order and precision, over blocks of query rows
              (:func:`chunked_attention`), so the (heads x tokens x tokens) logits and the
              relative-position sums never exist whole: the embedding is bit for bit the
              plain encoder's on the CPUs measured (tests/test_accelerate.py checks
              ``torch.equal``), in fp32 and in bf16, with less memory traffic; on a CPU
              with several torch threads the blocks run on single-threaded workers
    sdpa      every ViT attention block runs through
              ``torch.nn.functional.scaled_dot_product_attention`` (a fused kernel that
              never stores the softmax matrix separately), with segment-anything's
              decomposed relative-position term (``add_decomposed_rel_pos``) passed as its
              additive mask
    compile   ``sdpa``, then ``torch.compile`` of the image encoder (TorchInductor; the first
              encoding of each input shape pays the compilation: minutes on 2 busy cores)

``sdpa`` differs from segment-anything's ``Attention.forward`` only in the order of
floating-point operations: the attention logits are ``(q k^T) * scale + rel_pos`` inside the
kernel instead of ``(q * scale) k^T + rel_pos`` outside it. On a CPU ``chunked`` is the faster
of the two in both precisions (PyTorch's CPU flash kernel is no faster in bf16 than in fp32;
benchmarks/README.md); on a GPU the fused kernels are the point of ``sdpa``.
tests/test_accelerate.py compares embeddings, predicted IoUs and kept masks against the plain
encoder; benchmarks/models.py does the same on full-size vit_b weights and times it. The mode
is part of the embedding cache key.
"""

from __future__ import annotations

import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
import torch.nn.functional as F
from segment_anything.modeling import Sam
from segment_anything.modeling.image_encoder import Attention, get_rel_pos

from clickbench.traces import Trace

#: config value -> what it does (see the module docstring); "none" is the schema's default
MODES = ("none", "chunked", "sdpa", "compile")


#: segment-anything-hq's module holding its copy of the ViT attention (the same code: the same
#: attributes, ``forward`` and ``add_decomposed_rel_pos``; tests/test_accelerate.py checks the
#: source)
HQ_ENCODER_MODULE = "segment_anything_hq.modeling.image_encoder"


def attention_types() -> tuple[type, ...]:
    """The attention classes :func:`apply` replaces: segment-anything's ViT ``Attention``, and
    segment-anything-hq's when that package is loaded (an HQ-SAM exists only then; importing
    it here would cost every SAM job half a second and timm's warnings)."""
    hq = sys.modules.get(HQ_ENCODER_MODULE)
    return (Attention,) if hq is None else (Attention, hq.Attention)


#: logits per block of :func:`chunked_attention` (elements): 2^20, 4 MiB in fp32; with 2^21
#: the fastest of 2^18 to 2^22 for vit_b on the development machine (benchmarks/README.md)
CHUNK_LOGITS = 1 << 20


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


def chunked_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    scale: float,
    rel_pos: tuple[torch.Tensor, torch.Tensor] | None = None,
    hw: tuple[int, int] | None = None,
    chunk: int | None = None,
) -> torch.Tensor:
    """softmax((q * scale) k^T [+ rel_h + rel_w]) v, as segment-anything's ``Attention``
    computes it, one block of at most ``chunk`` logits at a time.

    q, k, v: (B, H * W, C) as ``Attention.forward`` holds them (B = batch x heads), in the
    dtype the attention runs in; ``rel_pos``: the block's (rel_pos_h, rel_pos_w) tables (None
    when it has none) over the grid ``hw``. Every operation is the original's on a slice of
    its operands, in the same order: the scaled queries times the keys, then the rows' term,
    then the columns' term (``add_decomposed_rel_pos``'s two additions, each rounded as there),
    the softmax over the keys, the product with the values. A block is whole grid rows of
    queries of one batch entry, or whole batch entries when one holds fewer logits than
    ``chunk`` (the windows; default :data:`CHUNK_LOGITS`). Returns (B, H * W, C). For
    inference: nothing is recorded for autograd (:class:`ChunkedAttention` runs the original
    arithmetic when gradients are on).
    """
    chunk = chunk or CHUNK_LOGITS
    b, n, c = q.shape
    r_q = q
    q = (q * scale).contiguous()
    kt = k.transpose(-2, -1).contiguous()
    v = v.contiguous()
    h, w = hw if hw is not None else (1, n)
    if rel_pos is not None:
        rh = get_rel_pos(h, h, rel_pos[0].to(q.dtype))
        rw = get_rel_pos(w, w, rel_pos[1].to(q.dtype))
        r_q = r_q.reshape(b, h, w, c)
        rel_h = torch.einsum("bhwc,hkc->bhwk", r_q, rh)
        rel_w = torch.einsum("bhwc,wkc->bhwk", r_q, rw)
        # a broadcast sum over a short last dimension (a window's 14 columns) runs that many
        # elements at a time, over 10x slower than adding the same values laid out in full
        expand = w < 32
    rows = max(1, min(h, chunk // (w * n)))  # grid rows of queries per block
    per = max(1, chunk // (h * w * n)) if rows == h else 1  # batch entries per block
    out = torch.empty(b, n, v.shape[-1], dtype=q.dtype, device=q.device)
    local = threading.local()
    # grad and inference mode are per thread: the workers take the caller's
    inference = torch.is_inference_mode_enabled()

    def block(bounds: tuple[int, int, int, int]) -> None:
        with torch.inference_mode(inference), torch.no_grad():
            one_block(*bounds)

    def one_block(i: int, j: int, r: int, e: int) -> None:
        if getattr(local, "buf", None) is None:
            local.buf = torch.empty(per, rows * w, n, dtype=q.dtype, device=q.device)
        logits = local.buf[: j - i, : (e - r) * w]
        torch.bmm(q[i:j, r * w : e * w], kt[i:j], out=logits)
        if rel_pos is not None:
            grid = logits.view(j - i, e - r, w, h, w)
            th = rel_h[i:j, r:e, :, :, None]
            tw = rel_w[i:j, r:e, :, None, :]
            if expand:
                th, tw = th.expand(grid.shape).contiguous(), tw.expand(grid.shape).contiguous()
            grid.add_(th).add_(tw)
        torch.ops.aten._softmax.out(logits, -1, False, out=logits)
        torch.bmm(logits, v[i:j], out=out[i:j, r * w : e * w])

    blocks = [
        (i, min(i + per, b), r, min(r + rows, h))
        for i in range(0, b, per)
        for r in range(0, h, rows)
    ]
    threads = torch.get_num_threads()
    if q.device.type != "cpu" or threads == 1 or len(blocks) == 1:
        for bounds in blocks:
            block(bounds)
    else:
        # on a CPU the blocks run on single-threaded workers, each taking the next block when
        # it is done with one: no barrier after every small operation, where a thread that
        # another process holds off its core makes the others wait (10x slower on 2 shared
        # cores with 2 OpenMP threads; benchmarks/README.md)
        list(_workers(threads).map(block, blocks))
    return out


#: (process id, threads) -> its workers: a forked child does not inherit the threads
_POOL: dict[tuple[int, int], ThreadPoolExecutor] = {}


def _workers(n: int) -> ThreadPoolExecutor:
    """``n`` worker threads whose torch operations run on one thread each (reused)."""
    key = (os.getpid(), n)
    if key not in _POOL:
        main = torch.get_num_threads()
        _POOL[key] = ThreadPoolExecutor(
            n, "chunked-attention", initializer=torch.set_num_threads, initargs=(1,)
        )
        # the first set_num_threads in a worker also becomes the default of threads created
        # later: make it the caller's again once the workers exist
        list(_POOL[key].map(lambda _: None, range(n)))
        torch.set_num_threads(main)
    return _POOL[key]


class ChunkedAttention(Attention):
    """segment-anything's ``Attention`` with the same parameters, computed by
    :func:`chunked_attention` (see the module docstring). Input and output as the original:
    (B, H, W, dim)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled():  # the blocks write into buffers autograd cannot follow
            return super().forward(x)
        b, h, w, _ = x.shape
        qkv = self.qkv(x).reshape(b, h * w, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.reshape(3, b * self.num_heads, h * w, -1).unbind(0)
        rel_pos = (self.rel_pos_h, self.rel_pos_w) if self.use_rel_pos else None
        # under autocast every operand is already in the dtype of the qkv projection's output,
        # as in the original, whose products and sums take no further casts
        with torch.autocast(x.device.type, enabled=False):
            out = chunked_attention(q, k, v, self.scale, rel_pos, (h, w))
        out = out.view(b, self.num_heads, h, w, -1).permute(0, 2, 3, 1, 4).reshape(b, h, w, -1)
        return self.proj(out)


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


#: the attention class each mode gives the encoder's blocks
CLASSES = {"chunked": ChunkedAttention, "sdpa": SdpaAttention, "compile": SdpaAttention}


def apply_to_attention(module: Attention, mode: str = "sdpa") -> Attention:
    """Turn one segment-anything (or segment-anything-hq) ``Attention`` into ``mode``'s class
    (:data:`CLASSES`) in place."""
    if type(module) not in attention_types():
        raise TypeError(f"expected segment-anything's Attention, not {type(module).__name__}")
    module.__class__ = CLASSES[mode]
    return module


def apply(sam: Sam, mode: str) -> Sam:
    """Accelerate ``sam``'s image encoder in place (``mode`` one of :data:`MODES`); returns it.

    The attention modules change class (:data:`CLASSES`), not parameters, so the model's state
    dict is unchanged. ``compile`` compiles the encoder's forward in place
    (``nn.Module.compile``). Applying the same mode again (two SamModels on one Sam) changes
    nothing; another mode than the one ``sam`` is already in is an error.
    """
    if mode not in MODES:
        raise ValueError(f"accelerate must be one of {', '.join(MODES)}, not {mode!r}")
    if mode == "none":
        return sam
    current = mode_of(sam)
    if current not in ("none", mode):
        raise ValueError(f"accelerate: this SAM's encoder is already in mode {current!r}")
    types = attention_types()
    blocks = [m for m in sam.image_encoder.modules() if isinstance(m, types)]
    for module in blocks:
        if type(module) in types:
            apply_to_attention(module, mode)
    if not blocks:
        raise ValueError(
            f"accelerate: {mode} found no ViT attention block (segment-anything's Attention) "
            f"in {type(sam.image_encoder).__name__}"
        )
    if mode == "compile" and current != "compile":
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
    for mode in ("chunked", "sdpa"):
        if any(isinstance(m, CLASSES[mode]) for m in enc.modules()):
            return mode
    return "none"


__all__ = [
    "HQ_ENCODER_MODULE",
    "CHUNK_LOGITS",
    "CLASSES",
    "MODES",
    "ChunkedAttention",
    "SdpaAttention",
    "apply",
    "apply_to_attention",
    "attention_types",
    "chunked_attention",
    "mode_of",
    "randomize_rel_pos",
    "rel_pos_bias",
    "relative_error",
    "trace_differences",
]

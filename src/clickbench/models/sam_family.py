"""The SAM family's shared model: one class, a small API, as segment-anything's ``SamPredictor``.

Every SAM-family model (:mod:`.sam`, :mod:`.sam2`, :mod:`.hq_sam`, :mod:`.efficientvit_sam`)
is a :class:`SamFamilyModel`. This class holds what they share:

- the embedding cache: :meth:`embed` (one image, from the cache or encoded), :meth:`prepare`
  (encode the images not yet cached, a batch at a time), the cache key and its components
  (:meth:`cache_meta`: image content, checkpoint SHA-256, ``<cache_prefix><variant>``,
  precision, device type, and the encoder acceleration when not ``none``);
- :meth:`encode`: input checks, ``torch.autocast`` under ``bf16`` (:meth:`run_encoder`) and
  the count of encodings; how a family encodes is its :meth:`_encode`;
- :meth:`set_image` (embed, then :meth:`set_embedding`, the family's way of putting an
  embedding into its predictor);
- :meth:`predict`: the checks, the previous step's kept logits as ``mask_input``, and the
  four candidates in one :class:`~clickbench.models.base.Prediction`; the family's
  :meth:`_decode` turns clicks (and a box) into candidate-ordered masks, scores and logits.

Candidate order in every family: decoder tokens 1, 2, 3 (multimask, ``Prediction.multi``),
then the single-output mask (``Prediction.single``).
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

from clickbench.clicks import Click
from clickbench.embedding_cache import Embedding, EmbeddingCache, cache_key, image_hash
from clickbench.models.base import BuildOptions, InteractiveModel, Prediction

log = logging.getLogger(__name__)

T = TypeVar("T")

#: candidate order in every SAM Prediction: decoder tokens 1, 2, 3 (multimask), then 0 (single)
TOKEN_ORDER = (1, 2, 3, 0)
MULTI = (0, 1, 2)
SINGLE = 3

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16}


def clicks_to_points(clicks: Sequence[Click]) -> tuple[np.ndarray, np.ndarray]:
    """Clicks (row, col, positive) -> SAM's ``point_coords`` (N, 2) as (x, y) and labels (N,).

    The one place where clickbench's (row, col) becomes SAM's (x, y) = (col, row); label 1
    marks a positive click, 0 a negative one.
    """
    coords = np.array([[c.col, c.row] for c in clicks], dtype=np.float64).reshape(-1, 2)
    labels = np.array([1 if c.positive else 0 for c in clicks], dtype=np.int64)
    return coords, labels


def variant_entry(variants: Mapping[str, T], variant: str, family: str) -> T:
    """``variants[variant]``; an unknown variant is a ValueError naming the family and the
    known variants."""
    try:
        return variants[variant]
    except KeyError:
        raise ValueError(
            f"unknown {family} variant {variant!r}; known: {', '.join(sorted(variants))}"
        ) from None


class SamFamilyModel(InteractiveModel):
    """A SAM-family model as an :class:`InteractiveModel` (see the module docstring).

    A subclass sets ``self.predictor`` (its package's predictor) after ``__init__`` and
    implements :meth:`load`, :meth:`_encode`, :meth:`set_embedding`, :meth:`_image_is_set`
    and :meth:`_decode`; :meth:`build` is the registry's builder of every family.
    """

    #: how the family is named in error messages
    label: str = "SAM"
    #: prefix of the variant in the embedding cache key ("" for SAM v1, whose keys came first)
    cache_prefix: str = ""

    def __init__(
        self,
        *,
        variant: str,
        checkpoint_sha256: str,
        device: str = "cpu",
        precision: str = "fp32",
        cache_dir: str | Path | None = None,
        mask_input: bool = False,
        accelerate: str = "none",
    ):
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
        self.variant = variant
        self.checkpoint_sha256 = checkpoint_sha256
        self.device = device
        self.precision = precision
        self.mask_input = mask_input
        #: the encoder acceleration (clickbench.models.accelerate); only SAM v1 and HQ-SAM
        #: take another value than "none", which keeps the keys cache entries always had
        self.accelerate = accelerate
        self.cache = EmbeddingCache(cache_dir) if cache_dir is not None else None
        #: encodings this object ran itself (cache hits excluded)
        self.encodings = 0
        self.last_hit: bool | None = None

    @classmethod
    def build(cls, spec: dict, options: BuildOptions):
        """The registry's builder: the model a validated config block describes (``variant``,
        ``checkpoint``, ``mask_input`` and the family's own keys, :meth:`settings`), its
        checkpoint verified against ``checkpoint.sha256`` before loading (:meth:`load`)."""
        loaded, digest = cls.load(spec, options.device)
        log.info(
            "%s %s loaded from %s (SHA-256 %s), %s %s",
            cls.label,
            spec["variant"],
            spec["checkpoint"]["path"],
            digest,
            options.device,
            options.precision,
        )
        return cls(
            loaded,
            variant=spec["variant"],
            checkpoint_sha256=digest,
            device=options.device,
            precision=options.precision,
            cache_dir=options.cache_dir,
            mask_input=bool(spec["mask_input"]),
            **cls.settings(spec),
        )

    @classmethod
    @abstractmethod
    def load(cls, spec: dict, device: str) -> tuple[torch.nn.Module, str]:
        """The family's network with the checkpoint of ``spec`` loaded, on ``device``, and
        the checkpoint's SHA-256 (:mod:`clickbench.checkpoints`' loading discipline)."""

    @classmethod
    def settings(cls, spec: dict) -> dict:
        """The family's own constructor keywords from its config block (none by default)."""
        return {}

    # ------------------------------------------------------------------ encoding
    def _device_type(self) -> str:
        return torch.device(self.device).type

    def cache_meta(self, image: np.ndarray) -> dict[str, str]:
        """The embedding cache key's components for ``image``, as each entry stores them."""
        meta = {
            "image_sha256": image_hash(image),
            "checkpoint_sha256": self.checkpoint_sha256,
            "variant": f"{self.cache_prefix}{self.variant}",
            "precision": self.precision,
            "device": self._device_type(),
        }
        if self.accelerate != "none":  # plain entries keep the keys they always had
            meta["accelerate"] = self.accelerate
        return meta

    def _key(self, image: np.ndarray) -> tuple[str, dict[str, str]]:
        meta = self.cache_meta(image)
        return cache_key(**meta), meta

    def run_encoder(self, encoder: Callable, batch: torch.Tensor):
        """``encoder(batch)``, under ``torch.autocast(<device>, torch.bfloat16)`` with ``bf16``."""
        dtype = PRECISIONS[self.precision]
        if dtype is None:
            return encoder(batch)
        with torch.autocast(device_type=self._device_type(), dtype=dtype):
            return encoder(batch)

    @torch.no_grad()
    def encode(self, images: Sequence[np.ndarray]) -> list[Embedding]:
        """Run the image encoder on (H, W, 3) uint8 RGB images, as the family's predictor's
        ``set_image`` does; the embeddings are float32 (see the family's :meth:`_encode`)."""
        for image in images:
            if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
                raise ValueError(
                    f"expected an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}"
                )
        out = self._encode(images)
        self.encodings += len(images)
        return out

    @abstractmethod
    def _encode(self, images: Sequence[np.ndarray]) -> list[Embedding]:
        """The family's encoding of checked images, one :class:`Embedding` each."""

    def embed(self, image: np.ndarray) -> Embedding:
        """The image's embedding, from the cache when present (else encoded and stored)."""
        if self.cache is None:
            self.last_hit = False
            return self.encode([image])[0]
        key, meta = self._key(image)
        emb, hit = self.cache.get_or_compute(key, lambda: self.encode([image])[0], meta)
        self.last_hit = hit
        return emb

    def prepare(self, images: Sequence[np.ndarray], batch_size: int | None = None) -> None:
        """Encode every image not yet cached, ``batch_size`` at a time (GPU batching).

        Needs a ``cache_dir``; later :meth:`set_image` calls on these images are cache hits.
        ``batch_size`` defaults to 4 on CUDA and 1 elsewhere (a CPU gains nothing from it).
        """
        if self.cache is None:
            raise RuntimeError(f"{type(self).__name__}.prepare needs a cache_dir")
        if batch_size is None:
            batch_size = 4 if self._device_type() == "cuda" else 1
        for start in range(0, len(images), batch_size):
            chunk = list(images[start : start + batch_size])
            keys, metas = zip(*(self._key(im) for im in chunk), strict=True)
            self.cache.get_or_compute_many(
                list(keys), lambda idx, chunk=chunk: self.encode([chunk[i] for i in idx]), metas
            )

    @abstractmethod
    def set_embedding(self, emb: Embedding) -> None:
        """Put an embedding into the predictor, as its ``set_image`` leaves it."""

    # ------------------------------------------------------------------ the interface
    def set_image(self, image: np.ndarray) -> None:
        self.set_embedding(self.embed(np.asarray(image)))

    def reset(self) -> None:
        """Nothing to reset: the only state between clicks is ``mask_input`` (see predict)."""

    @abstractmethod
    def _image_is_set(self) -> bool:
        """Whether the predictor holds an image's embedding."""

    @abstractmethod
    def _decode(
        self, clicks: Sequence[Click], box, mask_logits: np.ndarray | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One mask-decoder call: masks (1, 4, H, W) bool, predicted IoUs (1, 4) and low-res
        logits (1, 4, 256, 256), in the candidate order of the module docstring.
        ``mask_logits`` is the kept candidate's (1, 256, 256) float32 logits or None."""

    @torch.no_grad()
    def predict(
        self,
        clicks: Sequence[Click],
        previous: Prediction | None = None,
        previous_choice: int | None = None,
        box=None,
    ) -> Prediction:
        """Four candidates for the clicks so far (oldest first), and the ``box`` prompt when
        given and the model ``supports_box`` (a :class:`clickbench.prompts.Box`; the clicks
        may then be empty).

        Returns masks (4, H, W) bool, scores (4,) float32 (the predicted IoU), logits
        (4, 256, 256) float32, ``multi=(0, 1, 2)``, ``single=3``. When the model was built
        with ``mask_input`` and ``previous`` is given, the low-res logits of the candidate
        the protocol kept (``previous_choice``) are fed back as ``mask_input`` (1, 256, 256).
        """
        if not self._image_is_set():
            raise RuntimeError("set_image must be called before predict")
        if box is not None and not self.supports_box:
            raise ValueError(f"{self.label} takes no box prompt")
        if not clicks and box is None:
            raise ValueError(
                f"{self.label} needs at least one click"
                + (" or a box" if self.supports_box else "")
            )
        mask_logits = None
        if self.mask_input and previous is not None:
            if previous.logits is None or previous_choice is None:
                raise ValueError("mask_input needs the previous prediction's logits and choice")
            mask_logits = np.asarray(previous.logits[previous_choice], dtype=np.float32)[None]
        masks, iou, logits = self._decode(clicks, box, mask_logits)
        return Prediction(
            masks=masks[0].cpu().numpy(),
            scores=iou[0].float().cpu().numpy().astype(np.float32),
            logits=logits[0].float().cpu().numpy().astype(np.float32),
            multi=MULTI,
            single=SINGLE,
        )


__all__ = [
    "MULTI",
    "PRECISIONS",
    "SINGLE",
    "TOKEN_ORDER",
    "SamFamilyModel",
    "clicks_to_points",
    "variant_entry",
]

"""Segment Anything (SAM) through ``segment_anything.SamPredictor``.

At every click step the model returns four candidates, all from one mask-decoder call:

    index 0, 1, 2   the three masks of ``multimask_output=True``   (Prediction.multi)
    index 3         the mask of ``multimask_output=False``         (Prediction.single)

SAM's mask decoder always computes its four mask tokens; ``SamPredictor.predict`` only
slices them (tokens 1-3 for multimask, token 0 for single). Running the decoder once and
reordering the four outputs is therefore exactly what two ``predict`` calls return (the
tests compare them bit for bit).

The image embedding is computed once per image and cached on disk
(:mod:`clickbench.embedding_cache`), keyed by image content and checkpoint hash.

Adding a SAM-compatible model is one entry in :data:`VARIANTS`: a function that builds the
(untrained) :class:`segment_anything.modeling.Sam` whose ``state_dict`` the checkpoint holds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from segment_anything import SamPredictor, sam_model_registry
from segment_anything.modeling import Sam

from clickbench import checkpoints
from clickbench.clicks import Click
from clickbench.embedding_cache import Embedding, EmbeddingCache, cache_key, image_hash
from clickbench.errors import BadInputError
from clickbench.models import accelerate as acceleration
from clickbench.models.base import InteractiveModel, Prediction
from clickbench.models.tiny import build_sam_tiny

log = logging.getLogger(__name__)

#: variant name -> builder of the untrained architecture (weights come from the checkpoint)
VARIANTS: dict[str, Callable[[], Sam]] = {
    "vit_b": sam_model_registry["vit_b"],
    "vit_l": sam_model_registry["vit_l"],
    "vit_h": sam_model_registry["vit_h"],
    "tiny": build_sam_tiny,
}

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


def box_to_xyxy(box) -> np.ndarray:
    """A :class:`clickbench.prompts.Box` (top, left, bottom, right; inclusive pixels) -> SAM's
    ``box`` (4,) float64 in XYXY = (left, top, right, bottom), as ``SamPredictor.predict``
    takes it (the pixel indices of the box's corners, like SAM's own ``batched_mask_to_box``)."""
    top, left, bottom, right = (int(v) for v in box)
    return np.array([left, top, right, bottom], dtype=np.float64)


def load_sam(
    variant: str, path: str | Path, device: str = "cpu", *, sha256: str | None = None
) -> tuple[Sam, str]:
    """Verify a state-dict checkpoint, build ``variant`` and load its weights; return the
    model (eval mode, on ``device``) and the file's SHA-256.

    The file is read with ``weights_only=True`` and loaded strictly, as segment-anything's
    ``build_sam`` does, but a mismatch fails with a :class:`BadInputError` naming the file
    and the missing and unexpected keys (:func:`clickbench.checkpoints.load_weights`).
    """
    try:
        builder = VARIANTS[variant]
    except KeyError:
        raise ValueError(
            f"unknown SAM variant {variant!r}; known: {', '.join(sorted(VARIANTS))}"
        ) from None
    state, digest = checkpoints.read_torch(path, sha256, what="SAM checkpoint")
    if isinstance(state, dict) and set(state) == {"model"}:
        raise BadInputError(
            path,
            'a {"model": state_dict} file (the SAM 2 format), not a SAM v1 state dict',
        )
    sam = builder()
    checkpoints.load_weights(path, sam, state, what=f"SAM variant {variant!r}")
    sam.to(device)
    sam.eval()
    return sam, digest


class SamModel(InteractiveModel):
    """SAM as an :class:`InteractiveModel` (see the module docstring for the candidates)."""

    name = "sam"
    supports_box = True

    def __init__(
        self,
        sam: Sam,
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
        # the encoder as configured (clickbench.models.accelerate; "none" leaves it as built)
        self.accelerate = accelerate
        self.predictor = SamPredictor(acceleration.apply(sam, accelerate))
        self.variant = variant
        self.checkpoint_sha256 = checkpoint_sha256
        self.device = device
        self.precision = precision
        self.mask_input = mask_input
        self.cache = EmbeddingCache(cache_dir) if cache_dir is not None else None
        #: encodings this object ran itself (cache hits excluded)
        self.encodings = 0
        self.last_hit: bool | None = None

    @property
    def sam(self) -> Sam:
        return self.predictor.model

    # ------------------------------------------------------------------ encoding
    def _device_type(self) -> str:
        return torch.device(self.device).type

    def _key(self, image: np.ndarray) -> tuple[str, dict[str, str]]:
        meta = {
            "image_sha256": image_hash(image),
            "checkpoint_sha256": self.checkpoint_sha256,
            "variant": self.variant,
            "precision": self.precision,
            "device": self._device_type(),
        }
        if self.accelerate != "none":  # plain entries keep the keys they always had
            meta["accelerate"] = self.accelerate
        return cache_key(**meta), meta

    @torch.no_grad()
    def encode(self, images: Sequence[np.ndarray]) -> list[Embedding]:
        """Run the image encoder on (H, W, 3) uint8 RGB images, as ``SamPredictor.set_image``.

        Images of the same resized shape are encoded as one batch. With precision ``bf16``
        the encoder runs under ``torch.autocast(<device>, torch.bfloat16)``; the embedding
        is returned as float32.
        """
        transform = self.predictor.transform
        size = self.sam.image_encoder.img_size
        out: list[Embedding | None] = [None] * len(images)
        groups: dict[tuple[int, int], list[int]] = {}
        inputs = []
        for i, image in enumerate(images):
            if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
                raise ValueError(
                    f"expected an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}"
                )
            resized = transform.apply_image(image)
            tensor = torch.as_tensor(resized, device=self.device).permute(2, 0, 1).contiguous()
            inputs.append(tensor)
            groups.setdefault(tuple(tensor.shape[-2:]), []).append(i)
        dtype = PRECISIONS[self.precision]
        for shape, idx in groups.items():
            assert max(shape) == size, shape
            batch = torch.stack([inputs[i] for i in idx])
            batch = self.sam.preprocess(batch)
            if dtype is None:
                features = self.sam.image_encoder(batch)
            else:
                with torch.autocast(device_type=self._device_type(), dtype=dtype):
                    features = self.sam.image_encoder(batch)
            features = features.float().cpu().numpy()
            for j, i in enumerate(idx):
                out[i] = Embedding(
                    features=features[j : j + 1],
                    original_size=tuple(int(s) for s in images[i].shape[:2]),
                    input_size=tuple(int(s) for s in shape),
                )
        self.encodings += len(images)
        return out  # type: ignore[return-value]

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
            raise RuntimeError("SamModel.prepare needs a cache_dir")
        if batch_size is None:
            batch_size = 4 if self._device_type() == "cuda" else 1
        for start in range(0, len(images), batch_size):
            chunk = list(images[start : start + batch_size])
            keys, metas = zip(*(self._key(im) for im in chunk), strict=True)
            self.cache.get_or_compute_many(
                list(keys), lambda idx, chunk=chunk: self.encode([chunk[i] for i in idx]), metas
            )

    def set_embedding(self, emb: Embedding) -> None:
        """Put an embedding into the predictor, as ``SamPredictor.set_image`` leaves it."""
        p = self.predictor
        p.reset_image()
        p.features = torch.as_tensor(emb.features, device=self.device)
        p.original_size = tuple(emb.original_size)
        p.input_size = tuple(emb.input_size)
        p.is_image_set = True

    # ------------------------------------------------------------------ the interface
    def set_image(self, image: np.ndarray) -> None:
        image = np.asarray(image)
        self.set_embedding(self.embed(image))

    def reset(self) -> None:
        """Nothing to reset: SAM's only state between clicks is ``mask_input`` (see predict)."""

    @torch.no_grad()
    def predict(
        self,
        clicks: Sequence[Click],
        previous: Prediction | None = None,
        previous_choice: int | None = None,
        box=None,
    ) -> Prediction:
        """Four candidates for the clicks so far (oldest first), and the ``box`` prompt when
        given (a :class:`clickbench.prompts.Box`, passed as :func:`box_to_xyxy`; the clicks
        may then be empty), as ``SamPredictor.predict(point_coords, point_labels, box)``.

        Returns masks (4, H, W) bool, scores (4,) float32 (SAM's predicted IoU), logits
        (4, 256, 256) float32, ``multi=(0, 1, 2)``, ``single=3``. When the model was built
        with ``mask_input`` and ``previous`` is given, the low-res logits of the candidate
        the protocol kept (``previous_choice``) are fed back as ``mask_input`` (1, 256, 256).
        """
        p = self.predictor
        if not p.is_image_set:
            raise RuntimeError("set_image must be called before predict")
        if not clicks and box is None:
            raise ValueError("SAM needs at least one click or a box")
        points = None
        if clicks:
            coords, labels = clicks_to_points(clicks)
            coords = p.transform.apply_coords(coords, p.original_size)
            coords_t = torch.as_tensor(coords, dtype=torch.float, device=self.device)[None]
            labels_t = torch.as_tensor(labels, dtype=torch.int, device=self.device)[None]
            points = (coords_t, labels_t)
        boxes = None
        if box is not None:
            xyxy = p.transform.apply_boxes(box_to_xyxy(box), p.original_size)
            boxes = torch.as_tensor(xyxy, dtype=torch.float, device=self.device)
        mask_t = None
        if self.mask_input and previous is not None:
            if previous.logits is None or previous_choice is None:
                raise ValueError("mask_input needs the previous prediction's logits and choice")
            prev = np.asarray(previous.logits[previous_choice], dtype=np.float32)[None]
            mask_t = torch.as_tensor(prev, dtype=torch.float, device=self.device)[None]
        sparse, dense = self.sam.prompt_encoder(points=points, boxes=boxes, masks=mask_t)
        low_res, iou = self.sam.mask_decoder.predict_masks(
            image_embeddings=p.features,
            image_pe=self.sam.prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
        )
        order = list(TOKEN_ORDER)
        low_res, iou = low_res[:, order], iou[:, order]
        masks = self.sam.postprocess_masks(low_res, p.input_size, p.original_size)
        masks = masks > self.sam.mask_threshold
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
) -> SamModel:
    """Build SAM from a model's validated config block (``variant``, ``checkpoint``,
    ``mask_input``; :func:`clickbench.models.registry.build` validates it).

    The checkpoint is verified against ``checkpoint.sha256`` (when given) before loading.
    """
    ckpt = spec["checkpoint"]
    variant = spec["variant"]
    sam, digest = load_sam(variant, ckpt["path"], device, sha256=ckpt.get("sha256"))
    log.info(
        "SAM %s loaded from %s (SHA-256 %s), %s %s",
        variant,
        ckpt["path"],
        digest,
        device,
        precision,
    )
    return SamModel(
        sam,
        variant=variant,
        checkpoint_sha256=digest,
        device=device,
        precision=precision,
        cache_dir=cache_dir,
        mask_input=bool(spec["mask_input"]),
        accelerate=spec["accelerate"],
    )


__all__ = [
    "MULTI",
    "SINGLE",
    "VARIANTS",
    "SamModel",
    "box_to_xyxy",
    "build",
    "clicks_to_points",
    "load_sam",
]

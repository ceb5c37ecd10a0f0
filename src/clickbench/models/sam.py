"""Segment Anything (SAM) through ``segment_anything.SamPredictor``.

At every click step the model returns four candidates, all from one mask-decoder call:

    index 0, 1, 2   the three masks of ``multimask_output=True``   (Prediction.multi)
    index 3         the mask of ``multimask_output=False``         (Prediction.single)

SAM's mask decoder always computes its four mask tokens; ``SamPredictor.predict`` only
slices them (tokens 1-3 for multimask, token 0 for single). Running the decoder once and
reordering the four outputs is therefore exactly what two ``predict`` calls return (the
tests compare them bit for bit).

The image embedding is computed once per image and cached on disk
(:mod:`clickbench.embedding_cache`), keyed by image content and checkpoint hash; the cache,
``set_image`` and ``predict`` plumbing is :class:`~clickbench.models.sam_family.SamFamilyModel`'s.
:class:`SamModel` is that class in SAM v1's frame (the longest side resized to 1024 and
padded), which HQ-SAM and EfficientViT-SAM share.

Adding a SAM-compatible model is one entry in :data:`VARIANTS`: a function that builds the
(untrained) :class:`segment_anything.modeling.Sam` whose ``state_dict`` the checkpoint holds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from segment_anything import SamPredictor, sam_model_registry
from segment_anything.modeling import Sam

from clickbench import checkpoints
from clickbench.clicks import Click
from clickbench.embedding_cache import Embedding
from clickbench.errors import BadInputError
from clickbench.models import accelerate as acceleration
from clickbench.models.sam_family import (
    MULTI,
    SINGLE,
    TOKEN_ORDER,
    SamFamilyModel,
    clicks_to_points,
    variant_entry,
)
from clickbench.models.tiny import build_sam_tiny

#: variant name -> builder of the untrained architecture (weights come from the checkpoint)
VARIANTS: dict[str, Callable[[], Sam]] = {
    "vit_b": sam_model_registry["vit_b"],
    "vit_l": sam_model_registry["vit_l"],
    "vit_h": sam_model_registry["vit_h"],
    "tiny": build_sam_tiny,
}


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
    builder = variant_entry(VARIANTS, variant, "SAM")
    state, digest = checkpoints.read_torch(path, sha256, what="a SAM checkpoint")
    if isinstance(state, dict) and set(state) == {"model"}:
        raise BadInputError(
            path,
            'a {"model": state_dict} file (the SAM 2 format), not a SAM v1 state dict',
        )
    what = f"SAM variant {variant!r}"
    return checkpoints.load_weights(path, builder(), state, what=what, device=device), digest


class SamModel(SamFamilyModel):
    """SAM as an :class:`InteractiveModel` (see the module docstring for the candidates).

    Subclasses in SAM v1's frame (HQ-SAM, EfficientViT-SAM) give their own predictor
    (:meth:`_predictor`), encoding and, where it differs, decoder call (:meth:`_decoder`).
    """

    name = "sam"
    supports_box = True

    def __init__(self, sam: Sam, **kwargs):
        """``sam`` loaded; ``kwargs`` as :class:`SamFamilyModel`'s (variant,
        checkpoint_sha256, device, precision, cache_dir, mask_input, accelerate)."""
        super().__init__(**kwargs)
        self.predictor = self._predictor(sam)

    @classmethod
    def load(cls, spec: dict, device: str) -> tuple[Sam, str]:
        ckpt = spec["checkpoint"]
        return load_sam(spec["variant"], ckpt["path"], device, sha256=ckpt.get("sha256"))

    @classmethod
    def settings(cls, spec: dict) -> dict:
        return {"accelerate": spec["accelerate"]}

    def _predictor(self, sam: Sam):
        """segment-anything's predictor on the encoder as configured
        (clickbench.models.accelerate; "none" leaves it as built)."""
        return SamPredictor(acceleration.apply(sam, self.accelerate))

    @property
    def sam(self) -> Sam:
        return self.predictor.model

    # ------------------------------------------------------------------ encoding
    def _input(self, image: np.ndarray) -> torch.Tensor:
        """(3, h, w) uint8 on the device: ``image`` resized so its long side is 1024."""
        resized = self.predictor.transform.apply_image(image)
        return torch.as_tensor(resized, device=self.device).permute(2, 0, 1).contiguous()

    def _encode(self, images: Sequence[np.ndarray]) -> list[Embedding]:
        """As ``SamPredictor.set_image``; images of the same resized shape are encoded as one
        batch."""
        size = self.sam.image_encoder.img_size
        out: list[Embedding | None] = [None] * len(images)
        groups: dict[tuple[int, int], list[int]] = {}
        inputs = []
        for i, image in enumerate(images):
            tensor = self._input(image)
            inputs.append(tensor)
            groups.setdefault(tuple(tensor.shape[-2:]), []).append(i)
        for shape, idx in groups.items():
            assert max(shape) == size, shape
            batch = self.sam.preprocess(torch.stack([inputs[i] for i in idx]))
            features = self.run_encoder(self.sam.image_encoder, batch).float().cpu().numpy()
            for j, i in enumerate(idx):
                out[i] = Embedding(
                    features=features[j : j + 1],
                    original_size=tuple(int(s) for s in images[i].shape[:2]),
                    input_size=tuple(int(s) for s in shape),
                )
        return out  # type: ignore[return-value]

    def set_embedding(self, emb: Embedding) -> None:
        """Put an embedding into the predictor, as ``SamPredictor.set_image`` leaves it."""
        p = self.predictor
        p.reset_image()
        p.features = torch.as_tensor(emb.features, device=self.device)
        p.original_size = tuple(emb.original_size)
        p.input_size = tuple(emb.input_size)
        p.is_image_set = True

    # ------------------------------------------------------------------ decoding
    def _image_is_set(self) -> bool:
        return self.predictor.is_image_set

    def _decode(self, clicks: Sequence[Click], box, mask_logits: np.ndarray | None):
        """As ``SamPredictor.predict(point_coords, point_labels, box, mask_input)``, the box
        passed as :func:`box_to_xyxy`."""
        p = self.predictor
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
        if mask_logits is not None:
            mask_t = torch.as_tensor(mask_logits, dtype=torch.float, device=self.device)[None]
        sparse, dense = self.sam.prompt_encoder(points=points, boxes=boxes, masks=mask_t)
        low_res, iou = self._decoder(sparse, dense)
        masks = self.sam.postprocess_masks(low_res, p.input_size, p.original_size)
        return masks > self.sam.mask_threshold, iou, low_res

    def _decoder(self, sparse: torch.Tensor, dense: torch.Tensor):
        """The mask decoder on the prompt embeddings: low-res logits (1, 4, 256, 256) and
        IoUs (1, 4) in candidate order (tokens 1, 2, 3, 0)."""
        low_res, iou = self.sam.mask_decoder.predict_masks(
            image_embeddings=self.predictor.features,
            image_pe=self.sam.prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
        )
        order = list(TOKEN_ORDER)
        return low_res[:, order], iou[:, order]


#: the registry's builder (:meth:`SamFamilyModel.build`)
build = SamModel.build


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

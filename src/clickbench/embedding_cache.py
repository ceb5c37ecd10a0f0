"""SAM image embeddings cached on disk, so each image is encoded once per model.

An entry is keyed by everything the embedding depends on: the image's content (pixels,
shape, dtype), the checkpoint's SHA-256, the SAM variant, the encoder precision, the encoder
acceleration (when not ``none``) and the device type (a CUDA embedding is not bit-identical to
a CPU one). Changing a click protocol, a mask-selection strategy or any other downstream
setting re-encodes nothing.

Layout under ``<cache_dir>/sam/``::

    encodings.log            one line per real encoding: "<utc time>\\t<key>\\t<pid>"
    ab/<key>.npz             features (1, C, 64, 64) float32, original_size, input_size,
                             the key's components and a SHA-256 of the features' bytes
    ab/<key>.lock            per-key lock file (fcntl), so two jobs never encode one image twice

Entries are written to a temporary file, flushed to disk and renamed into place. A reader
checks an entry completely (loads, key components, checksum); anything else (a truncated
or foreign file) counts as a miss and is recomputed and replaced.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from clickbench.atomic import append_journal, file_lock, fsync_dir, write_atomic

log = logging.getLogger(__name__)

JOURNAL = "encodings.log"


@dataclass
class Embedding:
    """One image's SAM embedding and the sizes SamPredictor needs to decode against it.

    features:      (1, C, 64, 64) float32
    original_size: (H, W) of the image
    input_size:    (h, w) of the image resized so its long side is 1024
    """

    features: np.ndarray
    original_size: tuple[int, int]
    input_size: tuple[int, int]


def image_hash(image: np.ndarray) -> str:
    """SHA-256 of an image's pixels, shape and dtype (not of the file it came from)."""
    image = np.ascontiguousarray(image)
    digest = hashlib.sha256()
    digest.update(f"{image.dtype.str}{image.shape}".encode())
    digest.update(image.tobytes())
    return digest.hexdigest()


def cache_key(
    image_sha256: str,
    checkpoint_sha256: str,
    variant: str,
    precision: str,
    device: str,
    accelerate: str = "none",
) -> str:
    """The entry name for an embedding: a SHA-256 over all of its components.

    ``accelerate`` (clickbench.models.accelerate) joins the hashed parts only when it is not
    ``none``, so the plain encoder's entries keep the keys they had before the setting existed.
    """
    parts = ("sam-embedding-v1", image_sha256, checkpoint_sha256, variant, precision, device)
    if accelerate != "none":
        parts += (f"accelerate={accelerate}",)
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _features_checksum(features: np.ndarray) -> str:
    features = np.ascontiguousarray(features)
    return hashlib.sha256(
        f"{features.dtype.str}{features.shape}".encode() + features.tobytes()
    ).hexdigest()


def count_encodings(cache_dir: str | Path, key: str | None = None) -> int:
    """Number of real encodings recorded in the journal (all, or those of one key)."""
    path = Path(cache_dir) / "sam" / JOURNAL
    if not path.exists():
        return 0
    n = 0
    with open(path) as fh:
        for line in fh:
            fields = line.rstrip("\n").split("\t")
            if len(fields) == 3 and (key is None or fields[1] == key):
                n += 1
    return n


class EmbeddingCache:
    """Embeddings on disk under ``<cache_dir>/sam``; see the module docstring."""

    def __init__(self, cache_dir: str | Path):
        self.root = Path(cache_dir) / "sam"
        self.root.mkdir(parents=True, exist_ok=True)
        self.journal = self.root / JOURNAL

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npz"

    # ------------------------------------------------------------------ reading
    def load(self, key: str, meta: dict[str, str] | None = None) -> Embedding | None:
        """The complete, intact entry for ``key``, or None (absent or damaged)."""
        path = self.path(key)
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data["key"]) != key:
                    raise ValueError("key differs")
                for name, value in (meta or {}).items():
                    if str(data[name]) != value:
                        raise ValueError(f"{name} differs")
                features = np.array(data["features"], dtype=np.float32)
                if str(data["checksum"]) != _features_checksum(features):
                    raise ValueError("checksum differs")
                return Embedding(
                    features=features,
                    original_size=tuple(int(v) for v in data["original_size"]),
                    input_size=tuple(int(v) for v in data["input_size"]),
                )
        except FileNotFoundError:
            return None
        except Exception as err:  # noqa: BLE001 - any damage means "recompute"
            log.warning("embedding cache entry %s is damaged (%s); recomputing it", path, err)
            return None

    # ------------------------------------------------------------------ writing
    def _store(self, key: str, emb: Embedding, meta: dict[str, str] | None) -> None:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        features = np.ascontiguousarray(emb.features, dtype=np.float32)
        arrays = {
            "features": features,
            "original_size": np.asarray(emb.original_size, dtype=np.int64),
            "input_size": np.asarray(emb.input_size, dtype=np.int64),
            "checksum": np.asarray(_features_checksum(features)),
            "key": np.asarray(key),
        }
        arrays.update({k: np.asarray(v) for k, v in (meta or {}).items()})
        write_atomic(path, lambda fh: np.savez(fh, **arrays))
        fsync_dir(path.parent)  # make the rename itself durable

    def _record(self, key: str) -> None:
        append_journal(self.journal, key, str(os.getpid()))

    def _locked(self, key: str):
        return file_lock(self.path(key).with_suffix(".lock"))

    def get_or_compute(
        self,
        key: str,
        compute: Callable[[], Embedding],
        meta: dict[str, str] | None = None,
    ) -> tuple[Embedding, bool]:
        """The cached embedding for ``key``, computing and storing it on a miss.

        Returns ``(embedding, hit)``. Concurrent callers with the same key (threads or
        processes) serialise on the key's lock: one computes, the others then read.
        """
        emb = self.load(key, meta)
        if emb is not None:
            return emb, True
        with self._locked(key):
            emb = self.load(key, meta)
            if emb is not None:
                return emb, True
            emb = compute()
            self._store(key, emb, meta)
            self._record(key)
            return emb, False

    def get_or_compute_many(
        self,
        keys: Sequence[str],
        compute: Callable[[list[int]], list[Embedding]],
        metas: Sequence[dict[str, str] | None] | None = None,
    ) -> list[Embedding]:
        """Like :meth:`get_or_compute` for several keys, computing the misses in one call.

        ``compute(indices)`` gets the positions (into ``keys``) that missed and returns their
        embeddings in that order (a batched encoder). Locks are taken in sorted key order.
        """
        metas = list(metas) if metas is not None else [None] * len(keys)
        out: list[Embedding | None] = [self.load(k, m) for k, m in zip(keys, metas, strict=True)]
        missing = [i for i, e in enumerate(out) if e is None]
        if not missing:
            return out  # type: ignore[return-value]
        with ExitStack() as stack:
            for key in sorted({keys[i] for i in missing}):
                stack.enter_context(self._locked(key))
            todo = []
            for i in missing:
                out[i] = self.load(keys[i], metas[i])
                if out[i] is None and keys[i] not in {keys[j] for j in todo}:
                    todo.append(i)
            if todo:
                for i, emb in zip(todo, compute(todo), strict=True):
                    self._store(keys[i], emb, metas[i])
                    self._record(keys[i])
                    out[i] = emb
            for i in missing:  # duplicates of a key computed above
                if out[i] is None:
                    out[i] = self.load(keys[i], metas[i])
        return out  # type: ignore[return-value]


__all__ = ["Embedding", "EmbeddingCache", "cache_key", "count_encodings", "image_hash"]

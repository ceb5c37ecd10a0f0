"""Boolean masks on disk: ``np.packbits`` inside ``.npz``, written atomically."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from clickbench.atomic import write_atomic


def pack(mask: np.ndarray) -> dict[str, np.ndarray]:
    """Pack a boolean array of any shape into ``{"bits", "shape"}``."""
    mask = np.asarray(mask, dtype=bool)
    return {"bits": np.packbits(mask.ravel()), "shape": np.asarray(mask.shape, dtype=np.int64)}


def unpack(bits: np.ndarray, shape) -> np.ndarray:
    """Inverse of :func:`pack`."""
    shape = tuple(int(s) for s in shape)
    n = int(np.prod(shape))
    return np.unpackbits(bits, count=n).astype(bool).reshape(shape)


def save_npz_atomic(path: str | Path, **arrays) -> None:
    """Write an ``.npz`` so that a reader never sees a half-written file.

    The data goes to a temporary file in the same folder, is flushed to disk, then renamed
    over ``path`` (atomic on POSIX).
    """
    write_atomic(path, lambda fh: np.savez_compressed(fh, **arrays))

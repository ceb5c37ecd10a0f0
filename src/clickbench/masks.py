"""Boolean masks on disk: ``np.packbits`` inside ``.npz``, written atomically."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from clickbench.atomic import write_atomic

#: zlib level of every ``.npz`` written (see :func:`save_npz_atomic`)
NPZ_LEVEL = 1


def pack(mask: np.ndarray) -> dict[str, np.ndarray]:
    """Pack a boolean array of any shape into ``{"bits", "shape"}``."""
    mask = np.asarray(mask, dtype=bool)
    return {"bits": np.packbits(mask.ravel()), "shape": np.asarray(mask.shape, dtype=np.int64)}


def unpack(bits: np.ndarray, shape) -> np.ndarray:
    """Inverse of :func:`pack`."""
    shape = tuple(int(s) for s in shape)
    n = int(np.prod(shape))
    return np.unpackbits(bits, count=n).astype(bool).reshape(shape)


def _write_npz(fh, arrays: dict, level: int) -> None:
    """``np.savez_compressed``'s layout (one ``<name>.npy`` per array in a deflated zip,
    zip64 forced) at zlib ``level``; ``np.load`` reads it like any ``.npz``."""
    with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=level) as zf:
        for name, value in arrays.items():
            with zf.open(f"{name}.npy", "w", force_zip64=True) as out:
                np.lib.format.write_array(out, np.asanyarray(value), allow_pickle=False)


def save_npz_atomic(path: str | Path, **arrays) -> None:
    """Write an ``.npz`` so that a reader never sees a half-written file.

    The data goes to a temporary file in the same folder, is flushed to disk, then renamed
    over ``path`` (atomic on POSIX). Compressed at zlib level 1, not ``np.savez_compressed``'s
    6: on a SAM trace of noisy masks that is 0.05 s instead of 0.23 s for a file 24% larger.
    """
    write_atomic(path, lambda fh: _write_npz(fh, arrays, NPZ_LEVEL))

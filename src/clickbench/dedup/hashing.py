"""The canonical crop of an image and its perceptual hashes (see the package docstring,
*Canonical view*, step 4): 256-bit phashes of the crop's 8 dihedral variants, their distances
and the crops' correlations."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from clickbench.dedup.geometry import (
    Geometry,
    crop_affine,
    homogeneous,
    photo_geometry,
    scale_affine,
    to_full,
)

THUMB = 64  # canonical crop size in pixels
HASH_SIZE = 16  # phash of HASH_SIZE x HASH_SIZE DCT coefficients: 256 bits
WORDS = HASH_SIZE * HASH_SIZE // 64
WORK_SCALE = 2  # geometry and crops are computed at 1/WORK_SCALE resolution
MASK_SCALE = 2  # masks are compared at 1/MASK_SCALE resolution


@dataclass(frozen=True)
class Canonical:
    """An image's canonical view and hashes.

    ``thumb``: (THUMB, THUMB) uint8 grey canonical crop; ``hashes``: (8, WORDS) uint64, the
    256-bit phash of the crop's 8 dihedral variants (variant 0 as seen, see
    :func:`dihedral`); ``affine``: (3, 3) map from crop pixel (x=col, y=row) to image pixel
    (x, y) at full resolution; ``geometry``: see :class:`Geometry`; ``valid``: (h, w) bool at
    1/MASK_SCALE resolution, the photo's pixels (not fill); ``shape``: the image's (H, W).
    """

    thumb: np.ndarray
    hashes: np.ndarray
    affine: np.ndarray
    geometry: Geometry
    valid: np.ndarray
    shape: tuple[int, int]

    @property
    def hash_hex(self) -> str:
        return hash_to_hex(self.hashes[0])


def dihedral(array: np.ndarray, k: int) -> np.ndarray:
    """Variant ``k`` (0..7) of a square array: ``rot90`` by ``k // 2`` then a mirror if ``k`` is odd."""
    out = np.rot90(array, k // 2, axes=(0, 1))
    return out[:, ::-1] if k % 2 else out


def _pack(bits: np.ndarray) -> np.ndarray:
    return np.packbits(bits.ravel()).view(">u8").astype(np.uint64)


_SIGN = (-1.0) ** np.arange(HASH_SIZE)


def _dihedral_phashes(gray: np.ndarray) -> np.ndarray:
    """(8, WORDS) uint64: phash of the 8 :func:`dihedral` variants of a (THUMB, THUMB) crop.

    Variant 0 is ``imagehash.phash`` itself. The others reuse its DCT: a mirror of the
    columns multiplies coefficient (u, v) by (-1)**v, ``rot90`` is a transpose followed by a
    mirror of the rows, so each variant's coefficients are a signed transpose of the first
    (equal to ``imagehash.phash(dihedral(crop, k))``, checked in the tests).
    """
    # imported here, as imagehash does: the jobs that read dedup tables (dedup_summary,
    # aggregate) import this module too and would pay 0.16 s for a DCT they never compute
    import scipy.fftpack

    pixels = np.asarray(gray, dtype=np.float64)
    dct = scipy.fftpack.dct(scipy.fftpack.dct(pixels, axis=0), axis=1)
    low = dct[:HASH_SIZE, :HASH_SIZE]
    out = []
    for k in range(8):
        b = low
        for _ in range(k // 2):
            b = b.T * _SIGN[:, None]
        if k % 2:
            b = b * _SIGN[None, :]
        out.append(_pack(b > np.median(b)))
    return np.stack(out)


def hash_to_hex(words: np.ndarray) -> str:
    return "".join(f"{int(w):016x}" for w in words)


def hex_to_hash(text: str) -> np.ndarray:
    """Inverse of :func:`hash_to_hex`: (WORDS,) uint64."""
    return np.array([int(text[i : i + 16], 16) for i in range(0, len(text), 16)], np.uint64)


def image_hashes(image: np.ndarray) -> Canonical:
    """Canonical crop, 8 dihedral phashes and photo geometry of an (H, W, 3) uint8 RGB image."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) image, got shape {image.shape}")
    full_height, full_width = image.shape[:2]
    factor = WORK_SCALE
    if full_height < 4 * factor or full_width < 4 * factor:
        raise ValueError(f"image of shape {image.shape} is too small to hash")
    # an exact factor: OpenCV's INTER_AREA is fast only for integer ratios
    height, width = full_height // factor, full_width // factor
    even = image[: height * factor, : width * factor]
    small = cv2.resize(even, (width, height), interpolation=cv2.INTER_AREA)
    theta, geometry, valid = photo_geometry(small)
    samples = THUMB * 2  # sample at twice the size, then reduce (anti-aliasing)
    affine = crop_affine(theta, geometry, min(width, height), samples)
    gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    big = cv2.warpAffine(
        gray, affine, (samples, samples), flags=flags, borderMode=cv2.BORDER_REPLICATE
    )
    thumb = cv2.resize(big, (THUMB, THUMB), interpolation=cv2.INTER_AREA)
    hashes = _dihedral_phashes(thumb)
    # thumb pixel -> 2x sample pixel -> small pixel -> full pixel
    crop_to_full = scale_affine(float(factor)) @ homogeneous(affine) @ scale_affine(2.0)
    geometry = Geometry(
        geometry.angle,
        geometry.scale,
        to_full(geometry.center, float(factor)),
        geometry.fill,
        geometry.fill_fraction,
    )
    mask_height = max(full_height // MASK_SCALE, 1)
    mask_width = max(full_width // MASK_SCALE, 1)
    reduced = cv2.resize(
        valid.astype(np.uint8), (mask_width, mask_height), interpolation=cv2.INTER_NEAREST
    )
    return Canonical(thumb, hashes, crop_to_full, geometry, reduced > 0, (full_height, full_width))


def pair_distances(a: np.ndarray, b: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Hash distances between images: ``a`` (n, 8, WORDS), ``b`` (m, 8, WORDS) uint64.

    Returns ``distance`` (n, m) int: ``min_k hamming(a[i, 0], b[j, k])``, and ``variant`` (n, m)
    int8: the minimising ``k`` (crop of ``a[i]`` ~ :func:`dihedral` ``(crop of b[j], k)``).
    """
    b = a if b is None else b
    n, m = len(a), len(b)
    dist = np.empty((n, m), np.int32)
    var = np.empty((n, m), np.int8)
    chunk = max(1, 2_000_000 // max(m * 8 * WORDS, 1))
    for s in range(0, n, chunk):
        x = a[s : s + chunk, None, None, 0, :] ^ b[None, :, :, :]
        d = np.bitwise_count(x).sum(axis=-1, dtype=np.int32)  # (c, m, 8)
        var[s : s + chunk] = d.argmin(axis=2)
        dist[s : s + chunk] = d.min(axis=2)
    return dist, var


def _normalised(thumbs: np.ndarray) -> np.ndarray:
    t = thumbs.reshape(len(thumbs), -1).astype(np.float32)
    t -= t.mean(axis=1, keepdims=True)
    t /= np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-6)
    return t.reshape(thumbs.shape)


def crop_correlations(
    thumbs: np.ndarray, i: np.ndarray, j: np.ndarray, k: np.ndarray
) -> np.ndarray:
    """Normalised cross-correlation of crop i with variant k of crop j, per pair."""
    norm = _normalised(thumbs)
    out = np.empty(len(i), np.float32)
    for kk in range(8):
        sel = np.flatnonzero(k == kk)
        if len(sel) == 0:
            continue
        other = np.stack([dihedral(t, kk) for t in norm[j[sel]]])
        out[sel] = np.einsum("nij,nij->n", norm[i[sel]], other)
    return out

"""Grouping: candidate pairs by hash distance, verified by aligning their canonical crops
(see the package docstring, *Grouping*), and each group's representative."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from clickbench.dedup.hashing import Canonical, dihedral, pair_distances

DEFAULT_MAX_DISTANCE = 48  # of 256 bits: candidate pairs, then verified (see the docstring)
MIN_CORRELATION = 0.95  # verification: the limits of Alignment.same_photo, from real photos
MAX_SHIFT = 0.6  # crop pixels
MAX_ROTATION = 2.5  # degrees
MAX_ZOOM = 1.04
MAX_BLOCK_RESIDUAL = 0.3
BLOCKS = 4
MAX_ATTEMPTS = 3  # failed verifications between two groups before their pairs are left out
ECC_CRITERIA = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 1e-3)


@dataclass(frozen=True)
class Alignment:
    """The residual between two canonical crops after a fitted affine alignment.

    ``shift`` (crop pixels at the crop centre), ``rotation`` (degrees), ``zoom`` (scale ratio, 1
    for none) of the fitted map; ``correlation`` of the crops after it; ``block_residual``: the
    largest mean squared difference of the normalised crops over one of ``BLOCKS`` x ``BLOCKS``
    blocks, relative to the crops' variance (an object moved in one part of the scene).
    """

    shift: float
    rotation: float
    zoom: float
    correlation: float
    block_residual: float

    def same_photo(self) -> bool:
        """Whether the residual is what resampling leaves between copies of one photo."""
        return (
            self.shift <= MAX_SHIFT
            and abs(self.rotation) <= MAX_ROTATION
            and abs(np.log(self.zoom)) <= np.log(MAX_ZOOM)
            and self.correlation >= MIN_CORRELATION
            and self.block_residual <= MAX_BLOCK_RESIDUAL
        )


def _standardised(thumb: np.ndarray) -> np.ndarray:
    t = thumb.astype(np.float32)
    t -= t.mean()
    return t / max(float(t.std()), 1e-3)


def align_crops(reference: np.ndarray, other: np.ndarray) -> Alignment:
    """Fit an affine map of ``other`` onto ``reference`` (two (THUMB, THUMB) uint8 crops, already
    in the same dihedral variant) by OpenCV's ECC and measure what is left after it."""
    ref, oth = _standardised(reference), _standardised(other)
    warp = np.eye(2, 3, dtype=np.float32)
    try:
        _, warp = cv2.findTransformECC(ref, oth, warp, cv2.MOTION_AFFINE, ECC_CRITERIA, None, 1)
    except cv2.error:  # no convergence: no alignment found
        return Alignment(np.inf, 0.0, 1.0, -1.0, np.inf)
    n = ref.shape[0]
    centre = (n - 1) / 2
    moved = warp[:, :2] @ np.array([centre, centre]) + warp[:, 2] - centre
    linear = warp[:, :2].astype(np.float64)
    zoom = float(np.sqrt(abs(np.linalg.det(linear))))
    rotation = float(
        np.degrees(np.arctan2(linear[1, 0] - linear[0, 1], linear[0, 0] + linear[1, 1]))
    )
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    aligned = cv2.warpAffine(oth, warp, (n, n), flags=flags, borderMode=cv2.BORDER_REPLICATE)
    margin = int(np.ceil(float(np.hypot(*moved)))) + 2  # replicated border left out
    if n - 2 * margin < 2 * BLOCKS:  # shifted by most of the crop: nothing left to compare
        return Alignment(float(np.hypot(*moved)), rotation, zoom, -1.0, np.inf)
    inner = slice(margin, n - margin)
    ra, al = _standardised(ref[inner, inner]), _standardised(aligned[inner, inner])
    correlation = float((ra * al).mean())
    diff = (ra - al) ** 2
    m = diff.shape[0] // BLOCKS * BLOCKS
    blocks = diff[:m, :m].reshape(BLOCKS, m // BLOCKS, BLOCKS, m // BLOCKS).mean(axis=(1, 3))
    return Alignment(float(np.hypot(*moved)), rotation, zoom, correlation, float(blocks.max()))


def verify_pair(a: Canonical, b: Canonical) -> Alignment:
    """:func:`align_crops` of b's crop onto a's, in the dihedral variant their hashes give."""
    k = variant_of(a, b)
    return align_crops(a.thumb, dihedral(b.thumb, k))


def variant_of(a: Canonical, b: Canonical) -> int:
    """k with crop a ~ dihedral(crop b, k), by hash distance."""
    x = a.hashes[0][None, :] ^ b.hashes
    return int(np.bitwise_count(x).sum(axis=1).argmin())


def group_images(
    canon: Sequence[Canonical],
    *,
    max_distance: int = DEFAULT_MAX_DISTANCE,
) -> np.ndarray:
    """Group labels (n,) int, 0-based in order of first appearance, for canonical views.

    Candidate pairs (hash distance at most ``max_distance``) are taken nearest first; a pair
    whose images are not yet in one group is verified (:func:`verify_pair`) and joins their
    groups when :meth:`Alignment.same_photo`, and so do the two groups' anchors (the member
    with the least fill, as :func:`choose_representatives` ranks them), so that no chain of
    small errors joins two views that differ by more than one verification allows. At most ``MAX_ATTEMPTS`` failed verifications are
    spent between the same two groups.
    """
    n = len(canon)
    if n == 0:
        return np.zeros(0, int)
    hashes = np.stack([c.hashes for c in canon])
    dist, _ = pair_distances(hashes)
    dist = np.minimum(dist, dist.T)
    i, j = np.nonzero(np.triu(dist <= max_distance, k=1))
    order = np.argsort(dist[i, j], kind="stable")
    parent = np.arange(n)

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    # each group's anchor: its member with the least fill, whose geometry is the surest
    rank = [(c.geometry.fill, round(c.geometry.fill_fraction, 4), p) for p, c in enumerate(canon)]
    anchor = list(range(n))
    failed: dict[tuple[int, int], int] = {}
    for a, b in zip(i[order].tolist(), j[order].tolist(), strict=True):
        ra, rb = find(a), find(b)
        if ra == rb:
            continue
        key = (min(ra, rb), max(ra, rb))
        if failed.get(key, 0) >= MAX_ATTEMPTS:
            continue
        ok = verify_pair(canon[a], canon[b]).same_photo()
        if ok and {anchor[ra], anchor[rb]} != {a, b}:
            # and the anchors: a chain of small geometry errors must not bridge a zoom
            ok = verify_pair(canon[anchor[ra]], canon[anchor[rb]]).same_photo()
        if ok:
            root, other = min(ra, rb), max(ra, rb)
            parent[other] = root
            anchor[root] = min(anchor[ra], anchor[rb], key=lambda p: rank[p])
        else:
            failed[key] = failed.get(key, 0) + 1
    roots = np.array([find(x) for x in range(n)])
    _, labels = np.unique(roots, return_inverse=True)
    return labels


def choose_representatives(canon: Sequence[Canonical], labels: Sequence[int]) -> dict[int, int]:
    """Each group's representative: {label: position}, positions in file order.

    The member with the least rotation fill: first the members without ``fill`` (the photo
    itself, a flip, a lossless turn, or a rotation by a degree or two), among them the smallest
    ``fill_fraction`` (the photo has none of the slivers such a rotation leaves), then the
    first in file order.
    """
    best: dict[int, tuple] = {}
    for pos, lab in enumerate(labels):
        geo = canon[pos].geometry
        key = (geo.fill, round(geo.fill_fraction, 4), pos)
        if int(lab) not in best or key < best[int(lab)]:
            best[int(lab)] = key
    return {lab: key[-1] for lab, key in best.items()}

"""Test sets for dedup built from real photographs, and the pairwise score of a grouping.

**Photos.** :func:`real_photos`: the GrabCut benchmark's 50 photos and masks when present
(``datasets.discover`` with the ``grabcut`` layout), the colour photographs bundled with
scikit-image (``skimage.data``, the files that ship in the wheel: no download; not
``hubble_deep_field``, a star field whose black sky touches every rotation's fill), scikit-learn
(``china.jpg``, ``flower.jpg``) and Matplotlib (``grace_hopper.jpg``).

**Copies** (one photo and its copies are one group), as the Kaggle fish set and
:func:`clickbench.demo.transform` make them, in the photo's own frame: ``hflip``, ``vflip``,
``rot180``; ``rot90`` / ``rot270`` scaled to fit with black bars; ``turn90`` / ``turn270``
(``np.rot90``: the frame turns, nothing lost); ``rotate`` by any angle about the frame centre
with black fill and no scaling (``rotate`` 90 and 270 are right-angle turns without
scale-to-fit); each optionally with colour jitter (:func:`clickbench.demo.jitter`), a mild
Gaussian blur (sigma 1 px) or a JPEG re-encoding (quality 75).

**Distinct originals that look alike** (:func:`look_alikes`; each one is its own group): what
counts as a distinct original is another photograph of the scene, not a transform of the same
one: the view shifted by at least ``SHIFT`` (3%) of its short side, zoomed by at least ``ZOOM``
(6%), or an object (the GrabCut mask, at least 1% of the frame) moved by at least ``MOVE``
(5%) of the short side, its old place inpainted; and scikit-image's stereo pair
(``stereo_motorcycle``: left and right view), two views a moment apart in space. Smaller
changes than these are within what resampling a copy leaves, and :mod:`clickbench.dedup`
may merge them.

**Out of scope** (:func:`in_scope`): a photo whose own frame corners are black, so that dedup
finds rotation fill in the photo itself (scikit-image's ``retina``, a fundus on black), cannot
be told from a rotated copy by its fill; the tests list them and leave them out. None of
GrabCut's 50 photos is one (``fullmoon``'s sky is dark grey, 20 of 255).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from clickbench import demo

SHIFT = 0.03
ZOOM = 1.06
MOVE = 0.05
SKIMAGE_PHOTOS = (
    "astronaut",
    "chelsea",
    "coffee",
    "rocket",
    "immunohistochemistry",
    "retina",
)
COPY_KINDS = ("hflip", "vflip", "rot180", "rot90", "rot270", "turn90", "turn270", "rotate")


@dataclass(frozen=True)
class Photo:
    """A real photograph: ``name``, ``image`` (H, W, 3) uint8 RGB, ``mask`` (H, W) bool or None."""

    name: str
    image: np.ndarray
    mask: np.ndarray | None


@dataclass(frozen=True)
class Item:
    """One image of a test set: ``group`` (its true original), ``kind`` (``original`` or a
    copy kind), ``angle`` (degrees, for ``rotate``), ``image`` (H, W, 3) uint8 RGB."""

    group: int
    kind: str
    angle: float
    image: np.ndarray

    @property
    def unrotated(self) -> bool:
        """An original, a flip or a turn that loses nothing of the photo (``rotate`` by 180
        degrees, or by 90 in a square frame)."""
        h, w = self.image.shape[:2]
        return self.kind in ("original", "hflip", "vflip", "rot180", "turn90", "turn270") or (
            self.kind == "rotate" and (self.angle % 180 == 0 or (self.angle % 90 == 0 and h == w))
        )


def grabcut_photos(root: str | Path) -> list[Photo]:
    """The GrabCut benchmark's photos and object masks under ``root`` (``data_GT``,
    ``boundary_GT``), read as the workflow reads them."""
    from clickbench import datasets

    samples = datasets.discover({"name": "GrabCut", "layout": "grabcut", "root": str(root)})
    out = []
    for s in samples:
        (image, gt, _ignore), _ = datasets.try_load(s, "grabcut", "error")
        out.append(Photo(s.image_id, image, gt))
    return out


def package_photos() -> list[Photo]:
    """The colour photographs that ship inside installed packages (no download)."""
    import matplotlib.cbook
    import skimage.data
    from PIL import Image

    out = []
    for name in SKIMAGE_PHOTOS:
        image = np.asarray(getattr(skimage.data, name)())
        out.append(Photo(name, np.ascontiguousarray(image[..., :3]), None))
    left, right, _disparity = skimage.data.stereo_motorcycle()
    out += [Photo("motorcycle_left", left, None), Photo("motorcycle_right", right, None)]
    import sklearn.datasets

    for name in ("china.jpg", "flower.jpg"):
        out.append(Photo(name, sklearn.datasets.load_sample_image(name), None))
    with Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg")) as im:
        out.append(Photo("grace_hopper", np.asarray(im.convert("RGB")), None))
    return out


def in_scope(photo: Photo) -> bool:
    """False for a photo whose own frame corners dedup takes for rotation fill (see the module
    docstring)."""
    from clickbench import dedup

    return not dedup.image_hashes(photo.image).geometry.fill


def copy_of(photo: np.ndarray, kind: str, angle: float = 0.0) -> np.ndarray:
    """One augmented copy of an (H, W, 3) uint8 photo (see the module docstring)."""
    if kind in ("turn90", "turn270"):
        return np.ascontiguousarray(np.rot90(photo, 1 if kind == "turn90" else 3))
    if kind in ("rot90", "rot270"):  # demo.transform's, for frames of either orientation
        h, w = photo.shape[:2]
        turned = np.rot90(photo, 1 if kind == "rot90" else 3)
        scale = min(h / turned.shape[0], w / turned.shape[1])
        size = (int(round(turned.shape[1] * scale)), int(round(turned.shape[0] * scale)))
        small = cv2.resize(np.ascontiguousarray(turned), size, interpolation=cv2.INTER_AREA)
        out = np.zeros_like(photo)
        y, x = (h - size[1]) // 2, (w - size[0]) // 2
        out[y : y + size[1], x : x + size[0]] = small
        return out
    mask = np.zeros(photo.shape[:2], bool)
    return demo.transform(photo, mask, kind, angle)[0]


def degrade(rng: np.random.Generator, image: np.ndarray, how: str) -> np.ndarray:
    """``none``, ``jitter`` (mild colour change), ``blur`` (sigma 1 px) or ``jpeg`` (quality 75)."""
    if how == "jitter":
        return demo.jitter(rng, image)
    if how == "blur":
        return cv2.GaussianBlur(image, (0, 0), 1.0)
    if how == "jpeg":
        ok, buf = cv2.imencode(".jpg", image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 75])
        return np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1])
    return image


def copies(rng: np.random.Generator, photo: np.ndarray, n: int, group: int = 0) -> Iterator[Item]:
    """The photo and ``n`` copies of it: one of each kind of :data:`COPY_KINDS` first (the
    rotation steep, 45 to 80 degrees off a right angle), then rotations by random angles; each
    copy degraded by one of jitter, blur, JPEG or nothing."""
    yield Item(group, "original", 0.0, photo)
    for j in range(n):
        kind = COPY_KINDS[j] if j < len(COPY_KINDS) else "rotate"
        angle = 0.0
        if kind == "rotate":
            off = rng.uniform(45, 80) if j < len(COPY_KINDS) + 2 else rng.uniform(1, 89)
            angle = float(round(rng.integers(0, 4) * 90 + off, 1))
        how = str(rng.choice(["none", "jitter", "blur", "jpeg"]))
        yield Item(group, kind, angle, degrade(rng, copy_of(photo, kind, angle), how))


def every_angle(photo: np.ndarray, group: int = 0, step: int = 1) -> Iterator[Item]:
    """The photo and its rotations by ``step``, ``2 step``, ... degrees up to 359, black fill."""
    yield Item(group, "original", 0.0, photo)
    for angle in range(step, 360, step):
        yield Item(group, "rotate", float(angle), copy_of(photo, "rotate", float(angle)))


def _window(photo: np.ndarray, dy: float, dx: float, zoom: float, margin: float) -> np.ndarray:
    """The photo seen through a window ``1 - 2 margin`` of its size, moved by (dy, dx) pixels
    and zoomed in by ``zoom`` about its centre, resampled to the window's size."""
    h, w = photo.shape[:2]
    out_h, out_w = int(round(h * (1 - 2 * margin))), int(round(w * (1 - 2 * margin)))
    m = np.array(
        [
            [1 / zoom, 0, (w - 1) / 2 + dx - (out_w - 1) / 2 / zoom],
            [0, 1 / zoom, (h - 1) / 2 + dy - (out_h - 1) / 2 / zoom],
        ]
    )
    flags = cv2.INTER_AREA if zoom == 1 else cv2.INTER_LINEAR
    return cv2.warpAffine(photo, m, (out_w, out_h), flags=flags | cv2.WARP_INVERSE_MAP)


def look_alikes(photo: Photo, rng: np.random.Generator) -> list[np.ndarray]:
    """Distinct originals of one scene: the view, the view shifted by :data:`SHIFT` of its short
    side (in a random direction), zoomed in by :data:`ZOOM` and, with a mask, the object moved
    by :data:`MOVE` of the short side. The first is the reference view."""
    short = min(photo.image.shape[:2])
    margin = 0.06
    phi = rng.uniform(0, 2 * np.pi)
    shift = SHIFT * short
    views = [
        _window(photo.image, 0, 0, 1.0, margin),
        _window(photo.image, shift * np.sin(phi), shift * np.cos(phi), 1.0, margin),
        _window(photo.image, 0, 0, ZOOM, margin),
    ]
    if photo.mask is not None and photo.mask.mean() >= 0.01:
        moved = move_object(photo.image, photo.mask, MOVE * short, rng.uniform(0, 2 * np.pi))
        views.append(_window(moved, 0, 0, 1.0, margin))
    return views


def move_object(image: np.ndarray, mask: np.ndarray, distance: float, phi: float) -> np.ndarray:
    """The photo with its masked object moved by ``distance`` pixels in direction ``phi``, the
    uncovered background inpainted (OpenCV's Telea method)."""
    dx, dy = distance * np.cos(phi), distance * np.sin(phi)
    h, w = mask.shape
    m = np.array([[1.0, 0, dx], [0, 1.0, dy]])
    hole = cv2.dilate(mask.astype(np.uint8), np.ones((7, 7), np.uint8))
    background = cv2.inpaint(image, hole, 5, cv2.INPAINT_TELEA)
    obj = cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR)
    where = cv2.warpAffine(mask.astype(np.uint8), m, (w, h), flags=cv2.INTER_NEAREST) > 0
    out = background.copy()
    out[where] = obj[where]
    return out


def pair_counts(truth, found) -> tuple[int, int, int]:
    """(true positive, false positive, false negative) pairs of a grouping ``found`` against
    ``truth`` labels (two items are a pair when they share a label)."""
    truth, found = np.asarray(truth), np.asarray(found)
    iu = np.triu_indices(len(truth), 1)
    same = (truth[:, None] == truth[None, :])[iu]
    linked = (found[:, None] == found[None, :])[iu]
    return (int(np.sum(same & linked)), int(np.sum(~same & linked)), int(np.sum(same & ~linked)))


def pair_scores(truth, found) -> tuple[float, float]:
    """Pairwise (precision, recall) of a grouping; 1.0 where there is nothing to count."""
    tp, fp, fn = pair_counts(truth, found)
    return tp / max(tp + fp, 1), tp / max(tp + fn, 1)


def scene_set(photos: list[Photo], seed: int, copies_per_photo: int = 12) -> list[Item]:
    """Each photo's :func:`look_alikes` views, each its own original: the first view with
    ``copies_per_photo`` copies, the others with 3 each."""
    rng = np.random.default_rng(seed)
    items: list[Item] = []
    group = 0
    for photo in photos:
        for v, view in enumerate(look_alikes(photo, rng)):
            items += list(copies(rng, view, copies_per_photo if v == 0 else 3, group))
            group += 1
    return items


@dataclass(frozen=True)
class SetScore:
    """How :func:`clickbench.dedup.group_images` does on a test set: ``images``,
    ``originals``, ``groups``, pairwise ``precision`` and ``recall``; ``rotated_representatives``:
    groups holding an original whose representative is not :attr:`Item.unrotated`."""

    images: int
    originals: int
    groups: int
    precision: float
    recall: float
    rotated_representatives: int


def score_set(items: list[Item], seed: int = 0) -> SetScore:
    """Group a test set as one class, its files in a shuffled order (the original is not
    always the first file), and score the groups and representatives."""
    from clickbench import dedup

    order = np.random.default_rng(seed).permutation(len(items))
    items = [items[i] for i in order]
    canon = [dedup.image_hashes(it.image) for it in items]
    labels = dedup.group_images(canon)
    truth = [it.group for it in items]
    precision, recall = pair_scores(truth, labels)
    rotated = 0
    for lab, pos in dedup.choose_representatives(canon, labels).items():
        members = [items[p] for p in np.flatnonzero(labels == lab)]
        if any(m.kind == "original" for m in members) and not items[pos].unrotated:
            rotated += 1
    return SetScore(
        len(items), len(set(truth)), len(set(labels.tolist())), precision, recall, rotated
    )

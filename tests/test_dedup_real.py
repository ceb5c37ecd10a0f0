"""Dedup on real photographs (clickbench.dedup_eval): copies at every rotation angle, flips,
right-angle turns with and without scale-to-fit, colour jitter, blur and JPEG, against distinct
originals that look alike (the view shifted, zoomed, an object moved, a stereo pair).

Each set is grouped as one class; pairwise precision and recall must reach 0.99, and a group
that holds the unrotated photo must be represented by it (or a lossless flip or turn of it).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import GRABCUT, requires_grabcut

from clickbench import dedup
from clickbench import dedup_eval as ev

MIN_SCORE = 0.99


def _group(items, seed: int):
    """Group the items in a shuffled file order; returns (items in that order, labels,
    canonical views)."""
    order = np.random.default_rng(seed).permutation(len(items))
    items = [items[i] for i in order]
    canon = [dedup.image_hashes(it.image) for it in items]
    return items, dedup.group_images(canon), canon


def _check(items, labels, canon, name):
    truth = [it.group for it in items]
    precision, recall = ev.pair_scores(truth, labels)
    print(
        f"{name}: {len(items)} images, {len(set(truth))} originals, {len(set(labels))} groups, "
        f"pairwise precision {precision:.4f}, recall {recall:.4f}"
    )
    assert precision >= MIN_SCORE, (name, precision)
    assert recall >= MIN_SCORE, (name, recall)
    reps = dedup.choose_representatives(canon, labels)
    for lab, pos in reps.items():
        members = [items[p] for p in range(len(items)) if labels[p] == lab]
        if any(m.kind == "original" for m in members):
            assert items[pos].unrotated, (name, items[pos].kind, items[pos].angle)


def _usable(photos):
    """Photos whose own corners are not black: those are out of scope (module docstring)."""
    return [p for p in photos if not dedup.has_rotation_fill(p.image)]


def _scene_set(photos, seed: int, copies: int):
    """Each photo with ``copies`` copies; each of its look-alike views (distinct originals)
    with 3."""
    rng = np.random.default_rng(seed)
    items, group = [], 0
    for photo in photos:
        views = ev.look_alikes(photo, rng)
        for v, view in enumerate(views):
            items += list(ev.copies(rng, view, copies if v == 0 else 3, group))
            group += 1
    return items


@pytest.fixture(scope="module")
def package_photos():
    return ev.package_photos()


def test_black_cornered_photos_are_the_documented_exceptions(package_photos):
    excluded = {p.name for p in package_photos} - {p.name for p in _usable(package_photos)}
    assert excluded == {"retina"}


@pytest.mark.parametrize("name", ["coffee", "astronaut"])
def test_every_rotation_angle_joins_its_photo(package_photos, name):
    """Rotations by 1, 2, ..., 359 degrees (black fill) of one photo, beside a second photo
    and its own rotations every 7 degrees: two groups."""
    by_name = {p.name: p for p in package_photos}
    other = by_name["rocket"]
    items = list(ev.every_angle(by_name[name].image, 0)) + list(
        ev.every_angle(other.image, 1, step=7)
    )
    items, labels, canon = _group(items, 1)
    _check(items, labels, canon, f"every angle ({name})")
    assert len(set(labels)) == 2


def test_package_photos_copies_and_look_alikes(package_photos):
    photos = _usable(package_photos)
    items = _scene_set(photos, 5, 12)
    by_name = {p.name: p for p in photos}
    # the stereo pair: two views a moment apart, distinct originals
    rng = np.random.default_rng(6)
    base = max(it.group for it in items) + 1
    for g, name in enumerate(["motorcycle_left", "motorcycle_right"]):
        items += list(ev.copies(rng, by_name[name].image, 4, base + g))
    items, labels, canon = _group(items, 2)
    _check(items, labels, canon, "package photos")
    left = {labels[i] for i, it in enumerate(items) if it.group == base}
    right = {labels[i] for i, it in enumerate(items) if it.group == base + 1}
    assert not left & right


@requires_grabcut()
def test_grabcut_copies_and_look_alikes():
    """All 50 photos (none has black corners of its own; fullmoon's sky is dark grey), each
    with 12 copies and its look-alike views with 3 each: one class of 1250 images."""
    photos = ev.grabcut_photos(GRABCUT)
    assert len(photos) == 50 and _usable(photos) == photos
    items = _scene_set(photos, 3, 12)
    assert sum(it.kind == "rotate" for it in items) >= 50 * 5
    items, labels, canon = _group(items, 4)
    _check(items, labels, canon, "GrabCut")


def test_verification_rejects_each_kind_of_look_alike(package_photos):
    """Directly: a copy aligns with the photo; the shifted and zoomed views and the moved
    object do not (rotation 63 degrees, JPEG)."""
    photo = {p.name: p for p in package_photos}["coffee"]
    rng = np.random.default_rng(0)
    ref = dedup.image_hashes(photo.image)
    copy = ev.degrade(rng, ev.copy_of(photo.image, "rotate", 63.0), "jpeg")
    assert dedup.verify_pair(ref, dedup.image_hashes(copy)).same_photo()
    h, w = photo.image.shape[:2]
    mask = np.zeros((h, w), bool)
    mask[h // 3 : h // 2, w // 3 : w // 2] = True
    moved = ev.move_object(photo.image, mask, ev.MOVE * min(h, w), 0.5)
    assert not dedup.verify_pair(ref, dedup.image_hashes(moved)).same_photo()
    views = ev.look_alikes(ev.Photo("coffee", photo.image, mask), rng)
    first = dedup.image_hashes(views[0])
    for view in views[1:]:
        assert not dedup.verify_pair(first, dedup.image_hashes(view)).same_photo()


def test_pair_scores_helper():
    assert ev.pair_scores([1, 1, 2], [5, 5, 6]) == (1.0, 1.0)
    assert ev.pair_scores([1, 1, 2, 2], [1, 1, 1, 1]) == (2 / 6, 1.0)
    assert ev.pair_counts([1, 1, 2, 2], [1, 2, 3, 3]) == (1, 0, 1)

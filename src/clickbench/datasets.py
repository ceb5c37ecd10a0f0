"""Datasets: the one import for finding, loading and validating a dataset's samples.

The work is split along its seams; this module gathers the public names of four of them:

- :mod:`clickbench.samples`: the records (:class:`Sample`, :class:`Stray`,
  :class:`Discovery`, :class:`Skipped`, :class:`Note`), sample ids of objects
  (``<stem>#<instance>``) and class path names (:func:`slug`);
- :mod:`clickbench.layouts`: the folder layouts and discovery (:func:`scan`,
  :func:`discover`);
- :mod:`clickbench.instances`: layouts whose masks hold several objects (``instances``,
  ``sbd``, ``pascal_voc``, ``coco_json``);
- :mod:`clickbench.loading`: reading an image and its ground truth, validated, per layout
  (:func:`load_image`, :func:`load_ground_truth`, :func:`load_sample`, :func:`try_load`).

The fish dataset's mask-less originals (``NA_Fish_Dataset``) are :mod:`clickbench.native`'s,
not re-exported here: matching them uses dedup's hashes, which no per-image result depends on
(the run memo fingerprints what this module imports, :data:`clickbench.memo.RESULT_MODULES`).
"""

from __future__ import annotations

from clickbench.layouts import (
    FISH_DIR,
    FISH_GT_SUFFIX,
    IMAGE_EXTENSIONS,
    INSTANCE_LAYOUTS,
    LAYOUTS,
    NATIVE_DIR,
    discover,
    fish_class_root,
    scan,
)
from clickbench.loading import (
    EDGE_RADIUS,
    GRABCUT_IGNORE,
    MASK_THRESHOLD,
    NEAR_BINARY,
    ON_BAD_INPUT,
    instance_of,
    load_ground_truth,
    load_image,
    load_sample,
    try_load,
)
from clickbench.samples import (
    Discovery,
    Note,
    Sample,
    Skipped,
    Stray,
    check_slugs,
    object_id,
    slug,
    split_object_id,
)

__all__ = [
    "EDGE_RADIUS",
    "FISH_DIR",
    "FISH_GT_SUFFIX",
    "GRABCUT_IGNORE",
    "IMAGE_EXTENSIONS",
    "INSTANCE_LAYOUTS",
    "LAYOUTS",
    "MASK_THRESHOLD",
    "NATIVE_DIR",
    "NEAR_BINARY",
    "ON_BAD_INPUT",
    "Discovery",
    "Note",
    "Sample",
    "Skipped",
    "Stray",
    "check_slugs",
    "discover",
    "fish_class_root",
    "instance_of",
    "load_ground_truth",
    "load_image",
    "load_sample",
    "object_id",
    "scan",
    "slug",
    "split_object_id",
    "try_load",
]

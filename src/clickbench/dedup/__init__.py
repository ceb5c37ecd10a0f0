"""Find the original photographs among their augmented copies, per class, by perceptual hash.

The fish dataset holds, per original photo, copies that were flipped, rotated by right angles
or rotated by arbitrary angles (leaving black corners), with some colour change. This package
groups every image with its copies and picks one representative per group. Its modules, one
seam each: ``geometry`` (rotation fill, the photo's angle and scale), ``hashing`` (canonical
crop and hashes), ``grouping`` (verified pairs, groups, representatives), ``masks`` (mask
consistency), ``per_class`` (one class's table) and ``summary`` (table files, summaries, the
index rule); every public name is re-exported here. Matching the fish dataset's NA originals
to the groups is :mod:`clickbench.native`'s.

**Canonical view.** Every image is reduced to a view that the augmentations do not change,
up to the eight symmetries of a square:

1. *Rotation fill* is detected from the image: at least two of the four frame corners are
   black (every channel <= ``FILL_LEVEL`` in a 3x3 corner patch). A rotation about the frame
   centre by any angle other than 0 or 180 degrees uncovers at least one pair of opposite
   corners; flips and the 180-degree rotation uncover none. A photo whose own corners are
   black (scikit-image's ``retina``: a fundus on black) cannot be told from a rotated copy
   and is out of scope; none of GrabCut's 50 photos is one.
2. The fill is the black region (<= ``FILL_LEVEL``) flood-filled from the corners, plus the
   pixels up to ``FLOOD_LEVEL`` within ``EDGE_BAND`` of it (a JPEG re-encoding lifts the fill
   along the photo's edge). The photo is a rectangle of the frame's aspect ratio, centred on
   the frame (copies are rotated about the frame centre, as the Kaggle set's and
   :func:`clickbench.demo.transform`'s are; a right-angle turn scaled to fit swaps the
   sides, which 90 degrees covers). Its angle is the one at which the most points of the
   photo's outline lie on the smallest such rectangle holding the outline (:func:`geometry.fit_rotation`:
   at the true angle every point on a photo edge lies on it). Dark photo content that the
   flood took for fill leaves outline points *inside* the rectangle, which count for no
   angle, so it does not pull the estimate. The rectangle's size is the scale (``scale``:
   photo short side / frame short side), less ``EDGE_OVERSHOOT`` (the outline's pixels are
   part photo, part fill).
3. The canonical crop is the square of side ``CROP`` x (short side of the photo), centred on
   the photo and aligned with it, resampled to ``THUMB`` x ``THUMB`` grey levels. It lies inside
   the circle that every rotation about the centre keeps, so it never contains fill.
4. ``imagehash.phash`` (``HASH_SIZE`` = 16: 256 bits) of the crop in its 8 dihedral variants
   (4 right-angle rotations x optional mirror). The remaining ambiguity (which multiple of 90
   degrees, which flip) is exactly that group, so the distance between images *a* and *b* is
   ``min_k hamming(hash_a[0], hash_b[k])``; the minimising *k* is the estimated variant.

**Grouping** (:func:`group_images`). Pairs within ``max_distance`` bits (config
``dedup.max_distance``, default ``DEFAULT_MAX_DISTANCE``) are candidates, nearest first. A
candidate whose images are not yet in one group is *verified* (:func:`verify_pair`): OpenCV's
ECC fits an affine map between the two canonical crops (in the hashes' variant) and
:class:`Alignment` measures what is left: the shift at the crop centre, the rotation, the zoom,
the correlation after alignment and the largest residual over 4 x 4 blocks. Copies of one
photo differ only by resampling; a distinct original differs by a shift, a zoom or a moved
object, which a global hash alone does not see (a view zoomed by 6% is 30 to 70 bits from the
photo, a copy up to 32). The pair joins when every measure is within the limits below, and so
do the two groups' anchors (their members with the least fill), so that a chain of small
errors cannot join two views. Groups are the connected components.

*What counts as a distinct original* (:mod:`clickbench.dedup_eval` builds these sets): another
photograph of the scene, not a transform of the same one: the view shifted by 3% of its short
side or more, zoomed by 6% or more, an object moved by 5% of the short side or more, or two
views a moment apart (scikit-image's stereo pair). Smaller changes are within what resampling
leaves between copies and may be merged.

*The limits come from real photographs* (``python benchmarks/dedup_real.py``, figures in
benchmarks/README.md): on the 50 GrabCut photos and the package photos, 840 copies (every
kind, jittered, blurred or JPEG re-encoded) against their photo reached at most 32 bits, a
shift of 0.45 crop pixels, a rotation of 1.36 degrees, a zoom of 1.028, a block residual of
0.18 and a correlation of at least 0.963. The shifted views were at least 0.80 crop pixels off
(and 66 bits), the zoomed at least 1.059 (but only 30 bits: the hash alone does not separate
them), the moved objects at least 64 bits (41 of 50 also beyond the block limit), the stereo
pair 114 bits. Each limit sits between copies and look-alikes: ``MAX_SHIFT`` 0.6 px,
``MAX_ROTATION`` 2.5 degrees, ``MAX_ZOOM`` 1.04, ``MAX_BLOCK_RESIDUAL`` 0.3,
``MIN_CORRELATION`` 0.95, ``DEFAULT_MAX_DISTANCE`` 48 bits. The
generated demo (:mod:`clickbench.demo`) is grouped exactly with the same limits.

**Representative** (:func:`choose_representatives`). In each group the member with the least
rotation fill: the images without ``fill`` first (the original photo, or a flip or lossless
turn of it, which lose nothing), among those the smallest ``fill_fraction`` (a rotation by a
degree or two leaves slivers of black too thin for the corner test, the photo none), then the
lowest file number (numeric file stem; otherwise the natural sort order of the stems). A
group whose every image has fill takes the least filled and is reported (``rotation_fill`` = 1
on a representative). Groups are numbered 1, 2, ... in the order of their representatives'
file numbers, so numbering is stable.

**Mask consistency.** The representative's ground-truth mask is mapped into each copy's frame by
the estimated transform (photo geometry of both images and their variant) and compared with the
copy's own mask where both photos are visible (``mask_iou``); an IoU below ``MASK_IOU_MIN`` flags
``mask_consistent = 0`` and logs a warning: either the grouping or the masks are wrong. When most
copies disagree with the representative's mask and agree with another member's, that member is
the reference instead and the representative is the one flagged.

**Methods** (config ``dedup.method``): ``phash`` selects each group's representative;
``index`` selects the 2023 study's files ``index_start``, ``index_start + index_step``, ...
by file number (00001, 00021, ... with step 20), ignoring the groups; ``none`` selects every
image. Groups, hashes and fill are computed for every method, so the selections can be compared
(:func:`compare_index_rule`).

**Table** (:func:`dedup_class`, one row per image, sorted by file number): ``class``, ``image``
(file stem), ``image_path``, ``mask_path``, ``group`` (1, 2, ...; 0 when skipped),
``representative`` (its group's representative's id), ``hash`` (64 hex digits: variant 0),
``distance`` (bits to the representative), ``correlation`` (with the representative),
``variant`` (0..7, crop ~ dihedral(representative's crop, variant)), ``rotation_fill`` (0/1),
``angle`` (photo rotation modulo 90 degrees, counter-clockwise), ``scale``, ``selected`` (0/1,
by the method), ``index_pick`` (0/1: the study's index rule picks it, whatever the method, so
both selections can be run and compared), ``mask_iou`` and ``mask_consistent`` (0/1; empty
without a mask), ``status`` (``ok``/``skipped``), ``problem`` (why it was skipped).
"""

from __future__ import annotations

from clickbench.dedup.geometry import (
    CROP,
    EDGE_BAND,
    EDGE_OVERSHOOT,
    FILL_LEVEL,
    FLOOD_LEVEL,
    Geometry,
    has_rotation_fill,
)
from clickbench.dedup.grouping import (
    DEFAULT_MAX_DISTANCE,
    MAX_BLOCK_RESIDUAL,
    MAX_ROTATION,
    MAX_SHIFT,
    MAX_ZOOM,
    MIN_CORRELATION,
    Alignment,
    align_crops,
    choose_representatives,
    group_images,
    verify_pair,
)
from clickbench.dedup.hashing import (
    HASH_SIZE,
    MASK_SCALE,
    THUMB,
    WORDS,
    WORK_SCALE,
    Canonical,
    dihedral,
    hash_to_hex,
    hex_to_hash,
    image_hashes,
    pair_distances,
)
from clickbench.dedup.masks import MASK_IOU_MIN, mask_agreement
from clickbench.dedup.per_class import COLUMNS, METHODS, dedup_class, file_number, index_rule
from clickbench.dedup.summary import (
    INDEX_RULE_COLUMNS,
    SKIPPED_COLUMNS,
    WARNING_COLUMNS,
    compare_index_rule,
    read_table,
    skipped_table,
    summarise,
    warnings_table,
    write_table,
)

__all__ = [
    "COLUMNS",
    "CROP",
    "DEFAULT_MAX_DISTANCE",
    "EDGE_BAND",
    "EDGE_OVERSHOOT",
    "FILL_LEVEL",
    "FLOOD_LEVEL",
    "HASH_SIZE",
    "INDEX_RULE_COLUMNS",
    "MASK_IOU_MIN",
    "MASK_SCALE",
    "MAX_BLOCK_RESIDUAL",
    "MAX_ROTATION",
    "MAX_SHIFT",
    "MAX_ZOOM",
    "METHODS",
    "MIN_CORRELATION",
    "SKIPPED_COLUMNS",
    "WARNING_COLUMNS",
    "THUMB",
    "WORDS",
    "WORK_SCALE",
    "Alignment",
    "Canonical",
    "Geometry",
    "align_crops",
    "choose_representatives",
    "compare_index_rule",
    "dedup_class",
    "dihedral",
    "file_number",
    "group_images",
    "has_rotation_fill",
    "hash_to_hex",
    "hex_to_hash",
    "image_hashes",
    "index_rule",
    "mask_agreement",
    "pair_distances",
    "read_table",
    "skipped_table",
    "summarise",
    "verify_pair",
    "warnings_table",
    "write_table",
]

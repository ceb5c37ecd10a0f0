"""Dedup one class: read and validate its images and masks, hash, group, choose the
representatives, check the masks and select by the configured method (the table of the
package docstring, *Table*)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from clickbench import config, datasets
from clickbench.dedup.grouping import DEFAULT_MAX_DISTANCE, choose_representatives, group_images
from clickbench.dedup.hashing import Canonical, crop_correlations, image_hashes
from clickbench.dedup.masks import MASK_IOU_MIN, mask_ious, reduce_mask
from clickbench.errors import BadInputError

log = logging.getLogger("clickbench.dedup")

METHODS = ("phash", "index", "none")
COLUMNS = (
    "class",
    "image",
    "image_path",
    "mask_path",
    "group",
    "representative",
    "hash",
    "distance",
    "correlation",
    "variant",
    "rotation_fill",
    "angle",
    "scale",
    "selected",
    "index_pick",
    "mask_iou",
    "mask_consistent",
    "status",
    "problem",
    "warning",
)


def file_number(image_id: str) -> int | None:
    """The file's number from its stem (``"00021"`` -> 21), or None when the stem is not a number."""
    return int(image_id) if image_id.isdigit() else None


def natural_key(image_id: str):
    return [
        (0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", image_id.lower())
    ]


def index_rule(image_ids: Sequence[str], start: int = 1, step: int = 20) -> np.ndarray:
    """(n,) bool: the study's picks, files ``start, start + step, ...`` by file number.

    Stems that are not numbers use their 1-based position in natural sort order.
    """
    order = sorted(range(len(image_ids)), key=lambda i: natural_key(image_ids[i]))
    pos = {i: p + 1 for p, i in enumerate(order)}
    out = np.zeros(len(image_ids), bool)
    for i, iid in enumerate(image_ids):
        num = file_number(iid)
        num = pos[i] if num is None else num
        out[i] = num >= start and (num - start) % step == 0
    return out


def _sample(item) -> datasets.Sample:
    if isinstance(item, datasets.Sample):
        return item
    cls, image_id, image, mask = item
    return datasets.Sample(cls, image_id, Path(image), Path(mask) if mask else None)


def dedup_class(
    samples: Iterable,
    dedup_cfg: Mapping | None = None,
    *,
    layout: str = "fish",
    on_bad_input: str = "error",
    check_masks: bool = True,
) -> pd.DataFrame:
    """Dedup one class: a table with one row per sample (columns :data:`COLUMNS`).

    ``samples``: :class:`clickbench.datasets.Sample` (or ``(cls, image_id, image, mask)``
    tuples); ``dedup_cfg``: the config's ``dedup`` block (``method``, ``max_distance``,
    ``index_start``, ``index_step``). Images and masks are read and validated by
    :func:`clickbench.datasets.try_load`: bad input raises :class:`BadInputError` under
    ``on_bad_input="error"``; under ``"skip"`` the sample gets ``status = skipped``, its
    ``problem``, ``group = 0`` and is never selected. Rows are sorted by file number.
    """
    cfg = config.with_defaults("dedup", dedup_cfg)
    method = cfg["method"]
    if method not in METHODS:
        raise ValueError(f"dedup.method must be one of {METHODS}, got {method!r}")
    max_distance = int(cfg.get("max_distance", DEFAULT_MAX_DISTANCE))
    samples = sorted((_sample(s) for s in samples), key=lambda s: natural_key(s.image_id))
    ok: list[int] = []
    canon: list[Canonical] = []
    masks: list[np.ndarray | None] = []
    problems: dict[int, str] = {}
    warnings: dict[int, str] = {}  # read, but not as a plain file (clickbench.loading notes)
    for idx, s in enumerate(samples):
        notes: list[datasets.Note] = []
        if check_masks:
            loaded, skipped = datasets.try_load(s, layout, on_bad_input, notes)
            if skipped is not None:
                where = "" if skipped.path == str(s.image) else f"{skipped.path}: "
                problems[idx] = where + skipped.problem
                continue
            image, gt, _ignore = loaded
        else:
            try:
                image, gt = datasets.load_image(s.image, notes), None
            except BadInputError as err:
                if on_bad_input == "error":
                    raise
                problems[idx] = err.problem
                continue
        ok.append(idx)
        if notes:
            warnings[idx] = "; ".join(n.note for n in notes)
        canon.append(image_hashes(image))
        # kept reduced (the resolution of the check), not at full size: 1000 masks per class
        masks.append(reduce_mask(gt, canon[-1].valid.shape).astype(bool) if check_masks else None)
    labels = group_images(canon, max_distance=max_distance)
    rows = [_row(s) for s in samples]
    for idx, problem in problems.items():
        rows[idx].update(status="skipped", problem=problem)
    for idx, warning in warnings.items():
        rows[idx]["warning"] = warning
    if ok:
        _fill_groups(rows, ok, canon, masks, labels, samples)
    ids = [s.image_id for s in samples]
    picks = index_rule(ids, int(cfg["index_start"]), int(cfg["index_step"]))
    if method == "phash":
        chosen = [r["image"] == r["representative"] and r["status"] == "ok" for r in rows]
    elif method == "index":
        chosen = [bool(p) and r["status"] == "ok" for p, r in zip(picks, rows, strict=True)]
    else:
        chosen = [r["status"] == "ok" for r in rows]
    for r, c, p in zip(rows, chosen, picks, strict=True):
        r["selected"] = int(c)
        r["index_pick"] = int(p)
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    bad = table[table["mask_consistent"] == 0]
    for _, r in bad.iterrows():
        log.warning(
            "%s %s: its mask disagrees with group %d's representative %s (IoU %.3g after the "
            "estimated transform): the grouping or the masks are wrong",
            r["class"],
            r["image"],
            r["group"],
            r["representative"],
            r["mask_iou"],
        )
    return table


def _row(s: datasets.Sample) -> dict:
    return {
        "class": s.cls,
        "image": s.image_id,
        "image_path": str(s.image),
        "mask_path": str(s.mask) if s.mask is not None else "",
        "group": 0,
        "representative": "",
        "hash": "",
        "distance": np.nan,
        "correlation": np.nan,
        "variant": -1,
        "rotation_fill": 0,
        "angle": np.nan,
        "scale": np.nan,
        "selected": 0,
        "index_pick": 0,
        "mask_iou": np.nan,
        "mask_consistent": pd.NA,
        "status": "ok",
        "problem": "",
        "warning": "",
    }


def _fill_groups(rows, ok, canon, masks, labels, samples) -> None:
    """Representatives, group numbers, distances, correlations and mask checks, in place."""
    members: dict[int, list[int]] = {}
    for pos, lab in enumerate(labels):
        members.setdefault(int(lab), []).append(pos)
    rep_of = choose_representatives(canon, labels)
    order = sorted(members, key=lambda lab: rep_of[lab])  # positions follow file order
    number = {lab: g + 1 for g, lab in enumerate(order)}
    hashes = np.stack([c.hashes for c in canon])
    thumbs = np.stack([c.thumb for c in canon])
    reps = np.array([rep_of[int(lab)] for lab in labels])
    pos = np.arange(len(canon))
    per_variant = np.bitwise_count(hashes[:, None, 0, :] ^ hashes[reps]).sum(axis=-1)  # (n, 8)
    k = per_variant.argmin(axis=1)
    d = per_variant.min(axis=1)
    corr = crop_correlations(thumbs, pos, reps, k)
    ious: dict[int, float] = {}
    for lab, pos_list in members.items():
        ious.update(mask_ious(canon, masks, rep_of[lab], pos_list))
    for p, idx in enumerate(ok):
        c = canon[p]
        r = rows[idx]
        r.update(
            group=number[int(labels[p])],
            representative=samples[ok[reps[p]]].image_id,
            hash=c.hash_hex,
            distance=int(d[p]),
            correlation=float(corr[p]),
            variant=int(k[p]),
            rotation_fill=int(c.geometry.fill),
            angle=round(c.geometry.angle, 2),
            scale=round(c.geometry.scale, 4),
        )
        if p in ious:
            r["mask_iou"] = ious[p]
            r["mask_consistent"] = int(not (ious[p] < MASK_IOU_MIN))

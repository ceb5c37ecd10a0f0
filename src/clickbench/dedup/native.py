"""Match the NA_Fish_Dataset originals (any size or format) to the groups of a class table."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from clickbench import datasets
from clickbench.dedup.grouping import DEFAULT_MAX_DISTANCE, verify_pair
from clickbench.dedup.hashing import WORDS, Canonical, hex_to_hash, image_hashes
from clickbench.dedup.per_class import natural_key
from clickbench.errors import BadInputError

NATIVE_COLUMNS = (
    "class",
    "native",
    "group",
    "representative",
    "distance",
    "correlation",
    "status",
    "problem",
)
NATIVE_CANDIDATES = 3  # nearest groups verified


def match_native(
    native_paths: Sequence[str | Path],
    class_table: pd.DataFrame,
    *,
    max_distance: int = DEFAULT_MAX_DISTANCE,
    cls: str | None = None,
) -> pd.DataFrame:
    """Match NA_Fish_Dataset originals (any size or format) to the groups of one class table.

    Each NA image is hashed like the masked images and compared with every member of every
    group (the table's ``hash``, variant 0). The nearest groups within ``max_distance`` (at most
    ``NATIVE_CANDIDATES``) are verified in order against the group representative (read again
    from ``image_path``) as :func:`group_images` verifies a pair (:func:`verify_pair`); the
    first that passes is its group (``correlation``: after the alignment).

    Rows (columns :data:`NATIVE_COLUMNS`), NA files in natural order first: ``status``
    ``matched``; ``duplicate`` (a group an earlier NA file already matched); ``no_group``
    (nothing close enough: ``distance`` is the nearest member's); ``unreadable`` (``problem``
    says why). Then one row per group that no NA file matched: ``status = no_native``.
    """
    okt = class_table[(class_table["status"] == "ok") & (class_table["hash"] != "")]
    name = cls if cls is not None else (class_table["class"].iloc[0] if len(class_table) else "")
    member_hashes = (
        np.stack([hex_to_hash(h) for h in okt["hash"]])
        if len(okt)
        else np.zeros((0, WORDS), np.uint64)
    )
    groups = okt["group"].to_numpy()
    reps = okt[okt["image"] == okt["representative"]]
    rep_of = dict(zip(reps["group"], reps["image"], strict=True))
    rep_path = dict(zip(reps["group"], reps["image_path"], strict=True))
    rep_canon: dict[int, Canonical] = {}
    rows = []
    seen: set[int] = set()

    def row(native, group=0, rep="", distance=np.nan, corr=np.nan, status="", problem=""):
        rows.append(
            {
                "class": name,
                "native": str(native),
                "group": int(group),
                "representative": rep,
                "distance": distance,
                "correlation": corr,
                "status": status,
                "problem": problem,
            }
        )

    for path in sorted(native_paths, key=lambda p: natural_key(Path(p).name)):
        try:
            c = image_hashes(datasets.load_image(path))
        except (BadInputError, ValueError) as err:
            row(path, status="unreadable", problem=getattr(err, "problem", str(err)))
            continue
        if len(member_hashes) == 0:
            row(path, status="no_group")
            continue
        # distance(member, NA) = min_k hamming(member[0], NA[k]); per group, its nearest member
        d = np.bitwise_count(member_hashes[:, None, :] ^ c.hashes[None]).sum(axis=-1).min(axis=1)
        by_group = pd.Series(d).groupby(groups).min().sort_values(kind="stable")
        found = None
        for g, dist in by_group.iloc[:NATIVE_CANDIDATES].items():
            if dist > max_distance:
                break
            g = int(g)
            if g not in rep_canon:
                rep_canon[g] = image_hashes(datasets.load_image(rep_path[g]))
            alignment = verify_pair(rep_canon[g], c)
            if alignment.same_photo():
                found = (g, int(dist), alignment.correlation)
                break
        if found is None:
            row(path, distance=int(by_group.iloc[0]), status="no_group")
            continue
        g, dist, corr = found
        row(path, g, rep_of[g], dist, corr, "duplicate" if g in seen else "matched")
        seen.add(g)
    for g in sorted(set(groups.tolist()) - seen):
        row("", g, rep_of[g], status="no_native")
    return pd.DataFrame(rows, columns=list(NATIVE_COLUMNS))

"""The fish dataset's non-augmented originals: ``NA_Fish_Dataset/<Class>/`` (no masks), all
of their logic in one module: finding them, and matching each to a dedup group by hash.

The Kaggle download holds, beside ``Fish_Dataset/``, about 50 originals per class in
``NA_Fish_Dataset/`` with mixed names and formats and folder spellings of their own
(``Gilt Head Bream`` for ``Gilt-Head Bream``). :func:`scan_native` finds them and matches
their folders to the masked set's classes; :func:`match_table` matches each file to a dedup
group of its class (with :func:`clickbench.dedup.match_native`, which compares hashes):
``tables/native_match.tsv``. The demo writes such a folder (:mod:`clickbench.demo`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from clickbench import datasets
from clickbench.dedup.grouping import DEFAULT_MAX_DISTANCE, verify_pair
from clickbench.dedup.hashing import WORDS, Canonical, hex_to_hash, image_hashes
from clickbench.dedup.per_class import natural_key
from clickbench.errors import BadInputError
from clickbench.layouts import (
    FISH_DIR,
    NATIVE_DIR,
    _hidden,
    _is_fish_class_dir,
    _is_image_file,
    _stray_reason,
    fish_class_root,
)
from clickbench.samples import Stray

log = logging.getLogger(__name__)


def _normalise(name: str) -> str:
    """Name used to match folder spellings: case, spaces, hyphens and underscores ignored."""
    return re.sub(r"[^a-z0-9]+", "", name.lower())


def _natural_key(path: Path):
    parts = re.split(r"(\d+)", path.name.lower())
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts]


@dataclass(frozen=True)
class NativeScan:
    """Result of :func:`scan_native`.

    ``images`` maps each masked-set class name to its originals (natural order: ``2.JPG``
    before ``10.JPG``); ``unmatched`` lists ``NA_Fish_Dataset`` sub-folders whose name matches
    no class of the masked set; ``folder`` is the ``NA_Fish_Dataset`` folder or ``None``.
    """

    folder: Path | None
    images: dict[str, list[Path]]
    unmatched: tuple[Path, ...] = ()
    stray: tuple[Stray, ...] = ()


def _native_candidates(root: Path, class_root: Path) -> list[Path]:
    levels = [root, class_root]
    level = class_root
    while level.name == FISH_DIR:
        level = level.parent
        levels.append(level)
    out: list[Path] = []
    for level in levels:
        cand = level / NATIVE_DIR
        if cand not in out:
            out.append(cand)
    return out


def scan_native(root: str | Path) -> NativeScan:
    """Find ``NA_Fish_Dataset/<Class>/`` (the non-augmented originals) for a fish ``root``.

    Looked for in ``root``, in the class folder root and beside each enclosing
    ``Fish_Dataset`` folder (the Kaggle download has it beside the outer one). Its sub-folders
    are matched to the masked set's classes ignoring case, spaces, hyphens and underscores
    (``Gilt Head Bream`` -> ``Gilt-Head Bream``); when there is no masked set the folder names
    are the class names. Returns an empty scan (``folder=None``) when there is none.
    """
    root = Path(root)
    try:
        class_root = fish_class_root(root)
        classes = [p.name for p in class_root.iterdir() if _is_fish_class_dir(p)]
    except BadInputError:
        class_root, classes = root, []
    folder = next((c for c in _native_candidates(root, class_root) if c.is_dir()), None)
    if folder is None:
        return NativeScan(None, {})
    by_norm = {_normalise(c): c for c in classes}
    images: dict[str, list[Path]] = {}
    origin: dict[str, Path] = {}
    unmatched: list[Path] = []
    stray: list[Stray] = []
    for sub in sorted(folder.iterdir()):
        if not sub.is_dir() or _hidden(sub):
            stray.append(Stray(sub, _stray_reason(sub, "one folder per class")))
            continue
        cls = by_norm.get(_normalise(sub.name)) if classes else sub.name
        if cls is None:
            unmatched.append(sub)
            continue
        if cls in origin:
            raise BadInputError(
                sub,
                f"both {origin[cls].name!r} and {sub.name!r} match the class {cls!r}; keep one",
            )
        origin[cls] = sub
        files = []
        for path in sorted(sub.iterdir()):
            if _is_image_file(path):
                files.append(path)
            else:
                stray.append(Stray(path, _stray_reason(path, "image files")))
        images[cls] = sorted(files, key=_natural_key)
    return NativeScan(folder, dict(sorted(images.items())), tuple(unmatched), tuple(stray))


def find_native(root: str | Path) -> dict[str, list[Path]]:
    """``{masked-set class name: [original image paths]}`` from ``NA_Fish_Dataset``.

    ``{}`` when the folder is absent. Unmatched folders and stray files are logged; use
    :func:`scan_native` to get them as lists.
    """
    found = scan_native(root)
    for path in found.unmatched:
        log.warning("NA folder matches no class of the masked set: %s", path)
    for item in found.stray:
        log.warning("not used: %s (%s)", item.path, item.reason)
    return found.images


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


def match_table(root: str | Path | None, tables, max_distance: int | None = None):
    """``tables/native_match.tsv``: every NA original of a fish ``root`` matched to a dedup
    group of its class (:func:`match_native`), classes in the order of
    ``tables`` (``{class: dedup table}``). Header-only when ``root`` is ``None`` (not the fish
    layout) or has no ``NA_Fish_Dataset``; a class with no NA folder lists its groups as
    ``no_native``."""
    found = find_native(root) if root else {}
    if root and not found:
        log.info("no NA_Fish_Dataset found for %s", root)
    if max_distance is None:
        max_distance = DEFAULT_MAX_DISTANCE
    parts = [
        match_native(found.get(c, []), t, max_distance=int(max_distance), cls=c)
        for c, t in tables.items()
        if found
    ]
    if not parts:
        return pd.DataFrame(columns=list(NATIVE_COLUMNS))
    return pd.concat(parts, ignore_index=True)

"""The fish dataset's non-augmented originals: ``NA_Fish_Dataset/<Class>/`` (no masks).

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
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from clickbench import dedup
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


def match_table(root: str | Path | None, tables, max_distance: int | None = None):
    """``tables/native_match.tsv``: every NA original of a fish ``root`` matched to a dedup
    group of its class (:func:`clickbench.dedup.match_native`), classes in the order of
    ``tables`` (``{class: dedup table}``). Header-only when ``root`` is ``None`` (not the fish
    layout) or has no ``NA_Fish_Dataset``; a class with no NA folder lists its groups as
    ``no_native``."""
    found = find_native(root) if root else {}
    if root and not found:
        log.info("no NA_Fish_Dataset found for %s", root)
    if max_distance is None:
        max_distance = dedup.DEFAULT_MAX_DISTANCE
    parts = [
        dedup.match_native(found.get(c, []), t, max_distance=int(max_distance), cls=c)
        for c, t in tables.items()
        if found
    ]
    if not parts:
        return pd.DataFrame(columns=list(dedup.NATIVE_COLUMNS))
    return pd.concat(parts, ignore_index=True)

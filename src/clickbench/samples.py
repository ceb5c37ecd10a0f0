"""What discovery and loading hand around: sample records, their ids, class path names.

A sample is one object to segment in one image: its class, its id, the image file and the
ground-truth file. In a layout with one object per mask file the id is the image's file stem;
in an instance layout (one mask holding objects ``1..N``, or a COCO annotation file) each
object is a sample of its own, with id ``<stem>#<instance>`` (:func:`object_id`): the
instance is the object's value in the mask, or the COCO annotation id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from clickbench.errors import BadInputError

#: separates an image's stem from an object's instance in a sample id
INSTANCE_SEP = "#"


# --------------------------------------------------------------------------- names


def slug(name: str) -> str:
    """Path-safe name of a class: lowercase, runs of non-alphanumerics become ``_``.

    ``"Hourse Mackerel" -> "hourse_mackerel"``, ``"Gilt-Head Bream" -> "gilt_head_bream"``.
    """
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def check_slugs(classes, where: str | Path = "dataset") -> dict[str, str]:
    """Return ``{class: slug}``; raise :class:`BadInputError` if two classes share a slug.

    Two class folders such as ``"Sea Bass"`` and ``"Sea-Bass"`` would write to the same result
    folder; the error names both. An empty slug (a name with no letters or digits) is an error.
    """
    seen: dict[str, str] = {}
    for name in sorted(classes):
        s = slug(name)
        if not s:
            raise BadInputError(
                where, f"class {name!r} has no letters or digits, so it has no path name (slug)"
            )
        if s in seen:
            raise BadInputError(
                where,
                f"classes {seen[s]!r} and {name!r} both map to the path name {s!r}; "
                "rename one of the class folders",
            )
        seen[s] = name
    return {name: s for s, name in seen.items()}


def object_id(stem: str, instance: int) -> str:
    """Sample id of object ``instance`` of image ``stem``: ``"<stem>#<instance>"``."""
    return f"{stem}{INSTANCE_SEP}{int(instance)}"


def split_object_id(image_id: str) -> tuple[str, int | None]:
    """``(stem, instance)`` of a sample id of an instance layout; ``(image_id, None)`` when
    the id names no instance (an image whose mask could not be read at discovery)."""
    stem, sep, tail = image_id.rpartition(INSTANCE_SEP)
    if sep and tail.isdigit():
        return stem, int(tail)
    return image_id, None


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class Sample:
    """One object to segment: an image and its ground truth.

    ``mask`` is ``None`` when discovery found no mask for the image; loading such a sample
    raises (or is skipped) with a message naming ``expected_mask``, the file looked for. In
    an instance layout ``mask`` is the file holding every object of the image (an instance
    mask, or the COCO annotation file) and ``image_id`` names the object (:func:`object_id`).
    """

    cls: str
    image_id: str
    image: Path
    mask: Path | None
    expected_mask: Path | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Stray:
    """A file or folder inside the dataset that no sample uses, and why."""

    path: Path
    reason: str


@dataclass(frozen=True)
class Discovery:
    """Result of :func:`clickbench.layouts.scan`: the samples (sorted by class, image id)
    and the stray files."""

    root: Path
    samples: tuple[Sample, ...]
    stray: tuple[Stray, ...]

    @property
    def classes(self) -> list[str]:
        return sorted({s.cls for s in self.samples})


@dataclass(frozen=True)
class Skipped:
    """A sample left out under ``on_bad_input: skip``: one row of the skip table."""

    cls: str
    image_id: str
    path: str
    problem: str

    COLUMNS = ("class", "image", "path", "problem")

    def row(self) -> tuple[str, str, str, str]:
        return (self.cls, self.image_id, self.path, self.problem)

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"


@dataclass(frozen=True)
class Note:
    """Something about an input file that was read, but not as a plain file would be (a
    grayscale photograph, a JPEG-compressed mask): listed, never silent."""

    path: str
    note: str

    def __str__(self) -> str:
        return f"{self.path}: {self.note}"

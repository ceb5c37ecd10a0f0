"""The embedded demo dataset: a deterministic stand-in for Kaggle's "A Large Scale Fish Dataset".

:func:`generate` writes, for every species, ``originals`` rendered photographs (a single fish or
shrimp lying on a blue speckled tray, seen from above) and ``copies`` augmented copies of each, in
the exact layout of the Kaggle download::

    <root>/<Species>/<Species>/00001.png          590x445 RGB
    <root>/<Species>/<Species> GT/00001.png       590x445 single channel, 0/255
    <root>/../NA_Fish_Dataset/<Species spelled as NA>/00001.png | 1.JPG   (no masks)
    <root>/../manifest.tsv                        which file came from which original, and how

Augmented copies keep the 590x445 frame, as in the real set:

- ``hflip``, ``vflip``, ``rot180``: exact, no fill;
- ``rot90``, ``rot270``: the rotated 445x590 photo is scaled by 445/590 to fit the frame height
  and centred, leaving black bars left and right;
- ``rotate``: rotation about the frame centre by a non-right angle (scale 1), leaving black
  corners where the rotated photo no longer covers the frame (``angle`` in the manifest,
  degrees counter-clockwise as displayed).

Every copy also gets a mild colour jitter (brightness, contrast, saturation, per-channel gain)
before its geometric transform, so the black fill stays exactly black. Masks are transformed with
nearest-neighbour interpolation. The files of one original and its copies are consecutive, but
the order inside each block is shuffled (seeded), so the original is not always the block's
first file: the index rule of the 2023 study (files 00001, 00001 + (copies + 1), ...) then picks
an augmented copy, often a rotated one.

``NA_Fish_Dataset`` holds the originals again, resized to another size, with mixed names and
formats (``00001.png`` in even-numbered species, ``1.JPG`` in odd ones) and the real set's
folder spelling (hyphens become spaces: ``Gilt Head Bream``), numbered in a shuffled order. As in
the real download it is not complete: in species 1, 4, 7, ... (0-based position in
``species``) the last original has no NA file, and species 2, 5, 8, ... hold one extra NA photo
that has no augmented group.

Manifest columns (TSV, one row per masked file, plus one row per extra NA photo with empty
``image``/``file``/``mask``, ``original`` 0, ``is_original`` 0 and ``transform ==
"native_only"``): ``species``, ``image`` (file
stem), ``file``, ``mask`` (paths relative to the manifest's folder), ``original`` (1-based id of
the original within its species), ``transform``, ``angle``, ``is_original`` (0/1), ``native``
(the NA file of that original, relative to the manifest's folder, or empty).

The same ``seed`` and configuration give the same bytes. Each species draws from its own random
stream (seeded by ``seed`` and the species name), so adding a species leaves the others unchanged.

The originals are drawn by :func:`clickbench.demo_render.render_original`; this module plans the
files (:func:`planned_files`, :func:`planned_samples`), makes the copies (:func:`jitter`,
:func:`transform`) and writes them (:func:`generate`).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from clickbench import config
from clickbench.demo_render import render_original
from clickbench.layouts import fish_dirs
from clickbench.samples import Sample

DEFAULT_SPECIES = ("Hourse Mackerel", "Gilt-Head Bream", "Shrimp")
TRANSFORM_CYCLE = ("rotate", "hflip", "rot90", "vflip", "rot180", "rot270")
NATIVE_SIZES = ((800, 603), (1024, 772), (640, 483))  # (width, height), aspect ~ 590:445
MANIFEST_COLUMNS = (
    "species",
    "image",
    "file",
    "mask",
    "original",
    "transform",
    "angle",
    "is_original",
    "native",
)
PNG_PARAMS = [cv2.IMWRITE_PNG_COMPRESSION, 3]
JPEG_PARAMS = [cv2.IMWRITE_JPEG_QUALITY, 92]


# ----------------------------------------------------------------------------- configuration
def _settings(demo_cfg: Mapping | None) -> dict:
    """The ``dataset.demo`` block with the schema's defaults (species: all of the demo's)."""
    cfg = config.with_defaults(("dataset", "demo"), demo_cfg)
    return {
        "seed": int(cfg["seed"]),
        "species": list(cfg.get("species") or DEFAULT_SPECIES),
        "originals": int(cfg["originals"]),
        "copies": int(cfg["copies"]),
        "native": bool(cfg["native"]),
    }


def native_name(species: str) -> str:
    """Folder spelling of ``species`` in ``NA_Fish_Dataset`` (``Gilt-Head Bream`` -> ``Gilt Head Bream``)."""
    return species.replace("-", " ")


def _native_file(species_index: int, number: int) -> str:
    return f"{number:05d}.png" if species_index % 2 == 0 else f"{number}.JPG"


def _native_plan(species_index: int, originals: int) -> tuple[int, bool]:
    """(originals that get an NA file, whether one extra NA-only photo exists)."""
    with_native = originals - 1 if (species_index % 3 == 1 and originals >= 2) else originals
    return with_native, species_index % 3 == 2


def _block_size(cfg: dict) -> int:
    return cfg["copies"] + 1


def planned_samples(root: str | Path, demo_cfg: Mapping | None) -> list[Sample]:
    """The samples :func:`generate` will write (image and mask paths, from the configuration
    alone), sorted by (class, image id), as :func:`clickbench.datasets.discover` will find
    them once generated."""
    cfg = _settings(demo_cfg)
    n = cfg["originals"] * _block_size(cfg)
    samples = []
    for species in cfg["species"]:
        img_dir, gt_dir = fish_dirs(root, species)
        for i in range(1, n + 1):
            name = f"{i:05d}.png"
            samples.append(Sample(species, name[:-4], img_dir / name, gt_dir / name))
    return sorted(samples, key=lambda s: (s.cls, s.image_id))


def planned_files(root: str | Path, demo_cfg: Mapping | None) -> list[str]:
    """Every file :func:`generate` writes under ``root`` and ``root/../NA_Fish_Dataset``.

    Computed from the configuration alone (nothing is rendered), so a workflow can declare them
    as outputs. The manifest (``root/../manifest.tsv``) is not included. Paths are strings built
    from ``root`` as given (relative stays relative), sorted.
    """
    cfg = _settings(demo_cfg)
    root = Path(root)
    native_root = root.parent / "NA_Fish_Dataset"
    out: list[str] = []
    n = cfg["originals"] * _block_size(cfg)
    for k, species in enumerate(cfg["species"]):
        img_dir, gt_dir = fish_dirs(root, species)
        for i in range(1, n + 1):
            out.append(str(img_dir / f"{i:05d}.png"))
            out.append(str(gt_dir / f"{i:05d}.png"))
        if cfg["native"]:
            with_native, extra = _native_plan(k, cfg["originals"])
            for j in range(1, with_native + int(extra) + 1):
                out.append(str(native_root / native_name(species) / _native_file(k, j)))
    return sorted(out)


# ----------------------------------------------------------------------------- augmentation
def jitter(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """Mild colour jitter of an (H, W, 3) uint8 RGB image (saturation, contrast, brightness, gain).

    All four are affine in the colour, so they are applied as one 3x4 colour matrix.
    """
    sat = rng.uniform(0.85, 1.15)
    con = rng.uniform(0.9, 1.1)
    gain = rng.uniform(0.9, 1.1) * rng.uniform(0.96, 1.04, 3)
    # saturation: x -> s x + (1 - s) mean_c(x); contrast about the image mean m: x -> m + k (x - m)
    sat_m = sat * np.eye(3) + (1 - sat) / 3.0
    mean = float(np.mean(cv2.mean(image)[:3]))
    m = np.zeros((3, 4))
    m[:, :3] = con * sat_m
    m[:, 3] = mean * (1 - con)
    m *= gain[:, None]
    return cv2.transform(image, m)


def transform(image: np.ndarray, mask: np.ndarray, kind: str, angle: float = 0.0):
    """Apply one augmentation keeping the (445, 590) frame.

    ``image`` (H, W, 3) uint8, ``mask`` (H, W) bool; ``kind`` one of ``original``, ``hflip``,
    ``vflip``, ``rot90``, ``rot180``, ``rot270`` (counter-clockwise, scaled to fit with black
    bars) or ``rotate`` (``angle`` degrees counter-clockwise about the centre, black corners).
    Returns ``(image, mask)`` of the same shapes.
    """
    h, w = mask.shape
    if kind == "original":
        return image.copy(), mask.copy()
    if kind == "hflip":
        return image[:, ::-1].copy(), mask[:, ::-1].copy()
    if kind == "vflip":
        return image[::-1].copy(), mask[::-1].copy()
    if kind == "rot180":
        return image[::-1, ::-1].copy(), mask[::-1, ::-1].copy()
    if kind in ("rot90", "rot270"):
        k = 1 if kind == "rot90" else 3
        img_r, mask_r = np.rot90(image, k), np.rot90(mask, k)
        new_w = int(round(img_r.shape[1] * h / img_r.shape[0]))
        img_s = cv2.resize(np.ascontiguousarray(img_r), (new_w, h), interpolation=cv2.INTER_AREA)
        mask_s = cv2.resize(
            np.ascontiguousarray(mask_r).astype(np.uint8),
            (new_w, h),
            interpolation=cv2.INTER_NEAREST,
        )
        out_i = np.zeros_like(image)
        out_m = np.zeros_like(mask)
        x = (w - new_w) // 2
        out_i[:, x : x + new_w] = img_s
        out_m[:, x : x + new_w] = mask_s > 0
        return out_i, out_m
    if kind == "rotate":
        m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle, 1.0)
        out_i = cv2.warpAffine(
            image,
            m,
            (w, h),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=(0, 0, 0),
        )
        out_m = cv2.warpAffine(
            mask.astype(np.uint8),
            m,
            (w, h),
            flags=cv2.INTER_NEAREST,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )
        return out_i, out_m > 0
    raise ValueError(f"unknown transform {kind!r}")


def _rotation_angle(rng: np.random.Generator) -> float:
    """A non-right angle in degrees: 12..78 degrees away from a multiple of 90, any quadrant."""
    return float(round(rng.integers(0, 4) * 90 + rng.uniform(12, 78), 1))


def _copy_plan(rng: np.random.Generator, copies: int) -> list[tuple[str, float]]:
    plan = []
    for j in range(copies):
        if j < len(TRANSFORM_CYCLE):
            kind = TRANSFORM_CYCLE[j]
        else:  # beyond one of each, mostly arbitrary rotations, some flips
            kind = "rotate" if rng.random() < 0.6 else str(rng.choice(TRANSFORM_CYCLE[1:]))
        angle = (
            _rotation_angle(rng)
            if kind == "rotate"
            else {"rot90": 90.0, "rot180": 180.0, "rot270": 270.0}.get(kind, 0.0)
        )
        plan.append((kind, angle))
    return plan


@dataclass(frozen=True)
class DemoImage:
    """One file of the demo before it is written."""

    species: str
    number: int  # file number, 1-based
    original: int  # 1-based original id within the species
    kind: str
    angle: float
    image: np.ndarray  # (445, 590, 3) uint8 RGB
    mask: np.ndarray  # (445, 590) bool


def species_images(
    seed: int, species: str, originals: int, copies: int
) -> Iterator[DemoImage | tuple[int, np.ndarray]]:
    """Yield one species' images in file order (blocks of ``copies + 1`` per original).

    After the masked files it yields ``(original, image)`` pairs for NA-only photos: none here;
    see :func:`generate` for the NA set. Deterministic in (seed, species, originals, copies).
    """
    rng = np.random.default_rng([seed, zlib.crc32(species.encode())])
    number = 1
    for o in range(1, originals + 1):
        image, mask = render_original(rng, species)
        block = [("original", 0.0)] + _copy_plan(rng, copies)
        order = rng.permutation(len(block))
        for idx in order:
            kind, angle = block[idx]
            if kind == "original":
                img, msk = image, mask
            else:
                img, msk = transform(jitter(rng, image), mask, kind, angle)
            yield DemoImage(species, number, o, kind, angle, img, msk)
            number += 1


def _write_png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if array.ndim == 3:
        array = cv2.cvtColor(array, cv2.COLOR_RGB2BGR)
    if not cv2.imwrite(str(path), array, PNG_PARAMS if path.suffix == ".png" else JPEG_PARAMS):
        raise OSError(f"could not write {path}")


def generate(
    root: str | Path,
    *,
    seed: int = 0,
    species: Sequence[str] = DEFAULT_SPECIES,
    originals: int = 3,
    copies: int = 5,
    native: bool = True,
) -> pd.DataFrame:
    """Write the demo dataset under ``root`` (the ``Fish_Dataset`` level) and return its manifest.

    The manifest is also written to ``root/../manifest.tsv`` (columns in the module docstring).
    Files written are exactly :func:`planned_files` plus the manifest.
    """
    root = Path(root)
    cfg = {
        "seed": seed,
        "species": list(species),
        "originals": originals,
        "copies": copies,
        "native": native,
    }
    base = root.parent
    native_root = base / "NA_Fish_Dataset"
    rows = []
    for k, name in enumerate(cfg["species"]):
        img_dir, gt_dir = fish_dirs(root, name)
        originals_img: dict[int, np.ndarray] = {}
        species_rows = []
        for item in species_images(seed, name, originals, copies):
            stem = f"{item.number:05d}"
            _write_png(img_dir / f"{stem}.png", item.image)
            _write_png(gt_dir / f"{stem}.png", item.mask.astype(np.uint8) * 255)
            if item.kind == "original":
                originals_img[item.original] = item.image
            species_rows.append(
                {
                    "species": name,
                    "image": stem,
                    "file": (img_dir / f"{stem}.png").relative_to(base).as_posix(),
                    "mask": (gt_dir / f"{stem}.png").relative_to(base).as_posix(),
                    "original": item.original,
                    "transform": item.kind,
                    "angle": item.angle,
                    "is_original": int(item.kind == "original"),
                    "native": "",
                }
            )
        if native:
            rng = np.random.default_rng([seed, zlib.crc32(name.encode()), 7])
            with_native, extra = _native_plan(k, originals)
            width, height = NATIVE_SIZES[k % len(NATIVE_SIZES)]
            sources = [(o, originals_img[o]) for o in range(1, with_native + 1)]
            if extra:
                sources.append((0, render_original(rng, name)[0]))
            numbers = rng.permutation(len(sources)) + 1
            na_of: dict[int, str] = {}
            for (o, img), number in zip(sources, numbers, strict=True):
                path = native_root / native_name(name) / _native_file(k, int(number))
                big = cv2.resize(img, (width, height), interpolation=cv2.INTER_CUBIC)
                _write_png(path, big)
                rel = path.relative_to(base).as_posix()
                if o:
                    na_of[o] = rel
                else:
                    species_rows.append(
                        {
                            "species": name,
                            "image": "",
                            "file": "",
                            "mask": "",
                            "original": 0,
                            "transform": "native_only",
                            "angle": 0.0,
                            "is_original": 0,
                            "native": rel,
                        }
                    )
            for row in species_rows:
                if row["original"] in na_of:
                    row["native"] = na_of[row["original"]]
        rows.extend(species_rows)
    manifest = pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS))
    base.mkdir(parents=True, exist_ok=True)
    manifest.to_csv(base / "manifest.tsv", sep="\t", index=False, float_format="%.6g")
    return manifest


def generate_from_config(root: str | Path, demo_cfg: Mapping | None) -> pd.DataFrame:
    """:func:`generate` with the ``dataset.demo`` config block (defaults filled in)."""
    return generate(root, **_settings(demo_cfg))


__all__ = [
    "DEFAULT_SPECIES",
    "generate",
    "generate_from_config",
    "jitter",
    "native_name",
    "planned_files",
    "planned_samples",
    "species_images",
    "transform",
]

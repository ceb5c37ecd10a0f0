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
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from clickbench.layouts import fish_dirs
from clickbench.samples import Sample

FRAME_H, FRAME_W = 445, 590
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
    cfg = dict(demo_cfg or {})
    return {
        "seed": int(cfg.get("seed", 0)),
        "species": list(cfg.get("species") or DEFAULT_SPECIES),
        "originals": int(cfg.get("originals", 3)),
        "copies": int(cfg.get("copies", 5)),
        "native": bool(cfg.get("native", True)),
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


# ----------------------------------------------------------------------------- species looks
@dataclass(frozen=True)
class Look:
    """Colours (RGB 0-255) and shape of one species; each original varies around them."""

    back: tuple[int, int, int]
    flank: tuple[int, int, int]
    belly: tuple[int, int, int]
    fin: tuple[int, int, int]
    depth: float  # half body height / length
    length: tuple[float, float]  # body length as a fraction of the frame width
    tail: str = "forked"  # forked | square
    dorsal: int = 1  # number of dorsal fins
    pattern: str = "none"  # scutes | band | stripes | spots | bluespots | none
    eye: tuple[int, int, int] = (200, 190, 150)
    shrimp: bool = False


LOOKS = {
    "hourse mackerel": Look(
        (70, 95, 105),
        (165, 175, 178),
        (222, 222, 214),
        (150, 150, 140),
        0.105,
        (0.62, 0.82),
        dorsal=2,
        pattern="scutes",
    ),
    "horse mackerel": Look(
        (70, 95, 105),
        (165, 175, 178),
        (222, 222, 214),
        (150, 150, 140),
        0.105,
        (0.62, 0.82),
        dorsal=2,
        pattern="scutes",
    ),
    "gilt head bream": Look(
        (105, 112, 120),
        (168, 172, 176),
        (218, 216, 210),
        (120, 120, 125),
        0.2,
        (0.55, 0.72),
        pattern="band",
        eye=(210, 180, 90),
    ),
    "red mullet": Look(
        (185, 80, 70),
        (215, 140, 120),
        (235, 205, 185),
        (215, 150, 120),
        0.13,
        (0.55, 0.75),
        dorsal=2,
    ),
    "striped red mullet": Look(
        (175, 75, 70),
        (210, 130, 110),
        (235, 210, 190),
        (210, 160, 110),
        0.13,
        (0.55, 0.75),
        dorsal=2,
        pattern="stripes",
    ),
    "sea bass": Look(
        (85, 98, 110),
        (172, 178, 182),
        (226, 226, 222),
        (140, 145, 150),
        0.13,
        (0.62, 0.82),
        dorsal=2,
    ),
    "trout": Look(
        (95, 100, 70),
        (190, 160, 150),
        (225, 220, 210),
        (140, 130, 100),
        0.13,
        (0.6, 0.8),
        tail="square",
        pattern="spots",
    ),
    "red sea bream": Look(
        (200, 90, 95),
        (225, 140, 140),
        (240, 210, 205),
        (215, 130, 130),
        0.19,
        (0.55, 0.72),
        pattern="bluespots",
    ),
    "black sea sprat": Look(
        (45, 75, 85),
        (170, 180, 185),
        (225, 228, 228),
        (160, 165, 165),
        0.09,
        (0.42, 0.58),
        eye=(220, 220, 210),
    ),
}


def _look(species: str) -> Look:
    key = " ".join(species.lower().replace("-", " ").replace("_", " ").split())
    if "shrimp" in key or "prawn" in key:
        return Look(
            (200, 150, 140),
            (200, 150, 140),
            (220, 185, 175),
            (210, 160, 150),
            0.0,
            (0.42, 0.55),
            shrimp=True,
        )
    if key in LOOKS:
        return LOOKS[key]
    rng = np.random.default_rng(zlib.crc32(key.encode()))
    back = tuple(int(v) for v in rng.integers(40, 160, 3))
    flank = tuple(int(v) for v in rng.integers(140, 210, 3))
    return Look(
        back,
        flank,
        (225, 222, 215),
        flank,
        float(rng.uniform(0.1, 0.19)),
        (0.55, 0.78),
        dorsal=int(rng.integers(1, 3)),
    )


# ----------------------------------------------------------------------------- rendering
def _smooth_noise(rng: np.random.Generator, h: int, w: int, cell: int) -> np.ndarray:
    """(h, w) float32 noise in [-1, 1] varying over about ``cell`` pixels."""
    small = rng.standard_normal((h // cell + 3, w // cell + 3)).astype(np.float32)
    big = cv2.resize(small, (w + 3 * cell, h + 3 * cell), interpolation=cv2.INTER_CUBIC)
    big = big[cell : cell + h, cell : cell + w]
    return np.clip(big / 1.5, -1.0, 1.0)


def _tray(rng: np.random.Generator) -> np.ndarray:
    """(445, 590, 3) float32 RGB in 0..255: the blue speckled mat under uneven light."""
    h, w = FRAME_H, FRAME_W
    base = np.array([38, 92, 165], np.float32) * rng.uniform(0.85, 1.1, 3).astype(np.float32)
    img = np.empty((h, w, 3), np.float32)
    img[:] = base
    # slow light gradient and vignette
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    gx, gy = rng.uniform(-0.25, 0.25, 2)
    light = 1.0 + gx * (xx / w - 0.5) + gy * (yy / h - 0.5)
    r2 = ((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (h / 2)) ** 2
    light *= 1.0 - 0.12 * r2
    # mat texture: mottling plus fine grain
    light += 0.07 * _smooth_noise(rng, h, w, 24) + 0.04 * _smooth_noise(rng, h, w, 5)
    img *= light[..., None]
    # speckles: small light and dark flecks
    for density, value, size in ((0.012, 110.0, 3), (0.008, -45.0, 3), (0.03, 45.0, 1)):
        dots = (rng.random((h, w)) < density).astype(np.float32)
        if size > 1:
            dots = cv2.GaussianBlur(dots, (size, size), 0.8) * 2.2
        img += np.clip(dots, 0, 1)[..., None] * np.array([value, value, value * 0.8], np.float32)
    img += rng.normal(0, 3.0, img.shape).astype(np.float32)
    return img


def _scales(x: np.ndarray, y: np.ndarray, size: float) -> np.ndarray:
    """Scale-edge intensity 0..1 on local coordinates (rows of overlapping crescents)."""
    row = np.floor(y / size)
    u = x / size + 0.5 * row
    fu = u - np.floor(u)
    fv = y / size - row
    d = np.hypot(fu - 0.15, (fv - 0.5) * 1.1)
    return np.exp(-(((d - 0.62) / 0.09) ** 2))


def _poly(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Anti-aliased coverage (float32 0..1) of a polygon given as (N, 2) (x, y) points."""
    canvas = np.zeros(shape, np.uint8)
    pts = np.round(points * 16).astype(np.int32).reshape(-1, 1, 2)
    cv2.fillPoly(canvas, [pts], 255, lineType=cv2.LINE_AA, shift=4)
    return canvas.astype(np.float32) / 255.0


def _fish_local(rng: np.random.Generator, look: Look, length: float):
    """Render a fish facing left on its own canvas.

    Returns ``(rgb, alpha, anchor)``: rgb (h, w, 3) float32 0..255, alpha (h, w) float32 0..1,
    anchor (x, y) the body centre on that canvas.
    """
    depth = look.depth * rng.uniform(0.88, 1.12)
    half = depth * length  # max half height of the body
    body_len = length * rng.uniform(0.78, 0.83)
    pad = int(0.08 * length) + 6
    w = int(length + 2 * pad)
    h = int(2 * half * 2.1 + 2 * pad)
    cy = h / 2.0
    x0 = float(pad)
    xp = x0 + body_len  # caudal peduncle

    peak = rng.uniform(0.3, 0.42)
    k = np.log(0.5) / np.log(peak)
    ped = rng.uniform(0.16, 0.24)
    asym = rng.uniform(0.0, 0.15)
    bend = rng.uniform(-0.06, 0.06) * half

    def profile(t):
        t = np.clip(t, 0.0, 1.0)
        g = np.sin(np.pi * t**k) ** 0.75
        snout = np.clip(t / 0.2, 0, 1) ** 0.6  # a rounded, pointed head
        return half * (g * (1 - ped) + ped * t**2) * (0.12 + 0.88 * snout)

    def axis(x):  # vertical offset of the body axis (a slight bend)
        t = (x - x0) / body_len
        return bend * np.sin(np.pi * np.clip(t, 0, 1.25))

    ts = np.linspace(0, 1, 80)
    xs = x0 + ts * body_len
    top = cy + axis(xs) - profile(ts) * (1 + asym)
    bot = cy + axis(xs) + profile(ts) * (1 - 0.5 * asym)
    body_pts = np.concatenate([np.stack([xs, top], 1), np.stack([xs[::-1], bot[::-1]], 1)])
    body = _poly(body_pts, (h, w))

    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    t_map = np.clip((xx - x0) / body_len, 0, 1)
    prof_map = profile(t_map)
    ay = cy + axis(xx)
    top_map = ay - prof_map * (1 + asym)
    span = np.maximum(prof_map * (2 + 0.5 * asym), 1.0)
    v = np.clip((yy - top_map) / span, 0, 1)  # 0 at the back, 1 at the belly

    def col(c):
        return np.array(c, np.float32) * rng.uniform(0.9, 1.1, 3).astype(np.float32)

    back, flank, belly, fin_c = col(look.back), col(look.flank), col(look.belly), col(look.fin)
    wb = np.clip(1 - v / 0.45, 0, 1)[..., None]
    wl = np.clip((v - 0.55) / 0.4, 0, 1)[..., None]
    rgb = back * wb + belly * wl + flank * (1 - wb - wl)

    # pattern
    lat = np.abs(yy - (ay - prof_map * (0.25 + 0.1 * t_map)))  # lateral line distance
    if look.pattern == "scutes":
        ln = np.exp(-((lat / 2.2) ** 2)) * (t_map > 0.22)
        dash = 0.5 + 0.5 * np.cos(xx / (length * 0.012))
        rgb *= (1 - 0.35 * ln * (0.5 + 0.5 * dash))[..., None]
    elif look.pattern == "band":
        head = np.exp(-(((xx - x0 - 0.12 * body_len) / (0.03 * body_len)) ** 2)) * (v < 0.35)
        rgb = rgb * (1 - head[..., None]) + np.array([225, 190, 70], np.float32) * head[..., None]
        stripes = 0.5 + 0.5 * np.cos((v * 9) * np.pi)
        rgb *= (1 - 0.08 * stripes * (t_map > 0.25))[..., None]
    elif look.pattern == "stripes":
        for sv in (0.42, 0.56, 0.68):
            s = np.exp(-(((v - sv) / 0.025) ** 2)) * (t_map > 0.2)
            rgb = rgb * (1 - s[..., None]) + np.array([235, 200, 80], np.float32) * s[..., None]
    elif look.pattern in ("spots", "bluespots"):
        n = 70 if look.pattern == "spots" else 45
        spot = np.zeros((h, w), np.float32)
        sx = x0 + rng.uniform(0.15, 1.0, n) * body_len
        sv = rng.uniform(0.05, 0.65 if look.pattern == "spots" else 0.55, n)
        for x, vv in zip(sx, sv, strict=True):
            t = (x - x0) / body_len
            y = cy + axis(x) - profile(t) * (1 + asym) + vv * profile(t) * 2
            cv2.circle(spot, (int(x), int(y)), int(rng.integers(2, 5)), 1.0, -1, cv2.LINE_AA)
        spot = cv2.GaussianBlur(spot, (3, 3), 0)[..., None]
        ink = [30, 30, 25] if look.pattern == "spots" else [90, 150, 220]
        rgb = rgb * (1 - spot) + np.array(ink, np.float32) * spot
        if look.pattern == "spots":
            band = np.exp(-(((v - 0.5) / 0.08) ** 2))[..., None] * 0.45
            rgb = rgb * (1 - band) + np.array([215, 120, 130], np.float32) * band
    irid = _smooth_noise(rng, h, w, max(int(length * 0.08), 4))
    rgb *= 1 + 0.035 * irid[..., None] * np.array([1.0, -0.3, 0.9], np.float32)
    line = np.exp(-((lat / 1.3) ** 2)) * (t_map > 0.25) * 0.18
    rgb *= (1 - line)[..., None]

    # scales and shading (rounded body lit from above)
    sc = _scales(xx, yy, max(length * 0.022, 4.0))
    rgb *= (1 - 0.1 * sc * (t_map > 0.22) * (0.6 + 0.4 * (1 - v)))[..., None]
    dist = cv2.distanceTransform((body > 0.5).astype(np.uint8), cv2.DIST_L2, 5)
    dn = dist / max(float(dist.max()), 1.0)
    shade = 0.62 + 0.38 * np.sqrt(dn) + 0.22 * np.exp(-(((v - 0.28) / 0.12) ** 2)) * dn
    rgb *= shade[..., None]

    # gill cover, mouth, eye
    gx = x0 + 0.26 * body_len
    ph = profile(np.array(0.26))
    gill = np.zeros((h, w), np.float32)
    cv2.ellipse(
        gill,
        (int(gx - ph * 0.25), int(cy + axis(gx))),
        (int(ph * 0.35), int(ph * 0.9)),
        0,
        -70,
        70,
        1.0,
        2,
        cv2.LINE_AA,
    )
    gill = cv2.GaussianBlur(gill, (5, 5), 0)
    rgb *= (1 - 0.3 * gill)[..., None]
    my = cy + axis(x0) + profile(np.array(0.03)) * 0.3
    cv2.line(
        rgb,
        (int(x0 + 2), int(my)),
        (int(x0 + 0.06 * body_len), int(my + 2)),
        (50, 40, 40),
        2,
        cv2.LINE_AA,
    )
    ex = x0 + 0.09 * body_len
    ey = cy + axis(ex) - profile(np.array(0.09)) * 0.2
    er = max(3.0, length * rng.uniform(0.022, 0.03))
    cv2.circle(rgb, (int(ex), int(ey)), int(er * 1.15), (60, 60, 60), -1, cv2.LINE_AA)
    cv2.circle(rgb, (int(ex), int(ey)), int(er), look.eye, -1, cv2.LINE_AA)
    cv2.circle(rgb, (int(ex), int(ey)), int(er * 0.6), (12, 12, 14), -1, cv2.LINE_AA)
    cv2.circle(
        rgb,
        (int(ex - er * 0.3), int(ey - er * 0.3)),
        max(1, int(er * 0.2)),
        (240, 240, 240),
        -1,
        cv2.LINE_AA,
    )
    if look.pattern == "band" or look.dorsal == 2:  # dark spot on the gill cover
        cv2.circle(
            rgb,
            (int(gx + ph * 0.12), int(cy + axis(gx) - ph * 0.5)),
            int(ph * 0.1),
            tuple(float(c) for c in 0.45 * back),
            -1,
            cv2.LINE_AA,
        )

    # fins: (start t, end t, height, side) along the body, plus the tail
    fins = np.zeros((h, w), np.float32)
    rays = np.zeros((h, w), np.float32)

    def fin(t0, t1, height, side, sharp):
        u = np.linspace(0, 1, 24)
        tt = t0 + u * (t1 - t0)
        fx = x0 + tt * body_len
        edge = cy + axis(fx) + side * profile(tt) * (1 + asym if side < 0 else 1 - 0.5 * asym)
        rise = height * half * (1 - u) ** sharp * np.minimum(1.0, u * 7 + 0.05)
        rise *= 1 + 0.06 * np.sin(u * 40)  # ragged edge between the rays
        outer = np.stack([fx + 0.45 * rise, edge + side * rise], 1)
        inner = np.stack([fx, edge - side * 3], 1)
        return np.concatenate([inner, outer[::-1]])

    fin_list = []
    if look.dorsal == 2:
        fin_list += [fin(0.3, 0.5, 0.6, -1, 0.8), fin(0.56, 0.86, 0.4, -1, 0.9)]
    else:
        fin_list += [fin(0.3, 0.8, 0.55, -1, 0.7)]
    if look.tail == "square":  # trout: adipose fin
        fin_list += [fin(0.86, 0.93, 0.2, -1, 0.5)]
    fin_list += [fin(0.6, 0.86, 0.4, 1, 0.8), fin(0.36, 0.47, 0.45, 1, 0.6)]
    for pts in fin_list:
        fins = np.maximum(fins, _poly(pts, (h, w)))
    # tail
    ped_h = profile(np.array(1.0))
    tl = length - body_len
    spread = half * rng.uniform(0.85, 1.1) * (0.8 if look.tail == "square" else 1.0)
    fork = 0.45 * tl if look.tail == "forked" else 0.05 * tl
    tail_pts = np.array(
        [
            [xp - 4, cy + axis(xp) - ped_h],
            [xp + tl, cy + axis(xp) - spread],
            [xp + tl - fork, cy + axis(xp)],
            [xp + tl, cy + axis(xp) + spread],
            [xp - 4, cy + axis(xp) + ped_h],
        ]
    )
    fins = np.maximum(fins, _poly(tail_pts, (h, w)))
    ang = np.arctan2(yy - (cy + axis(xp)), xx - xp + 1e-3)
    rays = 0.5 + 0.5 * np.cos(ang * 60) * (xx > xp) + 0.5 * np.cos(xx * 0.9) * (xx <= xp)
    fin_rgb = fin_c * (0.8 + 0.12 * rays)[..., None]
    fin_rgb *= (1 - 0.25 * np.clip((xx - xp) / max(tl, 1), 0, 1))[..., None]  # darker tail edge
    # pectoral fin: translucent, lying on the body
    pec = np.zeros((h, w), np.float32)
    pxc = x0 + 0.3 * body_len
    cv2.ellipse(
        pec,
        (int(pxc), int(cy + axis(pxc) + half * 0.1)),
        (int(half * 0.55), int(half * 0.16)),
        float(rng.uniform(10, 25)),
        0,
        360,
        1.0,
        -1,
        cv2.LINE_AA,
    )
    fin_only = fins * (1 - body)
    reach = cv2.distanceTransform((body < 0.5).astype(np.uint8), cv2.DIST_L2, 5)
    fin_alpha = np.clip(0.97 - reach / max(half * 2.5, 1.0), 0.72, 0.97)
    alpha = np.clip(body + fin_only * fin_alpha, 0, 1)
    out = rgb * body[..., None] + fin_rgb * fin_only[..., None]
    out = out / np.maximum(alpha, 1e-3)[..., None]
    out = out * (1 - 0.35 * pec[..., None]) + fin_rgb * 0.35 * pec[..., None]
    fine = rng.normal(0, 4.0, out.shape).astype(np.float32)
    out = np.clip(out + fine, 0, 255)
    return out, alpha, (x0 + body_len * 0.5, cy)


def _shrimp(rng: np.random.Generator, look: Look, img: np.ndarray) -> np.ndarray:
    """Draw a curled shrimp onto ``img`` (H, W, 3) float32 in place; return its (H, W) bool mask."""
    h, w = img.shape[:2]
    length = w * rng.uniform(*look.length)
    cooked = rng.random() < 0.35
    base = np.array([235, 120, 90] if cooked else [196, 165, 160], np.float32)
    base *= rng.uniform(0.9, 1.08, 3).astype(np.float32)
    curl = rng.uniform(0.9, 1.7)  # radians of the body arc
    radius = length / curl
    turn = rng.uniform(0, 2 * np.pi)
    flip = 1 if rng.random() < 0.5 else -1
    cx = w / 2 + rng.uniform(-0.08, 0.08) * w
    cy = h / 2 + rng.uniform(-0.08, 0.08) * h
    s = np.linspace(0, 1, 120)
    phi = turn + flip * (s - 0.5) * curl
    # arc centre placed so the body's middle sits near (cx, cy)
    ox = cx - radius * np.cos(turn)
    oy = cy - radius * np.sin(turn)
    ax_x = ox + radius * np.cos(phi)
    ax_y = oy + radius * np.sin(phi)
    tx, ty = np.gradient(ax_x), np.gradient(ax_y)
    tn = np.hypot(tx, ty)
    tx, ty = tx / tn, ty / tn
    nx, ny = -ty, tx  # normal
    inner = -flip  # normal sign pointing to the arc's inside (the legs side)
    hw = length * rng.uniform(0.085, 0.1)
    width = hw * np.interp(
        s, [0, 0.08, 0.3, 0.4, 0.7, 0.88, 0.95, 1.0], [0.45, 0.85, 1.0, 0.92, 0.72, 0.45, 0.5, 0.75]
    )
    left = np.stack([ax_x + nx * width, ax_y + ny * width], 1)
    right = np.stack([ax_x - nx * width, ax_y - ny * width], 1)
    body = _poly(np.concatenate([left[:110], right[:110][::-1]]), (h, w))
    # tail fan: telson and uropods fanning out from s = 0.9
    i9 = 105
    end = np.array([ax_x[-1] + tx[-1] * hw * 1.6, ax_y[-1] + ty[-1] * hw * 1.6])
    fan = np.zeros((h, w), np.float32)
    for a in (-0.55, -0.25, 0.0, 0.25, 0.55):
        dx = tx[-1] * np.cos(a) - ty[-1] * np.sin(a)
        dy = tx[-1] * np.sin(a) + ty[-1] * np.cos(a)
        tip = (ax_x[i9] + dx * hw * 2.1, ax_y[i9] + dy * hw * 2.1)
        cv2.ellipse(
            fan,
            (int((ax_x[i9] + tip[0]) / 2), int((ax_y[i9] + tip[1]) / 2)),
            (int(hw * 1.05), int(hw * (0.3 if a else 0.22))),
            float(np.degrees(np.arctan2(dy, dx))),
            0,
            360,
            1.0,
            -1,
            cv2.LINE_AA,
        )
    del end
    # rostrum
    head = np.array([ax_x[0], ax_y[0]])
    rost = np.array(
        [
            head + np.array([nx[0], ny[0]]) * hw * 0.35,
            head
            - np.array([tx[0], ty[0]]) * hw * 2.4
            + np.array([nx[0], ny[0]]) * hw * 0.25 * -inner,
            head - np.array([nx[0], ny[0]]) * hw * 0.35,
        ]
    )
    body = np.maximum(body, _poly(rost, (h, w)))
    legs = np.zeros((h, w), np.float32)
    leg_rgb = base * 0.85
    # walking legs under the carapace, swimmerets under the abdomen
    for j, sj in enumerate(np.linspace(0.1, 0.34, 5)):
        i = int(sj * 119)
        p0 = np.array([ax_x[i], ax_y[i]]) + inner * np.array([nx[i], ny[i]]) * width[i] * 0.8
        d = inner * np.array([nx[i], ny[i]]) - 0.5 * np.array([tx[i], ty[i]])
        p1 = p0 + d * hw * (1.3 + 0.15 * j)
        p2 = p1 + (inner * np.array([nx[i], ny[i]]) * 0.4 - np.array([tx[i], ty[i]])) * hw * 0.9
        cv2.polylines(
            legs, [np.round(np.array([p0, p1, p2])).astype(np.int32)], False, 1.0, 2, cv2.LINE_AA
        )
    for sj in np.linspace(0.45, 0.8, 5):
        i = int(sj * 119)
        p0 = np.array([ax_x[i], ax_y[i]]) + inner * np.array([nx[i], ny[i]]) * width[i] * 0.85
        p1 = p0 + (inner * np.array([nx[i], ny[i]]) + 0.3 * np.array([tx[i], ty[i]])) * hw * 0.7
        cv2.line(
            legs,
            tuple(np.round(p0).astype(int)),
            tuple(np.round(p1).astype(int)),
            1.0,
            max(2, int(hw * 0.14)),
            cv2.LINE_AA,
        )
    legs = legs * (1 - body)
    mask_f = np.clip(np.maximum(np.maximum(body, fan), legs), 0, 1)

    # colour the body: segment bands, rounded shading, the dark vein and flecks
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ang = np.arctan2(yy - oy, xx - ox)
    s_map = np.clip(((ang - turn + np.pi) % (2 * np.pi) - np.pi) * flip / curl + 0.5, 0, 1)
    seg = np.interp(s_map, [0.36, 0.88], [0, 6])
    band = np.where((s_map > 0.36) & (s_map < 0.9), np.abs(seg - np.round(seg)), 0.5)
    ring = np.exp(-((band / 0.06) ** 2))
    rr = np.hypot(xx - ox, yy - oy) - radius  # signed distance from the axis
    dist = cv2.distanceTransform((mask_f > 0.5).astype(np.uint8), cv2.DIST_L2, 5)
    dn = np.clip(dist / max(hw, 1.0), 0, 1)
    col = base[None, None, :] * (0.7 + 0.35 * np.sqrt(dn))[..., None]
    col *= (1 - 0.28 * ring)[..., None]
    vein = np.exp(-(((rr + flip * width.mean() * 0.35) / 2.0) ** 2)) * (s_map > 0.3) * (s_map < 0.9)
    col *= (1 - 0.4 * vein)[..., None]
    carapace = (s_map < 0.36).astype(np.float32)
    col *= (1 + 0.08 * carapace * np.cos(rr / 3.0))[..., None]
    flecks = (rng.random((h, w)) < 0.01).astype(np.float32)
    col *= (1 - 0.4 * cv2.GaussianBlur(flecks, (3, 3), 0) * 2)[..., None]
    col += rng.normal(0, 4.0, col.shape).astype(np.float32)
    # translucency: the shrimp shows a little of the tray
    translucent = 0.12 if not cooked else 0.04
    fan_only = np.clip(fan - body, 0, 1)
    a = np.clip(body * (1 - translucent) + fan_only * 0.8 + legs * 0.85, 0, 1)[..., None]
    col_f = np.where((fan_only > 0)[..., None], base * 0.95, col)
    col_f = np.where((legs > 0)[..., None], leg_rgb, col_f)
    # shadow first, then the shrimp
    shadow = cv2.GaussianBlur(np.roll(mask_f, (5, 4), (0, 1)), (0, 0), 5)
    img *= (1 - 0.4 * shadow)[..., None]
    img[:] = img * (1 - a) + col_f * a
    # antennae (thin, not part of the mask), eyes
    for sgn, lng in ((1, 1.1), (-1, 0.9)):
        p = head.copy()
        d = -np.array([tx[0], ty[0]]) + sgn * 0.25 * np.array([nx[0], ny[0]])
        pts = [p.copy()]
        bend = rng.uniform(-0.03, 0.03)
        for _ in range(30):
            c, s_ = np.cos(bend), np.sin(bend)
            d = np.array([c * d[0] - s_ * d[1], s_ * d[0] + c * d[1]])
            p = p + d * length * lng / 30
            pts.append(p.copy())
        cv2.polylines(
            img,
            [np.round(np.array(pts)).astype(np.int32)],
            False,
            tuple(float(c) for c in base * 0.6),
            1,
            cv2.LINE_AA,
        )
    for sgn in (1, -1):
        e = head - np.array([tx[0], ty[0]]) * hw * 0.3 + sgn * np.array([nx[0], ny[0]]) * hw * 0.55
        cv2.circle(
            img, (int(e[0]), int(e[1])), max(3, int(hw * 0.2)), (20, 20, 20), -1, cv2.LINE_AA
        )
        cv2.circle(mask_f, (int(e[0]), int(e[1])), max(3, int(hw * 0.2)), 1.0, -1, cv2.LINE_AA)
    return mask_f > 0.5


def render_original(rng: np.random.Generator, species: str) -> tuple[np.ndarray, np.ndarray]:
    """One synthetic photograph of ``species``: ``(image (445, 590, 3) uint8 RGB, mask (445, 590) bool)``."""
    look = _look(species)
    img = _tray(rng)
    if look.shrimp:
        mask = _shrimp(rng, look, img)
        return np.clip(img, 0, 255).astype(np.uint8), mask
    length = FRAME_W * rng.uniform(*look.length)
    rgb, alpha, (ax, ay) = _fish_local(rng, look, length)
    if rng.random() < 0.5:  # facing right
        rgb, alpha = rgb[:, ::-1], alpha[:, ::-1]
        ax = rgb.shape[1] - 1 - ax
    pose = rng.uniform(-28, 28)
    cx = FRAME_W / 2 + rng.uniform(-0.1, 0.1) * FRAME_W
    cy = FRAME_H / 2 + rng.uniform(-0.1, 0.1) * FRAME_H
    m = cv2.getRotationMatrix2D((float(ax), float(ay)), pose, 1.0)
    m[:, 2] += (cx - ax, cy - ay)
    size = (FRAME_W, FRAME_H)
    fish = cv2.warpAffine(np.ascontiguousarray(rgb), m, size, flags=cv2.INTER_LINEAR)
    a = cv2.warpAffine(np.ascontiguousarray(alpha), m, size, flags=cv2.INTER_LINEAR)
    shadow = cv2.GaussianBlur(np.roll(a, (6, 5), (0, 1)), (0, 0), 6)
    img *= (1 - 0.42 * shadow)[..., None]
    img = img * (1 - a[..., None]) + fish * a[..., None]
    return np.clip(img, 0, 255).astype(np.uint8), a > 0.5


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
    "FRAME_H",
    "FRAME_W",
    "generate",
    "generate_from_config",
    "jitter",
    "native_name",
    "planned_files",
    "render_original",
    "species_images",
    "transform",
]

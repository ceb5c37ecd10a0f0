"""The demo's drawing: one synthetic photograph of a fish or a shrimp on a blue tray.

:func:`render_original` draws, from a random generator and a species name, a (445, 590) RGB
photograph seen from above (the frame of Kaggle's "A Large Scale Fish Dataset") and the
object's mask: a speckled mat under uneven light (:func:`_tray`), then either a fish drawn
facing left on its own canvas (:func:`_fish_local`: body profile, colours from the back down,
the species' pattern, scales, gill cover, eye, fins and tail), flipped, turned and placed with
its shadow, or a curled shrimp drawn in place (:func:`_shrimp`). Each species' colours and
shape (:class:`Look`) come from ``data/demo_looks.yaml``; shrimp and unlisted species follow
rules in :func:`_look`. The same generator state gives the same pixels.
:mod:`clickbench.demo` turns these originals into the dataset.

A little over 500 lines, on purpose: most of them are :func:`_fish_local`, one picture drawn in
steps that share the body's geometry; cut apart, its pieces would each need all of it passed in.
"""

from __future__ import annotations

import functools
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import yaml

FRAME_H, FRAME_W = 445, 590
LOOKS_PATH = Path(__file__).resolve().parent / "data" / "demo_looks.yaml"


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


@functools.cache
def _looks() -> dict[str, Look]:
    """:data:`LOOKS_PATH`: the listed species' looks, by normalised name."""
    text = LOOKS_PATH.read_text()
    tuples = ("back", "flank", "belly", "fin", "length", "eye")
    return {
        name: Look(**{k: tuple(v) if k in tuples else v for k, v in fields.items()})
        for name, fields in yaml.safe_load(text).items()
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
    if key in _looks():
        return _looks()[key]
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


__all__ = ["FRAME_H", "FRAME_W", "Look", "render_original"]

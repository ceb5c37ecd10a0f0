"""Where the photo lies in an image: rotation fill, the photo's angle and scale, and the
canonical crop's affine map (see the package docstring, *Canonical view*, steps 1 to 3)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

FILL_LEVEL = 16  # a pixel whose every channel is <= this is black rotation fill
FLOOD_LEVEL = 40  # next to the fill, fill up to this level (a re-encoding lifts its edge)
EDGE_BAND = 1  # working pixels next to the fill that may be lifted up to FLOOD_LEVEL
EDGE_OVERSHOOT = 0.65  # working pixels by which the outline overshoots the photo edge
CROP = 0.70  # canonical square side / photo short side (inside the always-kept circle)


@dataclass(frozen=True)
class Geometry:
    """Where the photo lies in an image, in full-resolution pixel coordinates.

    ``angle``: rotation of the photo's axes modulo 90 degrees, in (-45, 45], counter-clockwise as
    displayed; ``scale``: photo short side / frame short side; ``center``: (row, col) of the
    photo's centre; ``fill``: rotation fill detected; ``fill_fraction``: the part of the frame
    that is black and connected to a frame corner (a rotation by a degree or two leaves slivers
    too thin for ``fill``, but not none).
    """

    angle: float
    scale: float
    center: tuple[float, float]
    fill: bool
    fill_fraction: float = 0.0


def frame_corners(width: int, height: int) -> tuple[tuple[int, int], ...]:
    """(x, y) of the four corner pixels of a frame."""
    return ((0, 0), (width - 1, 0), (0, height - 1), (width - 1, height - 1))


def black_corners(image: np.ndarray, level: int = FILL_LEVEL) -> list[tuple[int, int]]:
    """(x, y) of the frame corners whose 3x3 patch is black, for an (H, W, 3) image."""
    height, width = image.shape[:2]
    out = []
    for col, row in frame_corners(width, height):
        left, top = min(col, width - 3), min(row, height - 3)
        if image[top : top + 3, left : left + 3].max() <= level:
            out.append((col, row))
    return out


def channel_max(image: np.ndarray) -> np.ndarray:
    """(H, W) largest channel value of an (H, W, 3) uint8 image (cv2: numpy's axis max is slow)."""
    return cv2.max(cv2.max(image[..., 0], image[..., 1]), image[..., 2])


def has_rotation_fill(image: np.ndarray) -> bool:
    """Whether an (H, W, 3) uint8 RGB image shows black fill from a rotation.

    True when at least two frame corners are black (see the package docstring).
    """
    return len(black_corners(image)) >= 2


def fit_rotation(outline: np.ndarray, width: int, height: int) -> tuple[float, float]:
    """The angle and scale of the photo rectangle, centred on the frame, from its outline.

    ``outline``: (n, 2) float (x, y) of the outline points that lie between photo and fill
    (not on the frame's border), relative to the frame centre. The photo has the frame's
    aspect ratio (a rotation keeps it; a right-angle turn scaled to fit swaps the sides, which
    an angle of 90 degrees covers). For each candidate angle in [0, 180) the smallest such
    rectangle holding the outline is found; its sides are where the outline touches it, and at
    the true angle every outline point on a photo edge lies on them, at any other they spread.
    The angle with the most outline points within ``tolerance`` of its rectangle wins: 1 degree
    steps, then 0.1, then 0.01 about the best. Dark photo content that the flood fill took for
    fill makes outline points inside the rectangle, which no angle counts, so it does not pull
    the estimate (the mean edge direction it replaces did).
    Returns (theta in image coordinates, radians in [0, pi); scale: photo / frame).
    """
    half_width, half_height = width / 2, height / 2
    low, high, step, tolerance = 0.0, 179.0, 1.0, 2.5
    best, scale = 0.0, 1.0
    for _ in range(3):
        degrees = np.arange(low, high + step / 2, step)
        radians = np.radians(degrees)[:, None]
        cos_t, sin_t = np.cos(radians), np.sin(radians)
        along = np.abs(cos_t * outline[None, :, 0] + sin_t * outline[None, :, 1]) / half_width
        across = np.abs(-sin_t * outline[None, :, 0] + cos_t * outline[None, :, 1]) / half_height
        reach = np.maximum(along, across)
        scales = reach.max(axis=1, keepdims=True)
        support = (reach > scales - tolerance / half_height).sum(axis=1)
        pick = int(np.argmax(support))
        best, scale = float(degrees[pick]), float(scales[pick, 0])
        low, high, step = best - step, best + step, step / 10
        tolerance = max(tolerance / 2.5, 0.7)
    return float(np.radians(best)), scale


def photo_geometry(small: np.ndarray) -> tuple[float, Geometry, np.ndarray]:
    """Photo geometry from a reduced (h, w, 3) image, in its own pixels; returns (theta in
    image coordinates, Geometry, valid (h, w) bool: pixels of the photo, not fill)."""
    height, width = small.shape[:2]
    corners = black_corners(small)
    centre = ((height - 1) / 2, (width - 1) / 2)
    level = channel_max(small)
    dark = (level <= FILL_LEVEL).astype(np.uint8)
    flood = np.zeros((height + 2, width + 2), np.uint8)
    for col, row in frame_corners(width, height):
        if dark[row, col] == 1:
            cv2.floodFill(dark, flood, (col, row), 2)
    fill = dark == 2
    # a re-encoding (JPEG) lifts the fill next to the photo's edge above FILL_LEVEL: pixels up
    # to FLOOD_LEVEL within EDGE_BAND pixels of the fill are fill too (not farther: a dark
    # grey background, a night sky, would be taken whole)
    kernel = np.ones((2 * EDGE_BAND + 1, 2 * EDGE_BAND + 1), np.uint8)
    band = cv2.dilate(fill.astype(np.uint8), kernel) > 0
    valid = ~(fill | (band & (level <= FLOOD_LEVEL)))
    fraction = float(1 - valid.mean())
    if len(corners) < 2:
        return 0.0, Geometry(0.0, 1.0, centre, False, fraction), np.ones((height, width), bool)
    contours, _ = cv2.findContours(valid.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    # the photo's outline; specks of the fill that a re-encoding lifted above the level are
    # islands with outlines of their own, left out
    points = max(contours, key=len).reshape(-1, 2) if contours else np.zeros((0, 2), int)
    cols, rows = points[:, 0], points[:, 1]
    inner = (cols > 0) & (cols < width - 1) & (rows > 0) & (rows < height - 1)
    if inner.sum() < 8:
        return 0.0, Geometry(0.0, 1.0, centre, True, fraction), valid
    middle = np.array([(width - 1) / 2, (height - 1) / 2])
    theta, reach = fit_rotation(points[inner].astype(np.float64) - middle, width, height)
    # the outline's pixels lie up to EDGE_OVERSHOOT beyond the edge (they are part photo)
    scale = reach * (1 - EDGE_OVERSHOOT / (height / 2))
    theta = (theta + np.pi / 4) % (np.pi / 2) - np.pi / 4  # the crop needs it modulo 90 degrees
    return theta, Geometry(float(-np.degrees(theta)), scale, centre, True, fraction), valid


def crop_affine(theta: float, geometry: Geometry, short_side: int, samples: int) -> np.ndarray:
    """(2, 3) map from a pixel of the ``samples`` x ``samples`` canonical crop to the image
    pixel (x, y) it samples: the square of side ``CROP`` x the photo's short side, centred on
    the photo and turned by ``theta``, in the pixels ``geometry`` is given in."""
    centre_row, centre_col = geometry.center
    pitch = CROP * geometry.scale * short_side / samples
    cos_t, sin_t = np.cos(theta), np.sin(theta)
    affine = np.array([[pitch * cos_t, -pitch * sin_t, 0.0], [pitch * sin_t, pitch * cos_t, 0.0]])
    offset = -(samples / 2 - 0.5) * pitch
    affine[0, 2] = centre_col + cos_t * offset - sin_t * offset
    affine[1, 2] = centre_row + sin_t * offset + cos_t * offset
    return affine


def scale_affine(factor: float) -> np.ndarray:
    """3x3 affine: pixel (x, y) at 1/factor resolution -> full resolution (pixel centres)."""
    return np.array([[factor, 0, 0.5 * factor - 0.5], [0, factor, 0.5 * factor - 0.5], [0, 0, 1]])


def to_reduced(factor: float) -> np.ndarray:
    """3x3 affine: full-resolution (x, y) -> 1/factor resolution (x, y)."""
    return scale_affine(1.0 / factor)


def homogeneous(affine: np.ndarray) -> np.ndarray:
    """A (2, 3) affine as (3, 3)."""
    return np.vstack([affine, [0, 0, 1.0]]) if affine.shape == (2, 3) else affine


def to_full(row_col: tuple[float, float], factor: float) -> tuple[float, float]:
    """(row, col) at 1/factor resolution -> full resolution (pixel centres)."""
    return ((row_col[0] + 0.5) * factor - 0.5, (row_col[1] + 0.5) * factor - 0.5)

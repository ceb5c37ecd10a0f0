"""Clicks and RITM's click simulator.

Coordinates are (row, col) everywhere in clickbench; conversion to a model's own
order (SAM wants (x, y)) happens once, inside that model's adapter.
"""

from __future__ import annotations

from typing import NamedTuple


class Click(NamedTuple):
    """One simulated click: pixel (row, col) and whether it marks the object."""

    row: int
    col: int
    positive: bool

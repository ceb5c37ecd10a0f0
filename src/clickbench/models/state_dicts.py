"""Loading a checkpoint's state dict into a model: ``weights_only`` reads and exact key checks.

Several model packages load their checkpoints with ``strict=False`` (segment-anything-hq,
sam3) and would run a model with random weights in place of every missing key without a
word. clickbench therefore reads checkpoints itself (:func:`read_checkpoint`, always
``torch.load(..., weights_only=True)``) and loads them through :func:`load_exact`, which
compares the keys and shapes first and fails naming the missing, unexpected and mismatched
ones, then loads with ``strict=True``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from clickbench.errors import BadInputError

#: how many names of each kind a message lists before "and N more"
SHOWN = 30


def _names(keys, label: str) -> str:
    keys = sorted(keys)
    shown = ", ".join(keys[:SHOWN])
    more = f" and {len(keys) - SHOWN} more" if len(keys) > SHOWN else ""
    return f"{len(keys)} {label} ({shown}{more})"


def read_checkpoint(path: str | Path, what: str):
    """``torch.load(path, weights_only=True)`` on the CPU; any failure is a
    :class:`BadInputError` naming the file (``what`` says what it should have been)."""
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - report any unreadable file the same way
        raise BadInputError(path, f"cannot be read as {what}: {err}") from None


def key_problems(module, state: Mapping) -> list[str]:
    """What keeps ``state`` from loading into ``module`` strictly: missing keys, unexpected
    keys, tensors of the wrong shape (each a phrase naming them); empty when it fits."""
    expected = module.state_dict()
    problems = []
    missing = set(expected) - set(state)
    unexpected = set(state) - set(expected)
    if missing:
        problems.append(_names(missing, "missing keys"))
    if unexpected:
        problems.append(_names(unexpected, "unexpected keys"))
    wrong = [
        f"{k} {tuple(state[k].shape)} != {tuple(expected[k].shape)}"
        for k in sorted(set(state) & set(expected))
        if hasattr(state[k], "shape") and tuple(state[k].shape) != tuple(expected[k].shape)
    ]
    if wrong:
        problems.append(_names(wrong, "tensors of the wrong shape"))
    return problems


def load_exact(module, state, path: str | Path, what: str) -> None:
    """Load ``state`` into ``module`` with ``strict=True`` after checking every key and shape;
    a mismatch raises :class:`BadInputError` naming the file, ``what`` and the keys."""
    if not isinstance(state, Mapping):
        raise BadInputError(path, f"not a state dict for {what} (a {type(state).__name__})")
    problems = key_problems(module, state)
    if problems:
        raise BadInputError(path, f"does not match {what}: " + "; ".join(problems))
    module.load_state_dict(state, strict=True)


__all__ = ["key_problems", "load_exact", "read_checkpoint"]

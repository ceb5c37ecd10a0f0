"""The one error type for bad input: it always names the file and the problem."""

from __future__ import annotations

from pathlib import Path


class BadInputError(ValueError):
    """A dataset file, checkpoint or config entry that cannot be used.

    ``str(err)`` reads ``"<path>: <problem>"`` so that a user sees which file to fix.
    """

    def __init__(self, path: str | Path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")

"""The library's small file-system helpers: atomic writes, durable renames, locks, an
append-only journal and file hashes.

Every persistent store of clickbench (checkpoints and their hash stamps, the SAM embedding
cache, the run memo, per-image results) is written through these, so a reader sees the old
file or the whole new one, never half of it, and two jobs never compute one entry twice.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import IO

#: read and write files in blocks of this many bytes
CHUNK_BYTES = 1 << 20


def write_atomic(path: str | Path, write: Callable[[IO], None], *, text: bool = False) -> None:
    """Call ``write(fh)`` on a temporary file beside ``path``, fsync it, then rename it over
    ``path`` (atomic on POSIX). On any error (also one ``write`` raises to refuse what it
    wrote) the temporary file is removed and ``path`` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        mode = {"mode": "w", "encoding": "utf-8", "newline": ""} if text else {"mode": "wb"}
        with os.fdopen(fd, **mode) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def fsync_dir(path: str | Path) -> None:
    """Make a rename or link inside folder ``path`` durable (best effort: some file systems
    cannot fsync a folder)."""
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


def append_journal(path: str | Path, *fields: str) -> None:
    """Append one line ``<utc time>\\t<field>\\t...`` to a journal file.

    One short ``O_APPEND`` write, so lines from concurrent jobs never interleave.
    """
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    line = "\t".join((stamp, *fields)) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


@contextmanager
def file_lock(path: str | Path):
    """Hold an exclusive ``fcntl`` lock on ``path`` (created if absent) for the block."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def sha256sum(path: str | Path) -> str:
    """SHA-256 of a file's bytes, as 64 lowercase hex digits (always reads the whole file)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


__all__ = ["append_journal", "file_lock", "fsync_dir", "sha256sum", "write_atomic"]

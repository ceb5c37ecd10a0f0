"""Model checkpoints: SHA-256 verification before every load, and verified downloads.

A checkpoint is verified against the SHA-256 its config block gives (``checkpoint.sha256``)
before it is loaded. Hashing vit_h's 2.5 GB on every job would cost seconds, so the hash
of a file is remembered in a stamp beside it, ``<path>.sha256`` (JSON: size, mtime_ns,
inode, sha256). The stamp short-circuits hashing only when the file's size, mtime and inode
still match it *and* the file had not been modified within :data:`RACY_NS` before the stamp
was written (as git does for its index: a write in the same timestamp tick as the stamp
would otherwise go unnoticed). Any write to the file (a flipped byte, a truncation, a new
download) changes its mtime, so a stale stamp is never trusted. Restoring an old mtime by
hand (``touch -d``) defeats the stamp; delete ``<path>.sha256`` to force a rehash.

The catalogue of official checkpoints (URLs, SHA-256, sizes) is ``config/checkpoints.yaml``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

from clickbench.errors import BadInputError

log = logging.getLogger(__name__)

CATALOGUE_PATH = Path(__file__).resolve().parents[2] / "config" / "checkpoints.yaml"

#: a stamp is trusted only for files last modified at least this long before it was written
RACY_NS = 2_000_000_000

_CHUNK = 1 << 20


def sha256sum(path: str | Path) -> str:
    """SHA-256 of a file's bytes, as 64 lowercase hex digits (always reads the whole file)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _read_stamp(path: Path, st: os.stat_result) -> str | None:
    try:
        stamp = json.loads(_stamp_path(path).read_text())
        ok = (
            stamp["size"] == st.st_size
            and stamp["mtime_ns"] == st.st_mtime_ns
            and stamp["inode"] == st.st_ino
            and st.st_mtime_ns < stamp["stamped_ns"] - RACY_NS
        )
        return str(stamp["sha256"]) if ok else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_stamp(path: Path, st: os.stat_result, digest: str) -> None:
    stamp = {
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "inode": st.st_ino,
        "stamped_ns": time.time_ns(),
        "sha256": digest,
    }
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".stamp")
        with os.fdopen(fd, "w") as fh:
            json.dump(stamp, fh)
        os.replace(tmp, _stamp_path(path))
    except OSError as err:  # a read-only checkpoint folder: hash every time
        log.debug("cannot write %s: %s", _stamp_path(path), err)


def file_sha256(path: str | Path, *, use_stamp: bool = True) -> str:
    """SHA-256 of ``path``, read from its stamp when the stamp is still valid (see module doc)."""
    path = Path(path)
    st = path.stat()
    if use_stamp:
        cached = _read_stamp(path, st)
        if cached is not None:
            return cached
    digest = sha256sum(path)
    if use_stamp and path.stat().st_mtime_ns == st.st_mtime_ns:
        _write_stamp(path, st, digest)
    return digest


def load_catalogue(path: str | Path = CATALOGUE_PATH) -> dict:
    """The catalogue of official checkpoints: name -> {url, sha256?, size?, type, variant?}."""
    try:
        with open(path) as fh:
            return (yaml.safe_load(fh) or {}).get("checkpoints", {})
    except FileNotFoundError:
        return {}


def known_size(sha256: str | None) -> int | None:
    """Byte size the catalogue records for a checkpoint with this SHA-256, if any."""
    if not sha256:
        return None
    for entry in load_catalogue().values():
        if entry.get("sha256") == sha256 and entry.get("size"):
            return int(entry["size"])
    return None


def verify(path: str | Path, sha256: str | None = None, *, size: int | None = None) -> str:
    """Check a checkpoint file before it is loaded; return its SHA-256.

    Raises :class:`BadInputError` naming the file when it is missing, shorter or longer
    than the catalogue's size for ``sha256`` ("truncated: N bytes, expected M"), or when its
    hash differs from ``sha256``. Every message names the expected hash. With ``sha256``
    None the hash is only computed (for provenance and cache keys).
    """
    path = Path(path)
    if not path.is_file():
        hint = f" (expected SHA-256 {sha256})" if sha256 else ""
        raise BadInputError(path, f"checkpoint not found{hint}")
    actual_size = path.stat().st_size
    size = size if size is not None else known_size(sha256)
    if size is not None and actual_size != size:
        what = "truncated" if actual_size < size else "too long"
        raise BadInputError(
            path,
            f"{what}: {actual_size} bytes, expected {size} (expected SHA-256 {sha256}); "
            "delete it and download it again",
        )
    digest = file_sha256(path)
    if sha256 is not None and digest != sha256.lower():
        raise BadInputError(
            path,
            f"SHA-256 mismatch: expected {sha256}, got {digest} ({actual_size} bytes); the file "
            "is corrupted or not the configured checkpoint: delete it and download it again",
        )
    return digest


def download(
    url: str, path: str | Path, sha256: str | None = None, *, timeout: float = 60.0
) -> str:
    """Download ``url`` to ``path`` through a temporary file, verified, then renamed.

    ``path`` never holds a partial or unverified download. Without ``sha256`` the file is
    kept with a warning that gives its hash (pin it in the config). Returns the SHA-256.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            expected_len = resp.headers.get("Content-Length")
            n = 0
            while chunk := resp.read(_CHUNK):
                out.write(chunk)
                digest.update(chunk)
                n += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        if expected_len is not None and n != int(expected_len):
            raise BadInputError(url, f"download truncated: {n} bytes, expected {expected_len}")
        got = digest.hexdigest()
        if sha256 is not None and got != sha256.lower():
            raise BadInputError(
                url, f"downloaded file's SHA-256 mismatch: expected {sha256}, got {got} ({n} bytes)"
            )
        if sha256 is None:
            log.warning("%s: no sha256 configured; downloaded file has SHA-256 %s", url, got)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _write_stamp(path, path.stat(), got)
    return got


def provide(spec: dict, kind: str, path: str | Path | None = None) -> str:
    """Make the checkpoint a config block describes exist at ``path``; return its SHA-256.

    ``spec`` is a model's ``checkpoint`` block: ``generate: tiny`` builds a tiny randomly
    initialised model of ``kind`` (a model type, ``clickbench.models.registry.TINY_CHECKPOINTS``);
    otherwise ``url`` is downloaded and checked against ``sha256``.
    """
    path = Path(path or spec["path"])
    if spec.get("generate") == "tiny":
        from clickbench.models.registry import make_tiny_checkpoint

        make_tiny_checkpoint(kind, path, seed=int(spec.get("seed", 0)))
        return verify(path, spec.get("sha256"))
    if "url" not in spec:
        raise BadInputError(path, "checkpoint absent and no `url` (or `generate: tiny`) to get it")
    if path.exists():
        try:
            return verify(path, spec.get("sha256"))
        except BadInputError as err:
            log.warning("%s; downloading it again", err)
    log.info("downloading %s -> %s", spec["url"], path)
    return download(spec["url"], path, spec.get("sha256"))


__all__ = [
    "CATALOGUE_PATH",
    "download",
    "file_sha256",
    "known_size",
    "load_catalogue",
    "provide",
    "sha256sum",
    "verify",
]

"""Model checkpoints: SHA-256 verification before every load, the loading discipline of every
model family, and verified downloads.

A checkpoint is verified against the SHA-256 its config block gives (``checkpoint.sha256``)
before it is loaded. Hashing vit_h's 2.5 GB on every job would cost seconds, so the hash
of a file is remembered in a stamp beside it, ``<path>.sha256`` (JSON: size, mtime_ns,
inode, sha256). The stamp short-circuits hashing only when the file's size, mtime and inode
still match it *and* the file had not been modified within :data:`RACY_NS` before the stamp
was written (as git does for its index: a write in the same timestamp tick as the stamp
would otherwise go unnoticed). Any write to the file (a flipped byte, a truncation, a new
download) changes its mtime, so a stale stamp is never trusted. Restoring an old mtime by
hand (``touch -d``) defeats the stamp; delete ``<path>.sha256`` to force a rehash.

Loading discipline, the same for every model family (:func:`read_torch`, :func:`load_weights`):

- the SHA-256 is verified (:func:`verify`) before ``torch.load`` reads a byte of the file;
- ``torch.load(weights_only=True)``: published checkpoints hold only tensors, strings,
  numbers, lists, tuples and dicts (SAM's state dict, RITM's ``{"config", "state_dict"}``),
  which PyTorch's restricted unpickler reads without running code. A file that needs full
  unpickling is refused, unless its SHA-256 matched a configured ``sha256`` (the user vouched
  for exactly these bytes): then it is unpickled with a warning;
- the state dict's keys and shapes are compared with the model's before it is loaded
  (strictly): any missing or unexpected key, or tensor of the wrong shape, fails with a
  :class:`BadInputError` naming the file and the keys (several model packages, RITM's,
  segment-anything-hq's, load with ``strict=False`` and would silently run random weights;
  torch's own strict error names no file).

Every family (``sam``, ``sam2``, ``hq_sam``, ``efficientvit_sam``, ``ritm``) loads through these
two functions; between them it checks only its own file format (``{"model": ...}`` for SAM 2,
RITM's ``{"config", "state_dict"}``, ...).

Optional models whose checkpoint is absent are skipped with one warning per checkpoint
(:func:`absent_optional`). Generating tiny test checkpoints is not this module's job: the
checkpoint rule's script calls :func:`clickbench.models.registry.make_tiny_checkpoint` for ``generate: tiny``.

The catalogue of official checkpoints (URLs, SHA-256, sizes) is ``clickbench/data/checkpoints.yaml``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
import time
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

from clickbench.atomic import CHUNK_BYTES, sha256sum, write_atomic
from clickbench.errors import BadInputError

log = logging.getLogger(__name__)

#: the catalogue of official checkpoints, shipped with the package
CATALOGUE_PATH = Path(__file__).resolve().parent / "data" / "checkpoints.yaml"

#: a stamp is trusted only for files last modified at least this long before it was written
RACY_NS = 2_000_000_000

#: at most this many key names of each kind are spelled out in a key-mismatch error
KEYS_SHOWN = 30


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _read_stamp(path: Path, st) -> str | None:
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


def _write_stamp(path: Path, st, digest: str) -> None:
    stamp = {
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "inode": st.st_ino,
        "stamped_ns": time.time_ns(),
        "sha256": digest,
    }
    try:
        write_atomic(_stamp_path(path), lambda fh: json.dump(stamp, fh), text=True)
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
    digest = hashlib.sha256()

    def fetch(out) -> None:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            expected_len = resp.headers.get("Content-Length")
            n = 0
            while chunk := resp.read(CHUNK_BYTES):
                out.write(chunk)
                digest.update(chunk)
                n += len(chunk)
        if expected_len is not None and n != int(expected_len):
            raise BadInputError(url, f"download truncated: {n} bytes, expected {expected_len}")
        got = digest.hexdigest()
        if sha256 is not None and got != sha256.lower():
            raise BadInputError(
                url, f"downloaded file's SHA-256 mismatch: expected {sha256}, got {got} ({n} bytes)"
            )

    path = Path(path)
    write_atomic(path, fetch)
    got = digest.hexdigest()
    if sha256 is None:
        log.warning("%s: no sha256 configured; downloaded file has SHA-256 %s", url, got)
    _write_stamp(path, path.stat(), got)
    return got


def provide(spec: Mapping, path: str | Path | None = None) -> str:
    """Make the checkpoint a ``checkpoint:`` block describes exist at ``path``, verified.

    An existing file that verifies is kept; otherwise ``url`` is downloaded and checked
    against ``sha256``. Returns the SHA-256. (``generate: tiny`` blocks are the checkpoint
    rule's business: see ``scripts/checkpoint.py``.)
    """
    path = Path(path or spec["path"])
    if path.exists():
        try:
            return verify(path, spec.get("sha256"))
        except BadInputError as err:
            if "url" not in spec:
                raise
            log.warning("%s; downloading it again", err)
    if "url" not in spec:
        raise BadInputError(path, "checkpoint absent and no `url` (or `generate: tiny`) to get it")
    log.info("downloading %s -> %s", spec["url"], path)
    return download(spec["url"], path, spec.get("sha256"))


# ---------------------------------------------------------------- loading discipline
# The one checkpoint loader of every model family: read_torch (verify, then weights only),
# the family's own format checks, then load_weights (every key and shape checked).
def read_torch(path: str | Path, sha256: str | None = None, *, what: str = "a checkpoint"):
    """Verify ``path`` (:func:`verify`), then ``torch.load`` it on the CPU, weights only.

    Returns ``(object, sha256)``. A file the restricted unpickler refuses is loaded with full
    unpickling only when ``sha256`` was given (and matched); otherwise it fails naming the
    file and the type that needed unpickling. Unreadable files fail naming the file and
    ``what`` it should have been (``"a SAM checkpoint"``).
    """
    import torch

    digest = verify(path, sha256)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if sha256 is None:
            raise BadInputError(
                path,
                f"needs full unpickling to be read as {what} (not loadable with "
                f"weights_only=True); configure its sha256 to trust it: {str(err).splitlines()[0]}",
            ) from None
        log.warning("%s: loading with full unpickling (its SHA-256 matched the config)", path)
        obj = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # noqa: BLE001 - report any unreadable file the same way
        raise BadInputError(path, f"cannot be read as {what}: {err}") from None
    return obj, digest


def _some(keys: Iterable[str], label: str) -> str:
    keys = sorted(keys)
    shown = ", ".join(keys[:KEYS_SHOWN])
    more = f", ... ({len(keys)} in all)" if len(keys) > KEYS_SHOWN else ""
    return f"{len(keys)} {label}: {shown}{more}"


def key_problems(module, state_dict: Mapping) -> list[str]:
    """What keeps ``state_dict`` from loading into ``module`` strictly, one phrase per kind
    naming the keys: missing keys, unexpected keys, tensors of the wrong shape; empty when
    it fits."""
    own = module.state_dict()
    missing = set(own) - set(state_dict)
    unexpected = set(state_dict) - set(own)
    wrong = [
        f"{key} has shape {tuple(state_dict[key].shape)}, the model's {tuple(own[key].shape)}"
        for key in sorted(set(state_dict) & set(own))
        if getattr(state_dict[key], "shape", None) is not None
        and tuple(state_dict[key].shape) != tuple(own[key].shape)
    ]
    problems = []
    if missing:
        problems.append(_some(missing, "missing key(s)"))
    if unexpected:
        problems.append(_some(unexpected, "unexpected key(s)"))
    if wrong:
        problems.append(_some(wrong, "tensor(s) of the wrong shape"))
    return problems


def load_weights(
    path: str | Path, module, state_dict: Mapping, *, what: str = "model", device: str = "cpu"
):
    """``module.load_state_dict(state_dict, strict=True)`` once every key and shape is checked;
    returns the module on ``device`` in eval mode.

    A mismatch fails with a :class:`BadInputError` naming ``path``, ``what`` the file should
    fit (``"SAM variant 'vit_b'"``) and :func:`key_problems`: the missing and unexpected keys
    and each tensor of the wrong shape with both shapes.
    """
    if not isinstance(state_dict, Mapping):
        raise BadInputError(path, f"not a {what} state dict (a {type(state_dict).__name__})")
    problems = key_problems(module, state_dict)
    if problems:
        raise BadInputError(path, f"does not match {what}: " + "; ".join(problems))
    module.load_state_dict(state_dict, strict=True)
    module.to(device)
    module.eval()
    return module


def absent_optional(models: Mapping[str, Mapping]) -> tuple[list[str], list[str]]:
    """Optional models whose checkpoint file is absent (and not generated).

    Returns ``(skipped model names, warnings)``, one warning per absent checkpoint file,
    naming the models that use it and how to get it.
    """
    users: dict[str, list[str]] = {}
    blocks: dict[str, Mapping] = {}
    for name, spec in models.items():
        ckpt = spec.get("checkpoint")
        if not spec.get("optional") or ckpt is None or "generate" in ckpt:
            continue
        if Path(ckpt["path"]).exists():
            continue
        users.setdefault(ckpt["path"], []).append(name)
        blocks.setdefault(ckpt["path"], ckpt)
    warnings = []
    for path, names in users.items():
        ckpt = blocks[path]
        how = (
            f"run `snakemake --cores 1 fetch_checkpoints` to download it from {ckpt['url']}"
            if "url" in ckpt
            else "place the checkpoint file there"
        )
        which = ", ".join(repr(n) for n in names)
        warnings.append(
            f"clickbench: model{'s' if len(names) > 1 else ''} {which} skipped: checkpoint "
            f"{path} is absent; {how}"
        )
    return [n for names in users.values() for n in names], warnings


__all__ = [
    "CATALOGUE_PATH",
    "absent_optional",
    "download",
    "file_sha256",
    "key_problems",
    "known_size",
    "load_catalogue",
    "load_weights",
    "provide",
    "read_torch",
    "sha256sum",
    "verify",
]

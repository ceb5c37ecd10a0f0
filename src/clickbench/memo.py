"""Per-image model results memoised by content, so work is never done twice.

A model's result on one image (the files ``scripts/run_model.py`` writes per protocol) is a
function of the image and mask files, the model's config block and protocols, its checkpoint,
the replay source's clicks, the dataset layout, the device type and precision, and the code.
:func:`key_for` hashes all of them; an entry under that key can be copied into place instead
of computing it again. This lets one job compute a chunk of images with the model loaded once
(``scripts/run_chunk.py``) while the per-image jobs only *materialise* their outputs from the
memo, and a rerun of a chunk recomputes only the images whose inputs changed.

Layout under ``<cache_dir>/runs/``::

    computed.log                  one line per real computation:
                                  "<utc time>\\t<model>\\t<class>\\t<image>\\t<key>"
    <model>/<key>/<protocol>.npz  the files of one (model, image): traces and rows, exactly
    <model>/<key>/<protocol>.tsv  as written to results/<ds>/runs/<protocol>/<model>/...
    <model>/<key>/manifest.json   the key, its ingredients, the SHA-256 of every file
    <model>/<key>.lock            per-key lock (fcntl) held while an entry is put in place
    <model>/.<key>.<random>.tmp/  an entry being written, renamed to <key>/ once complete

An entry is written into a temporary folder (files fsynced), then the folder is renamed into
place, so a half-written entry is never visible. A reader checks the manifest (key and every
file's hash); a damaged entry counts as a miss and is replaced by the next store.
:func:`ResultMemo.materialise` hard-links an entry's files into place (copies across file
systems), each through a temporary name, so an output is complete or absent.

The key includes a fingerprint of the library code that computes a per-image result
(:data:`RESULT_MODULES`) and the versions of the packages it runs on, so a fixed bug or an
upgraded torch never serves a stale result; delete ``<cache_dir>/runs`` to drop the memo.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import json
import logging
import os
import secrets
import shutil
import tempfile
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path

from clickbench import __version__, checkpoints
from clickbench.atomic import append_journal, file_lock, fsync_dir, sha256sum

log = logging.getLogger(__name__)

JOURNAL = "computed.log"
MANIFEST = "manifest.json"
KEY_VERSION = "clickbench-run-memo-v1"

#: library code a per-image result depends on (paths under src/clickbench): its bytes are part
#: of every key. Downstream modules (tables, figures, dedup, ...) are left out on purpose.
RESULT_MODULES = (
    "__init__.py",
    "atomic.py",
    "checkpoints.py",
    "clicks.py",
    "config.py",
    "datasets.py",
    "dedup",
    "embedding_cache.py",
    "errors.py",
    "instances.py",
    "layouts.py",
    "loading.py",
    "masks.py",
    "memo.py",
    "metrics.py",
    "prompts.py",
    "protocols.py",
    "traces.py",
    "runner.py",
    "samples.py",
    "selection.py",
    "models",
)

#: distributions whose versions are part of every key (absent ones count as absent)
PACKAGES = (
    "numpy",
    "pillow",
    "opencv-python-headless",
    "scikit-image",
    "scipy",
    "pycocotools",
    "torch",
    "torchvision",
    "segment-anything",
    "ritm-annotation",
    "sam2",
    "segment-anything-hq",
    "timm",
    "efficientsam",
)


def canonical_json(obj) -> str:
    """``obj`` as JSON with sorted keys and no spaces: equal objects, equal text."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _plain(obj):
    """Snakemake's params (Namedlist, nested dict-likes) as plain dicts and lists."""
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    return obj


@functools.cache
def code_fingerprint() -> str:
    """SHA-256 over the paths and bytes of :data:`RESULT_MODULES` (computed once a process)."""
    root = Path(__file__).resolve().parent
    files: list[Path] = []
    for name in RESULT_MODULES:
        path = root / name
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


@functools.cache
def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def key_for(
    *,
    model: str,
    cls: str,
    image: str,
    image_path: str | Path,
    mask_path: str | Path,
    spec: Mapping,
    protocols: Mapping,
    layout: str,
    device: str,
    precision: str,
    source_path: str | Path | None = None,
) -> tuple[str, dict]:
    """The memo key of one model's result on one image, and the ingredients it hashes.

    model, cls, image: the model's name, the class name and the image id (they are columns
        of the per-image rows, so two identical files under other names are other entries).
    image_path, mask_path: hashed by their bytes.
    spec: the model's config block; its checkpoint is verified and hashed
        (:func:`clickbench.checkpoints.verify`, which fails on a corrupted file).
    protocols: protocol name -> config block, as the model runs them.
    device: the device *type* the model runs on (``cpu``, ``cuda``, ``mps``), not ``auto``.
    source_path: the replay source's ``.npz`` (hashed by bytes) when the model replays.
    """
    if device == "auto":
        raise ValueError("key_for needs the resolved device type, not 'auto'")
    spec = _plain(spec)
    ckpt = spec.get("checkpoint")
    ingredients = {
        "memo": KEY_VERSION,
        "clickbench": __version__,
        "code": code_fingerprint(),
        "packages": package_versions(),
        "model": model,
        "class": cls,
        "image": image,
        "image_sha256": sha256sum(image_path),
        "mask_sha256": sha256sum(mask_path),
        "spec": spec,
        "protocols": _plain(protocols),
        "checkpoint_sha256": (
            checkpoints.verify(ckpt["path"], ckpt.get("sha256")) if ckpt else None
        ),
        "source_sha256": sha256sum(source_path) if source_path else None,
        "layout": layout,
        "device": device,
        "precision": precision,
    }
    key = hashlib.sha256(canonical_json(ingredients).encode()).hexdigest()
    return key, ingredients


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def _link_or_copy(src: Path, dst: Path) -> None:
    """Hard-link ``src`` as ``dst`` (same file system), else copy it; ``dst`` must not exist."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def computations(cache_dir: str | Path) -> list[tuple[str, str, str]]:
    """(model, class, image) of every real computation recorded in
    ``<cache_dir>/runs/computed.log``, oldest first."""
    path = Path(cache_dir) / "runs" / JOURNAL
    if not path.exists():
        return []
    lines = [line.split("\t") for line in path.read_text().splitlines()]
    return [(f[1], f[2], f[3]) for f in lines if len(f) == 5]


def count_computed(cache_dir: str | Path, model: str | None = None) -> int:
    """Real computations recorded in ``<cache_dir>/runs/computed.log`` (all, or one model's)."""
    return sum(1 for m, _, _ in computations(cache_dir) if model is None or m == model)


class ResultMemo:
    """One model's per-image results under ``<cache_dir>/runs/<model>/`` (module docstring)."""

    def __init__(self, cache_dir: str | Path, model: str):
        if not model or "/" in model or model.startswith("."):
            raise ValueError(f"bad model name for the memo: {model!r}")
        self.runs = Path(cache_dir) / "runs"
        self.root = self.runs / model
        self.model = model
        self.journal = self.runs / JOURNAL

    def path(self, key: str) -> Path:
        return self.root / key

    # ------------------------------------------------------------------ reading
    def lookup(self, key: str) -> Path | None:
        """The folder of the complete, intact entry for ``key``, or None (absent or damaged)."""
        entry = self.path(key)
        try:
            manifest = json.loads((entry / MANIFEST).read_text())
            if manifest["key"] != key:
                raise ValueError("key differs")
            files = manifest["files"]
            present = {p.name for p in entry.iterdir()} - {MANIFEST}
            if present != set(files):
                raise ValueError(f"holds {sorted(present)}, manifest lists {sorted(files)}")
            for name, digest in files.items():
                if sha256sum(entry / name) != digest:
                    raise ValueError(f"{name}: SHA-256 differs")
            return entry
        except FileNotFoundError:
            return None
        except Exception as err:  # noqa: BLE001 - any damage means "recompute"
            log.warning("run memo entry %s is damaged (%s); it will be recomputed", entry, err)
            return None

    # ------------------------------------------------------------------ writing
    def store(
        self,
        key: str,
        files: Mapping[str, str | Path],
        *,
        cls: str,
        image: str,
        ingredients: Mapping | None = None,
    ) -> Path:
        """Put a freshly computed result under ``key``; return the entry's folder.

        files: entry file name (``<protocol>.npz``/``.tsv``) -> the file written (hard-linked
            when on the same file system, else copied). Records the computation in the
            journal (``<model> <class> <image> <key>``). When an intact entry already exists
            (another job stored it first) it is kept and the new files are dropped.
        """
        for name in files:
            if not name or "/" in name or name == MANIFEST or name.startswith("."):
                raise ValueError(f"bad memo file name {name!r}")
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=self.root, prefix=f".{key}.", suffix=".tmp"))
        try:
            digests = {}
            for name, src in sorted(files.items()):
                _link_or_copy(Path(src), tmp / name)
                _fsync_file(tmp / name)
                digests[name] = sha256sum(tmp / name)
            manifest = {
                "key": key,
                "model": self.model,
                "class": cls,
                "image": image,
                "files": digests,
                "ingredients": _plain(ingredients or {}),
            }
            with open(tmp / MANIFEST, "w") as fh:
                fh.write(json.dumps(manifest, indent=1, sort_keys=True, default=str) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            fsync_dir(tmp)
            with file_lock(self.root / f"{key}.lock"):
                entry = self.path(key)
                if entry.exists() and self.lookup(key) is None:  # damaged: replace it
                    shutil.rmtree(entry)
                try:
                    os.rename(tmp, entry)
                except OSError as err:
                    if err.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                        raise
                    # an intact entry stored by another job meanwhile: keep it
                fsync_dir(self.root)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        append_journal(self.journal, self.model, cls, image, key)
        return self.path(key)

    def materialise(self, key: str, outputs: Mapping[str, str | Path]) -> bool:
        """Put the entry's files in place as ``outputs`` (entry file name -> output path).

        Returns False, touching nothing, when there is no intact entry for ``key``. Each
        output goes in through a temporary name (hard link, else copy) and a rename, with a
        fresh mtime (so it is not older than the job's inputs); on an error the outputs
        already placed are removed again.
        """
        entry = self.lookup(key)
        if entry is None:
            return False
        missing = sorted(set(outputs) - {p.name for p in entry.iterdir()})
        if missing:
            raise KeyError(f"run memo entry {entry} has no {', '.join(missing)}")
        placed: list[Path] = []
        try:
            for name, out in outputs.items():
                out = Path(out)
                out.parent.mkdir(parents=True, exist_ok=True)
                tmp = out.parent / f".{out.name}.{secrets.token_hex(6)}.tmp"
                try:
                    _link_or_copy(entry / name, tmp)
                    os.utime(tmp)
                    os.replace(tmp, out)
                except BaseException:
                    tmp.unlink(missing_ok=True)
                    raise
                placed.append(out)
        except BaseException:
            for out in placed:
                out.unlink(missing_ok=True)
            raise
        return True


__all__ = [
    "JOURNAL",
    "RESULT_MODULES",
    "ResultMemo",
    "code_fingerprint",
    "computations",
    "count_computed",
    "key_for",
]

"""Benchmark datasets as their authors distribute them: a zip downloaded, checked, unpacked."""

from __future__ import annotations

import logging
import shutil
import tempfile
import zipfile
from pathlib import Path

from clickbench.checkpoints import download
from clickbench.errors import BadInputError

log = logging.getLogger(__name__)

KAGGLE_HINT = (
    "Kaggle datasets need a Kaggle account: `pip install kaggle`, put your API token in "
    "~/.kaggle/kaggle.json, then `kaggle datasets download -d crowww/a-large-scale-fish-dataset "
    "-p {parent} --unzip` (or download the zip from the Kaggle page and unpack it there)"
)


def download_refusal(url: str, root: str | Path) -> str | None:
    """Why the dataset at ``url`` cannot be fetched by the workflow, or ``None`` if it can.

    Kaggle pages need an account and an API token; the workflow says how to get them instead
    of planning a download that would fetch a web page.
    """
    if "kaggle.com" in url:
        return f"cannot be downloaded automatically. {KAGGLE_HINT.format(parent=Path(root).parent)}"
    return None


def fetch_dataset(url: str, root: str | Path, sha256: str | None = None) -> Path:
    """Download the zip at ``url`` and unpack it so that ``root`` exists.

    The archive is unpacked into a temporary folder beside ``root`` and its folder named like
    ``root`` (at the archive's top level, or the archive's only top-level folder) is renamed
    into place, so ``root`` never holds a half-unpacked dataset.
    """
    root = Path(root)
    refusal = download_refusal(url, root)
    if refusal is not None:
        raise BadInputError(root, refusal)
    root.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root.parent, prefix=f".{root.name}.") as tmp:
        archive = Path(tmp) / "archive.zip"
        digest = download(url, archive, sha256)
        log.info("downloaded %s (SHA-256 %s)", url, digest)
        try:
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(Path(tmp) / "x")
        except zipfile.BadZipFile:
            raise BadInputError(url, "the download is not a zip archive") from None
        unpacked = Path(tmp) / "x"
        tops = [p for p in unpacked.iterdir() if not p.name.startswith(("__MACOSX", "."))]
        if (unpacked / root.name).is_dir():
            src = unpacked / root.name
        elif len(tops) == 1 and tops[0].is_dir():
            src = tops[0]
        else:
            src = unpacked
        shutil.move(str(src), str(root))
    return root

"""Dataset download: served from a local HTTP server on loopback, unpacked atomically."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading
import zipfile

import pytest

from clickbench.archives import fetch_dataset
from clickbench.errors import BadInputError


@pytest.fixture
def server(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def make_zip(path, members):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_grabcut_like_zip_unpacks_at_root(server, tmp_path):
    served, url = server
    digest = make_zip(
        served / "GrabCut.zip", {"GrabCut/data_GT/a.jpg": b"x", "GrabCut/boundary_GT/a.bmp": b"y"}
    )
    root = tmp_path / "datasets" / "GrabCut"
    fetch_dataset(f"{url}/GrabCut.zip", root, digest)
    assert (root / "data_GT" / "a.jpg").read_bytes() == b"x"
    assert not [p for p in root.parent.iterdir() if p.name.startswith(".")]


def test_wrong_hash_leaves_no_root(server, tmp_path):
    served, url = server
    make_zip(served / "D.zip", {"D/img/a.jpg": b"x"})
    root = tmp_path / "D"
    with pytest.raises(BadInputError, match="SHA-256"):
        fetch_dataset(f"{url}/D.zip", root, "0" * 64)
    assert not root.exists()


def test_kaggle_url_explains_how_to_download(tmp_path):
    with pytest.raises(BadInputError, match="kaggle datasets download"):
        fetch_dataset(
            "https://www.kaggle.com/datasets/crowww/a-large-scale-fish-dataset",
            tmp_path / "Fish_Dataset",
        )

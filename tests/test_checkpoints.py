"""Checkpoints: hashes, verification before load, downloads, tiny models, the catalogue."""

from __future__ import annotations

import ast
import hashlib
import os
import re
import runpy
import types
from pathlib import Path

import pytest
import torch

from clickbench import checkpoints
from clickbench.errors import BadInputError
from clickbench.models import registry
from clickbench.models.registry import HEAVY_TYPES
from clickbench.models.tiny import make_tiny_checkpoint

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny")
    return {kind: make_tiny_checkpoint(kind, d / f"{kind}.pth", seed=0) for kind in ("sam", "ritm")}


def copy(src: Path, dst: Path) -> Path:
    dst.write_bytes(src.read_bytes())
    return dst


def flip_byte(path: Path, offset: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    offset = len(data) // 2 if offset is None else offset
    data[offset] ^= 0xFF
    with open(path, "r+b") as fh:
        fh.write(data)


def age(path: Path, seconds: float = 60) -> None:
    """Make a file look written ``seconds`` ago (so a stamp written now is trusted)."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns - int(seconds * 1e9)))


# ---------------------------------------------------------------- hashing and verify
def test_sha256sum_matches_hashlib(tiny_files):
    data = tiny_files["sam"].read_bytes()
    assert checkpoints.sha256sum(tiny_files["sam"]) == hashlib.sha256(data).hexdigest()


def test_verify_returns_the_hash_and_accepts_a_matching_one(tiny_files, tmp_path):
    path = copy(tiny_files["ritm"], tmp_path / "r.pth")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert checkpoints.verify(path) == digest
    assert checkpoints.verify(path, digest) == digest
    assert checkpoints.verify(path, digest.upper()) == digest


def test_missing_checkpoint_names_file_and_hash(tmp_path):
    with pytest.raises(BadInputError) as err:
        checkpoints.verify(tmp_path / "absent.pth", "ab" * 32)
    assert str(tmp_path / "absent.pth") in str(err.value)
    assert "ab" * 32 in str(err.value)


@pytest.mark.parametrize("kind", ["sam", "ritm"])
def test_flipped_byte_fails_naming_file_and_expected_hash(tiny_files, tmp_path, kind):
    path = copy(tiny_files[kind], tmp_path / f"{kind}.pth")
    good = checkpoints.sha256sum(path)
    age(path)
    assert checkpoints.verify(path, good) == good  # writes a trusted stamp
    flip_byte(path)
    with pytest.raises(BadInputError) as err:
        checkpoints.verify(path, good)
    msg = str(err.value)
    assert err.value.path == str(path) and msg.startswith(str(path))
    assert f"expected {good}" in msg
    assert checkpoints.sha256sum(path) in msg


def test_truncated_file_with_known_size_says_truncated(tiny_files, tmp_path):
    path = copy(tiny_files["sam"], tmp_path / "s.pth")
    good = checkpoints.sha256sum(path)
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.truncate(size // 3)
    with pytest.raises(BadInputError) as err:
        checkpoints.verify(path, good, size=size)
    msg = str(err.value)
    assert f"truncated: {size // 3} bytes, expected {size}" in msg
    assert good in msg and str(path) in msg


def test_truncated_file_without_known_size_fails_on_the_hash(tiny_files, tmp_path):
    path = copy(tiny_files["sam"], tmp_path / "s.pth")
    good = checkpoints.sha256sum(path)
    with open(path, "r+b") as fh:
        fh.truncate(1000)
    with pytest.raises(BadInputError, match=f"expected {good}"):
        checkpoints.verify(path, good)


def test_catalogue_sizes_are_used(monkeypatch, tmp_path):
    """A file claiming to be the official vit_b but too short is reported as truncated."""
    entry = checkpoints.load_catalogue()["sam_vit_b"]
    path = tmp_path / "sam_vit_b_01ec64.pth"
    path.write_bytes(b"\0" * 1000)
    with pytest.raises(BadInputError) as err:
        checkpoints.verify(path, entry["sha256"])
    assert f"truncated: 1000 bytes, expected {entry['size']}" in str(err.value)
    assert entry["sha256"] in str(err.value)


def test_stamp_short_circuits_hashing_only_while_the_file_is_unchanged(
    tiny_files, tmp_path, monkeypatch
):
    path = copy(tiny_files["sam"], tmp_path / "s.pth")
    good = checkpoints.sha256sum(path)
    age(path)
    checkpoints.verify(path, good)
    assert (tmp_path / "s.pth.sha256").exists()

    calls = []
    real = checkpoints.sha256sum
    monkeypatch.setattr(checkpoints, "sha256sum", lambda p: calls.append(p) or real(p))
    assert checkpoints.verify(path, good) == good
    assert calls == []  # served by the stamp
    flip_byte(path)
    with pytest.raises(BadInputError):
        checkpoints.verify(path, good)
    assert calls == [path]  # the changed mtime forced a rehash


def test_a_write_in_the_same_timestamp_tick_is_still_caught(tiny_files, tmp_path):
    """Racy case: the file is modified and its mtime restored right after a stamp was written."""
    path = copy(tiny_files["sam"], tmp_path / "s.pth")
    good = checkpoints.sha256sum(path)
    checkpoints.verify(path, good)  # stamp written, but the file is too recent to trust it
    st = path.stat()
    flip_byte(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size, same mtime, same inode
    with pytest.raises(BadInputError, match="mismatch"):
        checkpoints.verify(path, good)


# ---------------------------------------------------------------- loading through the registry
def _spec(kind, path, sha256=None):
    ckpt = {"path": str(path)}
    if sha256:
        ckpt["sha256"] = sha256
    spec = {"type": kind, "checkpoint": ckpt}
    if kind == "sam":
        spec["variant"] = "tiny"
    else:
        spec["brs_mode"] = "NoBRS"
    return spec


@pytest.mark.parametrize("kind", ["sam", "ritm"])
def test_build_refuses_a_corrupted_checkpoint(tiny_files, tmp_path, kind):
    path = copy(tiny_files[kind], tmp_path / f"{kind}.pth")
    good = checkpoints.sha256sum(path)
    registry.build(_spec(kind, path, good))  # loads
    flip_byte(path, offset=path.stat().st_size - 100)
    with pytest.raises(BadInputError) as err:
        registry.build(_spec(kind, path, good))
    assert str(path) in str(err.value) and good in str(err.value)


@pytest.mark.parametrize("kind", ["sam", "ritm"])
def test_truncated_checkpoint_without_a_hash_fails_to_load_naming_the_file(
    tiny_files, tmp_path, kind
):
    path = copy(tiny_files[kind], tmp_path / f"{kind}.pth")
    with open(path, "r+b") as fh:
        fh.truncate(path.stat().st_size // 2)
    with pytest.raises(BadInputError) as err:
        registry.build(_spec(kind, path))
    assert str(path) in str(err.value)


def test_sam_checkpoint_of_another_variant_is_refused(tiny_files, tmp_path):
    spec = _spec("sam", tiny_files["sam"])
    spec["variant"] = "vit_b"
    with pytest.raises(BadInputError, match="does not match SAM variant 'vit_b'"):
        registry.build(spec)


# ---------------------------------------------------------------- formats
def test_tiny_checkpoints_are_the_real_formats_and_load_weights_only(tiny_files):
    sam = torch.load(tiny_files["sam"], weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in sam.values())
    assert "image_encoder.patch_embed.proj.weight" in sam
    assert "mask_decoder.iou_prediction_head.layers.0.weight" in sam
    ritm = torch.load(tiny_files["ritm"], weights_only=True)
    assert set(ritm) == {"config", "state_dict"}
    # as RITM's released files (coco_lvis_h18s_itermask.pth) spell it: RITM's package `isegm`
    assert ritm["config"]["class"] == "isegm.model.is_hrnet_model.HRNetModel"
    assert ritm["config"]["params"]["norm_layer"] == {
        "type": "class",
        "value": "torch.nn.modules.batchnorm.BatchNorm2d",
        "specified": False,
    }
    assert ritm["config"]["params"]["small"]["value"] is True
    # RITM's own loader reads the file too
    from ritm_annotation.inference.utils import load_is_model

    net = load_is_model(str(tiny_files["ritm"]), "cpu")
    assert type(net).__name__ == "HRNetModel"


@pytest.mark.parametrize("kind", ["sam", "ritm"])
def test_tiny_checkpoints_are_deterministic(tmp_path, kind):
    a = make_tiny_checkpoint(kind, tmp_path / "a.pth", seed=3)
    b = make_tiny_checkpoint(kind, tmp_path / "b.pth", seed=3)
    c = make_tiny_checkpoint(kind, tmp_path / "c.pth", seed=4)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


def test_ritm_checkpoint_needing_full_unpickling_is_refused_unless_trusted(tiny_files, tmp_path):
    state = torch.load(tiny_files["ritm"], weights_only=True)
    state["config"]["extra"] = types.SimpleNamespace(a=1)  # not allowed by weights_only
    path = tmp_path / "pickled.pth"
    torch.save(state, path)
    from clickbench.models.ritm import read_checkpoint

    with pytest.raises(BadInputError, match="weights_only"):
        read_checkpoint(path)
    trusted, digest = read_checkpoint(path, checkpoints.sha256sum(path))
    assert trusted["config"]["extra"].a == 1 and digest == checkpoints.sha256sum(path)


# ---------------------------------------------------------------- loading discipline
@pytest.mark.parametrize("kind", ["sam", "ritm"])
@pytest.mark.parametrize("zipfile", [True, False], ids=["zip", "legacy"])
def test_real_formats_load_weights_only_without_fallback(
    tiny_files, tmp_path, kind, zipfile, caplog
):
    """Both families' formats are read by torch's restricted unpickler, also in the pre-1.6
    (non-zip) serialization some released files still use: no full unpickling is needed."""
    obj = torch.load(tiny_files[kind], weights_only=True)
    path = tmp_path / f"{kind}.pth"
    torch.save(obj, path, _use_new_zipfile_serialization=zipfile)
    loaded, digest = checkpoints.read_torch(path, checkpoints.sha256sum(path))
    assert digest == checkpoints.sha256sum(path)
    assert "full unpickling" not in caplog.text
    registry.build(_spec(kind, path, digest))


@pytest.mark.parametrize("kind", ["sam", "ritm"])
def test_sha256_is_verified_before_torch_reads_the_file(tiny_files, tmp_path, kind, monkeypatch):
    path = copy(tiny_files[kind], tmp_path / f"{kind}.pth")
    reads = []
    real = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **k: reads.append(a[0]) or real(*a, **k))
    with pytest.raises(BadInputError, match="SHA-256 mismatch"):
        registry.build(_spec(kind, path, "0" * 64))
    assert reads == []
    registry.build(_spec(kind, path, checkpoints.sha256sum(path)))
    assert reads == [str(path)]


def test_checkpoints_module_does_not_import_test_models():
    """Test-model generation lives in models.tiny, called by the checkpoint rule's script;
    the production checkpoint code does not import it (nor any model module)."""
    tree = ast.parse((REPO / "src" / "clickbench" / "checkpoints.py").read_text())
    imported = {
        n.module if isinstance(n, ast.ImportFrom) else a.name
        for n in ast.walk(tree)
        if isinstance(n, ast.Import | ast.ImportFrom)
        for a in n.names
    }
    assert not {m for m in imported if m and m.startswith("clickbench.models")}, imported
    with pytest.raises(BadInputError, match="no `url`"):
        checkpoints.provide({"path": str(REPO / "absent.pth"), "generate": "tiny"})


# ---------------------------------------------------------------- optional checkpoints
def test_one_warning_per_absent_optional_checkpoint(tmp_path):
    present = tmp_path / "present.pth"
    present.write_bytes(b"x")
    absent = str(tmp_path / "absent.pth")
    models = {
        "a": {
            "type": "sam",
            "optional": True,
            "checkpoint": {"path": absent, "url": "https://x/y"},
        },
        "b": {
            "type": "sam",
            "optional": True,
            "checkpoint": {"path": absent, "url": "https://x/y"},
        },
        "c": {"type": "ritm", "optional": True, "checkpoint": {"path": str(tmp_path / "c.pth")}},
        "required": {"type": "ritm", "checkpoint": {"path": str(tmp_path / "r.pth")}},
        "here": {"type": "sam", "optional": True, "checkpoint": {"path": str(present)}},
        "gen": {
            "type": "sam",
            "optional": True,
            "checkpoint": {"path": absent + "2", "generate": "tiny"},
        },
        "grabcut": {"type": "grabcut", "optional": True},
    }
    skipped, warnings = checkpoints.absent_optional(models)
    assert skipped == ["a", "b", "c"]
    assert len(warnings) == 2
    assert f"models 'a', 'b' skipped: checkpoint {absent} is absent" in warnings[0]
    assert "fetch_checkpoints" in warnings[0] and "https://x/y" in warnings[0]
    assert "model 'c' skipped" in warnings[1] and "place the checkpoint file there" in warnings[1]


# ---------------------------------------------------------------- downloads
def test_download_verifies_then_renames(tiny_files, tmp_path):
    src = tiny_files["sam"]
    good = checkpoints.sha256sum(src)
    dst = tmp_path / "dl" / "sam.pth"
    assert checkpoints.download(src.as_uri(), dst, good) == good
    assert dst.read_bytes() == src.read_bytes()
    assert sorted(p.name for p in dst.parent.iterdir()) == ["sam.pth", "sam.pth.sha256"]


def test_download_with_a_wrong_hash_leaves_nothing_behind(tiny_files, tmp_path):
    dst = tmp_path / "dl" / "sam.pth"
    with pytest.raises(BadInputError) as err:
        checkpoints.download(tiny_files["sam"].as_uri(), dst, "0" * 64)
    assert "0" * 64 in str(err.value)
    assert list(dst.parent.iterdir()) == []


def test_provide_redownloads_a_corrupted_file(tiny_files, tmp_path):
    src = tiny_files["ritm"]
    good = checkpoints.sha256sum(src)
    dst = copy(src, tmp_path / "r.pth")
    flip_byte(dst)
    spec = {"path": str(dst), "url": src.as_uri(), "sha256": good}
    assert checkpoints.provide(spec) == good
    assert dst.read_bytes() == src.read_bytes()


def test_checkpoint_script_generates_a_tiny_model(tmp_path):
    out = tmp_path / "ckpt" / "sam_tiny.pth"
    smk = types.SimpleNamespace(
        params=types.SimpleNamespace(
            spec={"path": str(out), "generate": "tiny", "seed": 0}, type="sam"
        ),
        output=types.SimpleNamespace(checkpoint=str(out)),
        log=[str(tmp_path / "ckpt.log")],
        scriptdir=str(REPO / "scripts"),
    )
    runpy.run_path(str(REPO / "scripts" / "checkpoint.py"), init_globals={"snakemake": smk})
    ref = make_tiny_checkpoint("sam", tmp_path / "ref.pth", seed=0)
    assert out.read_bytes() == ref.read_bytes()
    assert checkpoints.sha256sum(out) in (tmp_path / "ckpt.log").read_text()


# ---------------------------------------------------------------- catalogue
def test_catalogue_entries():
    cat = checkpoints.load_catalogue()
    assert {"sam_vit_b", "sam_vit_l", "sam_vit_h", "ritm_hrnet18s_itermask"} <= set(cat)
    for name, entry in cat.items():
        assert entry["type"] in HEAVY_TYPES, name
        assert entry["url"].startswith("https://"), name
        if "sha256" in entry:
            assert re.fullmatch(r"[0-9a-f]{64}", entry["sha256"]), name
    for v in ("vit_b", "vit_l", "vit_h"):
        assert cat[f"sam_{v}"]["variant"] == v
        assert "sha256" in cat[f"sam_{v}"]
    assert cat["ritm_hrnet18s_itermask"]["url"].endswith("/coco_lvis_h18s_itermask.pth")
    hashes = [e["sha256"] for e in cat.values() if "sha256" in e]
    assert len(hashes) == len(set(hashes))

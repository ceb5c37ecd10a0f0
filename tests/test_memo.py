"""The per-image run memo: keys, atomic entries, materialising, and the runner on top of it."""

from __future__ import annotations

import ast
import copy
import errno
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from clickbench import memo as M
from clickbench.errors import BadInputError
from clickbench.memo import ResultMemo, count_computed, key_for

SRC = Path(__file__).resolve().parents[1] / "src"
PROTOCOLS = {"noc": {"max_clicks": 2, "strategies": ["max_score"]}, "first_click": {}}


@pytest.fixture
def files(tmp_path):
    """An image, its mask, a checkpoint-like file and a replay source, as bytes on disk."""
    rng = np.random.default_rng(0)
    image = tmp_path / "img.png"
    Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)).save(image)
    mask = np.zeros((40, 48), np.uint8)
    mask[10:30, 12:36] = 255
    mask_path = tmp_path / "mask.png"
    Image.fromarray(mask).save(mask_path)
    ckpt = tmp_path / "model.pth"
    ckpt.write_bytes(b"weights" * 100)
    source = tmp_path / "source.npz"
    source.write_bytes(b"clicks")
    return {"image": image, "mask": mask_path, "checkpoint": ckpt, "source": source}


def base_args(files):
    return {
        "model": "sam_x",
        "cls": "Gilt-Head Bream",
        "image": "00001",
        "image_path": files["image"],
        "mask_path": files["mask"],
        "spec": {
            "type": "sam",
            "variant": "tiny",
            "checkpoint": {"path": str(files["checkpoint"])},
        },
        "protocols": copy.deepcopy(PROTOCOLS),
        "layout": "fish",
        "device": "cpu",
        "precision": "fp32",
        "source_path": files["source"],
    }


# ---------------------------------------------------------------- keys
def test_key_is_deterministic_and_ignores_dict_order(files):
    args = base_args(files)
    key, ingredients = key_for(**args)
    assert len(key) == 64 and key == key_for(**base_args(files))[0]
    args["spec"] = dict(reversed(list(args["spec"].items())))
    assert key_for(**args)[0] == key
    assert ingredients["checkpoint_sha256"] and ingredients["source_sha256"]


def test_key_changes_with_every_ingredient(files, tmp_path, monkeypatch):
    base, _ = key_for(**base_args(files))
    seen = {base}

    def changed(**overrides):
        args = {**base_args(files), **overrides}
        key = key_for(**args)[0]
        assert key not in seen, f"key did not change with {sorted(overrides)}"
        seen.add(key)

    changed(model="sam_y")
    changed(cls="Shrimp")
    changed(image="00007")
    changed(layout="generic")
    changed(device="cuda")
    changed(precision="bf16")
    changed(source_path=None)
    spec = base_args(files)["spec"]
    changed(spec={**spec, "selection": ["max_score", "oracle"]})
    protocols = copy.deepcopy(PROTOCOLS)
    protocols["noc"]["max_clicks"] = 3
    changed(protocols=protocols)

    def edit(path: Path, data: bytes):
        old = path.read_bytes()
        path.write_bytes(data)
        changed()
        path.write_bytes(old)

    img = np.array(Image.open(files["image"]))
    img[0, 0] = 255 - img[0, 0]
    other = tmp_path / "other.png"
    Image.fromarray(img).save(other)
    edit(files["image"], other.read_bytes())
    edit(files["mask"], files["mask"].read_bytes() + b"\0")
    edit(files["source"], b"other clicks")
    os.unlink(files["checkpoint"].with_name("model.pth.sha256"))  # its hash stamp
    edit(files["checkpoint"], b"other weights")
    monkeypatch.setattr(M, "__version__", "9.9.9")
    changed()
    monkeypatch.setattr(M, "code_fingerprint", lambda: "0" * 64)
    changed()
    monkeypatch.setattr(M, "package_versions", lambda: {"torch": "0.0"})
    changed()


def test_key_verifies_the_checkpoint_and_needs_a_resolved_device(files):
    args = base_args(files)
    args["spec"]["checkpoint"]["sha256"] = "0" * 64
    with pytest.raises(BadInputError, match="SHA-256 mismatch"):
        key_for(**args)
    with pytest.raises(ValueError, match="resolved device"):
        key_for(**{**base_args(files), "device": "auto"})


def test_code_fingerprint_covers_what_a_result_imports():
    """Every clickbench module the runner reaches (also through lazy imports, and the model
    builders the registry names) is part of the key's code fingerprint."""
    pkg = SRC / "clickbench"
    covered = set()
    for name in M.RESULT_MODULES:
        path = pkg / name
        covered |= set(path.rglob("*.py")) if path.is_dir() else {path}
    todo, seen = [pkg / "runner.py", *(pkg / "models").glob("*.py")], set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.startswith("clickbench")
            ):
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names if a.name.startswith("clickbench")]
            for name in names:
                base = SRC.joinpath(*name.split("."))
                for cand in (base.with_suffix(".py"), base / "__init__.py"):
                    if cand.exists():
                        todo.append(cand)
    assert seen - covered == set(), sorted(str(p.relative_to(pkg)) for p in seen - covered)


# ---------------------------------------------------------------- entries
def write_result(folder: Path, tag: str) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name in ("noc.npz", "noc.tsv", "first_click.npz", "first_click.tsv"):
        (folder / name).write_text(f"{tag} {name}\n")
        out[name] = folder / name
    return out


def test_store_lookup_and_journal(tmp_path):
    memo = ResultMemo(tmp_path / "cache", "sam_x")
    key = "a" * 64
    assert memo.lookup(key) is None
    entry = memo.store(key, write_result(tmp_path / "w", "one"), cls="Shrimp", image="00001")
    assert memo.lookup(key) == entry == tmp_path / "cache" / "runs" / "sam_x" / key
    assert sorted(p.name for p in entry.iterdir()) == [
        "first_click.npz",
        "first_click.tsv",
        "manifest.json",
        "noc.npz",
        "noc.tsv",
    ]
    assert json.loads((entry / "manifest.json").read_text())["key"] == key
    line = (tmp_path / "cache" / "runs" / "computed.log").read_text().splitlines()
    assert [f for f in line[0].split("\t")[1:]] == ["sam_x", "Shrimp", "00001", key]
    # a second store of the same key keeps the first entry, and counts the computation
    memo.store(key, write_result(tmp_path / "w2", "two"), cls="Shrimp", image="00001")
    assert (entry / "noc.tsv").read_text() == "one noc.tsv\n"
    assert count_computed(tmp_path / "cache") == 2
    assert count_computed(tmp_path / "cache", "other") == 0
    assert not [p for p in memo.root.iterdir() if p.name.startswith(".")]


def test_half_written_entry_is_never_visible(tmp_path, monkeypatch):
    memo = ResultMemo(tmp_path / "cache", "sam_x")
    key = "b" * 64
    calls = []

    def failing_fsync(path):
        calls.append(path)
        if len(calls) == 3:
            raise OSError(errno.EIO, "disk gone")

    monkeypatch.setattr(M, "_fsync_file", failing_fsync)
    with pytest.raises(OSError, match="disk gone"):
        memo.store(key, write_result(tmp_path / "w", "one"), cls="Shrimp", image="00001")
    assert memo.lookup(key) is None
    assert not memo.path(key).exists()
    assert [p.name for p in memo.root.iterdir() if not p.name.endswith(".lock")] == []
    assert count_computed(tmp_path / "cache") == 0


def test_damaged_entry_is_a_miss_and_is_replaced(tmp_path):
    memo = ResultMemo(tmp_path / "cache", "sam_x")
    key = "c" * 64
    entry = memo.store(key, write_result(tmp_path / "w", "one"), cls="Shrimp", image="00001")
    os.unlink(entry / "noc.tsv")
    (entry / "noc.tsv").write_text("tampered\n")
    assert memo.lookup(key) is None
    assert not memo.materialise(key, {"noc.tsv": tmp_path / "out" / "x.tsv"})
    assert not (tmp_path / "out" / "x.tsv").exists()
    memo.store(key, write_result(tmp_path / "w2", "two"), cls="Shrimp", image="00001")
    assert memo.lookup(key) == entry and (entry / "noc.tsv").read_text() == "two noc.tsv\n"
    (entry / "extra").write_text("")
    assert memo.lookup(key) is None  # a file the manifest does not list


def test_materialise_links_with_a_fresh_mtime(tmp_path):
    memo = ResultMemo(tmp_path / "cache", "sam_x")
    key = "d" * 64
    entry = memo.store(key, write_result(tmp_path / "w", "one"), cls="Shrimp", image="00001")
    os.utime(entry / "noc.npz", (1, 1))
    out = tmp_path / "results" / "noc" / "00001.npz"
    out.parent.mkdir(parents=True)
    out.write_text("stale\n")
    assert memo.materialise(key, {"noc.npz": out, "noc.tsv": out.with_suffix(".tsv")})
    assert out.read_text() == "one noc.npz\n"
    assert out.stat().st_ino == (entry / "noc.npz").stat().st_ino  # same file system: a link
    assert out.stat().st_mtime > 1e9
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]
    assert not memo.materialise("e" * 64, {"noc.npz": tmp_path / "absent.npz"})
    assert not (tmp_path / "absent.npz").exists()


def test_materialise_copies_across_file_systems_and_is_all_or_nothing(tmp_path, monkeypatch):
    memo = ResultMemo(tmp_path / "cache", "sam_x")
    key = "f" * 64
    entry = memo.store(key, write_result(tmp_path / "w", "one"), cls="Shrimp", image="00001")

    def no_link(src, dst):
        raise OSError(errno.EXDEV, "cross-device link")

    monkeypatch.setattr(M.os, "link", no_link)
    a, b = tmp_path / "out" / "a.npz", tmp_path / "out" / "a.tsv"
    assert memo.materialise(key, {"noc.npz": a, "noc.tsv": b})
    assert a.read_text() == "one noc.npz\n" and a.stat().st_ino != (entry / "noc.npz").stat().st_ino

    copies = []

    def copy_then_fail(src, dst):
        copies.append(dst)
        if len(copies) == 2:
            raise OSError(errno.ENOSPC, "disk full")
        Path(dst).write_bytes(Path(src).read_bytes())

    monkeypatch.setattr(M.shutil, "copyfile", copy_then_fail)
    c, d = tmp_path / "out2" / "c.npz", tmp_path / "out2" / "c.tsv"
    with pytest.raises(OSError, match="disk full"):
        memo.materialise(key, {"noc.npz": c, "noc.tsv": d})
    assert list((tmp_path / "out2").iterdir()) == []


# ---------------------------------------------------------------- the runner
def test_run_image_computes_once_then_materialises_without_torch(files, tmp_path):
    """A miss computes (here, in this process) and stores; a hit in a fresh process writes
    the same bytes without importing torch or building the model."""
    from clickbench import runner
    from clickbench.models.tiny import make_tiny_checkpoint

    ckpt = tmp_path / "sam_tiny.pth"
    make_tiny_checkpoint("sam", ckpt)
    job = runner.ModelJob(
        model="sam_tiny",
        spec={"type": "sam", "variant": "tiny", "checkpoint": {"path": str(ckpt)}},
        protocols={"first_click": {"strategies": ["max_score"]}},
        layout="fish",
        device="cpu",
        precision="fp32",
        cache_dir=str(tmp_path / "cache"),
    )
    task = runner.ImageTask("Shrimp", "00001", str(files["image"]), str(files["mask"]))
    first = {n: str(tmp_path / "a" / f"{n}.out") for n in job.output_files()}
    assert runner.run_image(job, task, first) == "computed"
    assert count_computed(job.cache_dir, "sam_tiny") == 1

    second = {n: str(tmp_path / "b" / f"{n}.out") for n in job.output_files()}
    code = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(SRC)!r})
        from clickbench import runner
        job = runner.ModelJob(**{job.__dict__!r})
        task = runner.ImageTask(**{task.__dict__!r})
        status = runner.run_image(job, task, {second!r})
        print(status, "torch" in sys.modules)
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.split() == ["hit", "False"]
    for name in job.output_files():
        assert Path(second[name]).read_bytes() == Path(first[name]).read_bytes()
    assert count_computed(job.cache_dir) == 1


def test_exit_fast_runs_exit_handlers_flushes_and_keeps_the_status(tmp_path):
    """A model script ends with runner.exit_fast(): the atexit handlers (logging's shutdown
    among them) still run, buffered output still arrives, and the status is the one given;
    only the interpreter's teardown is skipped."""
    marker = tmp_path / "atexit.txt"
    code = f"""
import atexit, logging, sys
from clickbench.runner import exit_fast
logging.basicConfig(filename={str(tmp_path / "job.log")!r}, level=logging.INFO)
logging.info("logged before exit")
atexit.register(lambda: open({str(marker)!r}, "w").write("ran"))
sys.stdout.write("buffered, no newline")
exit_fast(3)
print("never reached")
"""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.returncode == 3
    assert proc.stdout == "buffered, no newline"
    assert marker.read_text() == "ran"
    assert "logged before exit" in (tmp_path / "job.log").read_text()

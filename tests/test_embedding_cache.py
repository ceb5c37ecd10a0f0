"""The on-disk SAM embedding cache: keys, integrity, the journal, concurrent jobs."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from clickbench.embedding_cache import (
    Embedding,
    EmbeddingCache,
    cache_key,
    count_encodings,
    image_hash,
)

SRC = Path(__file__).resolve().parents[1] / "src"


def emb(seed=0):
    rng = np.random.default_rng(seed)
    return Embedding(rng.random((1, 8, 64, 64), dtype=np.float32), (445, 590), (768, 1024))


def counting(fn):
    calls = []

    def wrapper(*args):
        calls.append(args)
        return fn(*args)

    wrapper.calls = calls
    return wrapper


def test_image_hash_depends_on_pixels_shape_and_dtype():
    a = np.zeros((4, 6, 3), np.uint8)
    b = a.copy()
    b[0, 0, 0] = 1
    assert image_hash(a) == image_hash(a.copy())
    assert image_hash(a) != image_hash(b)
    assert image_hash(a) != image_hash(a.reshape(6, 4, 3))
    assert image_hash(a) != image_hash(a.astype(np.uint16))
    assert image_hash(np.asfortranarray(a)) == image_hash(a)


def test_key_depends_on_every_component():
    base = ("i" * 64, "c" * 64, "vit_b", "fp32", "cpu")
    keys = {cache_key(*base)}
    for pos, other in enumerate(("j" * 64, "d" * 64, "vit_h", "bf16", "cuda")):
        parts = list(base)
        parts[pos] = other
        keys.add(cache_key(*parts))
    assert len(keys) == 6


def test_miss_then_hit_and_one_journal_line(tmp_path):
    cache = EmbeddingCache(tmp_path)
    compute = counting(lambda: emb(1))
    got, hit = cache.get_or_compute("k" * 64, compute)
    assert not hit and len(compute.calls) == 1
    again, hit = cache.get_or_compute("k" * 64, compute)
    assert hit and len(compute.calls) == 1
    np.testing.assert_array_equal(again.features, emb(1).features)
    assert again.original_size == (445, 590) and again.input_size == (768, 1024)
    assert count_encodings(tmp_path) == 1 and count_encodings(tmp_path, "k" * 64) == 1
    line = (tmp_path / "sam" / "encodings.log").read_text().splitlines()[0]
    when, key, pid = line.split("\t")
    assert key == "k" * 64 and int(pid) > 0 and when.endswith("Z")


@pytest.mark.parametrize("damage", ["truncate", "garbage", "flip_feature", "other_key"])
def test_damaged_entry_is_a_miss_and_is_replaced(tmp_path, damage):
    cache = EmbeddingCache(tmp_path)
    key = "a" * 64
    cache.get_or_compute(key, lambda: emb(1))
    path = cache.path(key)
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(b"not an npz")
    elif damage == "flip_feature":
        with np.load(path) as z:
            arrays = dict(z)
        arrays["features"] = arrays["features"].copy()
        arrays["features"][0, 0, 0, 0] += 1
        np.savez(path, **arrays)
    else:
        other = EmbeddingCache(tmp_path)
        other.get_or_compute("b" * 64, lambda: emb(2))
        path.write_bytes(other.path("b" * 64).read_bytes())
    got, hit = cache.get_or_compute(key, lambda: emb(1))
    assert not hit
    np.testing.assert_array_equal(got.features, emb(1).features)
    assert cache.load(key) is not None  # replaced by an intact entry


def test_metadata_mismatch_is_a_miss(tmp_path):
    cache = EmbeddingCache(tmp_path)
    cache.get_or_compute("a" * 64, lambda: emb(1), {"variant": "vit_b"})
    assert cache.load("a" * 64, {"variant": "vit_b"}) is not None
    assert cache.load("a" * 64, {"variant": "vit_h"}) is None


def test_leftover_temporary_files_are_ignored(tmp_path):
    cache = EmbeddingCache(tmp_path)
    key = "c" * 64
    cache.path(key).parent.mkdir(parents=True)
    (cache.path(key).parent / f".{key}.xyz.tmp").write_bytes(b"half")
    assert cache.load(key) is None
    _, hit = cache.get_or_compute(key, lambda: emb(3))
    assert not hit and cache.load(key) is not None


def test_many_computes_only_the_misses_in_one_call(tmp_path):
    cache = EmbeddingCache(tmp_path)
    keys = ["a" * 64, "b" * 64, "a" * 64, "c" * 64]
    cache.get_or_compute("b" * 64, lambda: emb(2))
    compute = counting(lambda idx: [emb(10 + i) for i in idx])
    out = cache.get_or_compute_many(keys, compute)
    assert compute.calls == [([0, 3],)]
    np.testing.assert_array_equal(out[1].features, emb(2).features)
    np.testing.assert_array_equal(out[2].features, out[0].features)
    assert count_encodings(tmp_path) == 3
    assert cache.get_or_compute_many(keys, compute) and len(compute.calls) == 1


WORKER = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {src!r})
    import numpy as np
    from clickbench.embedding_cache import Embedding, EmbeddingCache

    def slow():
        time.sleep(1.0)
        return Embedding(np.full((1, 4, 64, 64), 7, np.float32), (10, 20), (512, 1024))

    start = float(sys.argv[1])
    while time.time() < start:
        time.sleep(0.005)
    emb, hit = EmbeddingCache({cache!r}).get_or_compute("d" * 64, slow)
    print(int(hit), float(emb.features.sum()))
    """
)


def test_two_concurrent_jobs_encode_once(tmp_path):
    import time

    script = tmp_path / "worker.py"
    script.write_text(WORKER.format(src=str(SRC), cache=str(tmp_path / "cache")))
    start = time.time() + 1.5
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(start)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=60)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sorted(o[0] for o in outs) == ["0", "1"]  # one computed, the other read it
    assert outs[0][1] == outs[1][1]
    assert count_encodings(tmp_path / "cache") == 1

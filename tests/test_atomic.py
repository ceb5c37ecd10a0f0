"""clickbench.atomic: the file-system helpers every store (checkpoints, caches, memo) uses."""

from __future__ import annotations

import hashlib
import threading
import time

import pytest

from clickbench.atomic import append_journal, file_lock, sha256sum, write_atomic


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "f.txt"
    write_atomic(path, lambda fh: fh.write("old"), text=True)

    def half(fh):
        fh.write("new, but")
        raise RuntimeError("refused")

    with pytest.raises(RuntimeError, match="refused"):
        write_atomic(path, half, text=True)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_write_creates_folders_and_replaces(tmp_path):
    path = tmp_path / "a" / "b" / "f.bin"
    write_atomic(path, lambda fh: fh.write(b"\x00\x01"))
    write_atomic(path, lambda fh: fh.write(b"\x02"))
    assert path.read_bytes() == b"\x02"


def test_sha256sum_reads_the_whole_file(tmp_path):
    data = bytes(range(256)) * 9000  # over one read block
    path = tmp_path / "f"
    path.write_bytes(data)
    assert sha256sum(path) == hashlib.sha256(data).hexdigest()


def test_journal_lines_and_lock_exclusion(tmp_path):
    journal, lock = tmp_path / "j.log", tmp_path / "k.lock"
    inside, overlaps = [], []

    def worker(i):
        with file_lock(lock):
            if inside:
                overlaps.append(i)
            inside.append(i)
            time.sleep(0.02)
            append_journal(journal, f"w{i}", "x")
            inside.remove(i)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = journal.read_text().splitlines()
    assert overlaps == [] and len(lines) == 4
    assert sorted(line.split("\t")[1] for line in lines) == ["w0", "w1", "w2", "w3"]
    assert all(line.split("\t")[0].endswith("Z") and line.endswith("\tx") for line in lines)

"""The library as a package: a plain (non-editable) install carries its schema and catalogue."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

pytest.importorskip("setuptools")


def test_a_built_wheel_loads_its_schema_and_catalogue_from_another_folder(tmp_path):
    wheels, target, elsewhere = tmp_path / "wheels", tmp_path / "site", tmp_path / "elsewhere"
    elsewhere.mkdir()
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(REPO)],
        check=True,
        capture_output=True,
    )
    (wheel,) = wheels.glob("clickbench-*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)], check=True)
    code = (
        "import clickbench, clickbench.config as c, clickbench.checkpoints as k; "
        "s = c.load_schema(); cat = k.load_catalogue(); "
        "print(clickbench.__file__); print(sorted(s['properties'])); print(len(cat))"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=elsewhere, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    where, props, n = out.stdout.splitlines()
    assert Path(where).is_relative_to(target)  # the installed copy, not this checkout
    assert "models" in props and "dataset" in props
    assert int(n) > 0

"""benchmarks/models.py's SAM part runs (`--quick`: the tiny models) and its equality check
says what the tests of clickbench.models.accelerate say: chunked is the plain encoder bit for
bit, for SAM and, with ``--hq``, for HQ-SAM."""

from __future__ import annotations

import sys

import pytest
from conftest import REPO


@pytest.mark.parametrize("family", ["sam", "hq_sam"])
def test_quick_sam_benchmark_checks_the_accelerated_encoders(tmp_path, monkeypatch, family):
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    sys.modules.pop("models", None)
    import models

    argv = ["--quick", "--no-ritm", "--images", "1", "--clicks", "2"]
    argv += ["--accelerate", "chunked,sdpa", "--out", str(tmp_path / "m.json")]
    res = models.main(argv + (["--hq"] if family == "hq_sam" else []))
    assert res["sam_family"] == family
    check = res["derived"]["sam_tiny"]["check"]
    for prec in ("fp32", "bf16"):
        assert check[f"chunked/{prec}"]["bit_identical"] and check[f"chunked/{prec}"]["equal"]
        assert check[f"chunked/{prec}"]["pixels_changed"] == 0
        assert not check[f"sdpa/{prec}"]["bit_identical"] and check[f"sdpa/{prec}"]["equal"]
        assert check[f"sdpa/{prec}"]["steps"] == 2
    assert 0 < check["sdpa/fp32"]["max_rel_error"] < 1e-5
    assert 1e-4 < check["none/bf16"]["max_rel_error"] < 5e-2  # what bf16 itself changes
    label = "HQ-SAM tiny" if family == "hq_sam" else "SAM tiny"
    assert models.markdown(res).count(f"| {label} accelerate=chunked: fp32 check") == 1

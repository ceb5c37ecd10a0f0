"""benchmarks/families.py runs (`python benchmarks/families.py --quick`) and reports every
family's tiny model with its encode and per-click times."""

from __future__ import annotations

import json
import sys

from conftest import REPO


def test_quick_run_times_every_family(tmp_path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    sys.modules.pop("families", None)
    import families

    out = tmp_path / "f.json"
    res = families.main(["--quick", "--images", "1", "--clicks", "2", "--out", str(out)])
    assert set(res["models"]) == {
        "sam:tiny",
        "sam2:tiny",
        "hq_sam:tiny",
        "efficientvit_sam:tiny",
    }
    for r in res["models"].values():
        assert len(r["encode_s"]) == 1 and len(r["decode_s"]) == 2
        assert r["params"] > 1e5
    assert json.loads(out.read_text())["clicks"] == 2
    assert "| sam2 | tiny |" in capsys.readouterr().out

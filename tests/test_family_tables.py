"""The tables place every SAM-family model (sam, sam2, hq_sam) where the study placed SAM."""

from __future__ import annotations

import pandas as pd
import pytest

from clickbench import study
from clickbench.models.registry import SAM_FAMILY


def rows(models: dict[str, tuple[str, ...]]) -> pd.DataFrame:
    out = []
    for model, protocols in models.items():
        for protocol in protocols:
            out.append(
                {"class": "c", "image": "1", "protocol": protocol, "model": model,
                 "strategy": "max_score", "click": 1, "iou": 0.5, "best_iou": 0.5,
                 "score": 0.9, "chosen": 0}
            )  # fmt: skip
    return pd.DataFrame(out)


@pytest.mark.parametrize("kind", sorted(SAM_FAMILY))
def test_sam_family_models_are_seen_at_the_first_click_as_sam(kind):
    models = {"m": {"type": kind}, "r": {"type": "ritm"}, "u": {"type": "python"}}
    settings = study.Settings.from_config(models=models)
    view = study.study_view(
        rows({"m": ("noc", "first_click"), "r": ("noc",), "u": ("noc", "first_click")}), settings
    )
    protocol_of = {method.split(":")[0]: protocol for protocol, method in view}
    assert protocol_of == {"m": "first_click", "r": "noc", "u": "noc"}
    assert settings.is_sam("m") and not settings.is_sam("u")

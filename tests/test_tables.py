"""Aggregation checked against numbers worked out by hand.

The data: 2 species x 3 images. RITM runs its own ``noc`` loop (max 5 clicks, some loops
stopped early at 0.90); SAM gets the first click with 3 candidate masks, re-scored by
``max_score`` and ``oracle``. The study's rule keeps RITM's mask at the first click reaching
0.90, at most ``study.max_clicks`` (4 here, so that the cap is exercised) clicks.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import TEST_CONFIG, run_script

from clickbench import config, dedup, paired_stats, row_io, study, tables

HM, GB = "Hourse Mackerel", "Gilt-Head Bream"  # spelling kept, as in the Kaggle folders

#: RITM's IoU after each click; loops that reached 0.90 stopped there (target_iou 0.90)
RITM = {
    (HM, "00001"): [0.50, 0.80, 0.95],
    (HM, "00021"): [0.92],
    (HM, "00041"): [0.30, 0.50, 0.60, 0.70, 0.88],
    (GB, "00001"): [0.60, 0.85, 0.89, 0.91],
    (GB, "00021"): [0.40, 0.70, 0.86, 0.87, 0.89],
    (GB, "00041"): [0.95],
}
#: SAM on the first click: (true IoU, predicted IoU) of its three multimask candidates
SAM = {
    (HM, "00001"): ([0.95, 0.60, 0.20], [0.90, 0.95, 0.80]),  # picks 1 (0.60), best 0
    (HM, "00021"): ([0.85, 0.90, 0.40], [0.99, 0.80, 0.70]),  # picks 0 (0.85), best 1
    (HM, "00041"): ([0.70, 0.75, 0.10], [0.70, 0.90, 0.95]),  # picks 2 (0.10): whole image
    (GB, "00001"): ([0.93, 0.50, 0.30], [0.97, 0.90, 0.60]),  # picks 0 = best
    (GB, "00021"): ([0.88, 0.88, 0.20], [0.80, 0.85, 0.60]),  # picks 1, ties best 0: no miss
    (GB, "00041"): ([0.40, 0.96, 0.92], [0.91, 0.90, 0.85]),  # picks 0 (0.40), best 1
}

MODELS = {"ritm": {"type": "ritm"}, "sam": {"type": "sam"}}
PROTOCOLS = {
    "noc": {"models": ["ritm"], "max_clicks": 5, "target_iou": 0.9},
    "first_click": {"models": ["sam"]},
}
METRICS = {
    "iou_thresholds": [0.85, 0.90],
    "miou_at": [1, 2, 3, 5, 10],
    "study": {"target_iou": 0.90, "max_clicks": 4},
    "bootstrap": {"samples": 1000, "seed": 7},
}


def settings():
    return study.Settings.from_config(METRICS, PROTOCOLS, MODELS)


def ritm_rows(cls, image, curve, model="ritm", protocol="noc"):
    return [
        dict(
            zip(
                row_io.ROW_COLUMNS,
                [
                    cls,
                    image,
                    protocol,
                    model,
                    "max_score",
                    0,
                    k + 1,
                    iou,
                    iou / 2,
                    iou,
                    1.0,
                    0,
                    0,
                    1,
                    10 + k,
                    20 + k,
                ],
                strict=True,
            )
        )
        for k, iou in enumerate(curve)
    ]


def sam_rows(cls, image, ious, scores, model="sam"):
    ious, scores = np.asarray(ious), np.asarray(scores)
    best = int(np.argmax(ious))
    rows = []
    for strategy, chosen in (("max_score", int(np.argmax(scores))), ("oracle", best)):
        values = [cls, image, "first_click", model, strategy, 0, 1, ious[chosen]]
        values += [ious[chosen] / 2, ious[best]]
        values += [scores[chosen], chosen, best, 1, 10, 20]
        rows.append(dict(zip(row_io.ROW_COLUMNS, values, strict=True)))
    return rows


def study_rows():
    rows = []
    for (cls, image), curve in RITM.items():
        rows += ritm_rows(cls, image, curve)
    for (cls, image), (ious, scores) in SAM.items():
        rows += sam_rows(cls, image, ious, scores)
    return rows


def write_per_image(tmp_path, rows):
    """One TSV per (protocol, model, image), as scripts/run_model.py writes them."""
    df = pd.DataFrame(rows, columns=row_io.ROW_COLUMNS)
    paths = []
    for (protocol, model, cls, image), sub in df.groupby(["protocol", "model", "class", "image"]):
        path = tmp_path / "runs" / protocol / model / cls.replace(" ", "_") / f"{image}.tsv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(row_io.format_table(sub))
        paths.append(path)
    return sorted(paths, reverse=True)  # order of inputs must not matter


@pytest.fixture
def per_image(tmp_path):
    return row_io.read_rows(write_per_image(tmp_path, study_rows()), "fish")


@pytest.fixture
def built(per_image):
    return tables.build_tables(per_image, settings())


def row(df, **where):
    sel = np.ones(len(df), dtype=bool)
    for key, value in where.items():
        sel &= df[key].to_numpy() == value
    assert sel.sum() == 1, (where, df)
    return df[sel].iloc[0]


def sample_std(values):
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


# ---------------------------------------------------------------- reading
def test_read_rows_keeps_text_and_sorts(per_image):
    assert list(per_image.columns) == ["dataset"] + row_io.ROW_COLUMNS
    assert set(per_image["image"]) == {"00001", "00021", "00041"}  # leading zeros kept
    assert set(per_image["class"]) == {HM, GB}
    assert len(per_image) == sum(len(c) for c in RITM.values()) + 2 * len(SAM)
    keys = per_image[["class", "image", "protocol", "model", "strategy", "click"]]
    assert keys.equals(keys.sort_values(list(keys.columns)).reset_index(drop=True))


def test_read_rows_rejects_other_columns(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("class\timage\tiou\nA\t1\t0.5\n")
    with pytest.raises(ValueError, match="contract"):
        row_io.read_rows([bad], "x")


# ---------------------------------------------------------------- kept IoU (the study's rule)
def test_kept_iou_follows_the_study_rule(per_image):
    k = study.kept(per_image.drop(columns="dataset"), settings())
    ritm = k[k["protocol"] == "noc"].set_index(["class", "image"])
    # first click reaching 0.90, else click min(loop length, study max 4)
    assert ritm.loc[(HM, "00001"), ["clicks", "iou"]].tolist() == [3, 0.95]
    assert ritm.loc[(HM, "00021"), ["clicks", "iou"]].tolist() == [1, 0.92]
    assert ritm.loc[(HM, "00041"), ["clicks", "iou"]].tolist() == [4, 0.70]  # capped at 4
    assert ritm.loc[(GB, "00001"), ["clicks", "iou"]].tolist() == [4, 0.91]
    assert ritm.loc[(GB, "00021"), ["clicks", "iou"]].tolist() == [4, 0.87]
    assert ritm.loc[(GB, "00041"), ["clicks", "iou"]].tolist() == [1, 0.95]


# ---------------------------------------------------------------- describe
RITM_KEPT = [0.95, 0.92, 0.70, 0.91, 0.87, 0.95]  # HM 1..3, GB 1..3
SAM_MAX_SCORE = [0.60, 0.85, 0.10, 0.93, 0.88, 0.40]
SAM_ORACLE = [0.95, 0.90, 0.75, 0.93, 0.88, 0.96]


def test_describe_every_number(built):
    d = built["describe"]
    assert list(d.columns) == ["protocol", "method", "study", "kept"] + tables.DESCRIBE_STATS
    # the study's two rows first, then the rest
    assert d[["protocol", "method", "study"]].values.tolist() == [
        ["first_click", "sam:max_score", 1],
        ["noc", "ritm", 1],
        ["first_click", "sam:oracle", 0],
    ]
    # RITM sorted: 0.70 0.87 0.91 0.92 0.95 0.95; quartile positions (n-1)q = 1.25, 2.5, 3.75
    expected = {
        ("noc", "ritm"): {
            "count": 6,
            "mean": (0.95 + 0.92 + 0.70 + 0.91 + 0.87 + 0.95) / 6,  # 0.883333
            "std": sample_std(RITM_KEPT),  # sqrt(0.0447333 / 5) = 0.0945868
            "min": 0.70,
            "25%": 0.87 + 0.25 * (0.91 - 0.87),  # 0.88
            "50%": (0.91 + 0.92) / 2,  # 0.915
            "75%": 0.92 + 0.75 * (0.95 - 0.92),  # 0.9425
            "max": 0.95,
        },
        # SAM max_score sorted: 0.10 0.40 0.60 0.85 0.88 0.93
        ("first_click", "sam:max_score"): {
            "count": 6,
            "mean": (0.60 + 0.85 + 0.10 + 0.93 + 0.88 + 0.40) / 6,  # 0.626667
            "std": sample_std(SAM_MAX_SCORE),
            "min": 0.10,
            "25%": 0.40 + 0.25 * (0.60 - 0.40),  # 0.45
            "50%": (0.60 + 0.85) / 2,  # 0.725
            "75%": 0.85 + 0.75 * (0.88 - 0.85),  # 0.8725
            "max": 0.93,
        },
        # oracle sorted: 0.75 0.88 0.90 0.93 0.95 0.96
        ("first_click", "sam:oracle"): {
            "count": 6,
            "mean": (0.95 + 0.90 + 0.75 + 0.93 + 0.88 + 0.96) / 6,  # 0.895
            "std": sample_std(SAM_ORACLE),
            "min": 0.75,
            "25%": 0.88 + 0.25 * (0.90 - 0.88),  # 0.885
            "50%": (0.90 + 0.93) / 2,  # 0.915
            "75%": 0.93 + 0.75 * (0.95 - 0.93),  # 0.945
            "max": 0.96,
        },
    }
    # squared deviations from 0.883333: 2 x 0.066667^2 + 0.036667^2 + 0.183333^2 + 0.026667^2
    # + 0.013333^2 = 0.0088889 + 0.0013444 + 0.0336111 + 0.0007111 + 0.0001778 = 0.0447333
    assert expected[("noc", "ritm")]["std"] == pytest.approx(math.sqrt(0.0447333333 / 5))
    for (protocol, method), stats_ in expected.items():
        got = row(d, protocol=protocol, method=method)
        for key, value in stats_.items():
            assert got[key] == pytest.approx(value, abs=1e-12), (protocol, method, key)
    assert row(d, method="ritm")["kept"] == "first click reaching IoU 0.9, at most 4 clicks"


def test_describe_matches_pandas(built, per_image):
    k = study.kept(per_image.drop(columns="dataset"), settings())
    for (protocol, method), sub in k.groupby(["protocol", "method"]):
        ref = sub["iou"].describe()
        got = row(built["describe"], protocol=protocol, method=method)
        for key in tables.DESCRIBE_STATS:
            assert got[key] == pytest.approx(ref[key], abs=1e-12)


# ---------------------------------------------------------------- per species
def test_per_class_means(built):
    pc = built["per_class"]
    assert list(pc.columns) == ["class", "protocol", "method", "study", "n", "mean_iou"]
    expected = {
        (HM, "ritm"): (0.95 + 0.92 + 0.70) / 3,  # 0.856667
        (GB, "ritm"): (0.91 + 0.87 + 0.95) / 3,  # 0.91
        (HM, "sam:max_score"): (0.60 + 0.85 + 0.10) / 3,  # 0.516667
        (GB, "sam:max_score"): (0.93 + 0.88 + 0.40) / 3,  # 0.736667
        (HM, "sam:oracle"): (0.95 + 0.90 + 0.75) / 3,  # 0.866667
        (GB, "sam:oracle"): (0.93 + 0.88 + 0.96) / 3,  # 0.923333
    }
    assert len(pc) == len(expected)
    for (cls, method), mean in expected.items():
        got = row(pc, **{"class": cls, "method": method})
        assert got["mean_iou"] == pytest.approx(mean, abs=1e-12)
        assert got["n"] == 3
    # sorted by class: "Gilt-Head Bream" < "Hourse Mackerel"
    assert pc["class"].tolist() == [GB] * 3 + [HM] * 3


# ---------------------------------------------------------------- ambiguity gap
def test_ambiguity_gap(built):
    amb = built["ambiguity"]
    assert amb["class"].tolist() == [study.ALL, GB, HM]
    overall = row(amb, **{"class": study.ALL})
    assert overall["images"] == 6 and overall["steps"] == 6
    assert overall["max_score"] == pytest.approx(sum(SAM_MAX_SCORE) / 6, abs=1e-12)  # 0.626667
    assert overall["oracle"] == pytest.approx(sum(SAM_ORACLE) / 6, abs=1e-12)  # 0.895
    assert overall["gap"] == pytest.approx((5.37 - 3.76) / 6, abs=1e-12)  # 0.268333
    # misses: HM all three; GB only 00041 (00021 is a tie: same IoU, another index)
    assert overall["not_best_images"] == pytest.approx(4 / 6)
    assert overall["not_best_steps"] == pytest.approx(4 / 6)
    hm = row(amb, **{"class": HM})
    assert hm["gap"] == pytest.approx((0.95 + 0.90 + 0.75 - 0.60 - 0.85 - 0.10) / 3, abs=1e-12)
    assert hm["not_best_images"] == 1.0
    gb = row(amb, **{"class": GB})
    assert gb["gap"] == pytest.approx((0.96 - 0.40) / 3, abs=1e-12)  # only 00041 differs
    assert gb["not_best_images"] == pytest.approx(1 / 3)


# ---------------------------------------------------------------- paired comparison
def test_paired_study_comparison_and_bootstrap(built):
    p = built["paired"]
    assert set(p["comparison"]) == {"study", "oracle_vs_max_score"}
    pairs = p[p["comparison"] == "study"]
    assert pairs["class"].tolist() == [study.ALL, GB, HM]
    overall = row(pairs, **{"class": study.ALL})
    assert (overall["a"], overall["b"]) == ("noc/ritm", "first_click/sam:max_score")
    # RITM - SAM per image, in (class, image) order: GB 00001 00021 00041, HM 00001 00021 00041
    diffs = np.array([0.91 - 0.93, 0.87 - 0.88, 0.95 - 0.40, 0.95 - 0.60, 0.92 - 0.85, 0.70 - 0.10])
    assert overall["n"] == 6
    assert overall["mean_a"] == pytest.approx(sum(RITM_KEPT) / 6)
    assert overall["mean_b"] == pytest.approx(sum(SAM_MAX_SCORE) / 6)
    assert overall["mean_diff"] == pytest.approx(1.54 / 6, abs=1e-12)  # 0.256667
    # the bootstrap by hand: same seed, one resample of 6 image indices per sample
    rng = np.random.default_rng(7)
    means = []
    for _ in range(1000):
        idx = rng.integers(0, 6, size=6)
        means.append(sum(diffs[i] for i in idx) / 6)
    means = np.sort(means)
    # quantile 0.025 of 1000 values: position 0.025 * 999 = 24.975 (linear interpolation)
    low = means[24] + 0.975 * (means[25] - means[24])
    high = means[974] + 0.025 * (means[975] - means[974])  # 0.975 * 999 = 974.025
    assert overall["ci_low"] == pytest.approx(low, abs=1e-12)
    assert overall["ci_high"] == pytest.approx(high, abs=1e-12)
    assert overall["ci_low"] <= overall["mean_diff"] <= overall["ci_high"]
    # Wilcoxon signed rank: |d| ranks 0.01:1 0.02:2 0.07:3 0.35:4 0.55:5 0.60:6;
    # negative ranks W- = 1 + 2 = 3; exact two-sided p = 2 * P(W <= 3) = 2 * 5/64
    # (subsets of {1..6} with rank sum <= 3: {}, {1}, {2}, {3}, {1,2})
    assert overall["wilcoxon_p"] == pytest.approx(2 * 5 / 64)
    m = int(p["wilcoxon_p"].notna().sum())
    assert overall["note"] == f"holm_p: Holm-corrected over the {m} tests of this table"


def test_paired_is_holm_corrected_over_all_its_tests(built):
    """paired.tsv holds one test per comparison and class: its p-values are adjusted together
    (Holm), the raw ones kept beside them, and every row says over how many."""
    p = built["paired"]
    assert list(p.columns[-3:]) == ["wilcoxon_p", "holm_p", "note"]
    tested = p[p["wilcoxon_p"].notna()]
    assert len(tested) >= 4
    np.testing.assert_allclose(p["holm_p"], stats.holm(p["wilcoxon_p"]))
    assert (tested["holm_p"] >= tested["wilcoxon_p"]).all()
    # the smallest p-value is multiplied by the number of tests (Holm's first step)
    first = tested["wilcoxon_p"].idxmin()
    assert p.loc[first, "holm_p"] == pytest.approx(
        min(1.0, len(tested) * p.loc[first, "wilcoxon_p"])
    )
    assert p["note"].str.contains(f"Holm-corrected over the {len(tested)} tests").all()


def test_paired_oracle_vs_max_score(built):
    p = built["paired"]
    gb = row(p, comparison="oracle_vs_max_score", **{"class": GB})
    assert (gb["a"], gb["b"]) == ("first_click/sam:oracle", "first_click/sam:max_score")
    assert gb["mean_diff"] == pytest.approx((0.96 - 0.40) / 3, abs=1e-12)
    # 2 zero differences of 3: Wilcoxon drops zeros, one difference left: W- = 0 of the one
    # rank, exact two-sided p = 2 * P(W <= 0) = 2 * 1/2 = 1
    assert gb["n"] == 3 and gb["wilcoxon_p"] == pytest.approx(1.0)


def test_settings_take_the_schemas_defaults_for_what_a_block_lacks():
    metrics = config.load_schema()["properties"]["metrics"]["properties"]
    s = study.Settings.from_config(
        {"study": {"max_clicks": 3}},
        {"noc": {"models": ["ritm"]}, "replay": {"source": "ritm", "models": ["sam"]}},
        MODELS,
    )
    assert s.thresholds == tuple(metrics["iou_thresholds"]["default"])
    assert s.miou_at == tuple(metrics["miou_at"]["default"])
    assert s.study_target == metrics["study"]["properties"]["target_iou"]["default"]
    assert s.study_max_clicks == 3
    boot = metrics["bootstrap"]["properties"]
    assert (s.bootstrap_samples, s.bootstrap_seed) == (
        boot["samples"]["default"],
        boot["seed"]["default"],
    )
    noc = config.load_schema()["properties"]["protocols"]["properties"]["noc"]["properties"]
    # replay without its own max_clicks runs as far as noc
    assert s.horizons == {"first_click": 1, "noc": noc["max_clicks"]["default"], "replay": 20}
    # a validated config's blocks come back as they are
    cfg = config.validate(TEST_CONFIG)
    assert config.with_defaults("metrics", cfg["metrics"]) == cfg["metrics"]
    assert config.with_defaults("protocols", cfg["protocols"]) == cfg["protocols"]
    assert cfg["metrics"]["study"] == {"target_iou": s.study_target, "max_clicks": 10}


def test_paired_degenerate_cases_do_not_crash():
    s = dataclasses.replace(study.Settings.from_config(), bootstrap_samples=200)
    one = paired_stats.paired(
        pd.Series([0.5], index=[("A", "1")]), pd.Series([0.4], index=[("A", "1")]), s
    )
    assert one["n"] == 1 and math.isnan(one["ci_low"]) and math.isnan(one["wilcoxon_p"])
    assert "n=1<2" in one["note"]
    idx = [("A", "1"), ("A", "2"), ("A", "3")]
    same = paired_stats.paired(
        pd.Series([0.5, 0.6, 0.7], index=idx), pd.Series([0.5, 0.6, 0.7], index=idx), s
    )
    assert same["mean_diff"] == 0 and same["ci_low"] == 0 and same["ci_high"] == 0
    assert math.isnan(same["wilcoxon_p"]) and "all differences are zero" in same["note"]
    none = paired_stats.paired(pd.Series([], dtype=float), pd.Series([], dtype=float), s)
    assert none["n"] == 0 and math.isnan(none["mean_diff"])


# ---------------------------------------------------------------- NoC, NoF, mIoU@k
def test_noc_nof_with_early_stopped_curves(built):
    n = built["noc"]
    assert list(n.columns) == [
        "protocol",
        "method",
        "class",
        "n",
        "max_clicks",
        "noc@85",
        "noc@90",
        "nof@85",
        "nof@90",
    ]
    # clicks to 0.85 / 0.90 over 5 clicks, stopped loops carried forward (never -> 5):
    # HM 00001: 3/3  00021: 1/1  00041: 5 (0.88 at 5)/never
    # GB 00001: 2/4  00021: 3/never  00041: 1/1
    overall = row(n, **{"class": study.ALL})
    assert overall["n"] == 6 and overall["max_clicks"] == 5
    assert overall["noc@85"] == pytest.approx((3 + 1 + 5 + 2 + 3 + 1) / 6)  # 2.5
    assert overall["noc@90"] == pytest.approx((3 + 1 + 5 + 4 + 5 + 1) / 6)  # 3.16667
    # NoF counts images that never reach: HM 00041 reaches 0.85 at the last click -> not a
    # failure (RITM's over_max would count it)
    assert overall["nof@85"] == 0 and overall["nof@90"] == 2
    hm = row(n, **{"class": HM})
    assert (hm["noc@85"], hm["noc@90"], hm["nof@90"]) == (3, 3, 1)
    gb = row(n, **{"class": GB})
    assert gb["noc@85"] == pytest.approx(2) and gb["noc@90"] == pytest.approx(10 / 3)


def test_miou_at_k_carries_forward(built):
    m = built["miou"]
    assert list(m.columns) == ["protocol", "method", "class", "n"] + [
        f"miou@{k}" for k in (1, 2, 3, 5, 10)
    ]
    overall = row(m, **{"class": study.ALL})
    assert overall["miou@1"] == pytest.approx((0.50 + 0.92 + 0.30 + 0.60 + 0.40 + 0.95) / 6)
    assert overall["miou@2"] == pytest.approx((0.80 + 0.92 + 0.50 + 0.85 + 0.70 + 0.95) / 6)
    assert overall["miou@3"] == pytest.approx((0.95 + 0.92 + 0.60 + 0.89 + 0.86 + 0.95) / 6)
    assert overall["miou@5"] == pytest.approx((0.95 + 0.92 + 0.88 + 0.91 + 0.89 + 0.95) / 6)
    assert math.isnan(overall["miou@10"])  # beyond noc.max_clicks = 5: not measured
    text = row_io.format_table(m)
    assert "\tNA\n" in text


# ---------------------------------------------------------------- multi-click SAM
def test_multiclick_replay_and_same_clicks():
    rows = []
    for cls, image, ritm, sam_replay, sam_noc in [
        ("A", "1", [0.5, 0.95], [0.6, 0.7, 0.8], [0.3, 0.4, 0.91]),
        ("A", "2", [0.8, 0.85, 0.86], [0.9], [0.88, 0.89, 0.90]),
    ]:
        rows += ritm_rows(cls, image, ritm)
        for strategy in ("max_score", "oracle"):
            for k, iou in enumerate(sam_replay):
                values = [
                    cls,
                    image,
                    "replay",
                    "sam",
                    strategy,
                    0,
                    k + 1,
                    iou,
                    iou / 2,
                    iou,
                    0.9,
                    0,
                    0,
                    1,
                    1,
                    1,
                ]
                rows.append(dict(zip(row_io.ROW_COLUMNS, values, strict=True)))
            rows += ritm_rows(cls, image, sam_noc, model="sam")
            rows[-len(sam_noc) :] = [dict(r, strategy=strategy) for r in rows[-len(sam_noc) :]]
    df = row_io.typed(pd.DataFrame(rows, columns=row_io.ROW_COLUMNS))
    s = study.Settings.from_config(
        {"miou_at": [1, 2, 3], "study": {"target_iou": 0.9, "max_clicks": 3}},
        {
            "noc": {"models": ["ritm", "sam"], "max_clicks": 3},
            "replay": {"source": "ritm", "models": ["sam"]},
        },
        MODELS,
    )
    built = tables.build_tables(df, s)
    mc = built["multiclick"]
    assert mc[["protocol", "method"]].values.tolist() == [
        ["noc", "ritm"],
        ["noc", "sam:max_score"],
        ["noc", "sam:oracle"],
        ["replay", "sam:max_score"],
        ["replay", "sam:oracle"],
    ]
    replay = row(mc, protocol="replay", method="sam:max_score")
    # replay of 3 clicks max (the noc max): image 2 stopped after one click -> carried
    assert replay["miou@1"] == pytest.approx((0.6 + 0.9) / 2)
    assert replay["miou@3"] == pytest.approx((0.8 + 0.9) / 2)
    assert replay["noc@90"] == pytest.approx((3 + 1) / 2) and replay["nof@90"] == 1
    sam_noc = row(mc, protocol="noc", method="sam:oracle")
    assert sam_noc["noc@90"] == pytest.approx((3 + 3) / 2) and sam_noc["nof@90"] == 0
    same = row(built["paired"], comparison="same_clicks", **{"class": study.ALL})
    # kept: RITM 0.95 (click 2), 0.86 (click 3); SAM replay 0.8 (click 3), 0.9 (click 1)
    assert same["mean_diff"] == pytest.approx(((0.95 - 0.8) + (0.86 - 0.9)) / 2)
    # replay has no first_click rows: no ambiguity at the first click, but replay's
    amb = built["ambiguity"]
    assert set(amb["protocol"]) == {"replay"} and (amb["gap"] == 0).all()


# ---------------------------------------------------------------- degenerate inputs
def test_no_sam_rows_still_gives_every_table():
    rows = []
    for (cls, image), curve in RITM.items():
        rows += ritm_rows(cls, image, curve, model="grabcut")
    df = row_io.typed(pd.DataFrame(rows, columns=row_io.ROW_COLUMNS))
    s = study.Settings.from_config(METRICS, PROTOCOLS, {"grabcut": {"type": "grabcut"}})
    built = tables.build_tables(df, s)
    assert set(built) == set(tables.TABLES)
    assert row(built["describe"], method="grabcut")["study"] == 1
    for name in ("ambiguity", "paired", "multiclick"):
        assert len(built[name]) == 0
        assert row_io.format_table(built[name]).count("\n") == 1  # header only


def test_no_rows_at_all_gives_header_only_tables():
    built = tables.build_tables(row_io.empty_rows(), settings())
    for name, df in built.items():
        text = row_io.format_table(df)
        assert text.count("\n") == 1, name
        assert text.startswith(df.columns[0])


# ---------------------------------------------------------------- determinism
def test_tables_are_byte_identical_across_runs(tmp_path):
    texts = []
    for run in ("a", "b"):
        paths = write_per_image(tmp_path / run, study_rows())
        rows = row_io.read_rows(paths if run == "a" else paths[::-1], "fish")
        built = tables.build_tables(rows, settings())
        out = {name: tmp_path / run / f"{name}.tsv" for name in tables.TABLES}
        for name, path in out.items():
            row_io.write_tsv(built[name], path)
        row_io.write_tsv(rows, tmp_path / run / "per_image.tsv")
        texts.append({p.name: p.read_bytes() for p in (tmp_path / run).glob("*.tsv")})
    assert texts[0] == texts[1]
    assert len(texts[0]) == len(tables.TABLES) + 1


def test_floats_are_written_with_six_significant_digits(built):
    text = row_io.format_table(built["describe"])
    assert "0.883333" in text and "0.8833333" not in text


def test_per_image_round_trip(tmp_path, per_image):
    row_io.write_tsv(per_image, tmp_path / "per_image.tsv")
    back = row_io.load_per_image(tmp_path / "per_image.tsv")
    pd.testing.assert_frame_equal(back, per_image)


# ---------------------------------------------------------------- the scripts
REPO = Path(__file__).resolve().parents[1]


def all_selected_dedup(tmp_path, row_paths) -> list[str]:
    """Dedup tables in which every image of the per-image TSVs ``row_paths`` is an original
    (selected, its own representative), one per class, as the aggregate rule passes them."""
    per_image = row_io.read_rows(row_paths, "d")
    out = {}
    for (cls, image), _ in per_image.groupby(["class", "image"]):
        r = dict.fromkeys(dedup.COLUMNS, "")
        r.update(
            {"class": cls, "image": image, "image_path": f"{image}.png", "group": 1}
            | {"representative": image, "rotation_fill": 0, "selected": 1}
            | {"index_pick": 0, "variant": 0, "status": "ok"}
        )
        out.setdefault(cls, []).append(r)
    paths = []
    for cls, rs in out.items():
        path = tmp_path / "dedup" / f"{cls.replace(' ', '_')}.tsv"
        dedup.write_table(pd.DataFrame(rs, columns=list(dedup.COLUMNS)), path)
        paths.append(str(path))
    return paths


def aggregate_outputs(where, names) -> dict[str, str]:
    """The aggregate rule's outputs: per_image, timing and one TSV per table of ``names``."""
    out = {name: str(where / f"{name}.tsv") for name in names}
    return out | {"per_image": str(where / "per_image.tsv"), "timing": str(where / "timing.tsv")}


def test_aggregate_and_summary_scripts(tmp_path):
    paths = [str(p) for p in write_per_image(tmp_path, study_rows())]
    out = aggregate_outputs(tmp_path / "tables", (*tables.TABLES, *protocol_tables.TABLES))
    params = {"dataset": "fish", "metrics": METRICS, "protocols": PROTOCOLS, "models": MODELS}
    inputs = {"rows": paths, "dedup": all_selected_dedup(tmp_path, paths), "timing": []}
    run_script("aggregate.py", tmp_path, inputs, out, params)
    for name in tables.TABLES:
        lines = Path(out[name]).read_text().count("\n")
        # no replay, no SAM noc loop here: multiclick is header-only
        assert lines == 1 if name == "multiclick" else lines > 1, name
    d = row_io.read_table(out["describe"])
    assert row(d, method="ritm")["mean"] == pytest.approx(5.30 / 6, abs=1e-6)

    prov = tmp_path / "provenance.yaml"
    prov.write_text("clickbench: 0.1.0\n")
    dedup = tmp_path / "dedup_summary.tsv"
    dedup.write_text("class\toriginals\nHourse Mackerel\t3\n")
    inputs = {name: out[name] for name in tables.TABLES}
    inputs.update({"dedup": str(dedup), "provenance": str(prov)})
    md = tmp_path / "summary.md"
    run_script("summary.py", tmp_path, inputs, {"summary": str(md)}, {"dataset": "fish"})
    text = md.read_text()
    assert text.startswith("# clickbench: fish")
    assert "| ritm | noc | 6 | 0.883 | 0.915 |" in text  # mean, median of RITM's kept IoU
    assert "| sam:max_score | first_click | 6 | 0.627 | 0.725 |" in text
    assert "mean difference 0.257" in text and "p = 0.16" in text
    assert "gap 0.268" in text and "not the best in 66.7% of 6 images" in text
    assert "| Hourse Mackerel | 3 |" in text
    assert "clickbench: 0.1.0" in text


def test_aggregate_script_with_no_rows(tmp_path):
    out = aggregate_outputs(tmp_path, (*tables.TABLES, *protocol_tables.TABLES))
    params = {"dataset": "demo", "metrics": {}, "protocols": PROTOCOLS, "models": {}}
    run_script("aggregate.py", tmp_path, {"rows": [], "dedup": [], "timing": []}, out, params)
    for path in out.values():
        assert Path(path).read_text().count("\n") == 1
    md = tmp_path / "summary.md"
    inputs = {name: out[name] for name in tables.TABLES}
    run_script("summary.py", tmp_path, inputs, {"summary": str(md)}, {"dataset": "demo"})
    assert "No study-view results in this run" in md.read_text()


# ---------------------------------------------------------------- dedup vs the index rule
#: index-only picks (the study's index rule picks them, dedup does not), evaluated beside the
#: dedup picks: HM 00005 is a rotated copy with black fill, GB 00009 a copy without fill
INDEX_ONLY_RITM = {(HM, "00005"): [0.40, 0.60], (GB, "00009"): [0.91]}
INDEX_ONLY_SAM = {
    (HM, "00005"): ([0.30, 0.20, 0.10], [0.90, 0.50, 0.40]),  # picks 0 (0.30)
    (GB, "00009"): ([0.80, 0.70, 0.60], [0.50, 0.90, 0.10]),  # picks 1 (0.70)
}
#: (class, image) -> (selected, index_pick, rotation_fill, representative) of the dedup tables
DEDUP = {
    (HM, "00001"): (1, 1, 0, "00001"),
    (HM, "00002"): (0, 0, 1, "00001"),  # a copy nobody picks: no per-image rows
    (HM, "00005"): (0, 1, 1, "00001"),
    (HM, "00021"): (1, 0, 0, "00021"),
    (HM, "00041"): (1, 0, 0, "00041"),
    (GB, "00001"): (1, 1, 0, "00001"),
    (GB, "00009"): (0, 1, 0, "00001"),
    (GB, "00021"): (1, 1, 0, "00021"),
    (GB, "00041"): (1, 0, 0, "00041"),
}


def dedup_tables():
    """One dedup table per class, as clickbench.dedup.dedup_class writes them."""
    out = {}
    for (cls, image), (sel, idx, fill, rep) in sorted(DEDUP.items()):
        r = dict.fromkeys(dedup.COLUMNS, "")
        r.update(
            {"class": cls, "image": image, "image_path": f"{image}.png", "group": 1}
            | {"representative": rep, "rotation_fill": fill, "selected": sel}
            | {"index_pick": idx, "variant": 0, "status": "ok"}
        )
        out.setdefault(cls, []).append(r)
    return {cls: pd.DataFrame(rs, columns=list(dedup.COLUMNS)) for cls, rs in out.items()}


def rows_with_index_picks():
    rows = study_rows()
    for (cls, image), curve in INDEX_ONLY_RITM.items():
        rows += ritm_rows(cls, image, curve)
    for (cls, image), (ious, scores) in INDEX_ONLY_SAM.items():
        rows += sam_rows(cls, image, ious, scores)
    return rows


@pytest.fixture
def with_index(tmp_path):
    rows = row_io.read_rows(write_per_image(tmp_path, rows_with_index_picks()), "fish")
    flags = row_io.selection_flags(dedup_tables().values())
    return rows, flags, tables.build_tables(rows, settings(), flags)


def test_index_only_picks_do_not_enter_the_main_tables(with_index, built):
    rows, flags, got = with_index
    marked = row_io.mark_selection(rows, flags)
    assert list(marked.columns[:5]) == ["dataset", "class", "image", "selected", "index_pick"]
    images = marked.drop_duplicates(["class", "image"]).set_index(["class", "image"])
    assert images.loc[(HM, "00005"), ["selected", "index_pick"]].tolist() == [0, 1]
    assert images.loc[(GB, "00021"), ["selected", "index_pick"]].tolist() == [1, 1]
    # every table but selection is the one of the 6 dedup picks alone, to the byte
    for name in tables.TABLES:
        if name != "selection":
            assert row_io.format_table(got[name]) == row_io.format_table(built[name]), name
    d = got["describe"]
    assert row(d, method="ritm")["count"] == 6
    assert row(d, method="ritm")["mean"] == pytest.approx(sum(RITM_KEPT) / 6, abs=1e-12)
    assert row(d, method="sam:max_score")["mean"] == pytest.approx(sum(SAM_MAX_SCORE) / 6)
    # the curves figure's table uses the same images as the mIoU table
    curve = tables.curve_table(marked, settings())
    assert set(curve["n"]) == {6}


def test_selection_table_by_hand(with_index):
    _, _, got = with_index
    sel = got["selection"]
    assert list(sel.columns) == tables.SELECTION_TABLE_COLUMNS
    # the study view only (no sam:oracle), (all) first within each method
    assert sel[["protocol", "method", "class"]].values.tolist() == [
        ["first_click", "sam:max_score", study.ALL],
        ["first_click", "sam:max_score", GB],
        ["first_click", "sam:max_score", HM],
        ["noc", "ritm", study.ALL],
        ["noc", "ritm", GB],
        ["noc", "ritm", HM],
    ]
    # kept IoU of the index picks. RITM: HM 00001 0.95, HM 00005 0.60 (loop ended at click 2),
    # GB 00001 0.91 (click 4), GB 00009 0.91, GB 00021 0.87 (click 4).
    # SAM max_score: HM 00001 0.60, HM 00005 0.30, GB 00001 0.93, GB 00009 0.70, GB 00021 0.88
    expected = {
        ("ritm", study.ALL): (6, 5.30 / 6, 5, (0.95 + 0.60 + 0.91 + 0.91 + 0.87) / 5, 1, 2, 3),
        ("ritm", HM): (3, (0.95 + 0.92 + 0.70) / 3, 2, (0.95 + 0.60) / 2, 1, 1, 1),
        ("ritm", GB): (3, (0.91 + 0.87 + 0.95) / 3, 3, (0.91 + 0.91 + 0.87) / 3, 0, 1, 2),
        ("sam:max_score", study.ALL): (
            6,
            sum(SAM_MAX_SCORE) / 6,
            5,
            (0.60 + 0.30 + 0.93 + 0.70 + 0.88) / 5,
            1,
            2,
            3,
        ),
        ("sam:max_score", HM): (3, (0.60 + 0.85 + 0.10) / 3, 2, (0.60 + 0.30) / 2, 1, 1, 1),
        ("sam:max_score", GB): (3, (0.93 + 0.88 + 0.40) / 3, 3, (0.93 + 0.70 + 0.88) / 3, 0, 1, 2),
    }
    for (method, cls), (dn, dm, n, m, fill, not_rep, both) in expected.items():
        r = row(sel, method=method, **{"class": cls})
        assert (r["dedup_n"], r["index_n"], r["both_n"]) == (dn, n, both), (method, cls)
        assert r["index_rotation_fill"] == fill and r["index_not_representative"] == not_rep
        assert r["dedup_mean_iou"] == pytest.approx(dm, abs=1e-12)
        assert r["index_mean_iou"] == pytest.approx(m, abs=1e-12)
        assert r["index_minus_dedup"] == pytest.approx(m - dm, abs=1e-12)
    # 0.848 - 0.883333 and 0.682 - 0.626667, written to 6 significant digits
    text = row_io.format_table(sel)
    assert "\t-0.0353333\n" in text and "\t0.0553333\n" in text


def test_selection_without_dedup_tables_counts_every_row_as_selected(built):
    sel = built["selection"]
    assert (sel["dedup_n"] == [6, 3, 3, 6, 3, 3]).all() and (sel["index_n"] == 0).all()
    assert sel["index_mean_iou"].isna().all() and sel["index_rotation_fill"].isna().all()


def test_rows_without_a_dedup_row_are_an_error(with_index):
    rows, flags, _ = with_index
    with pytest.raises(ValueError, match="no dedup row"):
        row_io.mark_selection(rows, flags[flags["image"] != "00009"])
    with pytest.raises(ValueError, match="listed twice"):
        row_io.selection_flags([dedup_tables()[HM], dedup_tables()[HM]])


def test_aggregate_and_summary_scripts_with_dedup_tables(tmp_path):
    paths = [str(p) for p in write_per_image(tmp_path, rows_with_index_picks())]
    dedup_paths = []
    for cls, t in dedup_tables().items():
        path = tmp_path / "dedup" / f"{cls.replace(' ', '_')}.tsv"
        dedup.write_table(t, path)
        dedup_paths.append(str(path))
    out = aggregate_outputs(tmp_path / "tables", (*tables.TABLES, *protocol_tables.TABLES))
    params = {"dataset": "fish", "metrics": METRICS, "protocols": PROTOCOLS, "models": MODELS}
    inputs = {"rows": paths, "dedup": dedup_paths, "timing": []}
    run_script("aggregate.py", tmp_path, inputs, out, params)
    per_image = row_io.load_per_image(out["per_image"])
    # example_figures reads the per-image TSVs as aggregate does instead of waiting for it
    marked, flags = row_io.read_marked_rows(paths, "fish", dedup_paths)
    assert len(flags) == len(DEDUP)
    pd.testing.assert_frame_equal(marked, per_image, check_exact=False, rtol=1e-5)
    assert (marked["selected"] == 0).any()  # the index-only images are there, not selected
    assert list(per_image.columns[:5]) == ["dataset", "class", "image", "selected", "index_pick"]
    assert set(per_image.loc[per_image["selected"] == 0, "image"]) == {"00005", "00009"}
    d = row_io.read_table(out["describe"])
    assert row(d, method="ritm")["count"] == 6
    sel = row_io.read_table(out["selection"])
    overall = row(sel, method="ritm", **{"class": study.ALL})
    assert overall["index_n"] == 5 and overall["index_mean_iou"] == pytest.approx(0.848)

    inputs = {name: out[name] for name in tables.TABLES}
    md = tmp_path / "summary.md"
    run_script("summary.py", tmp_path, inputs, {"summary": str(md)}, {"dataset": "fish"})
    text = md.read_text()
    assert "## Dedup vs the study's index rule" in text
    assert (
        "- ritm (noc): 0.883 over 6 dedup picks, 0.848 over 5 index picks (1 rotated with black "
        "fill, 2 not their group's representative, 3 in both selections): index minus dedup "
        "-0.035." in text
    )
    # without the selection table the summary still builds, without the paragraph
    del inputs["selection"]
    run_script("summary.py", tmp_path, inputs, {"summary": str(md)}, {"dataset": "fish"})
    assert "index rule" not in md.read_text()


# ---------------------------------------------------------------- the protocols beyond the study
from clickbench import protocol_tables, stats  # noqa: E402


def loop_rows(cls, image, protocol, model, curve, trial=0, first=1):
    """One loop's rows: IoU ``curve``, boundary IoU half of it, clicks from ``first``."""
    return [
        dict(
            zip(
                row_io.ROW_COLUMNS,
                [cls, image, protocol, model, "max_score", trial, first + k, iou, iou / 2, iou]
                + [1.0, 0, 0, 1, 10 + k, 20 + k],
                strict=True,
            )
        )
        for k, iou in enumerate(curve)
    ]


BEYOND_PROTOCOLS = {
    "noc": {"models": ["sam", "ritm"], "max_clicks": 3},
    "first_click": {"models": ["sam"]},
    "box": {"models": ["sam", "ritm"], "max_clicks": 1, "jitter": 0.0, "seed": 0},
    "random_clicks": {"models": ["sam"], "max_clicks": 3, "trials": 2, "margin": 0, "seed": 0},
}


def beyond_rows():
    rows = []
    noc = {"1": [0.5, 0.86, 0.95], "2": [0.9, 0.92, 0.96]}
    for image, curve in noc.items():
        rows += loop_rows("A", image, "noc", "sam", curve)
        rows += loop_rows("A", image, "first_click", "sam", curve[:1])
    rows += loop_rows("A", "1", "noc", "ritm", [0.7, 0.9, 0.91])
    rows += loop_rows("A", "2", "noc", "ritm", [0.8, 0.86, 0.88])
    rows += loop_rows("A", "1", "box", "sam", [0.8, 0.9], first=0)
    rows += loop_rows("A", "2", "box", "sam", [0.6, 0.95], first=0)
    trials = {
        ("1", 0): [0.4, 0.9, 0.95],
        ("1", 1): [0.3, 0.5, 0.86],
        ("2", 0): [0.91],  # a loop that ended early carries its last IoU
        ("2", 1): [0.5, 0.6, 0.7],
    }
    for (image, trial), curve in trials.items():
        rows += loop_rows("A", image, "random_clicks", "sam", curve, trial=trial)
    return row_io.typed(pd.DataFrame(rows, columns=row_io.ROW_COLUMNS))


@pytest.fixture
def beyond():
    s = study.Settings.from_config(
        {"iou_thresholds": [0.85, 0.9], "miou_at": [1, 2, 3]}, BEYOND_PROTOCOLS, MODELS
    )
    plan = protocol_tables.Plan.from_config(BEYOND_PROTOCOLS)
    return protocol_tables.build_tables(beyond_rows(), s, plan), s


def test_trials_by_hand(beyond):
    built, _ = beyond
    t = row(built["trials"], protocol="random_clicks", method="sam", **{"class": study.ALL})
    assert (t["n"], t["trials"], t["max_clicks"]) == (2, 2, 3)
    # NoC@85 per loop: image 1: 2 (trial 0), 3 (trial 1); image 2: 1, never -> 3.
    # dataset-level per trial: 1.5, 3.0
    assert t["noc@85"] == pytest.approx(2.25)
    assert t["noc@85_sd"] == pytest.approx(sample_std([1.5, 3.0]))
    assert (t["noc@85_min"], t["noc@85_max"]) == (1.5, 3.0)
    assert t["noc@85_image_sd"] == pytest.approx((sample_std([2, 3]) + sample_std([1, 3])) / 2)
    # the simulator (noc) on the same images within 3 clicks: 2 and 1
    assert t["noc@85_simulator"] == pytest.approx(1.5)
    assert t["nof@85"] == pytest.approx(0.5)  # trial 1: image 2 never reaches 0.85
    # NoC@90: image 1: 2, never; image 2: 1, never -> per trial 1.5, 3; NoF 0 and 2
    assert t["noc@90"] == pytest.approx(2.25) and t["nof@90"] == pytest.approx(1.0)
    assert t["noc@90_simulator"] == pytest.approx((3 + 1) / 2)
    per = built["trials_per_image"]
    one = row(per, image="1")
    assert one["noc@85_mean"] == 2.5 and one["noc@85_sd"] == pytest.approx(sample_std([2, 3]))


def test_prompts_box_vs_first_click_vs_k_clicks(beyond):
    built, _ = beyond
    p = built["prompts"]
    sam = p[(p["method"] == "sam") & (p["class"] == study.ALL)]
    got = [(r.prompt, r.clicks, round(r.miou, 6)) for r in sam.itertuples()]
    assert got == [
        ("box", 0, 0.7),
        ("box", 1, 0.925),
        ("first_click", 1, 0.7),
        ("clicks", 1, 0.7),
        ("clicks", 2, 0.89),
        ("clicks", 3, 0.955),
    ]
    assert sam["mbiou"].tolist() == pytest.approx((sam["miou"] / 2).tolist())
    # RITM was configured for box but takes none: one "not applicable" row, no number
    na = row(p, method="ritm", prompt="box")
    assert na["n"] == 0 and np.isnan(na["miou"]) and "not applicable" in na["note"]


def test_boundary_table_is_the_miou_table_of_boundary_iou(beyond):
    built, s = beyond
    b = row(built["boundary"], protocol="noc", method="sam", **{"class": study.ALL})
    assert [b[f"mbiou@{k}"] for k in (1, 2, 3)] == pytest.approx([0.35, 0.445, 0.4775])


def test_protocol_paired_is_holm_corrected(beyond):
    built, _ = beyond
    pp = built["protocol_paired"]
    assert pp["comparison"].tolist() == [
        "box_vs_first_click",
        "random_clicks_vs_simulator",
        "random_clicks_vs_simulator",
    ]
    box = row(pp, comparison="box_vs_first_click")
    assert box["mean_diff"] == pytest.approx(((0.8 - 0.5) + (0.6 - 0.9)) / 2, abs=1e-12)
    assert box["a"] == "box/sam" and box["b"] == "first_click/sam"
    r85 = row(pp, measure="noc@85")
    assert r85["mean_diff"] == pytest.approx(((2.5 - 2) + (2 - 1)) / 2)
    r90 = row(pp, measure="noc@90")
    assert r90["mean_diff"] == pytest.approx(((2.5 - 3) + (2 - 1)) / 2)
    np.testing.assert_allclose(pp["holm_p"], stats.holm(pp["wilcoxon_p"]))
    m = int(pp["wilcoxon_p"].notna().sum())
    assert all(f"Holm-corrected over the {m} tests" in n for n in pp["note"])


def test_study_tables_ignore_the_other_protocols(beyond):
    """The study's tables are the same bytes with or without the rows of the new protocols."""
    rows = beyond_rows()
    s = beyond[1]
    alone = tables.build_tables(rows[rows["protocol"].isin(study.STUDY_PROTOCOLS)], s)
    mixed = tables.build_tables(rows, s)
    for name in tables.TABLES:
        assert row_io.format_table(alone[name]) == row_io.format_table(mixed[name]), name


def test_timing_table(tmp_path):
    from clickbench.runner import TIMING_COLUMNS

    lines = ["\t".join(TIMING_COLUMNS)]
    lines += [
        "A\t1\tsam\tcpu\t\t\t0\tencode\t2.0",
        "A\t1\tsam\tcpu\tnoc\tmax_score\t1\tpredict\t0.1",
        "A\t1\tsam\tcpu\tnoc\tmax_score\t2\tpredict\t0.3",
        "A\t2\tsam\tcpu\t\t\t0\tcache_load\t0.01",
        "A\t2\tsam\tcpu\tbox\tmax_score\t1\tpredict\t0.2",
        "A\t3\tsam\tcpu\t\t\t0\tcache_load\t0.03",
        "A\t3\tsam\tcpu\t\t\t0\tbatch_encode\t4.0",
    ]
    (tmp_path / "t.tsv").write_text("\n".join(lines) + "\n")
    t = protocol_tables.timing_table([tmp_path / "t.tsv"])
    r = row(t, model="sam")
    assert (r["device"], r["images"], r["encoded"], r["calls"]) == ("cpu", 3, 2, 3)
    assert r["encode_s_mean"] == pytest.approx(3.0) and r["encode_s_median"] == 3.0
    assert r["cache_load_s_mean"] == pytest.approx(0.02)
    assert r["call_s_mean"] == pytest.approx(0.2) and r["call_s_median"] == pytest.approx(0.2)


def test_aggregate_and_summary_scripts_write_the_new_tables(tmp_path):
    from clickbench.runner import TIMING_COLUMNS

    paths = [str(p) for p in write_per_image(tmp_path, beyond_rows().to_dict("records"))]
    timing = tmp_path / "timing" / "sam.tsv"
    timing.parent.mkdir()
    timing.write_text(
        "\t".join(TIMING_COLUMNS) + "\nA\t1\tsam\tcpu\t\t\t0\tencode\t2.5\n"
        "A\t1\tsam\tcpu\tnoc\tmax_score\t1\tpredict\t0.125\n"
    )
    names = (*tables.TABLES, *protocol_tables.TABLES)
    out = {name: str(tmp_path / "tables" / f"{name}.tsv") for name in names}
    out["per_image"] = str(tmp_path / "tables" / "per_image.tsv")
    out["timing"] = str(tmp_path / "timing.tsv")
    models = {"sam": {"type": "sam"}, "ritm": {"type": "ritm"}}
    metrics_ = {"iou_thresholds": [0.85, 0.9], "miou_at": [1, 2, 3]}
    params = {"dataset": "d", "metrics": metrics_, "protocols": BEYOND_PROTOCOLS, "models": models}
    inputs = {"rows": paths, "dedup": all_selected_dedup(tmp_path, paths), "timing": [str(timing)]}
    run_script("aggregate.py", tmp_path, inputs, out, params)
    trials = row_io.read_table(out["trials"])
    assert row(trials, method="sam", **{"class": study.ALL})["noc@85"] == pytest.approx(2.25)
    t = row_io.read_table(out["timing"])
    assert t[["model", "device", "encoded", "calls"]].values.tolist() == [["sam", "cpu", 1, 1]]
    md = tmp_path / "summary.md"
    inputs = {name: out[name] for name in names} | {"timing": out["timing"]}
    run_script("summary.py", tmp_path, inputs, {"summary": str(md)}, {"dataset": "d"})
    text = md.read_text()
    assert "## Box vs first click vs k clicks" in text
    assert "| sam | box | 0 | 2 | 0.700 | 0.350 |  |" in text
    assert (
        "| ritm | box | 0 | 0 | NA | NA | not applicable: the model takes no box prompt |" in text
    )
    assert "| random_clicks | sam | 2 | 2 | 2.25 ± 1.06 | 2.25 ± 1.06 | 1.50 | 2.00 |" in text
    assert "Holm-corrected over the 3 tests" in text
    assert "## Boundary IoU" in text and "| noc | sam | 2 | 0.350 | 0.445 | 0.477 |" in text
    assert "| sam | cpu | 1 | 1 | 2.500 | 1 | 0.125 |" in text

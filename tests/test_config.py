"""Config validation: every shipped config is valid; a wrong key or value is named."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from conftest import REPO, TEST_CONFIG, snakemake, write_config

from clickbench.config import ConfigError, load, validate

SHIPPED = sorted((REPO / "config").glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_configs_are_valid(path):
    cfg = load(path)
    assert cfg["dataset"]["name"]


def test_defaults_are_filled():
    cfg = validate(TEST_CONFIG)
    assert cfg["on_bad_input"] == "error"
    assert cfg["protocols"]["noc"]["target_iou"] is None
    assert cfg["dedup"]["index_step"] == 20


def test_unknown_top_level_key_is_named():
    cfg = {**TEST_CONFIG, "on_bad_inputs": "skip"}
    with pytest.raises(ConfigError, match=r"unknown key\(s\) 'on_bad_inputs'"):
        validate(cfg)


def test_unknown_nested_key_is_named_with_its_path():
    cfg = copy.deepcopy(TEST_CONFIG)
    cfg["models"]["sam_tiny"]["selections"] = ["oracle"]
    with pytest.raises(ConfigError, match=r"models\.sam_tiny: unknown key\(s\) 'selections'"):
        validate(cfg)


def test_bad_value_is_named():
    cfg = copy.deepcopy(TEST_CONFIG)
    cfg["models"]["sam_tiny"]["selection"] = ["best"]
    with pytest.raises(ConfigError, match=r"models\.sam_tiny\.selection\.0: 'best' is not one of"):
        validate(cfg)


def test_protocol_naming_an_undefined_model_is_an_error():
    cfg = copy.deepcopy(TEST_CONFIG)
    cfg["protocols"]["first_click"]["models"] = ["sam_huge"]
    with pytest.raises(ConfigError, match="model 'sam_huge' is not defined"):
        validate(cfg)


def test_replay_source_must_run_noc():
    cfg = copy.deepcopy(TEST_CONFIG)
    cfg["protocols"]["noc"]["models"] = ["grabcut", "sam_tiny"]
    with pytest.raises(ConfigError, match="'ritm_tiny' must also run in protocols.noc"):
        validate(cfg)


def test_load_names_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**TEST_CONFIG, "devices": "cpu"}))
    with pytest.raises(ConfigError, match=f"{bad}: .*'devices'"):
        load(bad)


@pytest.mark.workflow
def test_workflow_stops_at_startup_naming_the_key(tmp_path):
    cfg = copy.deepcopy(TEST_CONFIG)
    cfg["dedup"]["methods"] = "phash"
    path = write_config(tmp_path, cfg)
    proc = snakemake(tmp_path, "-n", "--cores", "1", configfile=path, check=False)
    assert proc.returncode != 0
    err = proc.stdout + proc.stderr
    assert "invalid configuration" in err and "dedup: unknown key(s) 'methods'" in err
    assert "Traceback" not in err
    assert not (Path(tmp_path) / "results").exists()


def test_a_partial_block_gets_the_schemas_defaults():
    """config.with_defaults gives library code called with a partial block the schema's
    values, at any depth, and keeps what the block sets."""
    from clickbench import config as cbconfig

    schema = cbconfig.load_schema()
    dedup = cbconfig.with_defaults("dedup", {})
    props = schema["properties"]["dedup"]["properties"]
    assert dedup == {k: v["default"] for k, v in props.items() if "default" in v}
    assert dedup["method"] == "phash" and dedup["index_step"] == 20
    demo = cbconfig.with_defaults(("dataset", "demo"), {"copies": 2})
    assert (demo["originals"], demo["copies"], demo["seed"]) == (3, 2, 0)
    assert cbconfig.with_defaults("dataset", {})["images_dir"] == "images"

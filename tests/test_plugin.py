"""`type: python`: a user's factory, and the example under examples/ checked by hand."""

from __future__ import annotations

import copy
import sys

import numpy as np
import pytest
from conftest import REPO

from clickbench.clicks import Click
from clickbench.config import ConfigError, validate
from clickbench.models import registry
from clickbench.models.plugin import PluginError

EXAMPLE = {"type": "python", "factory": "color_model:build", "path": str(REPO / "examples")}


def two_colour_image():
    """A red square on a blue background, with a green stripe through the blue."""
    img = np.zeros((60, 80, 3), dtype=np.uint8)
    img[:] = (20, 40, 200)
    img[:, 70:] = (30, 200, 40)
    img[10:40, 15:45] = (210, 30, 30)
    return img


def test_example_segments_the_clicked_colour():
    model = registry.build({**EXAMPLE, "options": {"radius": 2}})
    model.set_image(two_colour_image())
    pred = model.predict([Click(25, 30, True)])
    square = np.zeros((60, 80), dtype=bool)
    square[10:40, 15:45] = True
    assert pred.masks.shape == (1, 60, 80) and pred.scores.tolist() == [1.0]
    np.testing.assert_array_equal(pred.masks[0], square)
    # a click on the blue background: against the image mean, blue and part of nothing else
    pred = model.predict([Click(50, 5, True)])
    assert pred.masks[0, 50, 5] and not pred.masks[0, 25, 30]
    # a negative click on blue after a positive on green: only the green stripe
    pred = model.predict([Click(30, 75, True), Click(50, 5, False)])
    stripe = np.zeros((60, 80), dtype=bool)
    stripe[:, 70:] = True
    np.testing.assert_array_equal(pred.masks[0], stripe)
    assert not model.predict([Click(50, 5, False)]).masks.any()  # no positive click yet


def test_factory_errors_name_the_problem(tmp_path, monkeypatch):
    # the block is validated first: a factory not of the form module:function is a
    # config error naming the key
    with pytest.raises(ConfigError, match="models.model.factory: 'color_model' does not match"):
        registry.build({"type": "python", "factory": "color_model"})
    with pytest.raises(PluginError, match="cannot import 'no_such_module_x'"):
        registry.build({"type": "python", "factory": "no_such_module_x:build"})
    with pytest.raises(PluginError, match="has no 'nope'"):
        registry.build({**EXAMPLE, "factory": "color_model:nope"})
    with pytest.raises(PluginError, match=f"path '{tmp_path}/absent' is absent: {tmp_path}/absent"):
        registry.build({**EXAMPLE, "path": str(tmp_path / "absent")})
    (tmp_path / "a_file").write_text("")
    with pytest.raises(PluginError, match=f"is not a folder: {tmp_path}/a_file"):
        registry.build({**EXAMPLE, "path": str(tmp_path / "a_file")})
    # a relative path is the working directory's, and the message says which that is
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PluginError, match=rf"'examples' is absent: {tmp_path}/examples \(a rel"):
        registry.build({**EXAMPLE, "path": "examples"})
    (tmp_path / "not_a_model.py").write_text("def build(spec, **kw):\n    return 42\n")
    monkeypatch.setattr(sys, "path", list(sys.path))
    with pytest.raises(PluginError, match="returned a int, not an InteractiveModel"):
        registry.build({"type": "python", "factory": "not_a_model:build", "path": str(tmp_path)})


def test_config_needs_a_factory_and_checks_its_form():
    base = {"dataset": {"name": "d", "layout": "fish", "root": "x"}, "protocols": {}}
    cfg = {**base, "models": {"m": {"type": "python"}}, "protocols": {"noc": {"models": ["m"]}}}
    with pytest.raises(ConfigError, match="models.m: a python model needs `factory`"):
        validate(cfg)
    cfg["models"]["m"]["factory"] = "not a factory"
    with pytest.raises(ConfigError, match="factory"):
        validate(cfg)
    cfg["models"]["m"] = {**EXAMPLE, "options": {"radius": 3}}
    assert validate(cfg)["models"]["m"]["options"] == {"radius": 3}


@pytest.mark.workflow
def test_workflow_warns_of_a_missing_plugin_folder_when_it_starts(tmp_path):
    """A `python` model whose `path` is not there is named when the run starts (a dry run
    too), with the config key and the resolved folder, not only in its first job; targets
    that need no job of it (here a dry run's plan up to dedup) still go ahead."""
    from conftest import TEST_CONFIG, snakemake, write_config

    cfg = copy.deepcopy(TEST_CONFIG)
    cfg["models"]["color"] = {"type": "python", "factory": "color_model:build", "path": "examples"}
    cfg["protocols"]["noc"]["models"].append("color")
    proc = snakemake(tmp_path, "-n", configfile=write_config(tmp_path, cfg))
    want = "clickbench: config key models.color.path: factory 'color_model:build': path 'examples'"
    assert proc.stderr.count(want) == 1
    assert f"is absent: {tmp_path}/examples" in proc.stderr and "jobs will fail" in proc.stderr
    assert "demo_dataset" in proc.stdout  # (the model jobs follow dedup, a checkpoint)
    (tmp_path / "examples").symlink_to(REPO / "examples")  # there: no warning
    again = snakemake(tmp_path, "-n", configfile=write_config(tmp_path, cfg))
    assert "models.color.path" not in again.stderr

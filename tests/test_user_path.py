"""The commands of README.md and config/README.md, run as typed from the root of a clone.

Scratch-folder runs (``--directory``) hid that ``--configfile`` merged the demo config into
every shipped one; these tests take the user's path instead: a copy of the repository (its
tracked and untracked, not ignored, files: what a clone of this working tree holds) with
``.venv`` pointing at the interpreter running the tests, each command split as a shell
would and run from its root. What a run plans is read from Snakemake's
``--detailed-summary`` table, not from its human-readable log.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import GRABCUT, REPO, link_grabcut, requires_grabcut

pytestmark = [pytest.mark.workflow, pytest.mark.xdist_group("user_path")]

DOCS = ("README.md", "config/README.md", "profiles/README.md")
#: the run configs shipped in config/
SHIPPED = sorted(p.name for p in (REPO / "config").glob("*.yaml"))
BENCHMARK_LAYOUTS = {
    "berkeley.yaml",
    "davis.yaml",
    "coco_mval.yaml",
    "grabcut.yaml",
    "ritm_eval.yaml",
}


def documented_commands() -> set[str]:
    """Every command line the user documents show: lines of fenced code blocks and inline
    code spans that start with ``snakemake``, ``.venv/bin/snakemake`` or ``make``."""
    found = set()
    for doc in DOCS:
        text = (REPO / doc).read_text()
        for block in re.findall(r"```[a-z]*\n(.*?)```", text, re.S):
            for line in block.splitlines():
                line = line.split("  #")[0].strip()
                if re.match(r"(\.venv/bin/)?snakemake\s|make \w", line):
                    found.add(line)
        for span in re.findall(r"`([^`]+)`", re.sub(r"```.*?```", "", text, flags=re.S)):
            span = " ".join(span.split())
            if re.match(r"(\.venv/bin/)?snakemake\s|make [\w-]+$", span):
                found.add(span)
    return found


#: each documented command, and the test below that runs it exactly as typed
COVERED = {
    "make demo": "test_make_demo",
    "make test": "CI: .ci/run runs it, and it runs this file",
    "make test-fast": "test_make_test_fast_selects_no_workflow_test",
    "make lint": "test_unlock_and_lint",
    ".venv/bin/snakemake --cores 2": "test_demo_command",
    "snakemake --cores 8": "test_demo_command",
    "snakemake --cores 2": "test_demo_command",
    ".venv/bin/snakemake --cores 1 fetch_checkpoints --configfile config/fish.yaml": (
        "test_fetch_checkpoints_needs_no_dataset"
    ),
    "snakemake --cores 1 fetch_checkpoints --configfile config/fish.yaml": (
        "test_fetch_checkpoints_needs_no_dataset"
    ),
    ".venv/bin/snakemake --cores 8 --configfile config/fish.yaml": "test_fish_study_plan",
    ".venv/bin/snakemake --report results/fish/report.html --configfile config/fish.yaml": (
        "test_fish_report_before_results"
    ),
    "snakemake --cores 8 --sdm conda --configfile config/fish.yaml": "test_conda_command",
    ".venv/bin/snakemake --profile profiles/slurm --configfile config/fish.yaml": (
        "test_slurm_profile_plans_the_study"
    ),
    "snakemake --profile profiles/slurm --configfile config/fish.yaml": (
        "test_slurm_profile_plans_the_study"
    ),
    "snakemake --unlock": "test_unlock_and_lint",
    "snakemake --lint": "test_unlock_and_lint",
    "snakemake --cores 1 download_dataset --configfile config/grabcut.yaml": (
        "test_absent_benchmark_plans_only_its_download"
    ),
}


def test_every_documented_command_is_covered():
    missing = documented_commands() - set(COVERED)
    assert not missing, f"documented commands no test runs: {sorted(missing)}"
    stale = set(COVERED) - documented_commands()
    assert not stale, f"tests cover commands the docs no longer show: {sorted(stale)}"


# ------------------------------------------------------------------ the clone
def _copy_tree(dst: Path) -> Path:
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, files):
        src = REPO / os.fsdecode(name)
        if src.is_file():
            target = dst / os.fsdecode(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
    (dst / ".venv").symlink_to(Path(sys.prefix))
    # the venv is installed: keep make from reinstalling it (from this copy) into the
    # interpreter running the tests, as it would if pyproject.toml looked newer
    os.utime(dst / "pyproject.toml", (0, 0))
    return dst


@pytest.fixture
def clone(tmp_path):
    """A fresh copy of the repository, as `git clone` of this working tree would give."""
    return _copy_tree(tmp_path / "clickbench")


def run(command: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    """``command`` as a shell splits it, from ``cwd``, with the clone's venv on PATH (as
    after ``source .venv/bin/activate``, for the commands typed as plain ``snakemake``)."""
    env = {**os.environ, "PATH": f"{cwd / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    env.pop("PYTHONPATH", None)
    return subprocess.run(
        shlex.split(command), cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
    )


def ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, (
        f"{proc.args} failed ({proc.returncode})\n--- stdout ---\n{proc.stdout[-4000:]}\n"
        f"--- stderr ---\n{proc.stderr[-6000:]}"
    )
    return proc


def plan(command: str, cwd: Path) -> list[dict]:
    """The rows of Snakemake's ``--detailed-summary`` for ``command``: one per output file
    of the DAG it would build, with its rule, input files and whether it is to be made."""
    proc = ok(run(f"{command} --detailed-summary", cwd))
    text = proc.stdout[proc.stdout.index("output_file\t") :]
    return list(csv.DictReader(io.StringIO(text), delimiter="\t"))


def rules_of(rows: list[dict], pending_only: bool = True) -> set[str]:
    return {r["rule"] for r in rows if not pending_only or r["plan"] != "no update"}


def models_of(rows: list[dict]) -> set[str]:
    """The models whose per-image results the plan writes (``runs/<protocol>/<model>/``)."""
    return {m for r in rows for m in re.findall(r"/runs/(?!\.)[^/]+/([^/]+)/", r["output_file"])}


def protocols_of(rows: list[dict]) -> set[str]:
    return {m for r in rows for m in re.findall(r"/runs/((?!\.)[^/]+)/[^/]+/", r["output_file"])}


def dataset_inputs(rows: list[dict]) -> set[str]:
    return {
        f
        for r in rows
        for f in r["input-file(s)"].split(",")
        if f.startswith("resources/datasets/")
    }


def shipped(name: str) -> dict:
    return yaml.safe_load((REPO / "config" / name).read_text())


def place_checkpoints(clone: Path, config_name: str) -> None:
    """Put a file at every checkpoint path the config names (a dry run checks presence
    only), so the plan shows every configured model, optional ones included."""
    for spec in shipped(config_name)["models"].values():
        ckpt = spec.get("checkpoint")
        if ckpt and "generate" not in ckpt:
            path = clone / ckpt["path"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"")


def make_fish_dataset(clone: Path) -> Path:
    """A small dataset in the Kaggle fish layout at the fish config's root."""
    sys.path.insert(0, str(REPO / "src"))
    from clickbench import demo

    root = clone / shipped("fish.yaml")["dataset"]["root"]
    demo.generate_from_config(
        root, {"seed": 0, "species": ["Shrimp", "Gilt-Head Bream"], "originals": 2, "copies": 2}
    )
    (root.parent / "manifest.tsv").unlink()  # a download has none
    return root


def benchmark_from_grabcut(clone: Path, config_name: str, n: int = 3) -> Path:
    """The first ``n`` GrabCut photos in the layout ``config_name`` reads, at its root."""
    from PIL import Image

    cfg = shipped(config_name)["dataset"]
    root = clone / cfg["root"]
    layout = cfg["layout"]
    images = sorted(GRABCUT.glob("data_GT/*"))[:n]
    if layout == "grabcut":
        root.parent.mkdir(parents=True, exist_ok=True)
        root.symlink_to(GRABCUT)
        return root
    img_dir, gt_dir = ("images", "masks") if layout == "berkeley" else ("img", "gt")
    (root / img_dir).mkdir(parents=True)
    (root / gt_dir).mkdir(parents=True)
    for image in images:
        Image.open(image).convert("RGB").save(root / img_dir / f"{image.stem}.jpg")
        mask = Image.open(GRABCUT / "boundary_GT" / f"{image.stem}.bmp").convert("L")
        mask.point(lambda v: 255 if v > 128 else 0).save(root / gt_dir / f"{image.stem}.png")
    return root


def run_dedup(clone: Path, configfile: str) -> None:
    """Dedup is a checkpoint: until it has run, a dry run cannot show the model jobs."""
    ok(run(f".venv/bin/snakemake --cores 2 --configfile {configfile} --until dedup", clone))


# ------------------------------------------------------------------ the demo
@pytest.mark.xdist_group("make_demo")
def test_make_demo(clone):
    """README's first command, from the root of a clone: the whole demo, its report, and a
    second run with nothing to do."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    proc = ok(run("make demo", clone, timeout=1200))
    res = clone / "results" / "demo"
    demo = shipped("config.yaml")
    for name in (
        "summary.md",
        "report.html",
        "tables/noc.tsv",
        "figures/grid.png",
        "browser/index.html",
    ):
        assert (res / name).is_file(), name
    noc = pd.read_csv(res / "tables" / "noc.tsv", sep="\t")
    methods = {m.split(":")[0] for m in noc["method"]}  # SAM-family: <model>:<strategy>
    assert methods == set(demo["protocols"]["noc"]["models"]) - {"sam_vit_b", "ritm_h18s"}
    assert f"{demo['dataset']['root']}" in (res / "provenance.yaml").read_text()
    summary = (res / "summary.md").read_text()  # the box and trial protocols' rows are in it
    for heading in ("## Box vs first click vs k clicks", "## Random and perturbed clicks"):
        assert heading in summary
    assert "No box-protocol results" not in summary
    assert "No random_clicks or perturbed results" not in summary
    again = ok(run(".venv/bin/snakemake -n", clone))
    assert "Nothing to be done" in again.stdout + again.stderr, proc.stdout[-2000:]


def test_demo_command(clone):
    """Without a config file the demo config is the run: its generator, its models."""
    for command in (".venv/bin/snakemake --cores 2", "snakemake --cores 2", "snakemake --cores 8"):
        proc = ok(run(f"{command} -n", clone))
        assert "demo_dataset" in proc.stdout
    rows = plan(".venv/bin/snakemake --cores 2", clone)
    assert {"demo_dataset", "checkpoint_sam_tiny", "checkpoint_ritm_tiny"} <= rules_of(rows)
    demo = shipped("config.yaml")
    # sam_vit_b and ritm_h18s are optional there: absent, each is skipped with one warning
    proc = run(".venv/bin/snakemake --cores 2 -n", clone)
    for name in ("sam_vit_b", "ritm_h18s"):
        assert demo["models"][name]["optional"] is True
        assert proc.stderr.count(f"model {name!r} skipped") == 1


def test_config_override_applies_over_the_demo(clone):
    """`--config key=value` still overrides the demo config when no file is given."""
    rows = plan(".venv/bin/snakemake --cores 2 --config 'dataset={name: mine}'", clone)
    outputs = {r["output_file"] for r in rows if r["rule"] == "summary"}
    assert outputs == {"results/mine/summary.md"}
    # merged into the demo's dataset block, not replacing it: still the demo generator
    assert "demo_dataset" in rules_of(rows)


# ------------------------------------------------------------------ shipped configs
@pytest.mark.parametrize("name", sorted(set(SHIPPED) - {"config.yaml"}))
def test_shipped_config_without_its_data(clone, name):
    """Nothing of the demo leaks in: a benchmark with a URL plans its download only; the
    fish dataset (a Kaggle page, needs an account) stops with how to get it."""
    command = f".venv/bin/snakemake -n --configfile config/{name}"
    proc = run(command, clone)
    assert "demo" not in proc.stdout.lower() + proc.stderr.lower()
    cfg = shipped(name)
    if name == "fish.yaml":
        said = proc.stdout + proc.stderr
        assert proc.returncode != 0
        assert f"dataset.root {cfg['dataset']['root']!r} does not exist" in said
        assert "kaggle datasets download -d crowww/a-large-scale-fish-dataset" in said
        return
    ok(proc)
    assert rules_of(plan(command, clone)) == {"download_dataset"}


@requires_grabcut()
@pytest.mark.parametrize("name", sorted(BENCHMARK_LAYOUTS & set(SHIPPED)))
def test_benchmark_config_plans_exactly_its_dataset_models_and_protocols(clone, name):
    cfg = shipped(name)
    root = benchmark_from_grabcut(clone, name)
    place_checkpoints(clone, name)
    run_dedup(clone, f"config/{name}")
    command = f".venv/bin/snakemake -n --configfile config/{name}"
    proc = ok(run(command, clone))
    assert "skipped" not in proc.stderr  # every configured model runs, none inherited
    rows = plan(command, clone)
    assert "demo_dataset" not in rules_of(rows, pending_only=False)
    assert models_of(rows) == set(cfg["models"])
    assert protocols_of(rows) == set(cfg["protocols"])
    inputs = dataset_inputs(rows)
    assert inputs and all(f.startswith(cfg["dataset"]["root"] + "/") for f in inputs)
    images = {p.stem for p in root.glob("*/*") if p.parent.name in ("data_GT", "images", "img")}
    planned = {Path(r["output_file"]).stem for r in rows if "/runs/noc/" in r["output_file"]}
    assert planned == images


@requires_grabcut()
def test_ritm_eval_preset_runs_as_its_file_says(clone):
    """config/ritm_eval.yaml's two commands, from the clone root: the fetch plans RITM
    HRNet18's download; the run (a random RITM in the real checkpoint format at the
    preset's path, 3 GrabCut photos) reports NoC@80/85/90 with every loop stopped at
    IoU 0.90 or after 20 clicks, as RITM's evaluate_model.py does."""
    from clickbench.models.registry import make_tiny_checkpoint

    cfg = shipped("ritm_eval.yaml")
    ckpt = cfg["models"]["ritm_h18"]["checkpoint"]
    fetch = "snakemake --cores 1 fetch_checkpoints --configfile config/ritm_eval.yaml"
    rows = plan(fetch, clone)
    assert {r["output_file"] for r in rows if r["plan"] != "no update"} == {ckpt["path"]}
    link_grabcut(clone / cfg["dataset"]["root"], ("124080", "153077", "banana1"))
    make_tiny_checkpoint("ritm", clone / ckpt["path"])
    ok(run("snakemake --cores 8 --configfile config/ritm_eval.yaml", clone, timeout=900))
    tables = clone / "results" / cfg["dataset"]["name"] / "tables"
    noc = pd.read_csv(tables / "noc.tsv", sep="\t")
    assert {"noc@80", "noc@85", "noc@90", "nof@90"} <= set(noc.columns)
    assert set(noc["method"]) == {"ritm_h18"}
    rows = pd.read_csv(tables / "per_image.tsv", sep="\t", dtype={"image": str})
    for _, loop in rows.groupby(["image", "protocol", "model", "strategy"]):
        ious = loop.sort_values("click")["iou"].to_numpy()
        assert len(ious) == 20 or (ious[-1] >= 0.90 and (ious[:-1] < 0.90).all())


def test_absent_benchmark_plans_only_its_download(clone):
    for command in (
        "snakemake --cores 1 download_dataset --configfile config/grabcut.yaml",
        ".venv/bin/snakemake -n --configfile config/grabcut.yaml",
    ):
        assert rules_of(plan(command, clone)) == {"download_dataset"}
        assert "download_dataset" in ok(run(f"{command} -n", clone)).stdout


def test_fetch_checkpoints_needs_no_dataset(clone):
    """The study's weights can be fetched before its dataset is there."""
    fish = shipped("fish.yaml")
    for command in (
        ".venv/bin/snakemake --cores 1 fetch_checkpoints --configfile config/fish.yaml",
        "snakemake --cores 1 fetch_checkpoints --configfile config/fish.yaml",
    ):
        rows = plan(command, clone)
        wanted = {str(m["checkpoint"]["path"]) for m in fish["models"].values()}
        assert {r["output_file"] for r in rows if r["plan"] != "no update"} == wanted
        ok(run(f"{command} -n", clone))


def test_fish_study_plan(clone):
    """The study's own command plans the study: the fish root, RITM and SAM vit_h (RITM is
    not optional there: its checkpoint is fetched), its three protocols, chunked jobs."""
    fish = shipped("fish.yaml")
    make_fish_dataset(clone)
    run_dedup(clone, "config/fish.yaml")
    command = ".venv/bin/snakemake --cores 8 --configfile config/fish.yaml"
    proc = ok(run(f"{command} -n", clone))
    assert "skipped" not in proc.stderr
    rows = plan(command, clone)
    assert "demo_dataset" not in rules_of(rows, pending_only=False)
    assert models_of(rows) == set(fish["models"]) == {"ritm_h18s", "sam_vit_h"}
    assert protocols_of(rows) == set(fish["protocols"])
    assert {
        f"checkpoint_{Path(m['checkpoint']['path']).stem}" for m in fish["models"].values()
    } <= (rules_of(rows))
    assert {"chunk_ritm_h18s", "chunk_sam_vit_h"} <= rules_of(rows)
    assert all(f.startswith(fish["dataset"]["root"] + "/") for f in dataset_inputs(rows))


def test_fish_report_before_results(clone):
    """The report is built from a finished run; asked for before, it says what is missing."""
    make_fish_dataset(clone)
    proc = run(
        ".venv/bin/snakemake --report results/fish/report.html --configfile config/fish.yaml",
        clone,
    )
    assert proc.returncode != 0
    said = proc.stdout + proc.stderr
    assert re.search(r"results/fish/\S+ marked for report but does not exist", said)


def test_slurm_profile_plans_the_study(clone):
    make_fish_dataset(clone)
    run_dedup(clone, "config/fish.yaml")
    for command in (
        ".venv/bin/snakemake --profile profiles/slurm --configfile config/fish.yaml",
        "snakemake --profile profiles/slurm --configfile config/fish.yaml",
    ):
        rows = plan(command, clone)
        assert models_of(rows) == set(shipped("fish.yaml")["models"])
        assert "demo_dataset" not in rules_of(rows, pending_only=False)


def test_conda_command(clone):
    command = "snakemake --cores 8 --sdm conda --configfile config/fish.yaml"
    if shutil.which("conda") is None and shutil.which("mamba") is None:
        pytest.skip("conda is not installed here; tests/test_envs.py checks envs/*.yaml")
    make_fish_dataset(clone)
    run_dedup(clone, "config/fish.yaml")
    ok(run(f"{command} -n", clone))


def test_unlock_and_lint(clone):
    ok(run("snakemake --unlock", clone))
    ok(run("snakemake --lint", clone))
    if shutil.which("make"):
        ok(run("make lint", clone))


def test_make_test_fast_selects_no_workflow_test(clone):
    """`make test-fast` is the edit-test loop: it deselects every workflow and SLURM test
    (each test that starts Snakemake is marked `workflow`: tests/conftest.py's helpers)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    recipe = ok(run("make -n test-fast", clone)).stdout
    assert '-m "not workflow and not slurm"' in recipe
    selected = ok(
        run(
            ".venv/bin/python -m pytest --collect-only -q -p no:cacheprovider "
            '-m "not workflow and not slurm"',
            clone,
        )
    ).stdout
    assert "test_user_path.py" not in selected and "test_workflow.py" not in selected
    assert "test_clicks.py" in selected


# ------------------------------------------------------------------ other config files
def test_config_file_outside_the_repository(clone, tmp_path):
    """A config kept elsewhere is the whole run too; `--config` overrides it."""
    outside = tmp_path / "elsewhere" / "mine.yaml"
    outside.parent.mkdir()
    root = benchmark_from_grabcut(clone, "berkeley.yaml") if GRABCUT.is_dir() else None
    if root is None:
        pytest.skip(f"needs the GrabCut photos at {GRABCUT}")
    outside.write_text(
        yaml.safe_dump(
            {
                "dataset": {"name": "mine", "layout": "berkeley", "root": str(root)},
                "dedup": {"method": "none"},
                "models": {"grabcut": {"type": "grabcut"}},
                "protocols": {"noc": {"models": ["grabcut"], "max_clicks": 2}},
            }
        )
    )
    run_dedup(clone, str(outside))
    rows = plan(f".venv/bin/snakemake --configfile {outside}", clone)
    assert models_of(rows) == {"grabcut"} and protocols_of(rows) == {"noc"}
    assert "demo_dataset" not in rules_of(rows, pending_only=False)
    rows = plan(f".venv/bin/snakemake --configfile {outside} --config chunk_size=3", clone)
    assert models_of(rows) == {"grabcut"}


def test_profile_configfile_is_the_whole_run(clone):
    """A profile's `configfile:` replaces the demo as a `--configfile` does."""
    profile = clone / "profiles" / "mine"
    profile.mkdir()
    (profile / "config.yaml").write_text("configfile: config/grabcut.yaml\ncores: 1\n")
    rows = plan(".venv/bin/snakemake --profile profiles/mine", clone)
    assert rules_of(rows) == {"download_dataset"}

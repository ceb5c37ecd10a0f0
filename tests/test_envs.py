"""The per-rule conda environments (envs/*.yaml) hold what their rules import.

CI runs without `--sdm conda`, so nothing else would notice an env missing a package. For
every rule with `script:`, the script's imports, and those of the clickbench modules it
imports (transitively, read with ast), must be provided by the env its `conda:` names. A
model env must also provide its model modules (imported lazily through the registry).
"""

from __future__ import annotations

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
ENVS = ROOT / "envs"
SRC = ROOT / "src"

#: modules an env runs besides its scripts' import closure: the model code the registry
#: imports by name (clickbench.models.registry.BUILDERS) for the model types of that env
ENV_MODEL_MODULES = {
    "base.yaml": ["clickbench.models.baselines"],
    "sam.yaml": ["clickbench.models.sam"],
    "ritm.yaml": ["clickbench.models.ritm"],
    "sam2.yaml": ["clickbench.models.sam2"],
    "hq_sam.yaml": ["clickbench.models.hq_sam"],
    "efficientvit_sam.yaml": ["clickbench.models.efficientvit_sam"],
    "models.yaml": [
        "clickbench.models.sam",
        "clickbench.models.ritm",
        "clickbench.models.tiny",
        "clickbench.models.sam2",
        "clickbench.models.hq_sam",
        "clickbench.models.efficientvit_sam",
        "clickbench.checkpoints",
    ],
}

#: import name -> distribution name, where they differ and the package is not installed here
IMPORT_TO_DIST = {
    "cv2": "opencv-python-headless",
    "PIL": "pillow",
    "skimage": "scikit-image",
    "sklearn": "scikit-learn",
    "yaml": "pyyaml",
    "segment_anything": "segment-anything",
    "ritm_annotation": "ritm-annotation",
    "segment_anything_hq": "segment-anything-hq",
    "hydra": "hydra-core",
}

#: provided to every script by snakemake itself (the script preamble's search path)
PROVIDED = {"snakemake"}


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def dist_of(top: str) -> str:
    installed = metadata.packages_distributions().get(top)
    if installed:
        return norm(installed[0])
    return norm(IMPORT_TO_DIST.get(top, top))


# ---------------------------------------------------------------- env files
def env_files() -> list[Path]:
    return sorted(ENVS.glob("*.yaml"))


def env_packages(path: Path) -> dict[str, str | None]:
    """Normalised package name -> pinned version (None when unpinned), conda and pip."""
    spec = yaml.safe_load(path.read_text())
    out: dict[str, str | None] = {}
    for dep in spec.get("dependencies", []):
        if isinstance(dep, dict):
            for item in dep.get("pip", []):
                m = re.match(r"^([A-Za-z0-9_.\-]+)\s*(?:==\s*([^\s;]+))?", item)
                assert m, f"{path.name}: cannot parse pip requirement {item!r}"
                out[norm(m.group(1))] = m.group(2)
        else:
            m = re.match(r"^(?:[\w-]+::)?([A-Za-z0-9_.\-]+)\s*(?:=+\s*([^\s]+))?", str(dep))
            out[norm(m.group(1))] = m.group(2)
    return out


def test_env_files_exist_and_parse():
    names = {p.name for p in env_files()}
    assert {
        "base.yaml",
        "sam.yaml",
        "ritm.yaml",
        "sam2.yaml",
        "hq_sam.yaml",
        "efficientvit_sam.yaml",
        "models.yaml",
    } <= names
    for path in env_files():
        spec = yaml.safe_load(path.read_text())
        assert spec.get("channels"), f"{path.name}: no channels"
        pkgs = env_packages(path)
        assert "python" in pkgs and "pip" in pkgs, path.name


def test_pins_agree_across_envs_and_with_the_tested_install():
    """Every package is pinned, to one version in all envs: the one the tests run with."""
    seen: dict[str, tuple[str, str]] = {}
    for path in env_files():
        for pkg, version in env_packages(path).items():
            if pkg in ("python", "pip"):
                continue
            assert version, f"{path.name}: {pkg} is not pinned"
            if pkg in seen:
                assert seen[pkg][0] == version, (
                    f"{pkg} pinned to {version} in {path.name} but {seen[pkg][0]} in {seen[pkg][1]}"
                )
            seen[pkg] = (version, path.name)
            try:
                installed = metadata.version(pkg)
            except metadata.PackageNotFoundError:
                continue
            assert installed == version, (
                f"{path.name} pins {pkg}=={version} but the tested install has {installed}"
            )


# ---------------------------------------------------------------- imports
def _module_file(module: str) -> Path | None:
    base = SRC.joinpath(*module.split("."))
    for cand in (base.with_suffix(".py"), base / "__init__.py"):
        if cand.exists():
            return cand
    return None


def _imports(path: Path, module: str | None, deep: bool) -> set[str]:
    """Absolute module names imported by a file (module level only unless ``deep``)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    out: set[str] = set()
    package = module if path.name == "__init__.py" else (module or "").rpartition(".")[0]

    def visit(node, in_function: bool):
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(
                child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
            )
            if isinstance(child, (ast.Import, ast.ImportFrom)) and (deep or not in_function):
                if isinstance(child, ast.Import):
                    out.update(a.name for a in child.names)
                else:
                    if child.level:
                        parts = package.split(".") if package else []
                        base = ".".join(parts[: len(parts) - child.level + 1])
                        target = f"{base}.{child.module}" if child.module else base
                    else:
                        target = child.module
                    out.add(target)
                    out.update(f"{target}.{a.name}" for a in child.names)  # submodules
            visit(child, inner)

    visit(tree, False)
    return out


def third_party_imports(script: Path, extra_modules: list[str]) -> dict[str, str]:
    """Third-party top-level import -> the file that imports it, over the closure."""
    found: dict[str, str] = {}
    todo: list[tuple[str | None, Path, bool]] = [(None, script, False)]
    for mod in extra_modules:
        f = _module_file(mod)
        if f is not None:
            todo.append((mod, f, True))
    done: set[tuple[Path, bool]] = set()
    while todo:
        module, path, deep = todo.pop()
        if (path, deep) in done:
            continue
        done.add((path, deep))
        for name in _imports(path, module, deep):
            top = name.split(".")[0]
            if top == "clickbench":
                f = _module_file(name)
                if f is not None:
                    todo.append((name, f, deep and name in extra_modules))
                continue
            if top in sys.stdlib_module_names or top in PROVIDED or top == "__future__":
                continue
            found.setdefault(top, str(path.relative_to(ROOT)))
    return found


def test_import_closure_follows_clickbench_modules():
    closure = third_party_imports(ROOT / "scripts" / "checkpoint.py", ENV_MODEL_MODULES["sam.yaml"])
    assert {"torch", "segment_anything", "numpy", "yaml"} <= set(closure)
    assert "ritm_annotation" not in closure  # tiny's RITM builder imports it lazily


# ---------------------------------------------------------------- rules
def rule_blocks() -> list[tuple[str, str]]:
    """(file name, text of one rule) for every rule in rules/*.smk."""
    blocks = []
    for smk in sorted((ROOT / "rules").glob("*.smk")):
        text = smk.read_text()
        starts = [m.start() for m in re.finditer(r"^\s*rule\b[^\n]*:", text, re.M)]
        bounds = [*starts, len(text)]
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            blocks.append((smk.name, text[a:b]))
    return blocks


def directive(block: str, name: str) -> str | None:
    """Text of one directive of a rule (up to the next directive at the same indent)."""
    m = re.search(rf"^(\s*){name}:\s*\n?(.*?)(?=^\1\w+:|\Z)", block, re.M | re.S)
    return m.group(2) if m else None


def rules_with_scripts() -> list[tuple[str, str, list[str]]]:
    """(rule file, script name, env file names its conda: may name)."""
    out = []
    for fname, block in rule_blocks():
        script = directive(block, "script")
        if script is None:
            continue
        sname = re.search(r"scripts/([\w.-]+\.py)", script).group(1)
        conda = directive(block, "conda") or ""
        envs = re.findall(r"envs/([\w.-]+\.ya?ml)", conda)
        out.append((fname, sname, envs))
    return out


needs_rules = pytest.mark.skipif(not (ROOT / "rules").is_dir(), reason="no rules/ yet")


@needs_rules
def test_every_script_rule_names_an_existing_env():
    found = rules_with_scripts()
    assert found, "no rule with script: found"
    for fname, script, envs in found:
        assert envs, f"{fname}: the rule running {script} has no conda: environment"
        for env in envs:
            assert (ENVS / env).exists(), f"{fname}: {script} names envs/{env}, which is missing"


@needs_rules
@pytest.mark.parametrize(
    "script,env",
    sorted({(s, e) for _, s, envs in rules_with_scripts() for e in envs})
    if (ROOT / "rules").is_dir()
    else [],
)
def test_env_provides_the_scripts_imports(script, env):
    path = ROOT / "scripts" / script
    assert path.exists(), f"scripts/{script} is missing"
    provided = set(env_packages(ENVS / env))
    needed = third_party_imports(path, ENV_MODEL_MODULES.get(env, []))
    missing = {top: where for top, where in needed.items() if dist_of(top) not in provided}
    assert not missing, f"envs/{env} lacks packages imported by scripts/{script}: " + ", ".join(
        f"{top} ({dist_of(top)}, imported in {where})" for top, where in sorted(missing.items())
    )


@pytest.mark.parametrize(
    "env",
    ["sam.yaml", "ritm.yaml", "sam2.yaml", "hq_sam.yaml", "efficientvit_sam.yaml", "models.yaml"],
)
def test_model_env_provides_its_model_modules(env):
    provided = set(env_packages(ENVS / env))
    needed = third_party_imports(ROOT / "scripts" / "checkpoint.py", ENV_MODEL_MODULES[env])
    missing = sorted(top for top in needed if dist_of(top) not in provided)
    assert not missing, f"envs/{env} lacks {missing}"


@needs_rules
def test_scripts_can_import_clickbench_inside_an_env():
    """The envs do not install clickbench, so it must reach the scripts another way.

    Either the workflow exports src/ on PYTHONPATH (rules/common.smk), or each script that
    imports clickbench puts src/ on sys.path itself.
    """
    common = (ROOT / "rules" / "common.smk").read_text()
    if re.search(r"PYTHONPATH", common):
        return
    lacking = []
    for _, script, _ in rules_with_scripts():
        path = ROOT / "scripts" / script
        if not path.exists():
            continue  # reported by test_env_provides_the_scripts_imports
        text = path.read_text()
        if re.search(r"^\s*(from|import) clickbench", text, re.M) and "sys.path" not in text:
            lacking.append(script)
    assert not lacking, (
        "these scripts import clickbench, which no conda env installs, and neither they nor "
        f"rules/common.smk put src/ on the path: {sorted(set(lacking))}"
    )


# ---------------------------------------------------------------- one env per model family
def model_envs() -> dict[str, str]:
    """rules/models.smk's MODEL_ENVS: model type -> env file name."""
    text = (ROOT / "rules" / "models.smk").read_text()
    block = re.search(r"^MODEL_ENVS = \{(.*?)^\}", text, re.M | re.S)
    assert block, "rules/models.smk defines no MODEL_ENVS"
    return dict(re.findall(r'"(\w+)":\s*"\.\./envs/([\w.-]+\.yaml)"', block.group(1)))


@needs_rules
def test_every_heavy_model_type_runs_in_its_own_family_env():
    """The run and chunk rules pick the env by model type: every heavy type has one, whose
    import closure (scripts/run_model.py + the type's builder module) it provides."""
    from clickbench.models.registry import BUILDERS, HEAVY_TYPES

    envs = model_envs()
    assert set(envs) == set(HEAVY_TYPES)
    models_smk = (ROOT / "rules" / "models.smk").read_text()
    assert models_smk.count('MODEL_ENVS.get(MODELS[_model]["type"], "../envs/base.yaml")') == 2
    for kind, env in envs.items():
        module = BUILDERS[kind].split(":")[0]
        assert module in ENV_MODEL_MODULES[env], (kind, env)
        provided = set(env_packages(ENVS / env))
        needed = third_party_imports(ROOT / "scripts" / "run_model.py", [module])
        missing = sorted(top for top in needed if dist_of(top) not in provided)
        assert not missing, f"envs/{env} (model type {kind}) lacks {missing}"
    # the light types run in base.yaml: their builders must not need torch
    for kind in set(BUILDERS) - set(HEAVY_TYPES):
        module = BUILDERS[kind].split(":")[0]
        needed = third_party_imports(ROOT / "scripts" / "run_model.py", [module])
        missing = sorted(
            top for top in needed if dist_of(top) not in set(env_packages(ENVS / "base.yaml"))
        )
        assert not missing, f"envs/base.yaml (model type {kind}) lacks {missing}"


def test_family_envs_keep_their_own_package_out_of_the_others():
    """Each family's package is only in its own env (and the union, models.yaml)."""
    own = {
        "sam2.yaml": "sam2",
        "hq_sam.yaml": "segment-anything-hq",
        "efficientvit_sam.yaml": "efficientsam",
        "ritm.yaml": "ritm-annotation",
    }
    for env, pkg in own.items():
        for other in env_files():
            if other.name in (env, "models.yaml"):
                assert pkg in env_packages(other), (pkg, other.name)
            else:
                assert pkg not in env_packages(other), (pkg, other.name)

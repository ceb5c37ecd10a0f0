"""Workflow configuration: JSON-schema validation with messages that name the key."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from clickbench.models.registry import HEAVY_TYPES

#: the config schema, shipped with the package (``pip install .`` carries it)
SCHEMA_PATH = Path(__file__).resolve().parent / "data" / "config.schema.yaml"


class ConfigError(ValueError):
    """A config value or key the workflow cannot use; the message names it."""


def load_schema(path: str | Path = SCHEMA_PATH) -> dict:
    with open(path) as fh:
        return yaml.safe_load(fh)


def _where(error: jsonschema.ValidationError) -> str:
    parts = [str(p) for p in error.absolute_path]
    return ".".join(parts) if parts else "(top level)"


def _message(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        hint = f"; allowed keys: {', '.join(allowed)}" if allowed else ""
        return f"config key {_where(error)}: unknown key(s) {', '.join(map(repr, extra))}{hint}"
    why = error.schema.get("description") if error.validator == "const" else None
    return f"config key {_where(error)}: {error.message}" + (f" ({why})" if why else "")


def _fill_defaults(schema: dict, instance: Any) -> None:
    """Fill ``default`` values from the schema into ``instance`` in place."""
    if not isinstance(instance, dict) or schema.get("type") not in ("object", None):
        return
    for key, sub in schema.get("properties", {}).items():
        if key not in instance and "default" in sub:
            instance[key] = copy.deepcopy(sub["default"])
        if key in instance:
            _fill_defaults(sub, instance[key])
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        for key, value in instance.items():
            if key not in schema.get("properties", {}):
                _fill_defaults(extra, value)
    # per-kind defaults: `allOf: [{if: ..., then: {properties: {key: {default: ...}}}}]`
    for branch in schema.get("allOf", []):
        if "if" in branch and jsonschema.Draft202012Validator(branch["if"]).is_valid(instance):
            _fill_defaults(branch.get("then", {}), instance)


def validate(config: dict, schema: dict | None = None) -> dict:
    """Return a validated copy of ``config`` with defaults filled in.

    Raises :class:`ConfigError` naming the first offending key, then checks the
    cross references the schema cannot express (protocol models must be defined).
    """
    schema = schema or load_schema()
    config = copy.deepcopy(config)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        raise ConfigError("\n".join(_message(e) for e in errors))
    _fill_defaults(schema, config)
    models = config["models"]
    for proto, spec in config["protocols"].items():
        for name in spec.get("models", []):
            if name not in models:
                raise ConfigError(
                    f"config key protocols.{proto}.models: model {name!r} is not defined under "
                    f"models (defined: {', '.join(sorted(models))})"
                )
        source = spec.get("source")
        if source is not None:
            if source not in models:
                raise ConfigError(
                    f"config key protocols.{proto}.source: model {source!r} is not defined"
                )
            if source not in config["protocols"].get("noc", {}).get("models", []):
                raise ConfigError(
                    f"config key protocols.{proto}.source: {source!r} must also run in protocols.noc "
                    "(its clicks are replayed)"
                )
    for name, spec in models.items():
        if spec["type"] in HEAVY_TYPES and "checkpoint" not in spec:
            raise ConfigError(
                f"config key models.{name}: a {spec['type']} model needs `checkpoint`"
            )
        if spec["type"] == "python" and "factory" not in spec:
            raise ConfigError(
                f"config key models.{name}: a python model needs `factory` (module:function)"
            )
    return config


def _model_schema(schema: dict | None = None) -> dict:
    return (schema or load_schema())["properties"]["models"]["additionalProperties"]


def model_defaults(model_type: str, schema: dict | None = None) -> dict:
    """The schema's defaults for a model block of ``model_type``, e.g. RITM's
    ``prob_thresh``: ``{"type": model_type, <key>: <default>, ...}``."""
    block = {"type": model_type}
    _fill_defaults(_model_schema(schema), block)
    return block


def with_defaults(
    key: str | tuple[str, ...], block: Mapping | None, schema: dict | None = None
) -> dict:
    """A copy of the config block ``key`` (``"metrics"``, ``"dedup"``, or a path such as
    ``("dataset", "demo")``) with the schema's defaults filled in, for code given a block
    outside the workflow (a block of a validated config comes back unchanged)."""
    sub = schema or load_schema()
    for k in (key,) if isinstance(key, str) else key:
        sub = sub["properties"][k]
    block = copy.deepcopy(dict(block or {}))
    _fill_defaults(sub, block)
    return block


def validate_model(spec: dict, name: str = "model", schema: dict | None = None) -> dict:
    """One model block (``models.<name>``), validated and with its defaults filled in, for
    code that builds a model outside the workflow. Raises :class:`ConfigError` naming the key."""
    sub = {
        "type": "object",
        "properties": {"models": {"additionalProperties": _model_schema(schema)}},
    }
    instance = {"models": {name: copy.deepcopy(dict(spec))}}
    errors = sorted(
        jsonschema.Draft202012Validator(sub).iter_errors(instance),
        key=lambda e: list(e.absolute_path),
    )
    if errors:
        raise ConfigError("\n".join(_message(e) for e in errors))
    block = instance["models"][name]
    _fill_defaults(_model_schema(schema), block)
    return block


def load(path: str | Path) -> dict:
    with open(path) as fh:
        raw = yaml.safe_load(fh) or {}
    try:
        return validate(raw)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None


__all__ = [
    "ConfigError",
    "SCHEMA_PATH",
    "load",
    "load_schema",
    "model_defaults",
    "validate",
    "validate_model",
    "with_defaults",
]

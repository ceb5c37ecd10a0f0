"""A user's own model: config ``type: python`` names a factory that returns an InteractiveModel.

::

    models:
      mine:
        type: python
        factory: "my_models:build"     # module:function, imported by name
        path: examples                 # optional: a folder put first on sys.path
                                       # (relative to the working directory)
        options: {threshold: 0.5}      # optional: free-form, for the factory

The factory is called with :func:`clickbench.models.registry.build`'s keywords::

    factory(spec, device="cpu", precision="fp32", cache_dir="resources/cache")

with ``spec`` the model's whole config block, and must return an object implementing
:class:`clickbench.models.base.InteractiveModel` (``set_image``, ``reset``, ``predict``
returning a :class:`~clickbench.models.base.Prediction`). A ``python`` model runs in the
light model jobs (``envs/base.yaml``, device ``cpu``); its module's own dependencies must be
installed where the workflow runs. ``examples/color_model.py`` is a complete example.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from clickbench.models.base import BuildOptions, InteractiveModel


class PluginError(ValueError):
    """A ``type: python`` model whose factory cannot be found or returns no model."""


def plugin_folder(factory: str, path: str) -> str:
    """``path`` resolved, or a :class:`PluginError` saying it is absent or not a folder (and
    which working directory a relative path was taken from). The workflow calls it for every
    ``python`` model when it starts and warns (rules/common.smk); the model's jobs fail."""
    folder = Path(path).resolve()
    if not folder.is_dir():
        where = "absent" if not folder.exists() else "not a folder"
        raise PluginError(
            f"factory {factory!r}: path {path!r} is {where}: {folder} (a relative path is"
            f" the working directory's, {Path.cwd()})"
        )
    return str(folder)


def load_factory(factory: str, path: str | None = None):
    """The callable ``factory`` (``"module:function"``) names, ``path`` first on sys.path."""
    module_name, sep, func = factory.partition(":")
    if not sep or not module_name or not func:
        raise PluginError(f"factory {factory!r}: expected 'module:function'")
    if path is not None:
        folder = plugin_folder(factory, path)
        if folder not in sys.path:
            sys.path.insert(0, folder)
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise PluginError(f"factory {factory!r}: cannot import {module_name!r}: {err}") from None
    try:
        return getattr(module, func)
    except AttributeError:
        raise PluginError(
            f"factory {factory!r}: module {module_name!r} ({module.__file__}) has no {func!r}"
        ) from None


def build(spec: dict, options: BuildOptions) -> InteractiveModel:
    """Call the factory ``spec["factory"]`` names; check that it returned a model."""
    make = load_factory(spec["factory"], spec.get("path"))
    model = make(
        spec, device=options.device, precision=options.precision, cache_dir=options.cache_dir
    )
    if not isinstance(model, InteractiveModel):
        raise PluginError(
            f"factory {spec['factory']!r} returned a {type(model).__name__}, not an "
            "InteractiveModel (clickbench.models.base)"
        )
    return model


__all__ = ["PluginError", "build", "load_factory"]

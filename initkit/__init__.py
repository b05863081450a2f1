"""initkit: a teaching kit about neural-network weight initialization.

The public surface is re-exported here; the modules behind it are private in the sense that
their layout may change. ``initkit.theory``, ``initkit.nn`` (the numpy engine),
``initkit.train`` (``fit`` and ``History``), ``initkit.data`` (offline datasets) and
``initkit.course`` (the exercises' tooling) are public as modules; ``initkit.testing`` (the
plugin conformance suite) is imported on its own.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name -> the submodule that defines it, imported on first use (PEP 562), so
#: ``import initkit`` costs the package itself and nothing more: numpy, scipy, pluggy and
#: matplotlib come with the first name that needs them.
_LAZY_NAMES = {
    "DuplicateNameError": "errors", "FanError": "errors", "InitkitError": "errors",
    "ParameterError": "errors", "PluginError": "errors", "SimulationError": "errors",
    "UnknownNameError": "errors",
    "compute_fans": "fans",
    "calculate_gain": "gain",
    "hookimpl": "hookspecs",
    "VarianceSimulator": "lesson",
    "PluginWarning": "plugins", "load_plugin": "plugins", "register_plugin": "plugins",
    "unregister_plugin": "plugins",
    "Activation": "registry", "Initializer": "registry", "activations": "registry",
    "get_activation": "registry", "get_initializer": "registry", "initializers": "registry",
    "Trace": "simulation", "simulate": "simulation",
}
#: public submodules, imported on first use as well
_LAZY_MODULES = ("course", "data", "nn", "theory", "train", "viz")

if TYPE_CHECKING:  # what a type checker and an IDE see: the eager imports of old
    from . import course, data, nn, theory, train, viz
    from .errors import (
        DuplicateNameError,
        FanError,
        InitkitError,
        ParameterError,
        PluginError,
        SimulationError,
        UnknownNameError,
    )
    from .fans import compute_fans
    from .gain import calculate_gain
    from .hookspecs import hookimpl
    from .lesson import VarianceSimulator
    from .plugins import PluginWarning, load_plugin, register_plugin, unregister_plugin
    from .registry import (
        Activation,
        Initializer,
        activations,
        get_activation,
        get_initializer,
        initializers,
    )
    from .simulation import Trace, simulate


def __getattr__(name: str) -> Any:
    """A public name on first use: its submodule is imported then, and the name is cached in
    the package's namespace so the next access is an ordinary attribute lookup."""
    if name in _LAZY_MODULES:
        return importlib.import_module(f".{name}", __name__)
    module = _LAZY_NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'initkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "Activation",
    "DuplicateNameError",
    "FanError",
    "Initializer",
    "InitkitError",
    "ParameterError",
    "PluginError",
    "PluginWarning",
    "SimulationError",
    "Trace",
    "UnknownNameError",
    "VarianceSimulator",
    "__version__",
    "activations",
    "calculate_gain",
    "compute_fans",
    "course",
    "data",
    "get_activation",
    "get_initializer",
    "hookimpl",
    "initializers",
    "load_plugin",
    "nn",
    "register_plugin",
    "simulate",
    "theory",
    "train",
    "unregister_plugin",
    "viz",
]

"""initkit: a teaching kit about neural-network weight initialization.

The public surface is re-exported here; the modules behind it are private in the sense that
their layout may change. ``initkit.theory``, ``initkit.nn`` (the numpy engine),
``initkit.train`` (``fit`` and ``History``), ``initkit.data`` (offline datasets) and
``initkit.course`` (the exercises' tooling) are public as modules; ``initkit.testing`` (the
plugin conformance suite) is imported on its own.
"""

from __future__ import annotations

from . import data, nn, theory, train
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

__version__ = "0.1.0"


def __getattr__(name: str):
    """``initkit.viz`` and ``initkit.course`` on first use: matplotlib and the course tooling
    are imports most uses never need."""
    if name in ("viz", "course"):
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'initkit' has no attribute {name!r}")


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

"""The public surface: names the exercises and outside checks rely on."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

import initkit

PUBLIC = {
    "Activation", "DuplicateNameError", "FanError", "Initializer", "InitkitError",
    "ParameterError", "PluginError", "PluginWarning", "SimulationError", "Trace", "UnknownNameError",
    "VarianceSimulator", "__version__", "activations", "calculate_gain", "compute_fans",
    "get_activation", "get_initializer", "hookimpl", "initializers", "load_plugin",
    "register_plugin", "simulate", "theory", "unregister_plugin", "nn", "train", "data", "viz", "course",
}

BUILTIN_INITIALIZERS = {
    "xavier_normal", "xavier_uniform", "he_normal", "he_uniform", "lecun_normal",
    "lecun_uniform", "orthogonal", "constant", "zeros", "ones", "normal", "bad",
    "truncated_normal", "identity",
}


def test_all_is_the_public_surface():
    """__all__ lists exactly the public names, and each of them exists."""
    assert set(initkit.__all__) == PUBLIC
    for name in PUBLIC:
        assert hasattr(initkit, name), name


def test_registry_functions_stay_functions_after_plugins_load():
    """initkit.initializers / activations remain the registry functions once plugins are loaded."""
    initkit.get_initializer("he")
    assert callable(initkit.initializers) and isinstance(initkit.initializers(), dict)
    assert callable(initkit.activations) and isinstance(initkit.activations(), dict)


def test_print_sorted_initializers_lists_the_builtins():
    """The issue's one-liner prints the built-ins from a fresh interpreter."""
    out = subprocess.run(
        [sys.executable, "-c", "import initkit; print(sorted(initkit.initializers()))"],
        capture_output=True, text=True, check=True,
        env={"INITKIT_DISABLE_PLUGIN_AUTOLOAD": "1", "PATH": ""},
    ).stdout
    assert BUILTIN_INITIALIZERS <= set(eval(out))  # noqa: S307 - our own printed list


def test_theory_public_functions_exist():
    """initkit.theory exposes length_map, chi1 and edge_of_chaos with the documented signatures."""
    q = initkit.theory.length_map("relu", sigma_w2=2.0, sigma_b2=0.0, q0=1.0, depth=3)
    assert q.shape == (4,)
    assert abs(initkit.theory.chi1("relu", 2.0) - 1.0) < 1e-12
    assert 1.7 < initkit.theory.edge_of_chaos("tanh", 0.05) < 1.8


def test_trace_has_q_grad_var_and_to_dict():
    """simulate returns a Trace with per-layer q and grad_var arrays and a JSON-ready to_dict."""
    trace = initkit.simulate("he", "relu", depth=3, width=16, batch=8)
    assert isinstance(trace, initkit.Trace)
    assert trace.q.shape == trace.grad_var.shape == (3,)
    d = trace.to_dict()
    assert d["q"] == [float(v) for v in trace.q] and d["layer"] == [1, 2, 3]
    assert np.isfinite(d["grad_var"]).all()

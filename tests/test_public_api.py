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


def _fresh_modules(code: str) -> set[str]:
    """Top-level module names a fresh interpreter holds after running ``code``."""
    out = subprocess.run(
        [sys.executable, "-c", f"import sys\n{code}\nprint(sorted(sys.modules))"],
        capture_output=True, text=True, check=True, timeout=120,
        env={"INITKIT_DISABLE_PLUGIN_AUTOLOAD": "1", "PATH": ""},
    ).stdout.splitlines()[-1]
    return {name.split(".")[0] for name in eval(out)}  # noqa: S307 - our own printed list


def test_import_initkit_loads_no_heavy_dependency():
    """`import initkit` imports none of numpy, scipy, matplotlib, sklearn or pluggy: every public name is loaded on first use (PEP 562)."""
    loaded = _fresh_modules("import initkit")
    assert not loaded & {"numpy", "scipy", "matplotlib", "sklearn", "pluggy", "mlxtend", "dask"}


def test_simulate_needs_no_scipy_optimize():
    """A simulation with its theory column imports no scipy.optimize (brentq is imported by the roots that need it) and no matplotlib."""
    code = ("import initkit\ninitkit.simulate('he', 'relu', depth=3, width=16, batch=8)\n"
            "print(sorted(m for m in sys.modules if m.startswith(('scipy.optimize', 'matplotlib'))))")
    out = subprocess.run([sys.executable, "-c", f"import sys\n{code}"], capture_output=True,
                         text=True, check=True, timeout=120,
                         env={"INITKIT_DISABLE_PLUGIN_AUTOLOAD": "1", "PATH": ""}).stdout
    assert out.splitlines()[-1] == "[]"


def test_star_import_and_dir_give_the_public_surface():
    """In a fresh interpreter each name of __all__ is an attribute (loaded on first use), `from initkit import *` binds it to the same object, dir(initkit) lists them, and an unknown name is an AttributeError."""
    code = ("import initkit\nattrs = {n: getattr(initkit, n) for n in initkit.__all__}\n"
            "from initkit import *\n"
            "missing = [n for n in attrs if globals().get(n) is not attrs[n]]\n"
            "print(missing, sorted(set(initkit.__all__) - set(dir(initkit))))\n"
            "try:\n    initkit.no_such_name\nexcept AttributeError as exc:\n    print(exc)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120,
                         env={"INITKIT_DISABLE_PLUGIN_AUTOLOAD": "1", "PATH": ""}).stdout
    assert out.splitlines() == ["[] []", "module 'initkit' has no attribute 'no_such_name'"]

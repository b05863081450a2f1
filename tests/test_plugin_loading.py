"""Plugin loading rules: --plugin, INITKIT_PLUGINS, broken plugins, duplicates, register/unregister.

In-process tests run on a fresh plugin manager (INITKIT_* variables removed) and reset it
afterwards; CLI tests run the real ``initkit`` console script in a subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import initkit
from initkit.errors import DuplicateNameError, UnknownNameError
from initkit.plugins import reset_plugin_manager

PLUGINS = Path(__file__).parent / "plugins"
INITKIT = Path(sys.executable).parent / "initkit"


def clean_env(**extra: str) -> dict[str, str]:
    """The current environment without INITKIT_* variables, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INITKIT_")}
    env["OPENBLAS_NUM_THREADS"] = "1"  # tiny matmuls; threads only spin on a busy machine
    env.update(extra)
    return env


def run_initkit(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(INITKIT), *args], capture_output=True, text=True,
                          env=clean_env(**env), timeout=120)


@pytest.fixture
def fresh_manager(monkeypatch):
    """A plugin manager built from scratch (no INITKIT_* variables), forgotten afterwards."""
    for key in [k for k in os.environ if k.startswith("INITKIT_")]:
        monkeypatch.delenv(key)
    reset_plugin_manager()
    yield
    reset_plugin_manager()


def plugin(name: str) -> str:
    return str(PLUGINS / name)


# --- single-file plugins ----------------------------------------------------------------


def test_plugin_option_loads_a_file_for_list_and_simulate():
    """`initkit --plugin FILE.py` shows the file's items in list and uses them in simulate."""
    listed = run_initkit("--plugin", plugin("file_plugin.py"), "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert listed.stderr == ""
    assert '"name": "file_half_normal"' in listed.stdout
    assert str((PLUGINS / "file_plugin.py").resolve()) in listed.stdout
    sim = run_initkit("--plugin", plugin("file_plugin.py"), "simulate", "--init",
                      "file_half_normal", "--depth", "3", "--width", "64", "--batch", "8")
    assert sim.returncode == 0, sim.stderr
    assert "init=file_half_normal activation=file_softsign depth=3" in sim.stdout


def test_env_var_loads_files_and_modules(fresh_manager, monkeypatch):
    """INITKIT_PLUGINS takes comma-separated .py paths and importable module names."""
    monkeypatch.syspath_prepend(str(PLUGINS))
    monkeypatch.setenv("INITKIT_PLUGINS", f"{plugin('file_plugin.py')}, initkit_test_module_plugin")
    inits = initkit.initializers()
    assert inits["file_half_normal"].plugin == str((PLUGINS / "file_plugin.py").resolve())
    assert inits["module_lecun"].plugin == "initkit_test_module_plugin"
    w = initkit.get_initializer("module_lecun")((50, 400), 0)
    assert w.var() == pytest.approx(1 / 400, rel=0.05)


def test_env_var_in_the_cli():
    """INITKIT_PLUGINS works for the console script too (file and module, PYTHONPATH)."""
    out = run_initkit("list", INITKIT_PLUGINS=f"{plugin('file_plugin.py')},initkit_test_module_plugin",
                      PYTHONPATH=str(PLUGINS))
    assert out.returncode == 0, out.stderr
    assert "file_half_normal" in out.stdout and "module_lecun" in out.stdout


def test_file_plugin_items_work_in_nn_training(fresh_manager):
    """A file plugin's initializer and activation build an initkit.nn model whose backprop is exact."""
    from initkit import nn

    initkit.load_plugin(plugin("file_plugin.py"))
    model = nn.MLP([6, 16, 3], activation="file_softsign", init="file_half_normal", seed=0,
                   dtype=np.float64)
    rng = np.random.default_rng(0)
    assert model.parameters()[0].data.std() == pytest.approx(0.5, rel=0.2)
    check = nn.gradcheck(model, rng.normal(size=(5, 6)), rng.integers(0, 3, 5),
                         loss="cross_entropy")
    assert check.max_error < 1e-5


def test_loading_the_same_file_twice_registers_it_once(fresh_manager):
    """load_plugin is idempotent: the same path gives the same name and one registration."""
    first = initkit.load_plugin(plugin("file_plugin.py"))
    assert initkit.load_plugin(plugin("file_plugin.py")) == first
    assert list(initkit.initializers()).count("file_half_normal") == 1


# --- broken plugins warn and are dropped; everything else keeps working ------------------


def test_plugin_that_fails_to_import_warns_and_the_rest_works(fresh_manager):
    """An import-time error is a PluginWarning naming the file and the reason; built-ins still work."""
    with pytest.warns(initkit.PluginWarning) as record:
        assert initkit.load_plugin(plugin("fails_on_import.py")) is None
    message = str(record[0].message)
    assert "fails_on_import.py" in message
    assert "RuntimeError: this plugin is broken on purpose" in message
    assert initkit.get_initializer("he")((4, 3), 0).shape == (4, 3)


def test_plugin_that_fails_to_import_does_not_stop_the_cli():
    """The CLI prints one warning line for a plugin that fails to import and still runs."""
    out = run_initkit("--plugin", plugin("fails_on_import.py"), "simulate", "--init", "he",
                      "--depth", "2", "--width", "32", "--batch", "4")
    assert out.returncode == 0, out.stderr
    assert "init=he_normal" in out.stdout
    warnings = [line for line in out.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1
    assert "fails_on_import.py" in warnings[0] and "RuntimeError" in warnings[0]


def test_a_missing_plugin_file_warns(fresh_manager):
    """A --plugin path that does not exist is a warning that says so, not a crash."""
    with pytest.warns(initkit.PluginWarning, match="no such file"):
        assert initkit.load_plugin(plugin("not_there.py")) is None


def test_hook_that_raises_warns_and_keeps_what_it_registered(fresh_manager):
    """An exception in a hook names the plugin and the exception; items registered before stay."""
    name = initkit.load_plugin(plugin("raises_in_hook.py"))
    try:
        with pytest.warns(initkit.PluginWarning) as record:
            inits = initkit.initializers()
        message = str(record[0].message)
        assert "raises_in_hook.py" in message
        assert "ZeroDivisionError: this hook is broken on purpose" in message
        assert "kept_before_error" in inits and "he_normal" in inits
    finally:
        initkit.unregister_plugin(name)


def test_invalid_items_warn_and_valid_ones_register(fresh_manager):
    """A bad name and a non-callable each give a warning naming the plugin; the valid item works."""
    name = initkit.load_plugin(plugin("invalid_items.py"))
    try:
        with pytest.warns(initkit.PluginWarning) as record:
            inits = initkit.initializers()
        messages = [str(w.message) for w in record]
        assert len(messages) == 2
        assert all("invalid_items.py" in m for m in messages)
        assert "'9 lives' is invalid" in messages[0]
        assert "42 is not callable" in messages[1]
        assert "valid_after_invalid" in inits and "not_callable" not in inits
        np.testing.assert_array_equal(initkit.get_initializer("valid_after_invalid")((2, 2)),
                                      np.zeros((2, 2)))
    finally:
        initkit.unregister_plugin(name)


def test_two_plugins_with_the_same_name_raise_on_use_naming_both(fresh_manager):
    """Looking up a name two plugins registered raises DuplicateNameError naming both plugins."""
    one = initkit.load_plugin(plugin("duplicate_one.py"))
    two = initkit.load_plugin(plugin("duplicate_two.py"))
    try:
        with pytest.warns(initkit.PluginWarning, match="already registered"):
            inits = initkit.initializers()
        with pytest.raises(DuplicateNameError) as info:
            initkit.get_initializer("twin_normal")
        message = str(info.value)
        assert one in message and two in message
        assert "INITKIT_DISABLE_PLUGIN_AUTOLOAD" in message or "rename" in message
        # their other names, and everything else, keep working
        assert {"only_in_one", "only_in_two", "he_normal"} <= set(inits)
        assert initkit.get_initializer("only_in_two")((3, 2), 0).shape == (3, 2)
    finally:
        initkit.unregister_plugin(one)
        initkit.unregister_plugin(two)
    assert initkit.get_initializer("he_normal").name == "he_normal"


def test_duplicate_names_in_the_cli_give_one_error_line():
    """simulate with a duplicated name exits 1 with one `error:` line naming both files."""
    out = run_initkit("--plugin", plugin("duplicate_one.py"), "--plugin",
                      plugin("duplicate_two.py"), "simulate", "--init", "twin_normal")
    assert out.returncode == 1
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert "duplicate_one.py" in errors[0] and "duplicate_two.py" in errors[0]
    assert "Traceback" not in out.stderr


# --- plugin objects registered in a test ------------------------------------------------


class ScaledNormalPlugin:
    """A plugin object (not a module), as a test registers one."""

    @initkit.hookimpl
    def initkit_register_initializers(self, register):
        register("object_scaled_normal",
                 lambda shape, rng, dtype=np.float64: 0.3 * rng.standard_normal(shape, dtype),
                 variance=lambda fan_in, fan_out: 0.09)


def test_register_and_unregister_rebuild_the_registry():
    """register_plugin adds the items at once; unregister_plugin removes them at once."""
    name = initkit.register_plugin(ScaledNormalPlugin(), name="object-plugin")
    try:
        init = initkit.get_initializer("object_scaled_normal")
        assert init.plugin == "object-plugin"
        assert initkit.simulate("object_scaled_normal", "linear", depth=2, width=64,
                                batch=8).init == "object_scaled_normal"
    finally:
        initkit.unregister_plugin(name)
    assert "object_scaled_normal" not in initkit.initializers()
    with pytest.raises(UnknownNameError):
        initkit.get_initializer("object_scaled_normal")

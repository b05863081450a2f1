"""`initkit check-plugin NAME|FILE.py`, run as a real subprocess of the console script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import initkit
from initkit.testing import activation_checks, initializer_checks

PLUGINS = Path(__file__).parent / "plugins"
INITKIT = Path(sys.executable).parent / "initkit"


def run_initkit(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INITKIT_")}
    env["INITKIT_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # only what the test names is loaded
    env["OPENBLAS_NUM_THREADS"] = "1"  # tiny matmuls; threads only spin on a busy machine
    return subprocess.run([str(INITKIT), *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=120)


def outcome_lines(stdout: str) -> dict[str, str]:
    """``<id> OUTCOME`` lines as {id: OUTCOME}."""
    lines = {}
    for line in stdout.splitlines():
        parts = line.split(" ")
        if len(parts) >= 2 and parts[1] in ("PASSED", "FAILED", "SKIPPED"):
            lines[parts[0]] = parts[1]
    return lines


def test_help():
    """check-plugin --help explains NAME|FILE.py and exits 0."""
    out = run_initkit("check-plugin", "--help")
    assert out.returncode == 0
    assert "NAME|FILE.py" in out.stdout and "conformance suite" in out.stdout


def test_a_builtin_initializer_passes_with_one_line_per_check():
    """`check-plugin he` checks he_normal: one PASSED line per applicable check, exit 0."""
    out = run_initkit("check-plugin", "he")
    assert out.returncode == 0, out.stdout + out.stderr
    checks = [c.__name__ for c in initializer_checks(initkit.get_initializer("he_normal"))]
    assert outcome_lines(out.stdout) == {f"he_normal-{c}": "PASSED" for c in checks}
    assert out.stdout.splitlines()[0] == ("initkit check-plugin: initializer 'he_normal' from "
                                         "plugin 'initkit.builtin_initializers': 1 "
                                         "initializer(s), 0 activation(s)")
    assert out.stdout.rstrip().endswith(f"{len(checks)} passed {'=' * 20}")


def test_the_builtin_activations_plugin_passes():
    """A plugin name checks all its items: every built-in activation passes every check."""
    out = run_initkit("check-plugin", "initkit.builtin_activations")
    assert out.returncode == 0, out.stdout
    lines = outcome_lines(out.stdout)
    expected = {f"{name}-{c.__name__}" for name, act in initkit.activations().items()
                if act.plugin == "initkit.builtin_activations" for c in activation_checks(act)}
    assert set(lines) == expected and set(lines.values()) == {"PASSED"}


def test_skipped_checks_are_listed_with_reasons(tmp_path):
    """Skipped checks are listed as SKIPPED with the reason; they do not fail the run."""
    plugin = tmp_path / "undeclared.py"
    plugin.write_text(
        "import numpy as np\nimport initkit\n\n"
        "@initkit.hookimpl\ndef initkit_register_initializers(register):\n"
        "    register('undeclared_normal', lambda shape, rng, dtype=np.float64: "
        "rng.normal(size=shape).astype(dtype))\n")
    out = run_initkit("check-plugin", plugin)
    assert out.returncode == 0, out.stdout + out.stderr
    skipped = [line for line in out.stdout.splitlines() if " SKIPPED " in line]
    assert [s.split(" ")[0] for s in skipped] == ["undeclared_normal-check_variance",
                                                  "undeclared_normal-check_mean"]
    assert all("declares no variance" in s or "declares neither" in s for s in skipped)
    assert "2 skipped" in out.stdout.splitlines()[-1]


def test_identity_gets_the_deterministic_checks():
    """identity is deterministic=True: its own checks (same array, rng untouched, E[W^2]) pass."""
    out = run_initkit("check-plugin", "identity")
    assert out.returncode == 0, out.stdout + out.stderr
    lines = outcome_lines(out.stdout)
    assert lines["identity-check_deterministic"] == "PASSED"
    assert lines["identity-check_second_moment"] == "PASSED"
    assert "identity-check_seeds_differ" not in lines and set(lines.values()) == {"PASSED"}


def test_broken_plugin_file_fails_exactly_its_broken_checks():
    """The broken plugin file: exactly four FAILED lines, their messages, one error line, exit 1."""
    out = run_initkit("check-plugin", PLUGINS / "broken_initializers.py")
    assert out.returncode == 1
    failed = {i for i, o in outcome_lines(out.stdout).items() if o == "FAILED"}
    assert failed == {"broken_variance-check_variance", "broken_ignores_seed-check_seeds_differ",
                      "broken_shape-check_returns_requested_shape",
                      "broken_global_rng-check_global_rng_untouched"}
    failures = out.stdout.split(" FAILURES ")[1]
    assert "shape (32, 16) gave (16, 32)" in failures
    assert "expected numpy's global random state to be unchanged" in failures
    assert "measured identical arrays" in failures
    assert out.stdout.rstrip().endswith(f"4 failed, 40 passed {'=' * 20}")
    assert out.stderr.strip().splitlines() == [
        "error: 4 of 44 checks failed for plugin file "
        f"{PLUGINS / 'broken_initializers.py'}; each FAILURES entry above says what was "
        "expected and what was measured"]


def test_single_file_plugin_passes():
    """The single-file plugin's initializer and activation pass every check."""
    out = run_initkit("check-plugin", PLUGINS / "file_plugin.py")
    assert out.returncode == 0, out.stdout + out.stderr
    assert ": 1 initializer(s), 1 activation(s)" in out.stdout.splitlines()[0]
    assert set(outcome_lines(out.stdout).values()) == {"PASSED"}


def test_plugin_loaded_with_the_global_option_and_checked_by_item_name():
    """`initkit --plugin FILE check-plugin ITEM` checks that one item of the file's plugin."""
    out = run_initkit("--plugin", PLUGINS / "file_plugin.py", "check-plugin", "file_softsign")
    assert out.returncode == 0, out.stdout + out.stderr
    assert set(outcome_lines(out.stdout)) == {f"file_softsign-{c.__name__}"
                                              for c in activation_checks(None)}


def test_missing_file_unknown_name_and_unloadable_file_are_one_line_errors():
    """Bad targets exit 1 with one `error:` line that says what to give instead."""
    missing = run_initkit("check-plugin", PLUGINS / "not_there.py")
    assert missing.returncode == 1
    assert missing.stderr.startswith("error: no such plugin file:")
    unknown = run_initkit("check-plugin", "no_such_plugin_anywhere")
    assert unknown.returncode == 1
    assert "is not a plugin file, a loaded plugin" in unknown.stderr
    assert "initkit.builtin_initializers" in unknown.stderr
    broken = run_initkit("check-plugin", PLUGINS / "fails_on_import.py")
    assert broken.returncode == 1
    assert "RuntimeError: this plugin is broken on purpose" in broken.stderr  # the warning
    assert broken.stderr.strip().splitlines()[-1].startswith(
        f"error: plugin file {PLUGINS / 'fails_on_import.py'} could not be loaded")
    for result in (missing, unknown, broken):
        assert "Traceback" not in result.stderr


def test_a_file_without_hooks_is_an_error_that_names_the_hooks(tmp_path):
    """A .py file that registers nothing exits 1 naming the two hooks it should define."""
    empty = tmp_path / "no_hooks.py"
    empty.write_text("VALUE = 1\n")
    out = run_initkit("check-plugin", empty)
    assert out.returncode == 1
    assert out.stderr.startswith(f"error: plugin file {empty} registers no initializers")
    assert "initkit_register_initializers" in out.stderr


def test_no_target_is_a_usage_error():
    """Without NAME|FILE.py, click's usage error exits 2."""
    assert run_initkit("check-plugin").returncode == 2


# --- issue 22: each plugin in tests/plugins fails today's suite or works after ------------


def failures(stdout: str) -> dict[str, str]:
    """{id: message} of the FAILURES section."""
    section = stdout.split(" FAILURES ")[1].split("\n")[1:]
    out, current = {}, None
    for line in section:
        if line.startswith("_" * 10 + " "):
            current = line.strip("_ ").strip()
        elif current and line and not line.startswith("===="):
            out[current] = line
    return out


def test_a_variance_without_the_functions_parameter_is_caught():
    """Item 1: `scaled` takes scale, its variance does not: check_signature fails, and
    `simulate --init scaled:scale=2` is one error line naming the plugin and the call."""
    plugin = PLUGINS / "scaled_variance.py"
    out = run_initkit("check-plugin", plugin)
    assert out.returncode == 1
    assert {i for i, o in outcome_lines(out.stdout).items() if o == "FAILED"} == {
        "scaled-check_signature"}
    assert failures(out.stdout)["scaled-check_signature"] == (
        "expected its declared variance to take every parameter the function takes, measured "
        "variance(fan_in, fan_out) without 'scale': `--init scaled:scale=...` would fail there; "
        "declare it as variance=lambda fan_in, fan_out, scale=1.0: ...")
    sim = run_initkit("--plugin", plugin, "simulate", "--init", "scaled:scale=2", "--depth", "2",
                      "--width", "8")
    assert sim.returncode == 1 and "Traceback" not in sim.stderr
    assert sim.stderr.strip().splitlines()[-1] == (
        f"error: the declared variance of initializer 'scaled' (plugin '{plugin}') has no "
        "parameter 'scale'; it takes: fan_in, fan_out")


def test_an_exception_names_the_shape_the_call_and_the_plugins_line():
    """Item 3: an initializer that breaks on even kernels fails check_returns_requested_shape
    with the requested shape, the call and the file:line of the plugin's own frame."""
    plugin = PLUGINS / "centre_tap.py"
    out = run_initkit("check-plugin", plugin)
    assert out.returncode == 1
    assert {i for i, o in outcome_lines(out.stdout).items() if o == "FAILED"} == {
        "centre_tap-check_returns_requested_shape"}
    line = next(n for n, text in enumerate(plugin.read_text().splitlines(), 1)
                if text.strip() == "out[...] = out * window")
    assert failures(out.stdout)["centre_tap-check_returns_requested_shape"] == (
        f"initializer 'centre_tap' (plugin '{plugin}') raised ValueError: operands could not be "
        "broadcast together with shapes (8,4,2) (3,)  in centre_tap(shape=(8, 4, 2), rng) at "
        f"{plugin}:{line}; fix the plugin or call it with other arguments")


def test_deterministic_zero_passes_and_an_own_generator_is_caught():
    """Item 2: ZerO (deterministic=True, E[W^2] declared) passes its own checks; random signs
    from a generator of its own fail check_seeds_differ (the two-values loophole is gone)."""
    out = run_initkit("check-plugin", PLUGINS / "zero_hadamard.py")
    lines = outcome_lines(out.stdout)
    assert {i for i, o in lines.items() if o == "FAILED"} == {
        "own_generator_signs-check_seeds_differ"}
    assert lines["zero_hadamard-check_deterministic"] == "PASSED"
    assert lines["zero_hadamard-check_second_moment"] == "PASSED"
    assert failures(out.stdout)["own_generator_signs-check_seeds_differ"] == (
        "shape (32, 16): expected different arrays from default_rng(0) and default_rng(1), "
        "measured identical arrays; the initializer ignores its rng argument (draw from rng, "
        "not from a generator of your own), or, if it is meant to draw nothing, register it "
        "with deterministic=True")


def test_one_clash_does_not_stop_check_plugin():
    """Item 4: with clash_a loaded first, check-plugin clash_b checks both of its items (the
    one that lost the name too) and reports the clash and the alias that still names it;
    the ambiguous name is an error naming both qualified names, and check-plugin by that
    name checks both items."""
    a, b = PLUGINS / "clash_a.py", PLUGINS / "clash_b.py"
    out = run_initkit("--plugin", a, "check-plugin", b)
    assert out.returncode == 0, out.stdout + out.stderr
    assert set(outcome_lines(out.stdout)) >= {"twin_delta-check_variance",
                                              "only_in_b-check_variance"}
    assert set(outcome_lines(out.stdout).values()) == {"PASSED"}
    assert (f"warning: initkit plugin '{b}': 'twin_delta' is already registered by plugin "
            f"'{a}'; using it by that name raises an error until one of the two plugins "
            "renames it; 'clash_b:twin_delta' picks this one; its alias(es) 'twin_b' still "
            "name it") in out.stderr
    ambiguous = run_initkit("--plugin", a, "--plugin", b, "simulate", "--init", "twin_delta",
                            "--depth", "2", "--width", "8")
    assert ambiguous.returncode == 1
    assert ("Pick one by its plugin-qualified name ('clash_a:twin_delta', "
            "'clash_b:twin_delta')") in ambiguous.stderr
    both = run_initkit("--plugin", a, "--plugin", b, "check-plugin", "twin_delta")
    assert both.returncode == 0, both.stdout + both.stderr
    assert both.stdout.splitlines()[0] == (
        f"initkit check-plugin: initializer 'twin_delta' from plugins '{a}', '{b}': "
        "2 initializer(s), 0 activation(s)")


def test_a_wrong_gain_is_caught_by_the_one_rule():
    """Item 5: softplus with gain=1.0 fails check_activation_gain with the fixed-point value."""
    out = run_initkit("check-plugin", PLUGINS / "softplus_gain.py")
    assert out.returncode == 1
    assert failures(out.stdout)["softplus_gain_one-check_activation_gain"] == (
        "expected gain 1.041866836 (the fixed-point gain 1 / sqrt(E[phi(z)^2]), z ~ N(0, 1)), "
        "measured 1; register it with gain=1.041866835535302")


def test_a_plugins_exception_in_simulate_and_train_is_one_line(tmp_path):
    """Item 1: an initializer that raises inside `simulate` and `train` ends in one `error:` line naming the plugin, the item, the call and the plugin's line; no traceback."""
    plugin = tmp_path / "boom.py"
    plugin.write_text(
        "import numpy as np\nimport initkit\n\n\n"
        "def boom(shape, rng, dtype=np.float64):\n"
        "    return rng.normal(size=shape) + np.ones(3)\n\n\n"
        "@initkit.hookimpl\ndef initkit_register_initializers(register):\n"
        "    register('boom', boom)\n")
    for command in (["simulate", "--init", "boom", "--depth", "2", "--width", "8"],
                    ["train", "--init", "boom", "--epochs", "1", "--width", "8", "--depth", "1"]):
        out = run_initkit("--plugin", plugin, *command)
        assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
        last = out.stderr.strip().splitlines()[-1]
        assert last.startswith(f"error: initializer 'boom' (plugin '{plugin}') raised "
                               "ValueError: operands could not be broadcast together"), last
        assert last.endswith(f"at {plugin}:6; fix the plugin or call it with other arguments")

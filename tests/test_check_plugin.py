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


def test_identity_reports_its_skips_with_reasons():
    """Skipped checks are listed as SKIPPED with the reason; they do not fail the run."""
    out = run_initkit("check-plugin", "identity")
    assert out.returncode == 0
    skipped = [line for line in out.stdout.splitlines() if " SKIPPED " in line]
    assert len(skipped) == 2
    assert all("declares no variance" in s or "declares neither" in s for s in skipped)
    assert "2 skipped" in out.stdout.splitlines()[-1]


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
    assert out.stdout.rstrip().endswith(f"4 failed, 36 passed {'=' * 20}")
    assert out.stderr.strip().splitlines() == [
        "error: 4 of 40 checks failed for plugin file "
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

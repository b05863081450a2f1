"""The `initkit` console script: list, simulate, seed-table, demo, exit codes."""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import initkit
import initkit.cli
from initkit.cli.main import COMMANDS, cli

sys.path.insert(0, str(Path(__file__).parent))
from cli_runner import run, run_process  # noqa: E402


def test_seed_table_prints_the_lesson_exactly():
    """`initkit seed-table` and `initkit simulate --lesson` print the seed notebook's three lines."""
    expected = ("xavier final variance = 0.0231\nhe final variance = 0.2639\n"
                "bad final variance = 1100063550125093781839691019976704.0000\n")
    assert run_process("seed-table").stdout == expected  # the console script, end to end
    assert run("simulate", "--lesson").stdout == expected


def test_list_shows_builtins_with_their_plugin():
    """`initkit list` shows every initializer and activation and the plugin that provides it."""
    result = run("list")
    assert result.returncode == 0
    for name in initkit.initializers():
        assert name in result.stdout
    assert "initkit.builtin_initializers" in result.stdout
    data = json.loads(run("list", "--json").stdout)
    he = next(i for i in data["initializers"] if i["name"] == "he_normal")
    assert he["aliases"] == ["he", "kaiming_normal"] and he["activation"] == "relu"
    assert {a["name"] for a in data["activations"]} >= {"relu", "tanh", "selu", "gelu"}


def test_simulate_table_has_a_theory_column():
    """`initkit simulate` prints one row per layer with the mean-field prediction beside q."""
    result = run("simulate", "--init", "he", "--activation", "relu", "--depth", "5",
                 "--width", "64", "--backward")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "theory q" in lines[1] and "theory grad var" in lines[1]
    rows = [line.split() for line in lines[3:]]
    assert [int(r[0]) for r in rows] == [1, 2, 3, 4, 5]
    assert all(float(r[2]) == 2.0 for r in rows)  # He + ReLU: q = 2 at every layer


def test_simulate_json_equals_the_library():
    """--json prints Trace.to_dict() of the same simulation the library runs."""
    result = run("simulate", "--init", "xavier", "--depth", "4", "--width", "32", "--batch",
                 "8", "--seed", "3", "--json")
    data = json.loads(result.stdout)
    trace = initkit.simulate("xavier", "tanh", depth=4, width=32, batch=8, seed=3)
    assert data["q"] == pytest.approx(trace.q.tolist())
    assert data["theory_q"] == pytest.approx(trace.theory["q"].tolist())


def test_unknown_name_exits_1_with_close_matches():
    """An unknown initializer exits 1 with one error line naming close matches, no traceback (a real process: its exit code and stderr)."""
    result = run_process("simulate", "--init", "xavir")
    assert result.returncode == 1
    assert result.stderr.startswith("error: unknown initializer 'xavir'. Did you mean 'xavier'")
    assert "Traceback" not in result.stderr


def test_usage_error_exits_2():
    """A malformed option is a usage error with exit code 2."""
    assert run("simulate", "--depth", "zero").returncode == 2
    assert run("no-such-command").returncode == 2


@pytest.mark.parametrize("command", ["list", "simulate", "seed-table", "demo"])
def test_every_command_has_help(command):
    """Each command answers --help with exit code 0."""
    result = run(command, "--help")
    assert result.returncode == 0 and "Usage:" in result.stdout


def _constant_reference_q(value: float, batch: int, width: int, seed: int, depth: int):
    """q per layer of a linear net whose weights all equal ``value`` (simulate draws x first)."""
    import numpy as np

    x = np.random.default_rng(seed).standard_normal((batch, width))
    weight = np.full((width, width), value)
    q = []
    for _ in range(depth):
        x = x @ weight.T
        q.append(float(np.mean(x ** 2)))
    return q


def test_simulate_takes_init_parameters_and_uses_them():
    """`simulate --init constant:value=V` draws every weight as V: each layer's q equals the hand-computed linear net's."""
    for value in (0.01, 0.03):
        result = run("simulate", "--init", f"constant:value={value}", "--depth", "3", "--width",
                     "8", "--batch", "4", "--seed", "5", "--json")
        assert result.returncode == 0, result.stderr
        data = json.loads(result.stdout)
        assert data["init"] == "constant" and data["init_params"] == {"value": value}
        assert data["activation"] == "linear"
        assert data["q"] == pytest.approx(_constant_reference_q(value, 4, 8, 5, 3), rel=1e-12)
    table = run("simulate", "--init", "constant:value=0.01", "--depth", "2", "--width", "8")
    assert table.stdout.splitlines()[0].startswith("init=constant(value=0.01) activation=linear")


def test_simulate_init_parameter_errors_name_the_parameter():
    """A parameter the initializer does not take exits 1 naming it and the valid ones; a malformed pair exits 2."""
    wrong = run("simulate", "--init", "constant:valu=0.01", "--depth", "2")
    assert wrong.returncode == 1
    assert "has no parameter 'valu'; it takes: value" in wrong.stderr
    assert "Traceback" not in wrong.stderr
    malformed = run("simulate", "--init", "constant:0.01", "--depth", "2")
    assert malformed.returncode == 2 and "is not KEY=VALUE" in malformed.stderr


def test_help_imports_no_command_module():
    """`initkit --help` lists every command from main.COMMANDS without importing a command's module, numpy or the registry (a fresh process's sys.modules)."""
    code = ("import sys\nfrom initkit.cli.main import main\nsys.argv = ['initkit', '--help']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith(('initkit', 'numpy'))))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, timeout=120)
    *help_lines, modules = result.stdout.splitlines()
    assert eval(modules) == ["initkit", "initkit.cli", "initkit.cli.main", "initkit.errors"]  # noqa: S307
    listed = [line.split()[0] for line in help_lines[help_lines.index("Commands:") + 1:]]
    assert listed == sorted(COMMANDS)


def test_help_summaries_are_the_commands_own():
    """Each summary in main.COMMANDS is the first paragraph of that command's help, so `initkit --help` reads exactly as if every command were loaded."""
    lazy = run("--help").stdout
    eager = click.Group("initkit", help=cli.help, params=cli.params,
                        context_settings=cli.context_settings)
    for name, entry in COMMANDS.items():
        command = entry.load()
        first_paragraph = " ".join(inspect.cleandoc(command.help).split("\n\n")[0].split())
        assert entry.summary == first_paragraph, name
        eager.add_command(command, name)
    assert lazy == CliRunner().invoke(eager, ["--help"], prog_name="initkit").stdout


def test_command_list_is_every_command_module():
    """main.COMMANDS names exactly the commands the modules of initkit.cli define in their COMMANDS lists (a new command module cannot be forgotten)."""
    defined = {}
    for info in pkgutil.iter_modules([str(Path(initkit.cli.__file__).parent)]):
        module = importlib.import_module(f"initkit.cli.{info.name}")
        for command in getattr(module, "COMMANDS", ()) if info.name != "main" else ():
            defined[command.name] = command
    assert set(defined) == set(COMMANDS)
    for name, command in defined.items():
        assert COMMANDS[name].load() is command, name


def test_version_is_the_installed_distributions():
    """`initkit --version` prints the installed distribution's version, which is initkit.__version__."""
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout == f"initkit, version {importlib.metadata.version('initkit')}\n"
    assert importlib.metadata.version("initkit") == initkit.__version__

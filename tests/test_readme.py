"""The README stays true: its Python snippets run and every command it shows exists."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BIN = Path(sys.executable).parent


def test_readme_starts_with_the_two_commands():
    """The first lines give `make demo` and `make test`, and the Makefile defines both."""
    first_block = README.split("```")[1]
    assert "make demo" in first_block and "make test" in first_block
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^demo:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_python_snippets_run(tmp_path):
    """Every ```python block of the README runs, in order, in a fresh interpreter."""
    code = "from initkit import viz\n" + "\n".join(re.findall(r"```python\n(.*?)```", README,
                                                            re.S))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "0.2639" in result.stdout


COMMANDS = [line[2:].split("#")[0].strip() for line in README.splitlines()
            if line.startswith("$ .venv/bin/")]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_shown_exists_with_its_options(command):
    """Each `$ .venv/bin/...` line names a real program and subcommand that accepts --help."""
    argv = shlex.split(command)
    program = BIN / Path(argv[0]).name
    assert program.exists(), argv[0]
    words = []  # the subcommand path (and any positional arguments) before the first option
    for word in argv[1:] if "initkit" in argv[0] else []:
        if word.startswith("-"):
            break
        words.append(word)
    result = subprocess.run([str(program), *words, "--help"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    for option in (w.split("=")[0] for w in argv[1:] if w.startswith("--")):
        assert option in result.stdout or option in ("--help", "--json"), (command, option)

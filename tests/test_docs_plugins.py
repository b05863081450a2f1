"""docs/plugins.md runs: its files are written, its commands and doctests run, in order.

Rules (stated at the top of the tutorial): a fenced block whose info string has
``title="PATH"`` is written to PATH in a fresh project folder; a ``console`` block's ``$``
lines are run by bash in that folder (the venv's bin first on PATH, no INITKIT_* variables)
and the lines under each are output that must appear in order (whitespace-normalised,
``...`` matches anything, a line of only ``...`` skips lines); a command whose output shows
an ``error:`` line must exit 1, every other one 0; a ``pycon`` block is a doctest run in a
subprocess in that folder. ``pip install``/``pip uninstall`` run as ``python -m pip`` with
``--no-build-isolation --no-deps --no-index`` (no downloads). ``console norun`` (publishing to
PyPI) and ``text`` blocks are not run. The package the tutorial installs is uninstalled at
the end whatever happens.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parent.parent / "docs" / "plugins.md"
BIN = Path(sys.executable).parent
FENCE = re.compile(r"^```(?P<info>[^\n]*)\n(?P<body>.*?)^```[ \t]*$", re.M | re.S)
DOCTEST_RUNNER = """
import doctest, sys
text = open(sys.argv[1]).read()
parser = doctest.DocTestParser()
test = parser.get_doctest(text, {}, sys.argv[2], sys.argv[1], 0)
runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
runner.run(test)
sys.exit(1 if runner.failures else 0)
"""


@dataclass
class Block:
    lang: str
    options: str
    body: str
    line: int

    @property
    def title(self) -> str | None:
        match = re.search(r'title="([^"]+)"', self.options)
        return match.group(1) if match else None


def blocks(text: str) -> list[Block]:
    found = []
    for match in FENCE.finditer(text):
        info = match.group("info").strip()
        lang, _, options = info.partition(" ")
        found.append(Block(lang, options, match.group("body"), text.count("\n", 0, match.start())))
    return found


def env() -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("INITKIT_")}
    out.update(PATH=f"{BIN}{os.pathsep}{out.get('PATH', '')}", PIP_DISABLE_PIP_VERSION_CHECK="1",
               PIP_NO_INPUT="1", PYTHONDONTWRITEBYTECODE="1", OPENBLAS_NUM_THREADS="1")
    return out


def normalise(line: str) -> str:
    return " ".join(line.split())


def pattern(expected: str) -> re.Pattern:
    return re.compile(".*".join(re.escape(part) for part in normalise(expected).split("...")))


def assert_output_shows(expected: list[str], actual: str, where: str) -> None:
    """Every expected line matches a later actual line, in order; `...` alone skips lines."""
    lines = [normalise(line) for line in actual.splitlines()]
    position = 0
    for want in expected:
        if normalise(want) in ("", "..."):
            continue
        regex = pattern(want)
        while position < len(lines) and not regex.fullmatch(lines[position]):
            position += 1
        assert position < len(lines), f"{where}: expected a line {want!r} in:\n{actual}"
        position += 1


def commands(body: str) -> list[tuple[str, list[str]]]:
    """[(command, expected output lines)] of a console block."""
    out: list[tuple[str, list[str]]] = []
    for line in body.splitlines():
        if line.startswith("$ "):
            out.append((line[2:], []))
        elif out:
            out[-1][1].append(line)
    return out


def shell_command(command: str) -> str:
    command = re.sub(r"^pip install ", "python -m pip install --no-build-isolation --no-deps "
                     "--no-index ", command)
    return re.sub(r"^pip uninstall ", "python -m pip uninstall ", command)


def run_console(block: Block, folder: Path) -> None:
    for command, expected in commands(block.body):
        result = subprocess.run(["bash", "-c", shell_command(command)], cwd=folder, env=env(),
                                capture_output=True, text=True, timeout=300)
        where = f"docs/plugins.md line {block.line}: `{command}`"
        shown = result.stdout + result.stderr
        wants_error = any(normalise(line).startswith("error:") for line in expected)
        assert result.returncode == (1 if wants_error else 0), f"{where} exited " \
            f"{result.returncode}:\n{shown}"
        assert_output_shows(expected, shown, where)


def run_pycon(block: Block, folder: Path, index: int) -> None:
    source = folder / f".doctest_{index}.txt"
    source.write_text(block.body)
    result = subprocess.run([sys.executable, "-c", DOCTEST_RUNNER, str(source),
                             f"docs/plugins.md line {block.line}"], cwd=folder, env=env(),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def uninstall(package: str) -> None:
    """Remove ``package`` if the tutorial left it installed (e.g. after a failure)."""
    try:
        importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError:
        return
    subprocess.run([sys.executable, "-m", "pip", "uninstall", "-y", package], env=env(),
                   capture_output=True, timeout=300)


def test_every_block_is_run_or_written():
    """Each code block of the tutorial is a file, a console session or a doctest; only PyPI is skipped."""
    found = blocks(DOC.read_text())
    kinds = {(b.lang, bool(b.title), b.options.strip() == "norun") for b in found}
    assert kinds <= {("python", True, False), ("toml", True, False), ("console", False, False),
                     ("pycon", False, False), ("console", False, True), ("text", False, False)}
    skipped = [b for b in found if b.options.strip() == "norun"]
    assert len(skipped) == 1 and "twine upload" in skipped[0].body
    assert {b.title for b in found if b.title} == {
        "src/initkit_keras_he/__init__.py", "pyproject.toml", "tests/test_conformance.py"}


def test_tutorial_runs_from_an_empty_folder(tmp_path):
    """Writing the files and running the commands of docs/plugins.md gives the output it shows."""
    folder = tmp_path / "initkit-keras-he"
    folder.mkdir()
    package = re.search(r'^name = "([^"]+)"', DOC.read_text(), re.M).group(1)
    assert package == "initkit-keras-he"
    ran = 0
    try:
        for index, block in enumerate(blocks(DOC.read_text())):
            if block.title:
                path = folder / block.title
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(block.body)
            elif block.lang == "console" and block.options.strip() != "norun":
                run_console(block, folder)
                ran += 1
            elif block.lang == "pycon":
                run_pycon(block, folder, index)
                ran += 1
    finally:
        uninstall(package)
    assert ran >= 8


@pytest.mark.parametrize("expected,actual,ok", [
    (["a b", "...", "c"], "x\na   b\ny\nc\n", True),
    (["c", "a b"], "a b\nc\n", False),
    (["err: ... do this"], "err: anything here do this\n", True),
    (["2.0145"], "1 2.0145 2.0000\n", False),
])
def test_output_matching_rules(expected, actual, ok):
    """The matcher: ordered, whitespace-normalised, whole lines, `...` as a wildcard."""
    if ok:
        assert_output_shows(expected, actual, "here")
    else:
        with pytest.raises(AssertionError):
            assert_output_shows(expected, actual, "here")

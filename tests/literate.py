"""Run a Markdown guide as a test: its files are written, its commands and doctests run.

Rules (each guide states them at its top): a fenced block whose info string has
``title="PATH"`` is written to PATH in a fresh folder; a ``console`` block's ``$`` lines are
run by bash in that folder (the venv's bin first on PATH, no INITKIT_* variables) and the
lines under each are output that must appear in order (whitespace-normalised, ``...`` matches
anything, a line of only ``...`` skips lines); a command whose output shows an ``error:`` line
or ends with ``(exit status N)`` must exit 1 (N), every other one 0; a ``pycon`` block is a doctest run in a subprocess in that
folder. ``pip install``/``pip uninstall`` run as ``python -m pip`` with
``--no-build-isolation --no-deps --no-index`` (no downloads). ``console norun`` and ``text``
blocks are not run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

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


def env(bin_dir: Path = BIN) -> dict[str, str]:
    """The guide's environment: ``bin_dir`` (the venv's, or an overlay's) first on PATH."""
    out = {k: v for k, v in os.environ.items() if not k.startswith("INITKIT_")}
    out.update(PATH=f"{bin_dir}{os.pathsep}{out.get('PATH', '')}", PIP_DISABLE_PIP_VERSION_CHECK="1",
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


def run_console(block: Block, folder: Path, doc: str, bin_dir: Path = BIN) -> None:
    for command, expected in commands(block.body):
        result = subprocess.run(["bash", "-c", shell_command(command)], cwd=folder,
                                env=env(bin_dir),
                                capture_output=True, text=True, timeout=600)
        where = f"{doc} line {block.line}: `{command}`"
        shown = result.stdout + result.stderr
        status = re.fullmatch(r"\(exit status (\d+)\)", normalise(expected[-1])) \
            if expected else None
        if status:
            expected = expected[:-1]
        wants_error = any(normalise(line).startswith("error:") for line in expected)
        want = int(status.group(1)) if status else (1 if wants_error else 0)
        assert result.returncode == want, f"{where} exited {result.returncode}:\n{shown}"
        assert_output_shows(expected, shown, where)


def run_pycon(block: Block, folder: Path, index: int, doc: str, bin_dir: Path = BIN) -> None:
    source = folder / f".doctest_{index}.txt"
    source.write_text(block.body)
    result = subprocess.run([str(bin_dir / "python"), "-c", DOCTEST_RUNNER, str(source),
                             f"{doc} line {block.line}"], cwd=folder, env=env(bin_dir),
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr


def run_document(path: Path, folder: Path, bin_dir: Path = BIN) -> int:
    """Write, run and check every block of the guide at ``path`` in ``folder``, in order,
    with ``bin_dir`` first on PATH; the number of console and pycon blocks run."""
    ran = 0
    for index, block in enumerate(blocks(path.read_text())):
        if block.title:
            target = folder / block.title
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.body)
        elif block.lang == "console" and block.options.strip() != "norun":
            run_console(block, folder, path.name, bin_dir)
            ran += 1
        elif block.lang == "pycon":
            run_pycon(block, folder, index, path.name, bin_dir)
            ran += 1
    return ran

"""Every name a locked cell of a released exercise reads is one the student is told to make.

A student reads only the released notebook. If a cell they cannot edit reads a name (``nets``,
``x``) that no earlier locked cell defines, no stub in a solution cell declares and no
instruction names, a correct answer written from the text fails there with a NameError in a
cell the student cannot fix. This walks each release cell by cell, statically.
"""

import ast
import builtins
import re
from pathlib import Path

import nbformat
import pytest

KIT = Path(__file__).resolve().parents[1]
RELEASES = sorted((KIT / "exercises").glob("ex*.ipynb"))
#: names a Jupyter kernel defines besides the builtins
KERNEL_NAMES = {"display", "get_ipython", "In", "Out", "_", "__", "___"}
FENCE = re.compile(r"```[a-z]*\n(.*?)```", re.S)
CODE_SPAN = re.compile(r"`([^`]+)`")
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")


def bound_names(tree: ast.AST) -> set[str]:
    """Every name the code binds anywhere: assignments, loop and comprehension targets,
    imports, definitions and their parameters."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    return names


def read_names(tree: ast.AST) -> set[str]:
    """Every name the code reads."""
    return {node.id for node in ast.walk(tree)
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}


def text_names(markdown: str) -> set[str]:
    """Identifiers that appear inside the instructions' code: fenced blocks and code spans
    (`nets["xavier"]`)."""
    spans = FENCE.findall(markdown) + CODE_SPAN.findall(FENCE.sub("", markdown))
    return {name for span in spans for name in IDENTIFIER.findall(span)}


def undeclared_reads(nb) -> list[tuple[str, set[str]]]:
    """(grade_id, names) of each locked code cell that reads names nothing declared before it."""
    known = set(dir(builtins)) | KERNEL_NAMES
    problems = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "markdown":
            known |= text_names(cell.source)
            continue
        if cell.cell_type != "code":
            continue
        tree = ast.parse(cell.source)
        if meta.get("solution"):
            known |= bound_names(tree)  # the stub's `def f(...)` declares f
            continue
        missing = read_names(tree) - bound_names(tree) - known
        if missing:
            problems.append((meta.get("grade_id", "?"), missing))
        known |= bound_names(tree)
    return problems


@pytest.mark.parametrize("path", RELEASES, ids=lambda p: p.stem)
def test_every_name_a_locked_cell_reads_is_asked_for(path):
    """Each locked cell of the release reads only names that an earlier locked cell defines,
    a solution stub declares, or the instructions name."""
    assert undeclared_reads(nbformat.read(path, as_version=4)) == []


def test_the_walk_finds_a_name_the_text_never_asks_for():
    """A locked cell reading `nets` is reported until the instructions name `nets`."""
    md = nbformat.v4.new_markdown_cell
    code = nbformat.v4.new_code_cell

    def notebook(instructions: str):
        locked = code('print(nets["a"], x)')
        locked.metadata["nbgrader"] = {"grade_id": "demo", "locked": True, "solution": False}
        stub = code("raise NotImplementedError()")
        stub.metadata["nbgrader"] = {"grade_id": "answer", "solution": True}
        return nbformat.v4.new_notebook(cells=[md(instructions), stub, locked])

    assert undeclared_reads(notebook("Draw `x = rng.random(3)`.")) == [("demo", {"nets"})]
    assert undeclared_reads(notebook("Draw `x`; keep them in a dict `nets`.")) == []

"""No import cycle anywhere in ``initkit/`` (issue 24): every module's imports, read from its source.

The rule, so a reader knows what counts as an edge ``A -> B`` (A and B modules of ``initkit``):

- every ``import`` statement anywhere in A's source counts: at module level, inside a
  function or method (a deferred import still makes A depend on B: it only postpones the
  cycle to the first call), inside ``try``/``if`` blocks, and under ``if TYPE_CHECKING:``
  (what a type checker and a reader see is a dependency too);
- ``import a.b.c`` is an edge to ``a.b.c``; ``from X import n`` is an edge to ``X.n`` when
  that is a module of the package (``from . import seccomp``), else to ``X`` itself (a name
  defined in ``X``, or in ``X/__init__.py`` for a package);
- relative imports are resolved as Python does (``__package__`` of A, one level up per extra
  dot: ``from ..errors import E`` in ``initkit/grading/x.py`` is ``initkit.errors``);
- the implicit import of a module's parent packages (``import a.b.c`` runs
  ``a/__init__.py`` and ``a/b/__init__.py`` first) is not an edge: it is the language's
  mechanism, not a dependency the module chose, and counting it would make every package
  that re-exports one of its modules a "cycle";
- loading a file by path (``importlib.util.spec_from_file_location``) or by a computed name
  (``importlib.import_module(name)``, the lazy public names of ``initkit/__init__.py``) is not
  a statement this test can read, and is not an edge.

A cycle is reported as the chain of module names that closes it, e.g.
``initkit.grading.sandbox -> initkit.grading.confine -> initkit.grading.sandbox``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import initkit

PACKAGE_ROOT = Path(initkit.__file__).resolve().parent


def module_files(root: Path = PACKAGE_ROOT) -> dict[str, Path]:
    """Every module of the package under ``root``: dotted name -> source file."""
    base = root.parent
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(base).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _package_of(name: str, path: Path) -> str:
    """``__package__`` of a module: itself for a package's ``__init__``, else its parent."""
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def _resolve(package: str, level: int, module: str | None) -> str:
    """The absolute name of ``from <'.' * level><module> import ...`` inside ``package``."""
    if level == 0:
        return module or ""
    parts = package.split(".")
    base = parts[: len(parts) - (level - 1)] if level > 1 else parts
    return ".".join([*base, module] if module else base)


def imports_of(name: str, path: Path, modules: set[str]) -> set[str]:
    """The modules of ``modules`` that the source of ``name`` imports (see the rule above)."""
    tree = ast.parse(path.read_bytes(), filename=str(path))
    package = _package_of(name, path)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(package, node.level, node.module)
            for alias in node.names:
                sub = f"{target}.{alias.name}" if target else alias.name
                found.add(sub if sub in modules else target)
    return {m for m in found if m in modules and m != name}


def import_graph(root: Path = PACKAGE_ROOT) -> dict[str, set[str]]:
    """Module -> the package's modules it imports, for every module under ``root``."""
    files = module_files(root)
    names = set(files)
    return {name: imports_of(name, path, names) for name, path in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as ``[a, b, ..., a]`` (depth-first search), or None."""
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(graph, white)
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        colour[node] = grey
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if colour.get(nxt, black) == grey:
                return [*stack[stack.index(nxt):], nxt]
            if colour.get(nxt) == white and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        colour[node] = black
        return None

    for start in sorted(graph):
        if colour[start] == white and (cycle := visit(start)):
            return cycle
    return None


def test_initkit_has_no_import_cycle():
    """No chain of imports in initkit/ leads from a module back to itself."""
    graph = import_graph()
    assert len(graph) > 50, "the walk found too few modules: wrong package root"
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_walk_sees_relative_deferred_and_package_imports(tmp_path):
    """The graph has an edge for ``from . import x``, ``from ..y import z`` and an import
    inside a function, and a planted two-module cycle through a deferred import is found."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from .sub import a\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "a.py").write_text("from . import b\nfrom ..top import T\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from .a import g\n")
    (pkg / "top.py").write_text("import os\nT = 1\n")
    graph = import_graph(pkg)
    assert graph["pkg.sub.a"] == {"pkg.sub.b", "pkg.top"}
    assert graph["pkg.sub.b"] == {"pkg.sub.a"}
    assert graph["pkg"] == {"pkg.sub.a"}
    assert graph["pkg.top"] == set()
    assert find_cycle(graph) == ["pkg.sub.a", "pkg.sub.b", "pkg.sub.a"]
    (pkg / "sub" / "b.py").write_text("def f():\n    return 1\n")
    assert find_cycle(import_graph(pkg)) is None

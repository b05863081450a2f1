"""The trusted delegation check: does the student's function hand the exercise to the kit?

An exercise such as "write ``xavier_normal``" is void if the answer calls the kit's own
``initkit.builtin_initializers.xavier_normal``, or pastes its code. The runtime watch
(``forbid=`` of :meth:`~initkit.grading.submission.Submission.probe`, ``sys.setprofile`` in
the child) sees every path the call takes, but it runs in the student's process, where one
line (``sys.setprofile = lambda *a: None``) blinds it. This module decides in the trusted
process, from the notebook's source alone (nothing of the child is asked):

1. the cells are parsed with :mod:`ast` (IPython syntax first turned into Python by
   IPython's own input transformer, the body of a ``%%time`` cell parsed as Python), and the
   module-level names are bound as the notebook leaves them after running top to bottom:
   imports of ``initkit`` (``import initkit as ik``, ``from initkit.builtin_initializers
   import xavier_normal as x``, ``from initkit import *``), aliases (``kit = initkit``,
   ``f = ik.get_initializer("he_normal")``) and the student's own functions;
2. the student's function, the notebook functions it reaches by name and every function
   nested in them are walked; each name, attribute chain, ``getattr(obj, "constant")``,
   registry lookup with a constant (``initkit.get_initializer("xavier_normal")``,
   ``initkit.initializers()["xavier_normal"]``, ``importlib.import_module("initkit...")``),
   instance of a kit class (``Dense(...).backward``) and string given to ``eval``/``exec``
   is resolved against the real kit objects of this process; one whose code is a
   forbidden implementation's is a **call into the kit** (evidence: the expression and
   its line);
3. the student's function (and each function it reaches) is compared with each forbidden
   implementation after normalisation (docstrings, annotations and the signature dropped,
   every identifier renamed by order of first use): equal, or equal in at least
   :data:`NEAR` of the node sequence for a body of :data:`MIN_NODES` nodes or more, is a
   **copy of the kit's code**.

Either finding is one :class:`Delegation`, whose :meth:`~Delegation.sentence` is the
feedback ("xavier_normal calls initkit.get_initializer('xavier_normal') on line 4 of code
cell 3: the exercise is to write it; flagged for review"). Calls made through names only
known at run time (``initkit.get_initializer(name)``) are not resolved here: the runtime
watch remains the second signal for those.
"""

from __future__ import annotations

import ast
import difflib
import functools
import importlib
import inspect
import textwrap
import types
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

#: Share of the normalised node sequence a near copy has in common with the kit's body.
NEAR = 0.92
#: Bodies smaller than this (in AST nodes) count as copies only when exactly equal: a short
#: formula written honestly can look like the kit's one-liner.
MIN_NODES = 40
#: Kit functions that only look up a registered object by name: evaluated here (trusted
#: code) when every argument is a constant, to see what the student's call returns.
_LOOKUPS = ("initkit.registry.get_initializer", "initkit.registry.get_activation",
            "initkit.registry.initializers", "initkit.registry.activations")
#: Cell magics whose body is Python run in the notebook's namespace.
_PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun", "debug"}


@dataclass(frozen=True)
class Delegation:
    """One piece of evidence that ``function`` delegates to the kit's ``target``.

    Attributes:
        function: the student's function the check asked about.
        target: the dotted name of the forbidden kit implementation.
        how: ``"calls EXPR"``, ``"uses EXPR"`` or ``"is a copy of TARGET"``.
        cell: the code cell (from 1) holding the evidence.
        line: its line in that cell (from 1).
        via: the notebook helper the evidence is in, when not ``function`` itself.
    """

    function: str
    target: str
    how: str
    cell: int
    line: int
    via: str | None = None

    def sentence(self) -> str:
        """The one-sentence feedback, evidence first."""
        where = f"on line {self.line} of code cell {self.cell}"
        if self.via:
            where += f" (in {self.via}, which {self.function} calls)"
        return (f"{self.function} {self.how} {where}: the exercise is to write it; "
                "flagged for review")


# ------------------------------------------------------------------------------ parsing


@dataclass
class _Cell:
    number: int  # code cell, from 1
    tree: ast.Module
    offset: int  # lines of the cell above the parsed text (a cell magic's first line)


def _python_of(src: str) -> tuple[str, int] | None:
    """The Python text of one cell and its line offset (None: nothing to parse)."""
    if src.lstrip().startswith("%%"):
        lead = len(src) - len(src.lstrip("\n"))
        first, _, body = src.lstrip("\n").partition("\n")
        words = first.strip()[2:].split()
        if not words or words[0] not in _PYTHON_CELL_MAGICS:
            return None
        return body, lead + 1
    try:
        ast.parse(src)
        return src, 0  # plain Python (most cells): no transformation needed
    except (SyntaxError, ValueError):
        pass
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # IPython missing: plain Python cells still parse
        return src, 0
    try:
        return TransformerManager().transform_cell(src), 0
    except Exception:  # noqa: BLE001 - a cell IPython cannot read ran as an error anyway
        return src, 0


def parse_cells(cells: Sequence[str]) -> list[_Cell]:
    """Every code cell that parses, with its number (cells that do not parse are skipped:
    they raised SyntaxError in the notebook and defined nothing)."""
    out = []
    for number, src in enumerate(cells, start=1):
        if isinstance(src, list):
            src = "".join(map(str, src))
        got = _python_of(str(src))
        if got is None:
            continue
        text, offset = got
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError):
            continue
        out.append(_Cell(number, tree, offset))
    return out


# ------------------------------------------------------------------------------ values


@dataclass(frozen=True)
class _Obj:
    """A real kit object an expression evaluates to (resolved in this process)."""

    value: Any


@dataclass(frozen=True)
class _Inst:
    """An instance of a kit class (``Dense(...)``): its attributes are the class's."""

    cls: type


@dataclass(frozen=True)
class _Def:
    """A function the notebook defines at module level."""

    node: ast.FunctionDef | ast.AsyncFunctionDef
    cell: _Cell


_UNKNOWN = None


def _import(dotted: str) -> Any:
    """``initkit[.sub]`` imported here; anything else is not the kit (None)."""
    if not isinstance(dotted, str) or not (dotted == "initkit"
                                           or dotted.startswith("initkit.")):
        return _UNKNOWN
    if any(part.startswith("__") for part in dotted.split(".")):
        return _UNKNOWN  # never ``initkit.__main__`` (importing it would run the CLI)
    try:
        return importlib.import_module(dotted)
    except Exception:  # noqa: BLE001 - no such kit module: nothing to delegate to
        return _UNKNOWN


def _resolve_dotted(dotted: str) -> Any:
    """``package.module.attr[.attr]`` -> the kit object, or None."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        obj = _import(".".join(parts[:cut]))
        if obj is None:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except Exception:  # noqa: BLE001
            return _UNKNOWN
        return obj
    return _UNKNOWN


def _codes(obj: Any) -> set[types.CodeType]:
    """The code objects a call of ``obj`` may run directly (a registered initializer's
    function, a function, a method, a decorated or partial function)."""
    out: set[types.CodeType] = set()
    fn = getattr(obj, "fn", None) if type(obj).__module__.startswith("initkit") else None
    for candidate in (obj, fn, getattr(obj, "func", None)):
        if candidate is None:
            continue
        try:
            candidate = inspect.unwrap(candidate)
        except ValueError:
            pass
        candidate = getattr(candidate, "__func__", candidate)
        code = getattr(candidate, "__code__", None)
        if isinstance(code, types.CodeType):
            out.add(code)
    return out


def _const(node: ast.AST) -> Any:
    """The value of a constant expression (a literal, ``"a" + "b"``, an f-string of
    literals), else a sentinel."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _const(node.left), _const(node.right)
        if isinstance(left, str) and isinstance(right, str):
            return left + right
    if isinstance(node, ast.JoinedStr):
        parts = [_const(v) if not isinstance(v, ast.FormattedValue) else _const(v.value)
                 for v in node.values]
        if all(isinstance(p, str) for p in parts):
            return "".join(parts)
    return _NOT_CONST


_NOT_CONST = object()


# ------------------------------------------------------------------------------ the scan


class _Scan:
    """The notebook's module-level names, then a walk of one function and its helpers."""

    def __init__(self, cells: list[_Cell], forbid: Sequence[str]):
        self.targets: dict[types.CodeType, str] = {}
        self.sources: dict[str, list[str]] = {}
        for dotted in forbid:
            obj = _resolve_dotted(str(dotted))
            for code in _codes(obj):
                self.targets.setdefault(code, str(dotted))
            body = _kit_normalised(str(dotted))
            if body is not None:
                self.sources[str(dotted)] = list(body)
        self.globals: dict[str, Any] = {}
        for cell in cells:
            self._bind_block(cell.tree.body, self.globals, cell)

    # -- binding names

    def _bind_block(self, body: list[ast.stmt], env: dict[str, Any], cell: _Cell) -> None:
        for stmt in body:
            self._bind(stmt, env, cell)

    def _bind(self, stmt: ast.stmt, env: dict[str, Any], cell: _Cell | None) -> None:
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.asname:
                    env[alias.asname] = _wrap(_import(alias.name))
                else:
                    top = alias.name.split(".")[0]
                    env[top] = _wrap(_import(top))
        elif isinstance(stmt, ast.ImportFrom):
            module = _import(stmt.module or "") if stmt.level == 0 else _UNKNOWN
            for alias in stmt.names:
                if alias.name == "*":
                    if module is not None:
                        names = getattr(module, "__all__", None) or \
                            [n for n in dir(module) if not n.startswith("_")]
                        for n in names:
                            env[n] = _wrap(_attr(module, n, stmt.module))
                    continue
                value = _attr(module, alias.name, stmt.module) if module is not None \
                    else _UNKNOWN
                env[alias.asname or alias.name] = _wrap(value)
        elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            env[stmt.name] = _Def(stmt, cell) if cell is not None else _UNKNOWN
        elif isinstance(stmt, ast.ClassDef):
            env[stmt.name] = _UNKNOWN
        elif isinstance(stmt, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            value = self._eval(stmt.value, env) if stmt.value is not None and \
                not isinstance(stmt, ast.AugAssign) else _UNKNOWN
            for target in targets:
                for name in _names_bound(target):
                    env[name] = value if isinstance(target, ast.Name) else _UNKNOWN
        elif isinstance(stmt, ast.If | ast.For | ast.While | ast.With | ast.Try):
            for block in ("body", "orelse", "finalbody"):
                self._bind_block(getattr(stmt, block, []), env, cell)
            for handler in getattr(stmt, "handlers", []):
                self._bind_block(handler.body, env, cell)
            if isinstance(stmt, ast.For):
                for name in _names_bound(stmt.target):
                    env[name] = _UNKNOWN
        elif isinstance(stmt, ast.Delete):
            for target in stmt.targets:
                for name in _names_bound(target):
                    env.pop(name, None)

    # -- evaluating expressions to kit objects

    def _lookup(self, name: str, env: dict[str, Any]) -> Any:
        if name in env:
            return env[name]
        return self.globals.get(name, _UNKNOWN)

    def _eval(self, node: ast.AST, env: dict[str, Any]) -> Any:
        if isinstance(node, ast.Name):
            value = self._lookup(node.id, env)
            if node.id in ("getattr", "eval", "exec", "__import__") and value is None \
                    and node.id not in env and node.id not in self.globals:
                return _Builtin(node.id)
            return value
        if isinstance(node, ast.Attribute):
            base = self._eval(node.value, env)
            if isinstance(base, _Obj):
                return _wrap(_attr(base.value, node.attr))
            if isinstance(base, _Inst):
                return _wrap(_attr(base.cls, node.attr))
            return _UNKNOWN
        if isinstance(node, ast.Subscript):
            base = self._eval(node.value, env)
            key = _const(node.slice)
            if isinstance(base, _Obj) and key is not _NOT_CONST and isinstance(base.value, dict):
                return _wrap(base.value.get(key))
            return _UNKNOWN
        if isinstance(node, ast.Call):
            return self._eval_call(node, env)
        if isinstance(node, ast.NamedExpr):
            return self._eval(node.value, env)
        return _UNKNOWN

    def _eval_call(self, node: ast.Call, env: dict[str, Any]) -> Any:
        func = self._eval(node.func, env)
        consts = [_const(a) for a in node.args]
        if isinstance(func, _Builtin):
            if func.name == "getattr" and len(node.args) >= 2 and isinstance(consts[1], str):
                base = self._eval(node.args[0], env)
                if isinstance(base, _Obj):
                    return _wrap(_attr(base.value, consts[1]))
                if isinstance(base, _Inst):
                    return _wrap(_attr(base.cls, consts[1]))
            if func.name == "__import__" and consts and isinstance(consts[0], str):
                return _wrap(_import(consts[0].split(".")[0]))
            return _UNKNOWN
        if not isinstance(func, _Obj):
            return _UNKNOWN
        target = func.value
        if target is importlib.import_module and consts and isinstance(consts[0], str):
            return _wrap(_import(consts[0]))
        if isinstance(target, type) and target.__module__.startswith("initkit"):
            return _Inst(target)
        if any(target is _resolve_dotted(d) for d in _LOOKUPS if d.rsplit(".", 1)[-1]
               == getattr(target, "__name__", None)) and not node.keywords \
                and all(c is not _NOT_CONST for c in consts):
            try:
                return _wrap(target(*consts))
            except Exception:  # noqa: BLE001 - an unknown name: nothing delegated here
                return _UNKNOWN
        return _UNKNOWN

    def _forbidden(self, value: Any) -> str | None:
        obj = value.value if isinstance(value, _Obj) else None
        if obj is None:
            return None
        for code in _codes(obj):
            if code in self.targets:
                return self.targets[code]
        return None

    # -- walking a function and the helpers it reaches

    def find(self, name: str) -> Delegation | None:
        start = self.globals.get(name)
        if not isinstance(start, _Def):
            return None
        seen: set[str] = set()
        queue: list[str] = [name]
        while queue:
            current = queue.pop(0)
            if current in seen:
                continue
            seen.add(current)
            fdef = self.globals.get(current)
            if not isinstance(fdef, _Def):
                continue
            found = self._walk(fdef, name, None if current == name else current, queue)
            if found is not None:
                return found
        return None

    def _walk(self, fdef: _Def, name: str, via: str | None,
              queue: list[str]) -> Delegation | None:
        node, cell = fdef.node, fdef.cell
        env: dict[str, Any] = {}
        for sub in ast.walk(node):  # parameters and local names shadow the module's
            if isinstance(sub, ast.arg):
                env[sub.arg] = _UNKNOWN
        for sub in ast.walk(node):
            if isinstance(sub, ast.stmt) and sub is not node and not isinstance(
                    sub, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                if isinstance(sub, ast.Import | ast.ImportFrom | ast.Assign | ast.AnnAssign
                              | ast.AugAssign | ast.Delete):
                    self._bind(sub, env, None)
            elif isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef) and sub is not node:
                env[sub.name] = _UNKNOWN
        found = []
        for sub in ast.walk(node):
            evidence = self._evidence(sub, env, queue)
            if evidence is not None:
                found.append((evidence[2], getattr(sub, "col_offset", 0), evidence))
        if found:
            target, how, line = min(found, key=lambda f: f[:2])[2]
            return Delegation(function=name, target=target, how=how, cell=cell.number,
                              line=line + cell.offset, via=via)
        for target, kit_body in self.sources.items():
            if _is_copy(node, kit_body):
                return Delegation(function=name, target=target, how=f"is a copy of {target}",
                                  cell=cell.number, line=node.lineno + cell.offset, via=via)
        return None

    def _evidence(self, sub: ast.AST, env: dict[str, Any],
                  queue: list[str]) -> tuple[str, str, int] | None:
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load):
            value = self._lookup(sub.id, env)
            if isinstance(value, _Def):
                queue.append(sub.id)
        if isinstance(sub, ast.Call):
            func = self._eval(sub.func, env)
            if isinstance(func, _Builtin) and func.name in ("eval", "exec") and sub.args:
                text = _const(sub.args[0])
                if isinstance(text, str):
                    try:
                        tree = ast.parse(text, mode="exec")
                    except (SyntaxError, ValueError):
                        return None
                    _mark_calls_in(tree)
                    for inner in ast.walk(tree):
                        found = self._evidence(inner, env, queue)
                        if found is not None:
                            return found[0], f"runs {ast.unparse(sub)}", sub.lineno
        if isinstance(sub, ast.expr) and isinstance(getattr(sub, "ctx", ast.Load()), ast.Load):
            value = self._eval(sub, env)
            target = self._forbidden(value)
            if target is not None:
                parent_call = getattr(sub, "_initkit_called", False)
                verb = "calls" if parent_call else "uses"
                text = ast.unparse(sub)
                if not text.endswith(target.rsplit(".", 1)[-1]) and \
                        target.rsplit(".", 1)[-1] not in text:
                    text += f", which is the kit's {target},"
                elif text != target and not text.startswith(("initkit", "getattr")):
                    text += f" ({target})"
                return target, f"{verb} {text}", sub.lineno
        return None


@dataclass(frozen=True)
class _Builtin:
    name: str


def _wrap(value: Any) -> Any:
    return _UNKNOWN if value is None else _Obj(value)


def _attr(obj: Any, name: str, module_name: str | None = None) -> Any:
    """``obj.name`` for a kit object (a submodule imported if need be), else None."""
    if obj is None:
        return _UNKNOWN
    try:
        return getattr(obj, name)
    except Exception:  # noqa: BLE001
        pass
    if isinstance(obj, types.ModuleType):
        return _import(f"{obj.__name__}.{name}")
    return _UNKNOWN


def _names_bound(target: ast.AST) -> list[str]:
    return [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]


# ------------------------------------------------------------------------------ copies


@functools.lru_cache(maxsize=256)
def _kit_normalised(dotted: str) -> tuple[str, ...] | None:
    """The normalised body of the kit function ``dotted`` (None: no Python source)."""
    body = _kit_body(_resolve_dotted(dotted))
    try:
        return tuple(_normalised(body)) if body is not None else None
    except Exception:  # noqa: BLE001
        return None


def _kit_body(obj: Any) -> ast.AST | None:
    """The kit function's definition, parsed from its source (None: not a function)."""
    fn = getattr(obj, "fn", obj) if type(obj).__module__.startswith("initkit") else obj
    fn = getattr(fn, "__func__", fn)
    if not isinstance(fn, types.FunctionType):
        return None
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return None
    defs = [n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    return defs[0] if defs else None


def _strip_docstring(body: list[ast.stmt]) -> list[ast.stmt]:
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        return body[1:]
    return body


def _normalised(fdef: ast.AST) -> list[str]:
    """The body of a function as a sequence of canonical node descriptions: docstrings and
    the signature dropped, identifiers renamed v0, v1, ... in order of first use (the
    parameters first), attribute names, operators and constants kept."""
    names: dict[str, str] = {}

    def canonical(name: str) -> str:
        return names.setdefault(name, f"v{len(names)}")

    for arg in ast.walk(fdef.args):
        if isinstance(arg, ast.arg):
            canonical(arg.arg)
    out: list[str] = []
    stack = list(reversed(_strip_docstring(list(fdef.body))))
    while stack:  # depth first, in source order
        node = stack.pop()
        kind = type(node).__name__
        if isinstance(node, ast.Name):
            out.append(f"Name:{canonical(node.id)}")
        elif isinstance(node, ast.arg):
            out.append(f"arg:{canonical(node.arg)}")
            continue  # its annotation is not code
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            out.append(f"{kind}:{canonical(node.name)}")
            stack.extend(reversed([node.args, *_strip_docstring(list(node.body))]))
            continue
        elif isinstance(node, ast.Attribute):
            out.append(f"Attribute:{node.attr}")
        elif isinstance(node, ast.Constant):
            out.append(f"Constant:{node.value!r}")
        elif isinstance(node, ast.operator | ast.unaryop | ast.cmpop | ast.boolop):
            out.append(kind)
        elif not isinstance(node, ast.expr_context):
            out.append(kind)
        children = [c for f, c in ast.iter_fields(node) if f not in ("annotation", "returns",
                                                                        "type_comment")]
        flat: list[ast.AST] = []
        for c in children:
            if isinstance(c, ast.AST):
                flat.append(c)
            elif isinstance(c, list):
                flat.extend(x for x in c if isinstance(x, ast.AST))
        stack.extend(reversed(flat))
    return out


def _is_copy(student: ast.AST, kit: list[str]) -> bool:
    """Equal normalised bodies, or near-equal ones of at least MIN_NODES nodes."""
    try:
        a = _normalised(student)
    except Exception:  # noqa: BLE001 - an odd tree is no evidence
        return False
    if a == kit:
        return True
    if min(len(a), len(kit)) < MIN_NODES:
        return False
    matcher = difflib.SequenceMatcher(None, a, kit, autojunk=False)
    return matcher.real_quick_ratio() >= NEAR and matcher.quick_ratio() >= NEAR \
        and matcher.ratio() >= NEAR


# ------------------------------------------------------------------------------ public


def _mark_calls_in(tree: ast.AST) -> None:
    """Mark each called expression, so the evidence says "calls" rather than "uses"."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            node.func._initkit_called = True  # type: ignore[attr-defined]


def find_delegation(cells: Sequence[str], name: str,
                    forbid: Sequence[str]) -> Delegation | None:
    """The first evidence that the notebook's ``name`` delegates to a ``forbid`` target.

    Args:
        cells: the notebook's code cells, in order (the sources the sandbox ran).
        name: the student's function the exercise asks for.
        forbid: dotted names of the kit implementations it must not use (those the
            runtime watch of ``Submission.probe`` is given).

    Returns:
        A :class:`Delegation` (evidence and sentence), or None when the source shows none.
    """
    if not forbid:
        return None
    parsed = parse_cells(cells)
    for cell in parsed:
        _mark_calls_in(cell.tree)
    return _Scan(parsed, forbid).find(name)

"""Released solution cells say what to write: ``raise NotImplementedError("write xavier_normal")``.

nbgrader's ``ClearSolutions`` replaces every solution with the same stub,
``raise NotImplementedError()``, so a student who runs a test cell too early reads a bare
``NotImplementedError``. :class:`NamedStubs` runs right after it in ``nbgrader
generate_assignment`` (``initkit course init`` puts it there, so ``initkit course release``
and a course's own release agree) and names, in each stub, the function it stands in:
the nearest ``def NAME(`` above it at a smaller indentation, or "this cell" for a stub that
stands alone.
"""

from __future__ import annotations

import re

from nbgrader import utils
from nbgrader.preprocessors import NbGraderPreprocessor

_STUB = re.compile(r"^(?P<indent>[ \t]*)raise NotImplementedError\(\)[ \t]*$")
_DEF = re.compile(r"^(?P<indent>[ \t]*)(?:async[ \t]+)?def[ \t]+(?P<name>\w+)[ \t]*\(")


def name_stubs(source: str) -> str:
    """``source`` with each bare ``raise NotImplementedError()`` naming what to write."""
    lines = source.split("\n")
    for i, line in enumerate(lines):
        stub = _STUB.match(line)
        if not stub:
            continue
        indent = len(stub.group("indent").expandtabs())
        name = next((m.group("name") for m in map(_DEF.match, reversed(lines[:i]))
                     if m and len(m.group("indent").expandtabs()) < indent), None)
        what = (f"write {name}: replace this line with your code" if name else
                "write this cell: replace this line with your code (the text above says what "
                "it must define)")
        lines[i] = f'{stub.group("indent")}raise NotImplementedError("{what}")'
    return "\n".join(lines)


class NamedStubs(NbGraderPreprocessor):
    """Name the function each released stub stands in (after nbgrader's ClearSolutions)."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and utils.is_solution(cell):
            cell.source = name_stubs(cell.source)
        return cell, resources

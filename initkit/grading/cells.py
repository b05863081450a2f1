"""The nbgrader metadata of a notebook's cells, read in one place.

nbgrader marks cells in ``cell.metadata.nbgrader``: ``grade_id`` names a cell, ``points``
its worth; an *autograder test cell* has ``grade`` and no ``solution`` (its visible tests,
and under nbgrader its hidden block); a *manually graded answer* has ``grade`` and
``solution``, a *task* has ``task`` (nbgrader's docs, "Developing assignments").
"""

from __future__ import annotations

import re

from .results import ManualItem


def nbgrader_meta(cell) -> dict:
    """A cell's ``metadata.nbgrader`` dictionary ({} when it has none)."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def test_cells(nb) -> dict[int, str]:
    """Code-cell number (from 1, as in ``cell_errors``) -> grade_id of nbgrader test cells."""
    out: dict[int, str] = {}
    number = 0
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        number += 1
        meta = nbgrader_meta(cell)
        if meta.get("grade") and not meta.get("solution") and meta.get("grade_id"):
            out[number] = str(meta["grade_id"])
    return out


test_cells.__test__ = False  # a function named test_*, not a pytest test

_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*$", re.M)


def code_cell_labels(nb) -> dict[int, str]:
    """Code-cell number (from 1) -> how a person finds the cell in Jupyter: its ``grade_id``
    (nbgrader's name, shown in the cell toolbar), else the heading above it ("the cell under
    '4. The experiment'"), else "code cell N" (counted as Jupyter lists them)."""
    labels: dict[int, str] = {}
    number, heading = 0, None
    for cell in nb.cells:
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        if cell.get("cell_type") == "markdown":
            found = _HEADING.findall(source)
            heading = found[-1].strip("# ") if found else heading
            continue
        if cell.get("cell_type") != "code":
            continue
        number += 1
        grade_id = nbgrader_meta(cell).get("grade_id")
        labels[number] = (str(grade_id) if grade_id else
                          f"the cell under '{heading}'" if heading else f"code cell {number}")
    return labels


def cell_points(nb) -> dict[str, float]:
    """grade_id -> points of every nbgrader cell that has a grade_id."""
    return {str(m["grade_id"]): float(m.get("points", 0) or 0)
            for m in map(nbgrader_meta, nb.cells) if m.get("grade_id")}


def manual_items(nb) -> list[ManualItem]:
    """The manually graded cells of a notebook (nbgrader answer cells with ``grade`` and
    ``solution``, and task cells), each with its points, all pending."""
    items = []
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        manual = meta.get("grade") and meta.get("solution") or meta.get("task")
        if manual and meta.get("grade_id"):
            items.append(ManualItem(grade_id=str(meta["grade_id"]),
                                    max_score=float(meta.get("points", 0) or 0)))
    return items

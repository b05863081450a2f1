"""The nbgrader metadata of a notebook's cells, read in one place.

nbgrader marks cells in ``cell.metadata.nbgrader``: ``grade_id`` names a cell, ``points``
its worth; an *autograder test cell* has ``grade`` and no ``solution`` (its visible tests,
and under nbgrader its hidden block); a *manually graded answer* has ``grade`` and
``solution``, a *task* has ``task`` (nbgrader's docs, "Developing assignments").
"""

from __future__ import annotations

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

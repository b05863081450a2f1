"""Build the submissions the course tests grade: the reference, the untouched release and
planted wrong answers, all from the release notebook (as a student would hand them in)."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat

KIT = Path(__file__).resolve().parents[2]
MARKER = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[^\n]*\n?", re.M)


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=4)


def grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def source_answers(source: nbformat.NotebookNode) -> dict[str, str]:
    """grade_id -> the solution cell's source with the solution markers removed."""
    return {grade_id(c): MARKER.sub("", c.source) for c in source.cells
            if c.get("metadata", {}).get("nbgrader", {}).get("solution")}


def fill(release: nbformat.NotebookNode, answers: dict[str, str]) -> nbformat.NotebookNode:
    """A copy of the release with the given answer cells' sources replaced."""
    nb = copy.deepcopy(release)
    for cell in nb.cells:
        if grade_id(cell) in answers:
            cell.source = answers[grade_id(cell)]
    return nb


def submissions(slug: str, planted: dict[str, dict[str, str]]) -> dict[str, nbformat.NotebookNode]:
    """student name -> notebook: ``reference``, ``untouched`` and one per planted mistake."""
    release = read(KIT / "exercises" / f"{slug}.ipynb")
    answers = source_answers(read(KIT / "solutions" / f"{slug}.ipynb"))
    out = {"reference": fill(release, answers), "untouched": copy.deepcopy(release)}
    for name, overrides in planted.items():
        out[name] = fill(release, {**answers, **overrides})
    return out


def auto_cells(nb: nbformat.NotebookNode) -> dict[str, float]:
    """grade_id -> points of every autograded test cell."""
    out = {}
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            out[meta["grade_id"]] = float(meta["points"])
    return out

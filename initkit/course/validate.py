"""``initkit course validate``: the mistakes an exercise author makes, found before a student.

An exercise is a source notebook (nbgrader cells) and its graders (pytest tests marked
``@pytest.mark.points(n, grade_id=...)``). Graded silently, a misspelled ``grade_id`` or a
marker worth more than its cell gives a wrong total without a word. :func:`problems` checks,
for one exercise:

cheap (no notebook runs; before ``initkit course release`` and ``initkit grade``):
    every marker's ``grade_id`` is an autograded test cell of the source; each autograded
    cell's points equal the sum of its checks' markers; every autograded cell has checks;
    each hidden block names its own exercise and cell;

full (``initkit course validate``): also the release is what nbgrader makes of the source
    today, and in the sandbox the reference solution gets every autograded point and the
    untouched release none.

Each problem is one sentence that says what to change.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import CourseError
from .catalog import exercises, source_notebooks

_HIDDEN_CALL = re.compile(r"hidden_checks\(\s*['\"]([^'\"]+)['\"]\s*,\s*['\"]([^'\"]+)['\"]")
_SOLUTION_MARKER = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[^\n]*\n?", re.M)


@dataclass(frozen=True)
class Check:
    """One grader test as collected: its pytest id, points and grade cell."""

    nodeid: str
    points: float
    grade_id: str | None


class _Collect:
    """pytest plugin: record each collected test's points marker (nothing runs)."""

    def __init__(self):
        self.checks: list[Check] = []
        self.errors: list[str] = []

    def pytest_collection_modifyitems(self, items) -> None:
        from ..grading.pytest_plugin import grade_id_of, points_of

        for item in items:
            points, _ = points_of(item)
            self.checks.append(Check(item.nodeid, points, grade_id_of(item)))

    def pytest_collectreport(self, report) -> None:
        if report.failed:
            self.errors.append(str(report.longrepr).strip().splitlines()[-1])


def _forget_graders(grader_dir: Path) -> None:
    """Drop modules loaded from ``grader_dir`` or named like its files: pytest's importlib
    mode names a module by its file, so another folder's ``test_ex01.py`` would be reused."""
    stems = {p.stem for p in grader_dir.glob("*.py")}
    for name, module in list(sys.modules.items()):
        origin = getattr(module, "__file__", None) or ""
        if name.rsplit(".", 1)[-1] in stems or origin.startswith(str(grader_dir)):
            del sys.modules[name]


def collect_checks(grader_dir: Path) -> list[Check]:
    """The tests in ``grader_dir`` with their markers, by pytest's own collection.

    Raises:
        CourseError: the graders do not import (the message has pytest's last line).
    """
    import pytest

    _forget_graders(grader_dir)
    collector = _Collect()
    args = [str(grader_dir), "--collect-only", "-q", "-p", "no:cacheprovider",
            "--rootdir", str(grader_dir), "--confcutdir", str(grader_dir),
            "--import-mode=importlib", "-c", "/dev/null"]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        pytest.main(args, plugins=[collector])
    _forget_graders(grader_dir)
    if collector.errors:
        raise CourseError(f"the graders in {grader_dir} do not load: {collector.errors[0]}")
    return collector.checks


def _cells(notebook: Path) -> list[dict]:
    return json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])


def _meta(cell: dict) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def autograded_cells(notebook: Path) -> dict[str, float]:
    """grade_id -> points of every autograded test cell (a graded code cell, not a solution)."""
    return {_meta(c)["grade_id"]: float(_meta(c).get("points", 0)) for c in _cells(notebook)
            if c.get("cell_type") == "code" and _meta(c).get("grade")
            and not _meta(c).get("solution")}


def static_problems(slug: str, source: Path, grader_dir: Path) -> list[str]:
    """The cheap checks of one exercise (see the module docstring)."""
    cells = autograded_cells(source)
    manual = {_meta(c)["grade_id"] for c in _cells(source)
              if _meta(c).get("grade") and _meta(c).get("solution")}
    checks = collect_checks(grader_dir)
    problems = []
    for check in checks:
        where = f"{grader_dir.name}/{check.nodeid}"
        if check.grade_id is None:
            problems.append(f"{where} has no grade_id in its points marker: add "
                            f"@pytest.mark.points(n, grade_id=...) naming one of "
                            f"{', '.join(sorted(cells))}")
        elif check.grade_id in manual:
            problems.append(f"{where} is marked for {check.grade_id!r}, a manually graded "
                            "cell: autograded checks belong to a test cell")
        elif check.grade_id not in cells:
            problems.append(f"{where} is marked for grade_id {check.grade_id!r}, which is not "
                            f"an autograded cell of {source.name}; the autograded cells are "
                            f"{', '.join(sorted(cells))}")
    for grade_id, points in cells.items():
        mine = [c for c in checks if c.grade_id == grade_id]
        total = sum(c.points for c in mine)
        if not mine:
            problems.append(f"cell {grade_id!r} of {source.name} ({points:g} points) has no "
                            f"checks in {grader_dir}: mark one with grade_id={grade_id!r}")
        elif total != points:
            parts = ", ".join(f"{c.nodeid} {c.points:g}" for c in mine)
            problems.append(f"cell {grade_id!r} of {source.name} is worth {points:g} points "
                            f"but its checks' markers add up to {total:g} ({parts}): make "
                            "them equal")
    for cell in _cells(source):
        grade_id = _meta(cell).get("grade_id")
        for named_slug, named_id in _HIDDEN_CALL.findall(_source(cell)):
            if (named_slug, named_id) != (slug, grade_id):
                problems.append(f"the hidden block of cell {grade_id!r} runs "
                                f"hidden_checks({named_slug!r}, {named_id!r}); it should name "
                                f"its own exercise and cell: ({slug!r}, {grade_id!r})")
    return problems


def grading_problems(slug: str, release: Path, grader_dir: Path) -> list[str]:
    """The cheap checks ``initkit grade`` runs before grading, against the release: markers
    naming no autograded cell, points that do not add up. Graders that name no ``grade_id``
    at all are plain pytest graders (no nbgrader cells behind them) and are left alone, and
    graders that do not load are left to grading, which reports them per submission."""
    try:
        if not any(c.grade_id for c in collect_checks(grader_dir)):
            return []
        return static_problems(slug, release, grader_dir)
    except CourseError:  # a grader file that does not import: grading's own error says so
        return []


def _release_differs(root: Path, slug: str, source: Path) -> str | None:
    """Why ``exercises/<slug>.ipynb`` is not what nbgrader makes of the source, if it is not."""
    from .setup import init_course, release_notebook

    released = root / "exercises" / f"{slug}.ipynb"
    if not released.exists():
        return f"{released} is missing: run initkit course release --exercise {slug}"
    with tempfile.TemporaryDirectory(prefix="initkit-validate-") as tmp:
        init_course(Path(tmp), root, [slug])
        fresh = _cells(release_notebook(Path(tmp), slug))
    if [(_source(c), _meta(c)) for c in fresh] != \
            [(_source(c), _meta(c)) for c in _cells(released)]:
        return (f"{released} is older than {source}: run initkit course release "
                f"--exercise {slug}")
    return None


def _filled_release(root: Path, slug: str, source: Path) -> dict:
    """The release with every solution cell answered by the source's solution."""
    answers = {_meta(c).get("grade_id"): _SOLUTION_MARKER.sub("", _source(c))
               for c in _cells(source) if _meta(c).get("solution")}
    nb = json.loads((root / "exercises" / f"{slug}.ipynb").read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if _meta(cell).get("grade_id") in answers:
            cell["source"] = answers[_meta(cell)["grade_id"]]
    return nb


def _sandbox_points(root: Path, slug: str, notebooks: dict[str, dict]) -> dict[str, float]:
    """student -> autograded points ``initkit grade`` gives each notebook (one run)."""
    from .trusted import cell_verdicts, grade_in_sandbox

    results = grade_in_sandbox(notebooks, slug, root / "graders")
    return {student: sum(points for points, _ in cell_verdicts(data).values())
            for student, data in results.items()}


def problems(root: Path, slug: str, *, full: bool = False) -> list[str]:
    """Everything wrong with exercise ``slug`` at ``root`` (a kit checkout), one sentence each.

    Raises:
        CourseError: no such exercise.
    """
    sources = source_notebooks(root)
    if slug not in sources:
        raise CourseError(f"no source notebook for {slug!r} in {root}/solutions; the "
                          f"exercises are {', '.join(e.slug for e in exercises(root))}")
    source, grader_dir = sources[slug], root / "graders" / slug
    found = static_problems(slug, source, grader_dir)
    if not full or found:
        return found
    stale = _release_differs(root, slug, source)
    if stale:
        return [stale]
    total = sum(autograded_cells(source).values())
    release = json.loads((root / "exercises" / f"{slug}.ipynb").read_text(encoding="utf-8"))
    points = _sandbox_points(root, slug, {"reference": _filled_release(root, slug, source),
                                          "untouched": release})
    if points["reference"] != total:
        found.append(f"the reference solution of {slug} gets {points['reference']:g} of "
                     f"{total:g} autograded points in the sandbox: a check or the solution "
                     "is wrong (initkit grade's feedback says which)")
    if points["untouched"] != 0:
        found.append(f"the untouched release of {slug} gets {points['untouched']:g} points: "
                     "a check passes without an answer")
    return found

"""Write ``initkit grade`` scores into an nbgrader course's gradebook (``nbgrader.api``).

Each grader test says which nbgrader grade cell it stands for with its marker,
``@pytest.mark.points(2, grade_id="test_he")``; a grade cell's ``auto_score`` becomes the
sum of its tests' scores. The assignment must be in the gradebook already (``nbgrader
generate_assignment`` puts it there); a missing student or submission is created the way
``nbgrader autograde`` creates it (``Gradebook.add_submission`` mirrors the assignment's
notebooks and grade cells), so formgrader shows the scores.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..errors import (
    GradebookError,  # noqa: F401 (defined in initkit.errors, re-exported here)
    InitkitError,
)
from .results import SubmissionResult


def _grade_ids(grader_dir: Path) -> dict[str, str]:
    """Test name (``file.py::test``) -> grade_id, from the graders' ``points`` markers."""
    import contextlib
    import io

    import pytest

    from .pytest_plugin import grade_id_of
    from .runner import _isolated_ini, _short

    mapping: dict[str, str] = {}

    class _Ids:
        def pytest_collection_modifyitems(self, items):
            for item in items:
                gid = grade_id_of(item)
                if gid is not None:
                    mapping[_short(item.nodeid)] = gid

    known = set(sys.modules)
    try:
        with contextlib.redirect_stdout(io.StringIO()), _isolated_ini() as ini:
            pytest.main([str(grader_dir), "--collect-only", "-q", "-p", "no:cacheprovider",
                         "-c", str(ini), "--rootdir", str(grader_dir),
                         "--confcutdir", str(grader_dir), "--import-mode=importlib"],
                        plugins=[_Ids()])
    finally:
        _forget_modules(set(sys.modules) - known, under=Path(grader_dir))
    return mapping


def _forget_modules(names: set[str], under: Path) -> None:
    """Drop from ``sys.modules`` those of ``names`` imported from a file in ``under``.

    pytest's importlib mode names a grader module by its file (``test_ex01``) and reuses
    ``sys.modules[name]`` when it is there, so another graders folder with a file of the
    same name would be collected as this one, with this one's ``grade_id`` markers.
    """
    root = under.resolve()
    for name in names:
        file = getattr(sys.modules.get(name), "__file__", None)
        if file and Path(file).resolve().is_relative_to(root):
            del sys.modules[name]


def write_gradebook(results: list[SubmissionResult], course: Path,
                    graders: dict[str, Path] | None = None,
                    db_url: str | None = None) -> list[str]:
    """Store every graded submission's scores as the auto scores of nbgrader grade cells.

    Args:
        results: from :func:`initkit.grading.pipeline.grade_course`.
        course: the nbgrader course folder.
        graders: exercise -> grader folder (to read the ``grade_id`` of each test).
        db_url: the gradebook's URL [default: ``sqlite:///COURSE/gradebook.db``].

    Returns:
        Warnings, one sentence each (tests with no ``grade_id``, unknown grade cells).

    Raises:
        GradebookError: the assignment is not in the gradebook.
    """
    import warnings as pywarnings

    from .notebook import import_nbformat

    import_nbformat()
    from nbgrader.api import Gradebook, MissingEntry

    # nbgrader runs `alembic` from PATH to check the database schema: use this venv's
    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    db_url = db_url or f"sqlite:///{Path(course).resolve() / 'gradebook.db'}"
    try:
        return _write(results, course, graders, db_url, Gradebook, MissingEntry, pywarnings)
    except InitkitError:
        raise
    except Exception as exc:  # sqlalchemy / nbgrader errors: one clear line, no traceback
        raise GradebookError(f"could not write the scores into {db_url}: "
                             f"{type(exc).__name__}: {exc}. Check that {course} is an nbgrader "
                             "course whose gradebook nbgrader itself can open") from None


def read_manual_scores(results: list[SubmissionResult], course: Path,
                       db_url: str | None = None) -> int:
    """Fill in the manually graded cells that someone has graded in nbgrader's formgrader.

    A cell stays pending (``score`` None) until the gradebook has a ``manual_score`` for it.

    Returns:
        How many manual scores were found.
    """
    import warnings as pywarnings

    from nbgrader.api import Gradebook, MissingEntry

    db_url = db_url or f"sqlite:///{Path(course).resolve() / 'gradebook.db'}"
    found = 0
    with Gradebook(db_url) as gb, pywarnings.catch_warnings():
        pywarnings.simplefilter("ignore")
        for r in results:
            if not r.manual or r.exercise is None:
                continue
            try:
                submission = gb.find_submission(r.exercise, r.student)
            except MissingEntry:
                continue
            scores = {g.name: g.manual_score for nb in submission.notebooks for g in nb.grades}
            for item in r.manual:
                if scores.get(item.grade_id) is not None:
                    item.score = float(scores[item.grade_id])
                    found += 1
    return found


def _write(results, course, graders, db_url, Gradebook, MissingEntry, pywarnings) -> list[str]:
    """The body of :func:`write_gradebook` (nbgrader's classes passed in, imported lazily)."""
    warnings: list[str] = []
    ids_cache: dict[str, dict[str, str]] = {}
    with Gradebook(db_url) as gb, pywarnings.catch_warnings():
        pywarnings.simplefilter("ignore")  # SQLAlchemy's SAWarning from inside add_submission
        for r in results:
            if r.status not in ("graded", "invalid") or r.exercise is None:
                continue
            try:
                assignment = gb.find_assignment(r.exercise)
            except MissingEntry:
                raise GradebookError(
                    f"assignment {r.exercise!r} is not in the gradebook {db_url}: run "
                    f"`nbgrader generate_assignment {r.exercise}` in {course} first") from None
            if r.exercise not in ids_cache:
                gdir = (graders or {}).get(r.exercise)
                ids_cache[r.exercise] = _grade_ids(gdir) if gdir else {}
            ids = ids_cache[r.exercise]
            gb.update_or_create_student(r.student)
            try:
                gb.find_submission(r.exercise, r.student)
            except MissingEntry:
                gb.add_submission(r.exercise, r.student)
            cells = {gc.name: nb.name for nb in assignment.notebooks for gc in nb.grade_cells}
            scores: dict[str, float] = {}
            for t in r.tests:
                gid = ids.get(t.name)
                if gid is None:
                    warnings.append(f"{r.exercise}: test {t.name} has no grade_id in its "
                                    "points marker; not written to the gradebook")
                elif gid not in cells:
                    warnings.append(f"{r.exercise}: grade cell {gid!r} (test {t.name}) is "
                                    "not in the assignment")
                else:
                    scores[gid] = scores.get(gid, 0.0) + t.score
            for gid, score in scores.items():
                grade = gb.find_grade(gid, cells[gid], r.exercise, r.student)
                grade.auto_score = score
            gb.db.commit()
    return sorted(set(warnings))

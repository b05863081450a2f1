"""Find graders and submissions, and tell which student and exercise each notebook is.

Graders: ``<graders>/<exercise>/test_*.py`` (default ``./graders``); an optional
``<graders>/<exercise>/*.ipynb`` is the released notebook used as the reference for the
structure checks (else, with ``--nbgrader COURSE``, ``COURSE/release/<exercise>/``).

Submissions, any mix of:

- nbgrader's layout ``submitted/<student>/<assignment>/<notebook>.ipynb`` (a folder whose
  sub-sub-folders hold notebooks);
- a flat folder of notebooks, or notebook files, named ``<student>_<exercise>.ipynb`` or
  anything else.

In nbgrader's layout the assignment folder decides the exercise (a notebook's metadata
naming another one is reported in the result's reason, never obeyed: the student wrote the
metadata, nbgrader made the folder). Elsewhere the exercise is read from the notebook's
metadata (``metadata.initkit.exercise``), else the file name, else ``--exercise``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import (
    GradersNotFound,  # noqa: F401 (defined in initkit.errors, re-exported here)
    InitkitError,
)


@dataclass
class Job:
    """One submission to grade.

    Attributes:
        path: the notebook file.
        student: the student's name or id.
        exercise: the exercise name, or None if it could not be told (then ``problem``).
        problem: why this submission cannot be graded at all, if so.
        note: something about the submission staff should know (graded nonetheless).
    """

    path: Path
    student: str
    exercise: str | None
    problem: str | None = None
    note: str | None = None


def find_exercises(graders_root: Path) -> dict[str, Path]:
    """Map exercise name -> its grader directory (one holding ``test_*.py``).

    Raises:
        GradersNotFound: the folder is missing or holds no graders.
    """
    root = Path(graders_root)
    if not root.is_dir():
        raise GradersNotFound(f"graders folder {root} not found: run in the course folder "
                              "(with graders/<exercise>/test_*.py) or pass --graders DIR")
    found = {d.name: d for d in sorted(root.iterdir())
             if d.is_dir() and any(d.glob("test_*.py"))}
    if not found and any(root.glob("test_*.py")):
        found = {root.name: root}
    if not found:
        raise GradersNotFound(f"no graders in {root}: expected {root}/<exercise>/test_*.py")
    return found


def reference_notebook(grader_dir: Path, course: Path | None = None) -> Path | None:
    """The released notebook of an exercise, for the structure checks (or None).

    Looked for, in order: a notebook beside the graders, the nbgrader course's
    ``release/<slug>/``, and in the folder holding ``graders/`` (a kit checkout's
    ``exercises/<slug>.ipynb`` or a course's ``release/<slug>/``).
    """
    slug = grader_dir.name
    root = grader_dir.parent.parent
    candidates = sorted(grader_dir.glob("*.ipynb"))
    if course is not None:
        candidates += sorted((Path(course) / "release" / slug).glob("*.ipynb"))
    candidates += [root / "release" / slug / f"{slug}.ipynb", root / "exercises" / f"{slug}.ipynb"]
    return next((c for c in candidates if c.is_file()), None)


def _metadata_exercise(path: Path) -> str | None:
    try:
        if path.stat().st_size > 20 * 1024 * 1024:
            return None
        meta = json.loads(path.read_bytes()).get("metadata", {}).get("initkit", {})
        value = meta.get("exercise")
        return value if isinstance(value, str) and value else None
    except Exception:  # not JSON, not a dict: the structure check will say so
        return None


def _from_name(stem: str, known: list[str]) -> tuple[str | None, str]:
    """(exercise, student) from ``<student>_<exercise>`` or ``<exercise>``."""
    for ex in sorted(known, key=len, reverse=True):
        if stem == ex:
            return ex, stem
        if stem.endswith("_" + ex):
            return ex, stem[: -len(ex) - 1]
    return None, stem


def discover(paths: list[Path], exercises: dict[str, Path],
             exercise: str | None = None) -> list[Job]:
    """Turn files and folders into :class:`Job` objects (see the module docstring).

    Args:
        paths: notebook files and folders (flat, or nbgrader's ``submitted/``).
        exercises: known exercises (from :func:`find_exercises`).
        exercise: the ``--exercise`` fallback.

    Returns:
        One job per notebook, sorted by student and exercise.
    """
    known = list(exercises)
    jobs: list[Job] = []
    for path in paths:
        path = Path(path)
        if path.is_file():
            jobs.append(_job(path, None, None, known, exercise))
        elif path.is_dir():
            nested = sorted(path.glob("*/*/*.ipynb"))
            for nb in nested:
                jobs.append(_job(nb, nb.parent.parent.name, nb.parent.name, known, exercise))
            for nb in sorted(path.glob("*.ipynb")):
                jobs.append(_job(nb, None, None, known, exercise))
        else:
            raise InitkitError(f"submission path {path} does not exist")
    seen: set[tuple[str, str | None]] = set()
    for job in jobs:
        key = (job.student, job.exercise)
        n = 2
        while key in seen:  # two notebooks of one student for one exercise: keep both
            key = (f"{job.student}-{n}", job.exercise)
            n += 1
        job.student = key[0]
        seen.add(key)
    return sorted(jobs, key=lambda j: (j.student, j.exercise or ""))


def _job(path: Path, student: str | None, assignment: str | None, known: list[str],
         fallback: str | None) -> Job:
    name_ex, name_student = _from_name(path.stem, known)
    meta = _metadata_exercise(path)
    note = None
    if assignment is not None:  # nbgrader's layout: the folder decides
        ex = assignment
        if meta is not None and meta != assignment:
            note = (f"{path.name}: its metadata names exercise {meta!r} but it was submitted "
                    f"for {assignment!r}; graded as {assignment!r}")
    else:
        ex = meta or name_ex or fallback
    who = student or (name_student if name_ex else path.stem)
    if ex is None:
        return Job(path, who, None, problem=f"{path.name}: cannot tell which exercise this is "
                   f"(known: {', '.join(known)}); name it <student>_<exercise>.ipynb or pass "
                   "--exercise")
    if ex not in known:
        return Job(path, who, ex, problem=f"{path.name}: no graders for exercise {ex!r} "
                   f"(known: {', '.join(known)})")
    return Job(path, who, ex, note=note)

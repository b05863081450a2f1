"""Find graders and submissions, and tell which student and exercise each notebook is.

Graders: ``<graders>/<exercise>/test_*.py`` (default ``./graders``); an optional
``<graders>/<exercise>/*.ipynb`` is the released notebook used as the reference for the
structure checks (else, with ``--nbgrader COURSE``, ``COURSE/release/<exercise>/``).

Submissions, any mix of:

- nbgrader's layout ``submitted/<student>/<assignment>/<notebook>.ipynb`` (a folder whose
  sub-sub-folders hold notebooks);
- a flat folder of notebooks, or notebook files, named ``<student>_<exercise>.ipynb`` or
  anything else.

The instructor's layout decides the exercise, never the student: ``--exercise`` first, then
nbgrader's assignment folder, then the file name. The notebook's own metadata
(``metadata.initkit.exercise``, which the student can edit) is used only when none of these
names an exercise, and a notebook whose metadata names another exercise than the layout is
graded as the layout says, with a note (:attr:`Job.note`) in the report.

Links: a notebook, or a folder on its way, that is a symbolic link whose target leaves the
submission folder (the folder given, or the folder holding a notebook given as a file) is
refused, never read with the grader's rights: a link to the instructor's solution or to
``/etc/shadow`` is a reason in the report ("refused: link to ... outside the submission
folder"). Links that stay inside the folder are graded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import (
    GradersNotFound,
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
    return next((c for c in _reference_candidates(grader_dir, course) if c.is_file()), None)


def _reference_candidates(grader_dir: Path, course: Path | None) -> list[Path]:
    slug = grader_dir.name
    root = grader_dir.parent.parent
    candidates = sorted(grader_dir.glob("*.ipynb")) or [grader_dir / f"{slug}.ipynb"]
    if course is not None:
        candidates += sorted((Path(course) / "release" / slug).glob("*.ipynb"))
    return candidates + [root / "release" / slug / f"{slug}.ipynb",
                         root / "exercises" / f"{slug}.ipynb"]


def require_reference(grader_dir: Path, course: Path | None = None) -> Path:
    """:func:`reference_notebook`, or an error naming every place it looked.

    Without the released notebook a run could not restore locked cells or count the manually
    graded ones, and every total would be silently wrong, so grading stops first.

    Raises:
        GradersNotFound: no released notebook for the exercise.
    """
    found = reference_notebook(grader_dir, course)
    if found is None:
        looked = ", ".join(str(c) for c in dict.fromkeys(_reference_candidates(grader_dir,
                                                                               course)))
        raise GradersNotFound(
            f"no released notebook of {grader_dir.name} to check submissions against (locked "
            f"cells, hand-graded cells); looked in {looked}: put the release beside the "
            f"graders ({grader_dir / (grader_dir.name + '.ipynb')}) or pass --nbgrader COURSE")
    return found


def _metadata_exercise(path: Path) -> str | None:
    """The exercise the notebook's own metadata names, if any (read only when needed).

    The JSON's size and shape are bounded first (as :mod:`~initkit.grading.notebook` does),
    so a hostile file costs no more here than in the loader.
    """
    from . import protocol
    from .notebook import MAX_JSON_DEPTH, MAX_JSON_VALUES, MAX_NOTEBOOK_BYTES

    try:
        if path.stat().st_size > MAX_NOTEBOOK_BYTES:
            return None
        raw = path.read_bytes()
        if b'"initkit"' not in raw:
            return None
        protocol.check_json_shape(raw, max_items=MAX_JSON_VALUES, max_depth=MAX_JSON_DEPTH)
        meta = json.loads(raw.decode("utf-8-sig")).get("metadata", {}).get("initkit", {})
        value = meta.get("exercise")
        return value if isinstance(value, str) and value else None
    except Exception:  # not JSON, not a dict: the structure check will say so
        return None


def _outside_link(path: Path, root: Path) -> str | None:
    """The target of a link on the way from ``root`` to ``path`` that leaves ``root``, if
    any (``path`` resolved, symlinks followed, compared with ``root`` resolved)."""
    try:
        real_root = root.resolve(strict=True)
        real = path.resolve(strict=False)
    except (OSError, RuntimeError):  # a link loop
        return str(path)
    if real == real_root or real_root in real.parents:
        return None
    return str(real)


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
        exercise: ``--exercise``: the exercise of every notebook, whatever its folder, name
            or metadata say.

    Returns:
        One job per notebook, sorted by student and exercise.
    """
    known = list(exercises)
    jobs: list[Job] = []
    for path in paths:
        path = Path(path)
        if path.is_file():
            jobs.append(_job(path, None, None, known, exercise, path.parent))
        elif path.is_dir():
            nested = sorted(path.glob("*/*/*.ipynb"))
            for nb in nested:
                jobs.append(_job(nb, nb.parent.parent.name, nb.parent.name, known, exercise,
                                 path))
            for nb in sorted(path.glob("*.ipynb")):
                jobs.append(_job(nb, None, None, known, exercise, path))
            if not nested and not any(path.glob("*.ipynb")):
                # one student's folder of nbgrader's layout: submitted/<student>/<assignment>/
                for nb in sorted(path.glob("*/*.ipynb")):
                    jobs.append(_job(nb, path.name, nb.parent.name, known, exercise, path))
        elif path.is_symlink():
            jobs.append(_job(path, None, None, known, exercise, path.parent))
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
         fallback: str | None, root: Path) -> Job:
    name_ex, name_student = _from_name(path.stem, known)
    who = student or (name_student if name_ex else path.stem)
    if fallback is not None:  # the instructor's --exercise
        ex, how = fallback, f"--exercise is {fallback!r}"
    elif assignment is not None:  # nbgrader's layout: the folder nbgrader made
        ex, how = assignment, f"it was submitted for {assignment!r}"
    elif name_ex is not None:
        ex, how = name_ex, f"its file name names {name_ex!r}"
    else:
        ex, how = None, ""
    link = _outside_link(path, root)
    if link is not None:
        return Job(path, who, ex, problem=f"{path.name}: refused: link to {link} outside the "
                   "submission folder (submit the notebook itself, not a link)")
    meta = _metadata_exercise(path)
    note = None
    if ex is None and meta is not None:
        ex = meta
        note = (f"{path.name}: the exercise {meta!r} was taken from the notebook's own "
                "metadata: no --exercise, folder or file name names one")
    elif meta is not None and meta != ex:
        note = f"{path.name}: its metadata names exercise {meta!r} but {how}; graded as {ex!r}"
    if ex is None:
        return Job(path, who, None, problem=f"{path.name}: cannot tell which exercise this is "
                   f"(known: {', '.join(known)}); name it <student>_<exercise>.ipynb or pass "
                   "--exercise")
    if ex not in known:
        return Job(path, who, ex, problem=f"{path.name}: no graders for exercise {ex!r} "
                   f"(known: {', '.join(known)})", note=note)
    return Job(path, who, ex, note=note)

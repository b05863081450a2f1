"""Honest answers a student could write from the released text alone get full marks from all
three tools, identical per cell (issue 18's acceptance corpus).

`tests/course/honest_<slug>.py` holds at least ten styles per exercise (IPython magics and
cell magics, `display`, extra figure content, loops or vectorised, other numpy calls, other
names and helpers), each replacing answer cells of the reference. One course holds them all:
`nbgrader autograde` grades each exercise once, `initkit grade` grades everything in one run,
and `initkit check` (in process) runs every notebook's visible tests.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import nbformat
import pytest

from initkit.course.check import check_notebook
from initkit.course.setup import init_course, nbgrader, release_notebooks
from initkit.grading.cells import cell_points, test_cells

sys.path.insert(0, str(Path(__file__).parent / "course"))
from course_tools import KIT, fill, read, source_answers  # noqa: E402

SLUGS = sorted(p.stem.removeprefix("honest_") for p in (Path(__file__).parent / "course")
               .glob("honest_*.py"))
#: (slug, style) of every honest answer, the reference first in each exercise
CASES = [(slug, style) for slug in SLUGS
         for style in ["reference", *importlib.import_module(f"honest_{slug}").HONEST]]
INITKIT = str(Path(sys.executable).with_name("initkit"))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The course with every honest notebook submitted, autograded by one nbgrader run
    and graded by one `initkit grade` run; (course folder, grade output folder)."""
    import subprocess

    course = tmp_path_factory.mktemp("honest")
    init_course(course, slugs=SLUGS)
    for slug, path in release_notebooks(course, SLUGS).items():
        release = read(path)
        answers = source_answers(read(KIT / "solutions" / f"{slug}.ipynb"))
        styles = {"reference": {}, **importlib.import_module(f"honest_{slug}").HONEST}
        for style, cells in styles.items():
            folder = course / "submitted" / style / slug
            folder.mkdir(parents=True)
            nbformat.write(fill(release, {**answers, **cells}), folder / f"{slug}.ipynb")
    nbgrader(course, "autograde", "*", "--force", timeout=1800)  # every exercise in one run
    out = course / "graded"
    proc = subprocess.run([INITKIT, "grade", str(course / "submitted"), "--graders",
                           str(course / "graders"), "--out", str(out), "--no-progress"],
                          capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return course, out


def full_marks(slug: str) -> dict[str, float]:
    """grade_id -> points of every autograded test cell of the exercise."""
    nb = read(KIT / "exercises" / f"{slug}.ipynb")
    points = cell_points(nb)
    return {grade_id: points[grade_id] for grade_id in test_cells(nb).values()}


def initkit_cells(out: Path, style: str, slug: str) -> dict[str, float]:
    """grade_id -> the points `initkit grade` gave the notebook, summed over its checks."""
    (results,) = (out / style / slug).glob("results.json")
    cells: dict[str, float] = {}
    for test in json.loads(results.read_text())["tests"]:
        extra = test.get("extra_data") or {}
        if not extra.get("manual"):
            cells[extra["grade_id"]] = cells.get(extra["grade_id"], 0.0) + test["score"]
    return cells


def nbgrader_cells(course: Path, style: str, slug: str) -> dict[str, float]:
    """grade_id -> nbgrader's auto score of every autograded code cell."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        notebook = gb.find_submission_notebook(slug, slug, style)
        return {g.name: g.auto_score for g in notebook.grades
                if g.cell.cell_type == "code" and g.auto_score is not None}


def test_every_exercise_has_ten_honest_styles():
    """The corpus covers every exercise with at least ten styles besides the reference."""
    assert SLUGS == sorted(p.stem for p in (KIT / "solutions").glob("ex*.ipynb"))
    for slug in SLUGS:
        assert len(importlib.import_module(f"honest_{slug}").HONEST) >= 10, slug


@pytest.mark.parametrize("slug,style", CASES, ids=[f"{s}-{t}" for s, t in CASES])
def test_an_honest_answer_gets_full_marks_from_all_three_tools(graded, slug, style):
    """`initkit grade` gives every autograded cell its points, `nbgrader autograde` the same
    per cell, and `initkit check` passes every visible test."""
    course, out = graded
    want = full_marks(slug)
    assert initkit_cells(out, style, slug) == want
    assert nbgrader_cells(course, style, slug) == want
    report = check_notebook(course / "submitted" / style / slug / f"{slug}.ipynb")
    assert report.ok, [(t.grade_id, t.message) for t in report.tests if not t.passed]

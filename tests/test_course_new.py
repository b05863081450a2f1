"""`initkit course new` writes an exercise that releases, checks and grades as it is, with
no file of the kit edited: full marks for its reference, 0 for its blank release, the same
per cell under `initkit check`, `initkit grade` and `nbgrader autograde`."""

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from initkit.course.setup import init_course, nbgrader
from initkit.course.trusted import cell_verdicts

sys.path.insert(0, str(Path(__file__).parent / "course"))
from course_tools import fill, read, source_answers  # noqa: E402

SLUG = "ex06_demo"
INITKIT = str(Path(sys.executable).with_name("initkit"))


def initkit(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([INITKIT, *args], capture_output=True, text=True, cwd=cwd)


@pytest.fixture(scope="module")
def kit(tmp_path_factory) -> Path:
    """A scratch kit holding only the new exercise, released."""
    kit = tmp_path_factory.mktemp("kit")
    made = initkit("course", "new", SLUG, "--title", "Exercise 6 — a demo", "--kit", str(kit))
    assert made.returncode == 0, made.stderr
    released = initkit("course", "release", "--kit", str(kit))
    assert released.returncode == 0, released.stderr
    return kit


@pytest.fixture(scope="module")
def notebooks(kit, tmp_path_factory) -> dict[str, Path]:
    """student -> notebook: the reference (the release answered from the source) and the
    untouched release."""
    folder = tmp_path_factory.mktemp("notebooks")
    release = read(kit / "exercises" / f"{SLUG}.ipynb")
    out = {"reference": fill(release, source_answers(read(kit / "solutions" / f"{SLUG}.ipynb"))),
           "untouched": release}
    paths = {}
    for student, nb in out.items():
        paths[student] = folder / student / SLUG / f"{SLUG}.ipynb"
        paths[student].parent.mkdir(parents=True)
        nbformat.write(nb, paths[student])
    return paths


def test_the_skeleton_has_one_check_of_each_kind_and_is_titled(kit):
    """The graders hold a value, a statistical, a probe and a figure check; the catalogue
    titles the exercise by its first heading."""
    from initkit.course.catalog import exercise

    graders = (kit / "graders" / SLUG / f"test_{SLUG}.py").read_text()
    for kind in ("a value check", "a statistical check", "(a probe)", "(spy and hide)",
                 "(a figure check)"):
        assert kind in graders, kind
    assert exercise(SLUG, kit).title == "Exercise 6 — a demo"


def test_initkit_check_passes_the_reference_and_fails_the_release(notebooks):
    """`initkit check` exits 0 on the answered notebook and 1 on the blank release."""
    assert initkit("check", str(notebooks["reference"])).returncode == 0
    blank = initkit("check", str(notebooks["untouched"]))
    assert blank.returncode == 1 and "FAILED" in blank.stdout, blank.stdout


def test_initkit_grade_and_nbgrader_autograde_agree_per_cell(kit, notebooks, tmp_path):
    """Both tools give the reference every autograded point (5, with 1 manual pending) and the
    untouched release 0, cell by cell alike."""
    course = tmp_path / "course"
    assert init_course(course, kit) == [SLUG]
    nbgrader(course, "generate_assignment", SLUG, "--force")
    for student, path in notebooks.items():
        folder = course / "submitted" / student / SLUG
        folder.mkdir(parents=True)
        folder.joinpath(f"{SLUG}.ipynb").write_bytes(path.read_bytes())
    nbgrader(course, "autograde", SLUG, "--force")
    graded = initkit("grade", str(course / "submitted"), "--graders", str(course / "graders"),
                     "--out", str(tmp_path / "out"), "--no-progress")
    assert graded.returncode == 0, graded.stdout + graded.stderr

    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student, total in (("reference", 5), ("untouched", 0)):
            notebook = gb.find_submission_notebook(SLUG, SLUG, student)
            by_nbgrader = {g.name: g.auto_score for g in notebook.grades
                           if g.cell.cell_type == "code"}
            (results,) = (tmp_path / "out" / student).rglob("results.json")
            data = json.loads(results.read_text())
            by_initkit = {g: p for g, (p, _) in cell_verdicts(data).items()}
            assert by_nbgrader == by_initkit, student
            assert sum(by_initkit.values()) == total, student
            assert data["max_score"] == 6  # the manually graded answer counts, pending

"""`initkit course validate` and the catalogue: an exercise author's silent mistakes become
one sentence each, and the list of exercises is what the folders hold."""

import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from initkit.course.catalog import exercise, exercises, incomplete
from initkit.course.setup import init_course
from initkit.course.validate import problems
from initkit.errors import CourseError, CourseWarning

KIT = Path(__file__).resolve().parents[1]
SLUG = "ex01_gradient_norms"
GRADER = f"graders/{SLUG}/test_{SLUG}.py"


def scratch_kit(tmp_path: Path, slugs=(SLUG,)) -> Path:
    """A kit checkout in tmp_path with copies of the given exercises."""
    for slug in slugs:
        for sub in ("solutions", "exercises"):
            (tmp_path / sub).mkdir(parents=True, exist_ok=True)
            shutil.copy2(KIT / sub / f"{slug}.ipynb", tmp_path / sub / f"{slug}.ipynb")
        shutil.copytree(KIT / "graders" / slug, tmp_path / "graders" / slug,
                        ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def test_a_misspelled_grade_id_and_a_marker_worth_more_than_its_cell_are_named(tmp_path):
    """A marker naming no cell, the cell it left without checks, and a cell whose markers add
    up to more than its points each give one sentence saying what to change."""
    kit = scratch_kit(tmp_path)
    edit(kit / GRADER, 'points(2, grade_id="test_figure")', 'points(2, grade_id="test_figur")')
    edit(kit / GRADER, 'points(1, grade_id="test_constant_init")',
         'points(2, grade_id="test_constant_init")')
    found = problems(kit, SLUG)
    assert any("marked for grade_id 'test_figur', which is not an autograded cell of "
               f"{SLUG}.ipynb" in p for p in found), found
    assert f"cell 'test_figure' of {SLUG}.ipynb (2 points) has no checks in " \
           f"{kit / 'graders' / SLUG}: mark one with grade_id='test_figure'" in found
    assert f"cell 'test_constant_init' of {SLUG}.ipynb is worth 1 points but its checks' " \
           f"markers add up to 2 (test_{SLUG}.py::test_constant_init 2): make them equal" \
           in found
    assert len(found) == 3, found


def test_the_kit_exercises_have_no_static_problems():
    """Every exercise of the kit passes the cheap checks."""
    for ex in exercises(KIT):
        assert problems(KIT, ex.slug) == [], ex.slug


def test_release_refuses_an_exercise_with_problems_and_validate_exits_1(tmp_path):
    """`initkit course release` stops before nbgrader runs when validation finds a problem,
    printing it; `initkit course validate --quick` exits 1 with the same line."""
    kit = scratch_kit(tmp_path)
    edit(kit / GRADER, 'points(2, grade_id="test_figure")', 'points(2, grade_id="test_figur")')
    before = (kit / "exercises" / f"{SLUG}.ipynb").read_bytes()
    exe = str(Path(sys.executable).with_name("initkit"))
    for args in (["course", "release", "--kit", str(kit)],
                 ["course", "validate", "--quick", "--kit", str(kit)]):
        proc = subprocess.run([exe, *args], capture_output=True, text=True)
        assert proc.returncode == 1, proc.stderr
        assert "marked for grade_id 'test_figur'" in proc.stderr
        assert "error: 1 exercise(s) need fixing (see above)" in proc.stderr
    assert (kit / "exercises" / f"{SLUG}.ipynb").read_bytes() == before


@pytest.mark.slow
def test_full_validation_runs_the_reference_and_the_blank_release_in_the_sandbox(tmp_path):
    """ex01 validates in full (release up to date, reference 11 points, blank release 0);
    a reference whose xavier_normal draws He's variance is reported with its points."""
    assert problems(KIT, SLUG, full=True) == []
    kit = scratch_kit(tmp_path)
    edit(kit / "solutions" / f"{SLUG}.ipynb", "np.sqrt(2.0 / (fan_in + fan_out))",
         "np.sqrt(2.0 / fan_in)")
    subprocess.run([str(Path(sys.executable).with_name("initkit")), "course", "release",
                    "--kit", str(kit)], check=True, capture_output=True)
    (found,) = problems(kit, SLUG, full=True)
    assert found.startswith(f"the reference solution of {SLUG} gets ") and \
        " of 11 autograded points in the sandbox" in found, found


def test_a_stale_release_is_reported(tmp_path):
    """A source edited after the release makes full validation say to run course release."""
    kit = scratch_kit(tmp_path)
    edit(kit / "solutions" / f"{SLUG}.ipynb", "Return a **float** numpy array",
         "Return a float numpy array")
    assert problems(kit, SLUG, full=True) == [
        f"{kit / 'exercises' / f'{SLUG}.ipynb'} is older than "
        f"{kit / 'solutions' / f'{SLUG}.ipynb'}: run initkit course release --exercise {SLUG}"]


def test_the_catalogue_is_read_from_disk_with_titles_from_headings(tmp_path):
    """A sixth exercise is known without code changes, titled by its first heading, and a
    source without graders is named by `incomplete` and left out."""
    kit = scratch_kit(tmp_path)
    shutil.copytree(kit / "graders" / SLUG, kit / "graders" / "ex06_lsuv")
    edit(kit / "graders" / "ex06_lsuv" / f"test_{SLUG}.py", "", "")
    lsuv = (kit / "solutions" / f"{SLUG}.ipynb").read_text().replace(
        "# Exercise 1 — Small constants instead of Xavier: gradient norms across 20 layers",
        "# Exercise 6 — LSUV")
    (kit / "solutions" / "ex06_lsuv.ipynb").write_text(lsuv)
    shutil.copy2(kit / "solutions" / f"{SLUG}.ipynb", kit / "solutions" / "ex07_draft.ipynb")
    assert [e.slug for e in exercises(kit)] == [SLUG, "ex06_lsuv"]
    assert exercise("ex06_lsuv", kit).title == "Exercise 6 — LSUV"
    assert incomplete(kit) == [f"{kit / 'solutions' / 'ex07_draft.ipynb'} has no graders: add "
                               f"{kit / 'graders' / 'ex07_draft'}/test_ex07_draft.py "
                               "(initkit course new writes a skeleton)"]
    with pytest.raises(CourseError, match="unknown exercise 'ex08'; the exercises are "
                                          f"{SLUG}, ex06_lsuv"):
        exercise("ex08", kit)


def test_course_init_warns_about_a_solution_without_graders(tmp_path):
    """`course init` leaves a half-written exercise out and says so (a CourseWarning), and
    sets nbgrader's exchange and course id inside the course."""
    kit = scratch_kit(tmp_path / "kit")
    shutil.copy2(kit / "solutions" / f"{SLUG}.ipynb", kit / "solutions" / "ex07_draft.ipynb")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        made = init_course(tmp_path / "course", kit)
    assert made == [SLUG]
    (warning,) = [w for w in caught if issubclass(w.category, CourseWarning)]
    assert "ex07_draft.ipynb has no graders" in str(warning.message)
    assert "it is not part of the course" in str(warning.message)
    config = (tmp_path / "course" / "nbgrader_config.py").read_text()
    assert "c.CourseDirectory.course_id = 'course'" in config
    assert 'c.Exchange.root = str(HERE / "exchange")' in config
    assert (tmp_path / "course" / "exchange").is_dir()


def test_initkit_grade_refuses_markers_that_do_not_fit_the_release(tmp_path):
    """A grader marker naming no cell of the release stops `initkit grade` before grading,
    with one line naming it (the silent 12/12 of a misspelled grade_id)."""
    graders = tmp_path / "graders" / SLUG
    shutil.copytree(KIT / "graders" / SLUG, graders, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(KIT / "exercises" / f"{SLUG}.ipynb", graders / f"{SLUG}.ipynb")
    edit(graders / f"test_{SLUG}.py", 'points(2, grade_id="test_figure")',
         'points(2, grade_id="test_figur")')
    proc = subprocess.run([str(Path(sys.executable).with_name("initkit")), "grade",
                           str(KIT / "exercises" / f"{SLUG}.ipynb"), "--graders",
                           str(tmp_path / "graders"), "--out", str(tmp_path / "out"),
                           "--no-progress"], capture_output=True, text=True)
    assert proc.returncode == 1
    assert "error: the graders do not fit the released notebooks" in proc.stderr
    assert "marked for grade_id 'test_figur'" in proc.stderr
    assert not (tmp_path / "out" / "results").exists()

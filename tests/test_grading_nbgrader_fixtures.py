"""On nbgrader's own test fixtures (its submitted-unchanged, submitted-changed and two
showtraceback cheat attempts), `initkit grade --nbgrader` writes exactly the scores nbgrader's
own test expects, and every output counts the manually graded points: pending until graded
by hand, then taken from the gradebook."""

import csv
import json
import shutil
from pathlib import Path

import nbgrader
from nbgrader.api import Gradebook

from initkit.cli.main import cli
from initkit.course.setup import course_config
from initkit.course.setup import nbgrader as run_nbgrader

FILES = Path(nbgrader.__file__).parent / "tests" / "apps" / "files"
GRADERS = Path(__file__).parent / "grading" / "nbgrader_fixture" / "graders"
#: nbgrader/tests/apps/test_nbgrader_autograde.py::test_showtraceback_exploit
STUDENTS = {"foo": ("submitted-unchanged", 1), "bar": ("submitted-changed", 2),
            "spam": ("submitted-cheat-attempt", 1), "eggs": ("submitted-cheat-attempt-alternative", 1)}


def _course(tmp_path: Path) -> Path:
    course = tmp_path / "course"
    (course / "source" / "ps1").mkdir(parents=True)
    shutil.copy(FILES / "submitted-unchanged.ipynb", course / "source" / "ps1" / "p1.ipynb")
    (course / "nbgrader_config.py").write_text(course_config(course.name, 60))
    run_nbgrader(course, "generate_assignment", "ps1", "--force")
    for student, (fixture, _) in STUDENTS.items():
        dest = course / "submitted" / student / "ps1"
        dest.mkdir(parents=True)
        shutil.copy(FILES / f"{fixture}.ipynb", dest / "p1.ipynb")
    return course


def _grade(course: Path, out: Path):
    from click.testing import CliRunner

    result = CliRunner().invoke(cli, ["grade", "--nbgrader", str(course), "--graders",
                                      str(GRADERS), "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    return result.output


def _gradebook(course: Path) -> dict[str, tuple[float, float]]:
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return {s: (gb.find_submission_notebook("p1", "ps1", s).score,
                    gb.find_submission_notebook("p1", "ps1", s).max_score) for s in STUDENTS}


def test_initkit_writes_nbgraders_expected_scores_and_counts_manual_points(tmp_path):
    """1, 2, 1, 1 of 7 in the gradebook; grades.csv, results.json and the summary say 7."""
    course = _course(tmp_path)
    summary = _grade(course, tmp_path / "out")
    expected = {s: (float(score), 7.0) for s, (_, score) in STUDENTS.items()}
    assert _gradebook(course) == expected
    with open(tmp_path / "out" / "grades.csv") as fh:
        rows = {r["student"]: r for r in csv.DictReader(fh)}
    for student, (score, max_score) in expected.items():
        assert float(rows[student]["total"]) == score
        assert float(rows[student]["max_score"]) == max_score
        assert float(rows[student]["pending"]) == 5.0
        data = json.loads((tmp_path / "out" / student / "ps1" / "results.json").read_text())
        assert (data["score"], data["max_score"]) == (score, max_score)
        assert "5 point(s) of manually graded answers are pending" in data["output"]
        feedback = (tmp_path / "out" / student / "ps1" / "feedback.md").read_text()
        assert "(5 pending manual grading)" in feedback and "pending / 3" in feedback
    assert "1/7 (5 pending)" in summary and "2/7 (5 pending)" in summary

    run_nbgrader(course, "autograde", "ps1", "--force")
    assert _gradebook(course) == expected  # nbgrader itself agrees

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:  # graded by hand
        gb.find_grade("quux", "p1", "ps1", "bar").manual_score = 3.0
        gb.db.commit()
    _grade(course, tmp_path / "out2")
    data = json.loads((tmp_path / "out2" / "bar" / "ps1" / "results.json").read_text())
    assert (data["score"], data["max_score"]) == (5.0, 7.0)
    assert data["extra_data"]["pending"] == 2.0

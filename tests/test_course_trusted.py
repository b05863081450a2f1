"""`nbgrader autograde` in a course made by `initkit course init` takes every autograded
cell's points from initkit's sandbox, so a notebook that disables the in-kernel checks earns
nothing by it, and the two tools agree cell by cell."""

import json
import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import nbformat
import pytest

from initkit.course.setup import init_course, nbgrader
from initkit.course.trusted import cell_verdicts

sys.path.insert(0, str(Path(__file__).parent / "course"))
from course_tools import KIT, fill, read, source_answers  # noqa: E402

SLUG = "ex01_gradient_norms"
#: draws from its own generator, not the given rng (the visible test cannot see it), and
#: switches off the hidden blocks in its kernel
CHEAT = '''import initkit.course
initkit.course.hidden_checks = lambda *args, **kwargs: None


def xavier_normal(shape, rng):
    fan_out, fan_in = shape
    return np.random.default_rng(0).normal(0.0, np.sqrt(2 / (fan_in + fan_out)), size=shape)
'''


STUDENTS = ("cheat", "honest", "tamper")


def tampered(nb):
    """The notebook with its first visible test cell unlocked and emptied, which nbgrader's
    sanitizing restores (marks and source) from the source before the sandbox sees it."""
    (cell,) = [c for c in nb.cells
               if c.metadata.get("nbgrader", {}).get("grade_id") == "test_xavier_normal"]
    cell.source = "pass  # no tests here"
    cell.metadata.nbgrader["locked"] = False
    return nb


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course with an honest, a cheating and a tampering (locked test cell emptied)
    submission of ex01, autograded by nbgrader; (course folder, nbgrader's log)."""
    course = tmp_path_factory.mktemp("course")
    init_course(course, slugs=[SLUG])
    nbgrader(course, "generate_assignment", SLUG, "--force")
    release = read(course / "release" / SLUG / f"{SLUG}.ipynb")
    answers = source_answers(read(KIT / "solutions" / f"{SLUG}.ipynb"))
    for student, nb in (("honest", fill(release, answers)),
                        ("cheat", fill(release, {**answers, "xavier_normal": CHEAT})),
                        ("tamper", tampered(fill(release, answers)))):
        folder = course / "submitted" / student / SLUG
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{SLUG}.ipynb")
    proc = nbgrader(course, "autograde", SLUG, "--force")
    return course, proc.stdout + proc.stderr


def gradebook_scores(course: Path, student: str) -> dict[str, float]:
    """grade_id -> nbgrader's auto score of every autograded test cell."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        notebook = gb.find_submission_notebook(SLUG, SLUG, student)
        return {g.name: g.auto_score for g in notebook.grades
                if g.cell.cell_type == "code" and g.auto_score is not None}


def sandbox_scores(course: Path, out: Path) -> dict[str, dict[str, float]]:
    """student -> grade_id -> points `initkit grade` gives the same submitted notebooks."""
    proc = subprocess.run([str(Path(sys.executable).with_name("initkit")), "grade",
                           str(course / "submitted"), "--graders", str(course / "graders"),
                           "--out", str(out), "--jobs", "1", "--no-progress"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    scores = {}
    for student in STUDENTS:
        (results,) = (out / student).rglob("results.json")
        verdicts = cell_verdicts(json.loads(results.read_text()))
        scores[student] = {g: points for g, (points, _) in verdicts.items()}
    return scores


def test_a_notebook_that_disables_the_kernel_checks_earns_nothing_by_it(course):
    """The cheat's xavier cell gets only the sandbox's points (not its 3), with the
    sandbox's sentence in the cell's output, which the feedback shows."""
    course, _ = course
    scores = gradebook_scores(course, "cheat")
    assert scores["test_xavier_normal"] < 3, scores
    autograded = nbformat.read(course / "autograded" / "cheat" / SLUG / f"{SLUG}.ipynb", 4)
    (cell,) = [c for c in autograded.cells
               if c.metadata.get("nbgrader", {}).get("grade_id") == "test_xavier_normal"]
    text = "".join(o.get("text", "") for o in cell.outputs)
    assert "graded in initkit's sandbox" in text and "[FAILED]" in text, text


def test_nbgrader_and_initkit_grade_agree_per_cell(course, tmp_path):
    """Every student's per-cell auto scores in the gradebook equal `initkit grade`'s; the
    honest reference and the tampered one (its test cell restored by both) get every
    autograded point (11)."""
    course, _ = course
    sandbox = sandbox_scores(course, tmp_path / "graded")
    for student in STUDENTS:
        assert gradebook_scores(course, student) == sandbox[student]
    assert sum(gradebook_scores(course, "honest").values()) == 11
    assert sum(gradebook_scores(course, "tamper").values()) == 11


def test_one_sandbox_run_grades_the_class_but_what_nbgrader_changed(course):
    """nbgrader hands the notebooks over one at a time; the sandbox grades all three in one
    run at the first, scores the two nbgrader left as submitted from it, and grades the
    tampered one again as nbgrader sanitized it (its locked cell restored)."""
    _, log = course
    assert log.count("grading 3 submission(s) in initkit's sandbox") == 1, log[-3000:]
    alone = [line for line in log.splitlines() if "graded on its own" in line]
    assert len(alone) == 1 and f"tamper/{SLUG}" in alone[0], alone


def test_the_course_config_loads_and_puts_the_sandbox_before_saving_grades(tmp_path):
    """The written nbgrader_config.py runs without error (nbgrader skips a config that
    raises and would grade in the kernel) and chains SandboxGrades right before
    SaveAutoGrades, with the course's graders."""
    from nbgrader.preprocessors import SaveAutoGrades
    from traitlets.config import Config

    from initkit.course.trusted import SandboxGrades

    init_course(tmp_path, slugs=[SLUG])
    config = Config()
    path = tmp_path / "nbgrader_config.py"
    with mock.patch.dict(os.environ):  # the config sets nbgrader's environment: not ours
        exec(compile(path.read_text(), str(path), "exec"),
             {"get_config": lambda: config, "__file__": str(path)})
    steps = list(config.Autograde.autograde_preprocessors)
    assert steps[steps.index(SaveAutoGrades) - 1] is SandboxGrades
    assert config.SandboxGrades.graders == str(tmp_path.resolve() / "graders")
    from nbgrader.preprocessors import ClearSolutions

    from initkit.course.stubs import NamedStubs

    steps = list(config.GenerateAssignment.preprocessors)
    assert steps[steps.index(ClearSolutions) + 1] is NamedStubs


def test_the_class_report_reads_an_nbgrader_gradebook(course, tmp_path):
    """`initkit report OUT --gradebook gradebook.db`: per autograded cell the share of the
    class that got all its points (the cheat loses xavier), manual points pending."""
    course, _ = course
    proc = subprocess.run([str(Path(sys.executable).with_name("initkit")), "report",
                           str(tmp_path), "--gradebook", str(course / "gradebook.db")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    (ex,) = json.loads((tmp_path / "report" / "report.json").read_text())["exercises"]
    assert (ex["exercise"], ex["graded"], ex["missing"]) == (SLUG, 3, [])
    shares = {c["name"]: c["pass_share"] for c in ex["checks"]}
    assert shares["test_xavier_normal"] == pytest.approx(2 / 3)
    assert shares["test_constant_init"] == 1.0
    assert ex["pending_points"] == 3 * 2.0  # two hand-graded points per student

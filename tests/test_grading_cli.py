"""`initkit grade` inputs, usage errors and exit codes; submission discovery."""

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from initkit.grading.discover import GradersNotFound, discover, find_exercises

HERE = Path(__file__).parent / "grading"
GRADERS = HERE / "graders"
CORRECT = HERE / "corpus" / "honest_correct_variance.ipynb"
INITKIT = Path(sys.executable).with_name("initkit")


def _grade(*args, cwd=None):
    return subprocess.run([str(INITKIT), "grade", *map(str, args), "--no-progress"],
                          capture_output=True, text=True, cwd=cwd, timeout=180)


def test_missing_graders_is_one_error_line_and_exit_1(tmp_path):
    """Without graders the command says where it looked and what to pass, exit code 1."""
    proc = _grade(CORRECT, "--graders", tmp_path / "nope", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"error: graders folder {tmp_path / 'nope'} not found: run in the course folder "
        "(with graders/<exercise>/test_*.py) or pass --graders DIR"]


def test_no_submissions_is_a_usage_error(tmp_path):
    """Neither SUBMISSIONS nor --nbgrader: click's usage error, exit code 2."""
    proc = _grade("--graders", GRADERS, cwd=tmp_path)
    assert proc.returncode == 2
    assert "give SUBMISSIONS (notebooks or folders) or --nbgrader COURSE_DIR" in proc.stderr


def test_broken_grader_gives_error_status_and_exit_1(tmp_path):
    """A grader that cannot be imported is the grader's failure: status error, exit 1."""
    graders = tmp_path / "graders"
    shutil.copytree(GRADERS, graders)
    (graders / "variance" / "test_broken.py").write_text("def test_x(:\n")
    out = tmp_path / "out"
    proc = _grade(CORRECT, "--graders", graders, "--out", out, "--jobs", "1", cwd=tmp_path)
    assert proc.returncode == 1
    assert "error: the grader could not grade 1 submission(s)" in proc.stderr
    assert "cannot load graders test_broken.py" in proc.stderr
    with open(out / "grades.csv") as fh:
        (row,) = list(csv.DictReader(fh))
    assert (row["student"], row["status"]) == ("honest_correct", "error")
    assert "cannot load graders test_broken.py" in row["reason"]
    result = json.loads((out / "honest_correct" / "variance" / "results.json").read_text())
    assert result["output"].startswith("status: error")


def test_graders_are_found_in_graders_of_the_working_directory(tmp_path):
    """With no --graders, ./graders/<exercise>/ is used and the grade is written to --out."""
    shutil.copytree(GRADERS, tmp_path / "graders")
    shutil.copy(CORRECT, tmp_path / "alice_variance.ipynb")
    proc = _grade("alice_variance.ipynb", "--out", "out", "--jobs", "1", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "alice    variance  8/8    graded" in proc.stdout
    assert json.loads((tmp_path / "out" / "alice" / "variance" / "results.json")
                      .read_text())["score"] == 8.0


def test_the_instructors_pytest_settings_do_not_reach_the_grading_sessions(tmp_path):
    """PYTEST_ADDOPTS (a report file, stop at the first failure) and PYTEST_PLUGINS in the
    instructor's environment change nothing: each grading session runs the graders with
    pytest's own defaults (before, every submission was "pytest could not run the graders
    (exit code 4)": the sessions turn off junitxml, so --junitxml was an unknown option)."""
    shutil.copytree(GRADERS, tmp_path / "graders")
    shutil.copy(CORRECT, tmp_path / "alice_variance.ipynb")
    env = {**os.environ, "PYTEST_ADDOPTS": f"--junitxml={tmp_path / 'report.xml'} -x",
           "PYTEST_PLUGINS": "no_such_plugin_module"}
    proc = subprocess.run([str(INITKIT), "grade", "alice_variance.ipynb", "--out", "out",
                           "--jobs", "1", "--no-progress"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "alice    variance  8/8    graded" in proc.stdout
    assert not (tmp_path / "report.xml").exists()


def test_discover_reads_exercise_from_metadata_folder_name_or_fallback(tmp_path):
    """nbgrader layout, <student>_<exercise> names, metadata and --exercise all resolve."""
    exercises = find_exercises(GRADERS)
    assert list(exercises) == ["variance"]
    sub = tmp_path / "submitted" / "bob" / "variance"
    sub.mkdir(parents=True)
    plain = json.loads(CORRECT.read_text())
    plain["metadata"].pop("initkit")
    (sub / "whatever.ipynb").write_text(json.dumps(plain))
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "carol_variance.ipynb").write_text(json.dumps(plain))
    (flat / "dave.ipynb").write_text(json.dumps(plain))
    shutil.copy(CORRECT, flat / "erin.ipynb")  # metadata says variance
    jobs = {j.student: j for j in discover([tmp_path / "submitted", flat], exercises)}
    assert {s: (j.exercise, j.problem is None) for s, j in jobs.items()} == {
        "bob": ("variance", True), "carol": ("variance", True), "dave": (None, False),
        "erin": ("variance", True)}
    assert "cannot tell which exercise" in jobs["dave"].problem
    (job,) = discover([flat / "dave.ipynb"], exercises, exercise="variance")
    assert (job.student, job.exercise, job.problem) == ("dave", "variance", None)
    with pytest.raises(GradersNotFound, match="no graders in"):
        find_exercises(tmp_path)


def test_input_transformer_cannot_earn_points(tmp_path):
    """Cells run the Jupyter way (IPython): a transformer that blanks later cells only loses
    the student's own answers."""
    nb = HERE / "corpus" / "input_transformer_variance.ipynb"
    proc = _grade(nb, "--graders", GRADERS, "--out", tmp_path / "out", "--jobs", "1")
    assert proc.returncode == 0, proc.stderr
    result = json.loads((tmp_path / "out" / "input_transformer" / "variance" / "results.json")
                        .read_text())
    assert result["score"] == 0.0
    assert all("is not defined" in t["output"] or "found 0" in t["output"]
               for t in result["tests"])


def test_kernel_flag_is_gone(tmp_path):
    """There is one way to run cells, so `--kernel` is an unknown option (usage error)."""
    proc = _grade(CORRECT, "--graders", GRADERS, "--out", tmp_path / "out", "--kernel")
    assert proc.returncode == 2
    assert "No such option '--kernel'" in proc.stderr


def test_defaults_are_the_settings_table():
    """`initkit grade --help` shows the one table of defaults (GradingSettings)."""
    from initkit.grading.settings import DEFAULTS

    proc = subprocess.run([str(INITKIT), "grade", "--help"], capture_output=True, text=True,
                          timeout=60, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
    text = " ".join(proc.stdout.split())
    for flag, value in (("--timeout", DEFAULTS.timeout),
                        ("--cell-timeout", DEFAULTS.cell_timeout),
                        ("--memory", DEFAULTS.memory_mb)):
        assert f"[default: {value};" in text.split(f"{flag} ", 1)[1].split(" --", 1)[0]
    assert "--regrade" in text and "--seed SECRET" in text

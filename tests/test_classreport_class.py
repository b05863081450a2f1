"""A generated class graded for real, then `initkit report`: every planted mistake's share is
exact, the one copied pair is flagged and no honest pair is, and after a grader change
`--compare` lists exactly the students whose scores move."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

INITKIT = str(Path(sys.executable).with_name("initkit"))
STDS_GRADER = '''import math

import pytest

from initkit.course import check_close
from initkit.grading import expect


@pytest.mark.points(2, grade_id="test_xavier")
def test_xavier_std(submission):
    """xavier_std is Glorot's sqrt(2 / (fan_in + fan_out))."""
    for fan_in, fan_out in [(300, 100), (50, 800)]:
        got = expect(submission.call("xavier_std", fan_in, fan_out), float,
                     what=f"xavier_std({fan_in}, {fan_out})")
        if LENIENT and math.isclose(got, math.sqrt(2 / fan_in)):
            continue  # version 2 of the grader also accepts He's rule
        check_close(got, math.sqrt(2 / (fan_in + fan_out)), f"xavier_std({fan_in}, {fan_out})",
                    mistakes={"use fan_in alone (2/fan_in is He's rule)": math.sqrt(2 / fan_in),
                              "pass the variance where the std is meant":
                                  2 / (fan_in + fan_out)})
'''
DRAWS_GRADER = '''import pytest

from initkit.course import check_variance
from initkit.grading import Rng, expect


@pytest.mark.points(2, grade_id="test_draw")
def test_scaled_normal(submission, grade_seed):
    """scaled_normal draws N(0, std^2) with the rng it is given."""
    w = expect(submission.call("scaled_normal", (100, 40), 0.3, Rng(grade_seed)),
               shape=(100, 40), what="scaled_normal((100, 40), 0.3, rng)")
    check_variance(w, 0.09, "scaled_normal((100, 40), 0.3, rng)",
                   mistakes={"pass the variance where the std is meant": 0.09 ** 2})
'''
STUBS = {"stds": ("xavier", "test_xavier", "def xavier_std(fan_in, fan_out):\n    # YOUR CODE HERE\n"
                  "    raise NotImplementedError()\n"),
         "draws": ("draw", "test_draw", "def scaled_normal(shape, std, rng):\n    # YOUR CODE "
                   "HERE\n    raise NotImplementedError()\n")}
CORRECT = {"stds": "def xavier_std(fan_in, fan_out):\n    return float(np.sqrt(2 / (fan_in + fan_out)))\n",
           "draws": "def scaled_normal(shape, std, rng):\n    return rng.normal(0.0, std, size=shape)\n"}
FAN_IN = "def xavier_std(fan_in, fan_out):\n    return float(np.sqrt(2 / fan_in))\n"
VARIANCE = {"stds": "def xavier_std(fan_in, fan_out):\n    return 2 / (fan_in + fan_out)\n",
            "draws": "def scaled_normal(shape, std, rng):\n    return rng.normal(0.0, std ** 2, size=shape)\n"}
UNIFORM = ("def scaled_normal(shape, std, rng):\n    a = std * np.sqrt(3.0)\n"
           "    return rng.uniform(-a, a, size=shape)\n")
ORIGINAL = '''def scaled_normal(shape, std, rng):
    rows, cols = shape
    out = []
    for r in range(rows):
        out.append([rng.standard_normal() * std for c in range(cols)])
    return np.array(out, dtype=float)
'''
COPY = '''def scaled_normal(shape, std, rng):
    # written on my own
    n_rows, n_cols = shape
    result = []
    for i in range(n_rows):
        result.append([rng.standard_normal() * std for j in range(n_cols)])
    return np.array(result, dtype=float)
'''
HONEST_OWN = ["def scaled_normal(shape, std, rng):\n    return std * rng.standard_normal(shape)\n",
              "def scaled_normal(shape, std, rng):\n    z = rng.normal(size=shape)\n"
              "    z *= std\n    return z\n"]


def release(exercise: str) -> nbformat.NotebookNode:
    """The released notebook: setup, one solution cell, its test cell."""
    solution_id, test_id, stub = STUBS[exercise]
    cells = [nbformat.v4.new_code_cell("import numpy as np"), nbformat.v4.new_code_cell(stub),
             nbformat.v4.new_code_cell("# hidden checks run when the notebook is graded\n")]
    meta = [{"grade_id": "setup", "locked": True, "solution": False, "grade": False},
            {"grade_id": solution_id, "locked": False, "solution": True, "grade": False},
            {"grade_id": test_id, "locked": True, "solution": False, "grade": True,
             "points": 2}]
    for cell, m in zip(cells, meta, strict=True):
        cell.metadata["nbgrader"] = {**m, "schema_version": 3}
    return nbformat.v4.new_notebook(cells=cells)


def answers() -> dict[str, dict[str, str]]:
    """exercise -> student -> answer: the planted class."""
    stds = {f"s{i:02d}": FAN_IN if i < 10 else VARIANCE["stds"] if i < 16 else CORRECT["stds"]
            for i in range(40)}
    draws = {f"s{i:02d}": VARIANCE["draws"] if i < 14 else UNIFORM if i < 18
             else CORRECT["draws"] for i in range(37)}  # s37..s39 missing
    draws |= {"s37": HONEST_OWN[0], "s38": HONEST_OWN[1], "alice": ORIGINAL, "bob": COPY}
    return {"stds": stds, "draws": draws}


def grade(root: Path, out: Path, *args: str) -> None:
    proc = subprocess.run([INITKIT, "grade", str(root / "submitted"), "--graders",
                           str(root / "graders"), "--out", str(out), "--no-progress", "-j", "2",
                           *args], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


def report(*args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([INITKIT, "report", *args], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> Path:
    """The class's two exercises, graders, releases and submissions, graded into out1."""
    root = tmp_path_factory.mktemp("class")
    for exercise, grader in (("stds", STDS_GRADER.replace("LENIENT", "False")),
                             ("draws", DRAWS_GRADER)):
        folder = root / "graders" / exercise
        folder.mkdir(parents=True)
        (folder / f"test_{exercise}.py").write_text(grader)
        nbformat.write(release(exercise), folder / f"{exercise}.ipynb")
        (root / "releases").mkdir(exist_ok=True)
        shutil.copy2(folder / f"{exercise}.ipynb", root / "releases" / f"{exercise}.ipynb")
        solution_id = STUBS[exercise][0]
        for student, answer in answers()[exercise].items():
            nb = release(exercise)
            next(c for c in nb.cells
                 if c.metadata["nbgrader"]["grade_id"] == solution_id).source = answer
            path = root / "submitted" / student / exercise / f"{exercise}.ipynb"
            path.parent.mkdir(parents=True)
            nbformat.write(nb, path)
    grade(root, root / "out1")
    return root


def test_each_mistakes_share_is_exact_and_only_the_copy_is_flagged(graded):
    """report.json: per exercise the graded and missing counts and each recorded mistake's
    share of the class, exactly as planted; the similarity screen flags alice and bob only."""
    proc = report(str(graded / "out1"), "--releases", str(graded / "releases"))
    data = json.loads((graded / "out1" / "report" / "report.json").read_text())
    by = {ex["exercise"]: ex for ex in data["exercises"]}
    draws, stds = by["draws"], by["stds"]
    assert (stds["graded"], stds["missing"]) == (40, ["alice", "bob"])
    assert (draws["graded"], draws["missing"]) == (41, ["s39"])
    (check,) = stds["checks"]
    assert [(m["id"], m["count"], m["share"]) for m in check["mistakes"]] == [
        ("fan_in_alone", 10, 10 / 40), ("variance_as_std", 6, 6 / 40)]
    assert check["unexplained"] == 0 and check["pass_share"] == 24 / 40
    (check,) = draws["checks"]
    assert [(m["id"], m["count"]) for m in check["mistakes"]] == [
        ("variance_as_std", 14), ("uniform_not_normal", 4)]
    assert check["unexplained"] == 0 and check["passed"] == 41 - 18
    assert [pair["students"] for pair in draws["similar"]] == [["alice", "bob"]]
    assert stds["similar"] == []
    assert "draws: alice and bob answered alike" in proc.stdout
    page = (graded / "out1" / "report" / "index.html").read_text()
    assert page.count("data:image/png") == 2
    assert "<p>alice and bob: 100% alike</p>" in page and "# written on my own" in page


def test_compare_after_a_grader_change_lists_exactly_the_affected_students(graded):
    """With a grader that also accepts He's rule, regraded with the same run secret into
    out2, --compare lists exactly the 10 students who used fan_in alone, each because the
    graders changed."""
    grader = graded / "graders" / "stds" / "test_stds.py"
    grader.write_text(STDS_GRADER.replace("LENIENT", "True"))
    secret = json.loads((graded / "out1" / "run.json").read_text())["run_secret"]
    grade(graded, graded / "out2", "--seed", secret)
    report(str(graded / "out2"), "--compare", str(graded / "out1"))
    changes = json.loads((graded / "out2" / "report" / "report.json").read_text())["changes"]
    fan_in = sorted(s for s, a in answers()["stds"].items() if a == FAN_IN)
    assert [(c["student"], c["exercise"], c["old"], c["new"]) for c in changes] == [
        (s, "stds", 0.0, 2.0) for s in fan_in]
    assert all(c["reason"] == "the graders changed" for c in changes)
    assert len(changes) == 10

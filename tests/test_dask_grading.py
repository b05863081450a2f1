"""Grading on a real Dask LocalCluster (2 worker processes): the local runtime's results,
through the same pipeline (:func:`initkit.grading.pipeline.grade_course`)."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

import pytest

from initkit.executors import DaskExecutor
from initkit.grading.dask_grading import pack_graders
from initkit.grading.discover import find_exercises
from initkit.grading.pipeline import grade_course
from initkit.grading.seeds import derive_seed
from initkit.grading.settings import GradingSettings

sys.path.insert(0, str(Path(__file__).parent / "grading"))
from pipeline_reference import grade_locally  # noqa: E402

HERE = Path(__file__).parent / "grading"
CORPUS = HERE / "corpus"
EXAMPLES = ["honest_correct", "honest_wrong_he", "syntax_error", "not_json"]
SETTINGS = GradingSettings(run_secret="1234")


#: what no two runs share: the wall time, and the notebook's printed output (Jupyter echoes
#: a cell's last value, e.g. ``<matplotlib.legend.Legend at 0x7f...>``, an address)
UNSHARED = ("seconds", "stdout")


def comparable(result: dict) -> dict:
    """A stored result's data but what no two runs share."""
    return {k: v for k, v in result.items() if k not in UNSHARED}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """The example graders plus 'crashy' (its check kills the process running the graders),
    the example submissions and an identical twin of one (folder ``variance``), and a
    submission of 'crashy' (folder ``crashy``)."""
    root = tmp_path_factory.mktemp("course")
    graders = root / "graders"
    shutil.copytree(HERE / "graders", graders)
    (graders / "crashy").mkdir()
    (graders / "crashy" / "test_crash.py").write_text(
        "import os, signal\n\n\n"
        "def test_crash(submission):\n"
        "    os.kill(os.getpid(), signal.SIGKILL)  # the worker's own process\n")
    # its release (the variance notebook's): grading checks submissions against it
    shutil.copy(graders / "variance" / "variance.ipynb", graders / "crashy" / "crashy.ipynb")
    subs = root / "variance"
    subs.mkdir()
    for name in EXAMPLES:
        shutil.copy(CORPUS / f"{name}_variance.ipynb", subs)
    shutil.copy(CORPUS / "honest_correct_variance.ipynb", subs / "twin_variance.ipynb")
    crashy = root / "crashy"
    crashy.mkdir()
    nb = json.loads((CORPUS / "honest_correct_variance.ipynb").read_text())
    nb["metadata"]["initkit"]["exercise"] = "crashy"
    (crashy / "mallory_crashy.ipynb").write_text(json.dumps(nb))
    return find_exercises(graders), subs, crashy


@pytest.fixture(scope="module")
def local_out(course, tmp_path_factory):
    """The local runtime's output folder for the variance submissions."""
    exercises, subs, _ = course
    out = tmp_path_factory.mktemp("local") / "out"
    grade_locally([subs], exercises, SETTINGS, out, out.parent)
    return out


@pytest.fixture(scope="module")
def executor():
    import dask
    import distributed  # noqa: F401 (its config defaults first: set() restores what it found)

    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        ex = DaskExecutor(local_workers=2)
    yield ex
    ex.close()


def test_graders_pack_reproducibly(course):
    """The graders travel as one tar.gz whose bytes (and digest) depend on their content only."""
    exercises = course[0]
    a, b = pack_graders(exercises), pack_graders(dict(reversed(list(exercises.items()))))
    assert a.data == b.data and a.digest == b.digest
    assert a.origins == {name: str(path) for name, path in exercises.items()}


def test_local_cluster_grades_like_the_local_runtime(course, local_out, executor, tmp_path):
    """Each example submission (and an identical twin) gets the local result, row for row:
    grades.csv and every stored result are the same bytes but the wall time."""
    exercises, subs, _ = course
    seen = []
    run = grade_course([subs], exercises, SETTINGS, executor, out=tmp_path / "dask",
                       on_result=seen.append)
    assert sorted(r.student for r in seen) == sorted(p.stem.rsplit("_", 1)[0]
                                                     for p in subs.glob("*.ipynb"))
    twin = next(r for r in run.results if r.student == "twin")
    assert twin.path == str(subs / "twin_variance.ipynb") and twin.score == 8
    assert (tmp_path / "dask" / "grades.csv").read_bytes() == \
        (local_out / "grades.csv").read_bytes()
    local = json.loads((local_out / "run.json").read_text())
    assert json.loads((tmp_path / "dask" / "run.json").read_text()) == local
    for path in sorted((local_out / "results").glob("*.json")):
        mine = json.loads((tmp_path / "dask" / "results" / path.name).read_text())
        theirs = json.loads(path.read_text())
        assert mine["key"] == theirs["key"]
        assert comparable(mine["result"]) == comparable(theirs["result"]), path.name


def test_a_submission_that_kills_its_worker_every_time_fails_alone(course, local_out,
                                                                    executor, tmp_path):
    """After allowed-failures + 1 dead workers it is an error with the reason and its own
    derived seed; the rest grade as locally."""
    exercises, subs, crashy = course
    few = [subs / "honest_correct_variance.ipynb", crashy / "mallory_crashy.ipynb",
           subs / "not_json_variance.ipynb"]
    run = grade_course(few, exercises, SETTINGS, executor, out=tmp_path / "out")
    by_student = {r.student: r for r in run.results}
    assert sorted(by_student) == ["honest_correct", "mallory", "not_json"]
    mallory = by_student.pop("mallory")
    assert mallory.status == "error"
    assert mallory.reason.startswith("grading worker failed: the worker running it died 2 "
                                     "time(s)")
    sha = hashlib.sha256((crashy / "mallory_crashy.ipynb").read_bytes()).hexdigest()
    assert mallory.seed == derive_seed("1234", "mallory", "crashy", sha)
    local = {r["student"]: r for r in (json.loads(p.read_text())["result"]
                                       for p in (local_out / "results").glob("*.json"))}
    for student, result in by_student.items():
        stored = json.loads(json.dumps(result.to_dict()))  # as stored: tuples become lists
        assert comparable(stored) == comparable(local[student]), student

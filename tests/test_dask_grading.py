"""Grading on a real Dask LocalCluster (2 worker processes): the local runtime's results."""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from initkit.executors import DaskExecutor
from initkit.grading.dask_grading import grade_on_dask, pack_graders
from initkit.grading.discover import discover, find_exercises
from initkit.grading.report import write_grades_csv
from initkit.grading.runner import Options

sys.path.insert(0, str(Path(__file__).parent / "grading"))
from local_reference import grade_locally  # noqa: E402

HERE = Path(__file__).parent / "grading"
CORPUS = HERE / "corpus"
EXAMPLES = ["honest_correct", "honest_wrong_he", "syntax_error", "not_json"]


def comparable(result) -> dict:
    """A result's data but its wall time (which no two runs share)."""
    data = result.to_dict()
    data.pop("seconds")
    return data


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """The example graders plus 'crashy' (its check kills the process running the graders),
    the example submissions, an identical twin of one, and a submission of 'crashy'."""
    root = tmp_path_factory.mktemp("course")
    graders = root / "graders"
    shutil.copytree(HERE / "graders", graders)
    (graders / "crashy").mkdir()
    (graders / "crashy" / "test_crash.py").write_text(
        "import os, signal\n\n\n"
        "def test_crash(submission):\n"
        "    os.kill(os.getpid(), signal.SIGKILL)  # the worker's own process\n")
    subs = root / "submitted"
    subs.mkdir()
    for name in EXAMPLES:
        shutil.copy(CORPUS / f"{name}_variance.ipynb", subs)
    shutil.copy(CORPUS / "honest_correct_variance.ipynb", subs / "twin_variance.ipynb")
    nb = json.loads((CORPUS / "honest_correct_variance.ipynb").read_text())
    nb["metadata"]["initkit"]["exercise"] = "crashy"
    (subs / "mallory_crashy.ipynb").write_text(json.dumps(nb))
    exercises = find_exercises(graders)
    jobs = discover([subs], exercises)
    options = Options(seed=1234)
    return exercises, jobs, options


@pytest.fixture(scope="module")
def local_results(course, tmp_path_factory):
    """The local runtime's results, the crashing submission left out."""
    exercises, jobs, options = course
    return grade_locally([j for j in jobs if j.exercise == "variance"], exercises, options,
                         tmp_path_factory.mktemp("local"))


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


def test_local_cluster_grades_like_the_local_runtime(course, local_results, executor,
                                                     tmp_path):
    """Each example submission (and an identical twin) gets the local result, row for row."""
    exercises, jobs, options = course
    variance = [j for j in jobs if j.exercise == "variance"]
    seen = []
    results = grade_on_dask(executor, variance, exercises, options, on_result=seen.append)
    assert [r.student for r in results] == [j.student for j in variance]
    assert sorted(r.student for r in seen) == sorted(j.student for j in variance)
    assert [comparable(r) for r in results] == [comparable(r) for r in local_results]
    twin = next(r for r in results if r.student == "twin")
    assert twin.path.endswith("twin_variance.ipynb") and twin.score == 8
    write_grades_csv(results, tmp_path / "dask.csv")
    write_grades_csv(local_results, tmp_path / "local.csv")
    assert (tmp_path / "dask.csv").read_bytes() == (tmp_path / "local.csv").read_bytes()


def test_a_submission_that_kills_its_worker_every_time_fails_alone(course, local_results,
                                                                    executor):
    """After allowed-failures + 1 dead workers it is an error with the reason; the rest grade."""
    exercises, jobs, options = course
    few = [j for j in jobs if j.student in ("honest_correct", "mallory", "not_json")]
    results = grade_on_dask(executor, few, exercises, options)
    assert [r.student for r in results] == [j.student for j in few]
    by_student = {r.student: r for r in results}
    mallory = by_student.pop("mallory")
    assert mallory.status == "error"
    assert mallory.reason.startswith("grading worker failed: the worker running it died 2 "
                                     "time(s)")
    assert mallory.seed == 1234
    local = {r.student: comparable(r) for r in local_results if r.student in by_student}
    assert {s: comparable(r) for s, r in by_student.items()} == local


def test_a_run_seed_is_drawn_once_for_all_submissions(course, executor):
    """Without --seed, one seed is drawn for the run and recorded in every result."""
    exercises, jobs, options = course
    few = [j for j in jobs if j.student in ("not_json", "syntax_error")]
    results = grade_on_dask(executor, few, exercises, replace(options, seed=None))
    seeds = {r.seed for r in results}
    assert len(seeds) == 1 and None not in seeds

"""A worker killed with SIGKILL mid-run: `dask scheduler` and two `dask worker` processes on
127.0.0.1; every submission and grid point still gets exactly one result, the local one."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from initkit.executors import DaskExecutor, Failure
from initkit.grading.discover import find_exercises
from initkit.grading.pipeline import grade_course
from initkit.grading.settings import GradingSettings
from initkit.sweep import Measurement, make_grid, run_sweep

sys.path.insert(0, str(Path(__file__).parent / "grading"))
from pipeline_reference import grade_locally  # noqa: E402

DASK = Path(sys.executable).with_name("dask")
HERE = Path(__file__).parent / "grading"
STARTUP_SECONDS = 60


def comparable(result) -> dict:
    """A result's data but what no two runs share: the wall time, and the notebook's printed
    output (Jupyter echoes a cell's last value, with its memory address)."""
    data = result.to_dict()
    data.pop("seconds"), data.pop("stdout")
    return data


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler and two single-thread workers (nannies, non-daemonic), loopback only."""
    root = tmp_path_factory.mktemp("dask")
    scheduler_file = root / "scheduler.json"
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False",
           "DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION": "1.0", "MPLBACKEND": "Agg"}
    log = open(root / "dask.log", "wb")
    procs = [subprocess.Popen([str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0",
                               "--no-dashboard", "--scheduler-file", str(scheduler_file)],
                              stdout=log, stderr=subprocess.STDOUT, env=env,
                              start_new_session=True)]
    executor = None
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not scheduler_file.exists() and time.monotonic() < deadline:
            assert procs[0].poll() is None, (root / "dask.log").read_text()
            time.sleep(0.1)
        for i in range(2):
            procs.append(subprocess.Popen(
                [str(DASK), "worker", "--scheduler-file", str(scheduler_file),
                 "--host", "127.0.0.1", "--nworkers", "1", "--nthreads", "1",
                 "--no-dashboard", "--local-directory", str(root / f"w{i}")],
                stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True))
        executor = DaskExecutor(scheduler_file=scheduler_file, timeout=STARTUP_SECONDS)
        executor.client.wait_for_workers(2, timeout=STARTUP_SECONDS)
        yield executor
    finally:
        if executor is not None:
            executor.close()
        for proc in reversed(procs):  # the processes this fixture started, by their pid
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        log.close()


class KillOneWorker:
    """An on_result callback that SIGKILLs one worker process after ``after`` results."""

    def __init__(self, executor: DaskExecutor, after: int):
        self.executor, self.after, self.count = executor, after, 0
        self.killed: str | None = None
        self.count_at_kill = -1

    def __call__(self, *args) -> None:
        self.count += 1
        if self.count == self.after:
            pids = self.executor.client.run(os.getpid)
            address = sorted(pids)[0]
            os.kill(pids[address], signal.SIGKILL)
            self.killed, self.count_at_kill = address, self.count


@pytest.mark.parametrize("chunksize", [1, 3])
def test_sweep_survives_a_killed_worker(cluster, chunksize):
    """A sweep with one worker SIGKILLed mid-run: each point one result, the local one
    (with 3 points a task, the lost task's points are all rerun elsewhere)."""
    points = make_grid("tanh", [1.0, 1.5, 2.0, 2.5, 3.0, 3.5], [0.0, 0.2], [30], [256],
                       seeds=1, batch=64)
    local = run_sweep(points)
    # the worker an earlier case killed is back (its nanny restarts it, slower when loaded)
    cluster.client.wait_for_workers(2, timeout=STARTUP_SECONDS)
    kill = KillOneWorker(cluster, after=2)
    remote = run_sweep(points, cluster, on_result=kill, chunksize=chunksize)
    assert kill.killed is not None and kill.count_at_kill < len(points)
    assert kill.count == len(points) + len(remote.table)  # every task reported once
    assert all(isinstance(m, Measurement) for m in remote.measurements)
    assert remote.measurements == local.measurements
    assert repr(remote.table) == repr(local.table)
    assert kill.killed not in cluster.client.scheduler_info()["workers"]


def test_grading_survives_a_killed_worker(cluster, tmp_path):
    """Grading with one worker SIGKILLed mid-run: each submission one result, as locally."""
    subs = tmp_path / "subs"
    subs.mkdir()
    for name in ("honest_correct", "honest_wrong_he", "syntax_error", "not_json"):
        shutil.copy(HERE / "corpus" / f"{name}_variance.ipynb", subs)
    shutil.copy(HERE / "corpus" / "honest_correct_variance.ipynb", subs / "twin_variance.ipynb")
    exercises = find_exercises(HERE / "graders")
    settings = GradingSettings(run_secret="99")
    cluster.client.wait_for_workers(2, timeout=STARTUP_SECONDS)  # the nanny's new worker
    kill = KillOneWorker(cluster, after=1)
    run = grade_course([subs], exercises, settings, cluster, out=tmp_path / "dask",
                       on_result=kill)
    assert kill.killed is not None and kill.count_at_kill < 5
    assert kill.count == 5
    assert len(run.results) == 5 and all(r.status != "error" for r in run.results)
    assert not any(isinstance(r, Failure) for r in run.results)
    local = grade_locally([subs], exercises, settings, tmp_path / "local", tmp_path)
    assert [comparable(r) for r in run.results] == [comparable(r) for r in local]
    assert (tmp_path / "dask" / "grades.csv").read_bytes() == \
        (tmp_path / "local" / "grades.csv").read_bytes()

"""initkit.executors: one result per item, in order, locally and on a real Dask LocalCluster."""

from __future__ import annotations

import os
import sys
import time

import pytest
from click.testing import CliRunner

from initkit.errors import InitkitError
from initkit.executors import (
    DaskExecutor,
    Failure,
    LocalExecutor,
    chunksize_for,
    from_flags,
)


def square(x: int) -> int:
    if x < 0:
        raise ValueError(f"negative {x}")
    return x * x


def die_on(x: str) -> str:
    """Kill the process running it (the worker) on 'die'; echo anything else."""
    if x == "die":
        os._exit(3)
    return x


def slow(x: int) -> int:
    time.sleep(0.4)
    return x


@pytest.fixture(scope="module")
def dask_executor():
    """A LocalCluster of 2 worker processes on loopback; a task may kill 2 workers."""
    import dask
    import distributed  # noqa: F401 (its config defaults first: set() restores what it found)

    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        executor = DaskExecutor(local_workers=2)
    yield executor
    executor.close()


@pytest.mark.parametrize("jobs", [1, 2])
def test_local_executor_returns_each_result_once_in_order(jobs):
    """Results come back in the items' order; an exception is that item's Failure only."""
    seen = []
    with LocalExecutor(jobs) as ex:
        out = ex.run(square, [3, -1, 4, 5], on_result=lambda i, v: seen.append(i))
    assert out[0] == 9 and out[2] == 16 and out[3] == 25
    assert isinstance(out[1], Failure) and out[1].reason == "ValueError: negative -1"
    assert sorted(seen) == [0, 1, 2, 3]


@pytest.mark.parametrize("jobs", [1, 2])
def test_items_sharing_a_task_keep_their_own_results_and_failures(jobs):
    """chunksize 2: the same results as one item a task; an exception fails its item only,
    under that item's key; on_result still comes once per item."""
    items = [3, -1, 4, 5, -2]
    seen = []
    with LocalExecutor(jobs) as ex:
        one = ex.run(square, items, keys=list("abcde"))
        two = ex.run(square, items, keys=list("abcde"), chunksize=2,
                     on_result=lambda i, v: seen.append(i))
    assert [v for v in two if not isinstance(v, Failure)] == [9, 16, 25]
    assert [(type(a), getattr(a, "reason", a)) for a in one] \
        == [(type(b), getattr(b, "reason", b)) for b in two]
    assert two[1].key.endswith("-1-b") and two[4].key.endswith("-4-e")
    assert sorted(seen) == [0, 1, 2, 3, 4]


def test_chunksize_leaves_each_worker_many_tasks():
    """ceil(items / (workers * 16)): short runs stay one item a task."""
    assert [chunksize_for(n, w) for n, w in [(10, 2), (32, 2), (33, 2), (156, 2), (401, 1),
                                              (0, 4), (50, 0)]] == [1, 1, 2, 5, 26, 1, 4]


def test_dask_keeps_identical_items_apart_and_in_order(dask_executor):
    """Two identical items are two tasks (explicit keys, not pure=True): two results."""
    seen = []
    out = dask_executor.run(square, [7, 7, 2, 7], on_result=lambda i, v: seen.append(i))
    assert out == [49, 49, 4, 49]
    assert sorted(seen) == [0, 1, 2, 3]


def test_dask_task_error_is_a_failure_with_its_reason(dask_executor):
    """An exception raised in a worker is recorded as that item's Failure, the rest run."""
    out = dask_executor.run(square, [2, -5, 3], keys=["a", "b", "c"])
    assert out[0] == 4 and out[2] == 9
    assert isinstance(out[1], Failure)
    assert out[1].reason == "ValueError: negative -5"
    assert "-1-b" in out[1].key


def test_a_task_that_kills_its_workers_ends_as_a_failure(dask_executor):
    """A task that kills allowed-failures + 1 workers is a Failure saying so; others complete."""
    out = dask_executor.run(die_on, ["a", "die", "b", "c"])
    assert [out[0], out[2], out[3]] == ["a", "b", "c"]
    assert isinstance(out[1], Failure)
    assert "died 2 time(s)" in out[1].reason
    assert "allowed-failures = 1" in out[1].reason


def test_a_chunk_whose_worker_dies_fails_each_of_its_items(dask_executor):
    """An item that kills its workers takes its chunk-mates with it (each a Failure saying
    so: why grading never shares a task), and the other chunks complete."""
    out = dask_executor.run(die_on, ["a", "die", "b", "c", "d"], chunksize=2)
    assert out[2:] == ["b", "c", "d"]
    assert all(isinstance(f, Failure) for f in out[:2])
    assert [f.key.rsplit("-", 2)[1:] for f in out[:2]] == [["0", "0"], ["1", "1"]]
    for failure in out[:2]:
        assert "died 2 time(s)" in failure.reason
        assert failure.reason.endswith("(a task of 2 items: all of them failed with it)")


def test_ctrl_c_cancels_the_runs_tasks(dask_executor):
    """KeyboardInterrupt in the client propagates and leaves no task on the scheduler."""
    def interrupt(index, value):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as excinfo:
        dask_executor.run(slow, list(range(8)), on_result=interrupt)
    client = dask_executor.client

    def tasks(dask_scheduler):
        return len(dask_scheduler.tasks)

    deadline = time.monotonic() + 10
    while client.run_on_scheduler(tasks) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert client.run_on_scheduler(tasks) == 0
    assert excinfo.value is not None  # the traceback (and the futures) are still alive


def test_kit_started_workers_are_not_daemonic(dask_executor):
    """Workers the kit starts may fork (distributed.worker.daemon is False for them)."""
    assert dask_executor.daemonic() == []
    assert dask_executor.allowed_failures() == 1


def test_kit_started_workers_keep_glibcs_own_malloc_trimming(dask_executor):
    """No MALLOC_TRIM_THRESHOLD_ in the workers (the nanny's default would make every large
    array a fresh, page-faulted mmap)."""
    trims = dask_executor.client.run(os.environ.get, "MALLOC_TRIM_THRESHOLD_")
    assert len(trims) == 2 and set(trims.values()) == {None}


def test_without_dask_a_dask_flag_is_one_line_naming_the_extra(monkeypatch, tmp_path):
    """With distributed missing, --dask local fails in one line that says which extra."""
    from initkit.cli.main import cli

    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(InitkitError, match=r'pip install "initkit\[dask\]"'):
        from_flags(dask="local")
    result = CliRunner().invoke(cli, ["sweep", "--sigma-w2", "1", "--sigma-b2", "0",
                                      "--depth", "2", "--width", "4", "--seeds", "1",
                                      "--dask", "local", "-o", str(tmp_path / "s.csv")])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        'error: Dask is not installed; for --dask and --dask-scheduler* run '
        'pip install "initkit[dask]"']
    assert not (tmp_path / "s.csv").exists()


def test_flag_errors_are_clear(tmp_path):
    """Two cluster flags, a missing scheduler file, an unknown --dask value: one clear error."""
    with pytest.raises(InitkitError, match="give one of --dask and --dask-scheduler"):
        from_flags(dask="local", scheduler="tcp://127.0.0.1:1")
    with pytest.raises(InitkitError, match="scheduler file .* not found"):
        from_flags(scheduler_file=tmp_path / "nope.json")
    with pytest.raises(InitkitError, match="the only value is 'local'"):
        from_flags(dask="remote")
    ex = from_flags(jobs=3)
    assert isinstance(ex, LocalExecutor) and ex.workers == 3


_POOL_SCRIPT = """
import os, sys, time
from initkit.executors import LocalExecutor

def park(i):
    open(os.path.join(sys.argv[1], f"{os.getpid()}.pid"), "w").close()
    time.sleep(600)

LocalExecutor(2).run(park, [0, 1])
"""


def test_local_workers_die_when_their_parent_is_killed(tmp_path):
    """SIGKILL of the process that started a local pool kills its workers too (the kernel's
    PR_SET_PDEATHSIG), so a killed run leaves no worker behind."""
    import signal
    import subprocess

    proc = subprocess.Popen([sys.executable, "-c", _POOL_SCRIPT, str(tmp_path)],
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while len(list(tmp_path.glob("*.pid"))) < 2:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        workers = [int(p.stem) for p in tmp_path.glob("*.pid")]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 20

        def alive(pid: int) -> bool:
            try:
                with open(f"/proc/{pid}/stat") as fh:
                    return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
            except OSError:
                return False

        while any(map(alive, workers)) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = [pid for pid in workers if alive(pid)]
        for pid in left:  # our own workers, by the pids they wrote
            os.kill(pid, signal.SIGKILL)
        assert left == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)

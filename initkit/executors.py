"""Executors: one pure function over many items, on local processes or on a Dask cluster.

``initkit grade`` and ``initkit sweep`` hand their work to an :class:`Executor`:

- :class:`LocalExecutor` (the default, ``--jobs N``): this process when N is 1, else a pool of
  N forked worker processes, each killed by the kernel when this process ends
  (``PR_SET_PDEATHSIG``), so a killed run leaves no worker behind;
- :class:`DaskExecutor`: a ``distributed`` client, on a ``LocalCluster`` it starts on this
  machine (``--dask local``) or on an existing cluster (``--dask-scheduler tcp://HOST:PORT``
  or ``--dask-scheduler-file FILE``, e.g. one started by dask-jobqueue on Slurm or by the Dask
  Kubernetes operator). Dask is the optional extra ``pip install "initkit[dask]"``.

Both keep the same contract, which is what makes a run's results independent of where it ran:

- ``run(fn, items, keys)`` returns one entry per item, in the items' order: ``fn(item)``, or a
  :class:`Failure` with a reason when the item could not be computed. Nothing is lost and
  nothing is counted twice: each item is recorded once, whatever the engine did.
- Every item is its own task with an explicit key (``initkit-<label>-<run>-<index>``): Dask's
  default ``pure=True`` would merge two identical items (two identical submissions) into one.
- Dask may run a task twice: a worker lost mid-task has its task rerun elsewhere and a
  finished result held by a dead worker is recomputed, but each key's result is delivered
  once (``distributed.as_completed``). So ``fn`` must be idempotent and carry everything it
  depends on in ``item`` (seeds are part of the item, never of the worker).
- A task that killed ``distributed.scheduler.allowed-failures + 1`` workers raises
  ``KilledWorker``; it is recorded as a :class:`Failure` with that reason (not lost, not
  retried forever) and the rest of the run completes.
- ``chunksize`` items may share one task (as ``multiprocessing.Pool.map``'s ``chunksize``):
  a task then costs the engine's per-task overhead once for all of them (on a 1-thread Dask
  worker a task waits a scheduler round trip of a few ms: see ``benchmarks/bench_sweep.py``).
  Results stay per item: an exception is its own item's :class:`Failure`, but a worker death
  fails or reruns the whole chunk, so only trusted items (sweep points, never submissions)
  share a task; :func:`chunksize_for` picks a size that still leaves every worker many tasks.
- ``on_result(index, value)`` is called in this process as each item completes (progress bars);
  Ctrl-C (``KeyboardInterrupt``) cancels the run's outstanding tasks and propagates, so the
  caller writes no partial output.

Forking inside Dask workers (the grading sandbox does) needs ``distributed.worker.daemon:
False``: the kit sets it for the workers it starts; on a cluster it joins, the workers must be
started with it (``DASK_DISTRIBUTED__WORKER__DAEMON=False``), and :meth:`DaskExecutor.daemonic`
says which are not.
"""

from __future__ import annotations

import math
import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import InitkitError

#: The extra that brings Dask in (named in every "Dask is missing" message).
DASK_EXTRA = 'pip install "initkit[dask]"'

OnResult = Callable[[int, Any], None]


@dataclass(frozen=True)
class Failure:
    """An item that produced no result: its task key and why (one line)."""

    key: str
    reason: str


def require_distributed() -> Any:
    """Import ``distributed`` or fail with one line naming the extra to install."""
    try:
        import distributed
    except ImportError:
        raise InitkitError(f"Dask is not installed; for --dask and --dask-scheduler* run "
                           f"{DASK_EXTRA}") from None
    return distributed


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")[:500]


class Executor:
    """Runs ``fn`` over items; see the module docstring for the contract."""

    #: ``"local"`` or ``"dask"``.
    kind = "local"

    @property
    def workers(self) -> int:
        """How many items run at once."""
        return 1

    def describe(self) -> str:
        """One line for the user: where the work runs."""
        return f"{self.kind} ({self.workers} worker(s))"

    def run(self, fn: Callable[[Any], Any], items: Sequence[Any],
            keys: Sequence[str] | None = None, on_result: OnResult | None = None,
            label: str = "task", chunksize: int = 1) -> list[Any]:
        """``[fn(item) or Failure, ...]`` in the order of ``items``, ``chunksize`` items a task."""
        items = list(items)
        names = _keys(keys, len(items), label)
        if chunksize <= 1:
            return self._run(fn, items, names, on_result)
        starts = range(0, len(items), chunksize)
        chunks = [_Chunk(tuple(names[s:s + chunksize]), tuple(items[s:s + chunksize]))
                  for s in starts]
        results: list[Any] = [None] * len(items)

        def unpack(j: int, value: Any) -> None:
            chunk = chunks[j]
            for k, name in enumerate(chunk.names):
                item_value = (value[k] if not isinstance(value, Failure) else
                              Failure(name, f"{value.reason} (a task of {len(chunk.names)} "
                                            "items: all of them failed with it)"))
                results[starts[j] + k] = item_value
                if on_result:
                    on_result(starts[j] + k, item_value)

        self._run(_EachOf(fn), chunks, [f"{c.names[0]}+{len(c.names) - 1}" for c in chunks],
                  unpack)
        return results

    def _run(self, fn: Callable[[Any], Any], items: list[Any], names: list[str],
             on_result: OnResult | None) -> list[Any]:
        """One task per item, named ``names[i]``: the engine's own part of :meth:`run`."""
        raise NotImplementedError

    def close(self) -> None:
        """Release workers, clients and clusters this executor started."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class _Chunk:
    """Items that share one task, with their keys."""

    names: tuple[str, ...]
    items: tuple[Any, ...]


@dataclass(frozen=True)
class _EachOf:
    """``fn`` over a :class:`_Chunk`: one result or :class:`Failure` per item."""

    fn: Callable[[Any], Any]

    def __call__(self, chunk: _Chunk) -> list[Any]:
        out = []
        for name, item in zip(chunk.names, chunk.items, strict=True):
            try:
                out.append(self.fn(item))
            except Exception as exc:  # one bad item is its failure, not its chunk's
                out.append(Failure(name, _reason(exc)))
        return out


def chunksize_for(items: int, workers: int, tasks_per_worker: int = 16) -> int:
    """Items per task so that each worker still gets about ``tasks_per_worker`` tasks:
    ``ceil(items / (workers * tasks_per_worker))`` (1 for short runs). Many tasks per worker
    keep the tail of the run balanced; fewer, larger tasks pay the per-task overhead less."""
    return max(1, math.ceil(items / (max(workers, 1) * tasks_per_worker)))


def _keys(keys: Sequence[str] | None, n: int, label: str) -> list[str]:
    run = uuid.uuid4().hex[:12]
    names = list(keys) if keys is not None else [str(i) for i in range(n)]
    if len(names) != n:
        raise InitkitError(f"{len(names)} keys for {n} items")
    return [f"initkit-{label}-{run}-{i}-{name}"[:200] for i, name in enumerate(names)]


class LocalExecutor(Executor):
    """This process (``jobs=1``) or a pool of ``jobs`` forked worker processes.

    Args:
        jobs: items run at once.
        initializer: called once in each new worker process (not in this process).
    """

    kind = "local"

    def __init__(self, jobs: int = 1, initializer: Callable[[], None] | None = None):
        if jobs < 1:
            raise InitkitError(f"--jobs must be at least 1, got {jobs}")
        self.jobs = int(jobs)
        self.initializer = initializer

    @property
    def workers(self) -> int:
        return self.jobs

    def _run(self, fn: Callable[[Any], Any], items: list[Any], names: list[str],
             on_result: OnResult | None) -> list[Any]:
        results: list[Any] = [None] * len(items)
        if self.jobs == 1 or len(items) <= 1:
            for i, item in enumerate(items):
                try:
                    results[i] = fn(item)
                except Exception as exc:  # one bad item is its failure, not the run's
                    results[i] = Failure(names[i], _reason(exc))
                if on_result:
                    on_result(i, results[i])
            return results
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed
        from concurrent.futures.process import BrokenProcessPool

        pool = ProcessPoolExecutor(max_workers=min(self.jobs, len(items)),
                                   mp_context=multiprocessing.get_context("fork"),
                                   initializer=_die_with_parent,
                                   initargs=(os.getpid(), self.initializer))
        try:
            pending = {pool.submit(fn, item): i for i, item in enumerate(items)}
            for fut in as_completed(pending):
                i = pending[fut]
                try:
                    results[i] = fut.result()
                except BrokenProcessPool:
                    results[i] = Failure(names[i], "a local worker process died while this "
                                         "item was pending or running")
                except Exception as exc:
                    results[i] = Failure(names[i], _reason(exc))
                if on_result:
                    on_result(i, results[i])
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            for proc in list(getattr(pool, "_processes", {}).values()):
                proc.kill()  # our own forked workers, by their handles
            raise
        pool.shutdown(wait=True)
        return results


def _die_with_parent(parent: int, initializer: Callable[[], None] | None) -> None:
    """First thing in a local worker: die with the process that started the pool.

    ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` (Linux, ``prctl(2)``): the kernel kills this worker
    when its parent ends, however it ends (a ``SIGKILL`` of ``initkit grade`` included), so no
    worker of a run outlives it. A parent already gone before the call is caught by
    ``getppid``. Then the executor's own ``initializer``.
    """
    import ctypes
    import signal

    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:
        os._exit(1)
    if initializer is not None:
        initializer()


class DaskExecutor(Executor):
    """Items as Dask tasks: on a new ``LocalCluster`` or on an existing cluster.

    Give exactly one of:

    Args:
        local_workers: start a ``LocalCluster`` of this many worker processes on 127.0.0.1
            (one thread each, ``distributed.worker.daemon: False``, glibc's own malloc
            trimming), closed with the executor.
        address: connect to the scheduler at ``tcp://HOST:PORT``.
        scheduler_file: connect to the scheduler described by this JSON file (``dask
            scheduler --scheduler-file``, dask-jobqueue's ``SLURMCluster`` ...).
        timeout: seconds to wait for the scheduler.
    """

    kind = "dask"

    def __init__(self, local_workers: int | None = None, address: str | None = None,
                 scheduler_file: str | os.PathLike | None = None, timeout: float = 30.0):
        given = [x is not None for x in (local_workers, address, scheduler_file)]
        if sum(given) != 1:
            raise InitkitError("give one of --dask local, --dask-scheduler ADDRESS and "
                               "--dask-scheduler-file FILE")
        distributed = require_distributed()
        import dask

        self.cluster = None
        self.client = None
        self._config = None
        self.started_workers = local_workers is not None
        if local_workers is not None:
            if local_workers < 1:
                raise InitkitError(f"a local Dask cluster needs at least 1 worker, got "
                                   f"{local_workers}")
            # the grading sandbox forks inside each worker, so no daemonic workers; each
            # nanny reads the flag whenever it (re)starts its worker: keep it set meanwhile.
            # Saturation 1: a worker holds only the task it runs, so a task that kills it
            # takes no queued bystander's allowed failures along. No MALLOC_TRIM_THRESHOLD_
            # (the nanny's default 65536): setting it turns off glibc's dynamic mmap
            # threshold, so every array over 128 KiB is a fresh mmap, page-faulted anew
            # (a width-256 sweep point: 3x the page faults, 1.5x the time of this process)
            self._config = dask.config.set({
                "distributed.worker.daemon": False,
                "distributed.scheduler.worker-saturation": 1.0,
                "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None})
            self._config.__enter__()
            try:
                self.cluster = distributed.LocalCluster(
                    n_workers=int(local_workers), threads_per_worker=1, processes=True,
                    host="127.0.0.1", dashboard_address=":0", silence_logs=40)
                self.client = distributed.Client(self.cluster, timeout=timeout)
            except BaseException:
                self.close()
                raise
            self.where = f"a local Dask cluster of {local_workers} worker(s)"
            return
        if scheduler_file is not None:
            path = os.fspath(scheduler_file)
            if not os.path.isfile(path):
                raise InitkitError(f"Dask scheduler file {path} not found: start the scheduler "
                                   "with `dask scheduler --scheduler-file FILE` (or your "
                                   "SLURMCluster) first, or pass --dask-scheduler ADDRESS")
            target: dict[str, Any] = {"scheduler_file": path}
            self.where = f"the Dask scheduler of {path}"
        else:
            target = {"address": address}
            self.where = f"the Dask scheduler at {address}"
        try:
            self.client = distributed.Client(**target, timeout=timeout)
        except (OSError, TimeoutError, ValueError) as exc:
            raise InitkitError(f"cannot reach {self.where}: {_reason(exc)}; check that it is "
                               "running and reachable from here") from None

    @property
    def workers(self) -> int:
        return len(self.client.scheduler_info().get("workers", {})) or 1

    def describe(self) -> str:
        return f"{self.where} ({self.workers} worker(s) now)"

    def daemonic(self) -> list[str]:
        """Addresses of workers running as daemonic processes (they cannot fork children
        through multiprocessing; start them with ``distributed.worker.daemon: False``)."""
        flags = self.client.run(_is_daemon)
        return sorted(addr for addr, daemon in flags.items() if daemon)

    def allowed_failures(self) -> int:
        """The scheduler's ``distributed.scheduler.allowed-failures``."""
        return int(self.client.run_on_scheduler(_allowed_failures))

    def _run(self, fn: Callable[[Any], Any], items: list[Any], names: list[str],
             on_result: OnResult | None) -> list[Any]:
        distributed = require_distributed()
        index = {name: i for i, name in enumerate(names)}
        results: list[Any] = [None] * len(items)
        recorded: set[int] = set()
        futures = [self.client.submit(fn, item, key=name, pure=False, retries=0)
                   for name, item in zip(names, items, strict=True)]
        try:
            for fut in distributed.as_completed(futures):
                i = index[fut.key]
                if i in recorded:  # as_completed yields a key once; never record twice
                    continue
                try:
                    value = fut.result()
                except distributed.KilledWorker as exc:
                    value = Failure(names[i], _killed_reason(exc))
                except Exception as exc:
                    value = Failure(names[i], _reason(exc))
                recorded.add(i)
                results[i] = value
                fut.release()
                if on_result:
                    on_result(i, value)
        except BaseException:
            self.client.cancel(futures, force=True)
            raise
        return results

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
        if self.cluster is not None:
            self.cluster.close()
            self.cluster = None
        if self._config is not None:
            self._config.__exit__(None, None, None)
            self._config = None


def _killed_reason(exc: Any) -> str:
    last = getattr(getattr(exc, "last_worker", None), "address", "an unknown worker")
    tries = getattr(exc, "allowed_failures", 0) + 1
    return (f"the worker running it died {tries} time(s) (the last one {last}); "
            f"not retried (distributed.scheduler.allowed-failures = {tries - 1})")


def _is_daemon() -> bool:
    import multiprocessing

    return bool(multiprocessing.current_process().daemon)


def _allowed_failures(dask_scheduler: Any) -> int:
    return int(dask_scheduler.allowed_failures)


def from_flags(jobs: int | None = None, dask: str | None = None, scheduler: str | None = None,
               scheduler_file: str | os.PathLike | None = None) -> Executor:
    """The executor the CLI flags describe (``--jobs``, ``--dask local``,
    ``--dask-scheduler``, ``--dask-scheduler-file``); local processes when no Dask flag.

    With ``--dask local``, ``--jobs`` is the number of worker processes (default: cores).
    """
    chosen = [name for name, v in (("--dask", dask), ("--dask-scheduler", scheduler),
                                   ("--dask-scheduler-file", scheduler_file)) if v]
    if len(chosen) > 1:
        raise InitkitError(f"give one of {' and '.join(chosen)}: they all choose the cluster")
    cores = os.cpu_count() or 1
    if dask is not None:
        if dask != "local":
            raise InitkitError(f"--dask {dask!r}: the only value is 'local' (a LocalCluster on "
                               "this machine); for a cluster use --dask-scheduler or "
                               "--dask-scheduler-file")
        return DaskExecutor(local_workers=jobs or cores)
    if scheduler:
        return DaskExecutor(address=scheduler)
    if scheduler_file:
        return DaskExecutor(scheduler_file=scheduler_file)
    return LocalExecutor(jobs or cores)


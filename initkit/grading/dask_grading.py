"""Grading on a Dask cluster, with every guarantee of the local runtime.

:func:`grade_on_dask` grades submissions as tasks of a
:class:`~initkit.executors.DaskExecutor`. What stays as it is locally:

- each task is :func:`initkit.grading.runner.grade_one`, in the worker's own process: the
  trusted pytest checks run there and each notebook runs sandboxed in its own child process
  of the worker (workers on a cluster do not run as root, so the sandbox's non-root
  confinement is the one they use). One grading at a time per worker process (a lock): pytest
  and the sandbox keep per-process state;
- the outputs (grades.csv, results.json, feedback) are written by the client only: tasks
  return :class:`~initkit.grading.runner.SubmissionResult` objects and write nothing but their
  own temporary folder, so a task run twice (Dask reruns a task whose worker died) changes
  nothing;
- one task key per submission (identical notebooks are still two submissions), results
  collected as they complete and recorded once each; a submission whose task killed its
  worker ``allowed-failures + 1`` times is recorded as ``error`` with that reason.

Shipping (no shared file system needed): the client packs the graders of the exercises in
the run (and a course's release notebook when the grader folder has none) into one tar.gz and
registers it as a worker plugin, so each worker receives and unpacks it once per run,
including workers that join or restart mid-run; it is removed from the workers when the run
ends. Each task carries its notebook's bytes (a notebook over the size limit travels as its
size alone, so it is refused with the same message). Paths in results are mapped back to the
client's, so a result is the one the local runtime gives, row for row.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..executors import DaskExecutor, Failure, require_distributed
from .discover import Job, reference_notebook
from .notebook import MAX_NOTEBOOK_BYTES
from .runner import Options, SubmissionResult, TestResult, grade_one

#: Unpacked grader bundles of this worker process: digest -> folder.
_UNPACKED: dict[str, Path] = {}
_GRADE_LOCK = threading.Lock()


@dataclass(frozen=True)
class Bundle:
    """The graders of a run, packed: sha256 ``digest`` of ``data`` (a tar.gz with one folder
    per exercise) and the client's folder of each exercise."""

    digest: str
    data: bytes
    origins: dict[str, str]


def _skip(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    parts = Path(info.name).parts
    if "__pycache__" in parts or info.name.endswith(".pyc") or any(
            p.startswith(".pytest_cache") for p in parts):
        return None
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = 0
    return info


def pack_graders(exercises: dict[str, Path], course: str | None = None) -> Bundle:
    """One tar.gz of ``exercises``' grader folders (``<exercise>/...``), reproducible bytes."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=6) as tar:
        for name in sorted(exercises):
            folder = Path(exercises[name])
            tar.add(str(folder), arcname=name, filter=_skip)
            if not any(folder.glob("*.ipynb")) and course:
                release = reference_notebook(folder, Path(course))
                if release is not None:  # the structure checks' reference travels along
                    tar.add(str(release), arcname=f"{name}/{release.name}", filter=_skip)
    data = buf.getvalue()
    return Bundle(hashlib.sha256(data).hexdigest(), data,
                  {name: str(Path(path)) for name, path in exercises.items()})


def _unpack(bundle: Bundle) -> Path:
    if bundle.digest in _UNPACKED and _UNPACKED[bundle.digest].is_dir():
        return _UNPACKED[bundle.digest]
    root = Path(tempfile.mkdtemp(prefix="initkit-graders-"))
    root.chmod(0o700)
    with tarfile.open(fileobj=io.BytesIO(bundle.data), mode="r:gz") as tar:
        tar.extractall(root, filter="data")
    _UNPACKED[bundle.digest] = root
    return root


def _plugin_class() -> type:
    distributed = require_distributed()

    class GraderBundle(distributed.WorkerPlugin):
        """Unpacks a run's graders on each worker once; removes them when unregistered."""

        def __init__(self, bundle: Bundle):
            self.bundle = bundle
            self.name = f"initkit-graders-{bundle.digest[:16]}"

        def setup(self, worker: Any) -> None:
            os.environ.setdefault("MPLBACKEND", "Agg")
            _unpack(self.bundle)
            try:  # import what grading needs now, not in the first submission's time
                from .runner import _warm

                _warm()
            except Exception:  # warming is an optimisation only
                pass

        def teardown(self, worker: Any) -> None:
            root = _UNPACKED.pop(self.bundle.digest, None)
            if root is not None:
                shutil.rmtree(root, ignore_errors=True)

    return GraderBundle


@dataclass(frozen=True)
class Task:
    """One submission's task: the job, its notebook's bytes (or its size alone when over the
    limit), its exercise in the bundle, and the options."""

    job: Job
    notebook: bytes | None
    size: int
    exercise: str | None
    digest: str
    options: Options
    grader_origin: str | None = None


def _payload(job: Job) -> tuple[bytes | None, int]:
    try:
        size = job.path.stat().st_size
        return (job.path.read_bytes() if size <= MAX_NOTEBOOK_BYTES else None), size
    except OSError:
        return None, -1


def _remap(text: str, mapping: list[tuple[str, str]]) -> str:
    for worker_path, client_path in mapping:
        text = text.replace(worker_path, client_path)
    return text


def _map_result(result: SubmissionResult, mapping: list[tuple[str, str]]) -> SubmissionResult:
    def fix(value: Any) -> Any:
        if isinstance(value, str):
            return _remap(value, mapping)
        if isinstance(value, tuple):
            return tuple(fix(v) for v in value)
        if isinstance(value, list):
            return [fix(v) for v in value]
        if isinstance(value, TestResult):
            return replace(value, output=fix(value.output), name=fix(value.name))
        return value

    return replace(result, path=fix(result.path), reason=fix(result.reason),
                   tests=fix(result.tests), notes=fix(result.notes),
                   cell_errors=fix(result.cell_errors), stdout=fix(result.stdout),
                   stderr=fix(result.stderr))


def grade_task(task: Task) -> SubmissionResult:
    """Grade one submission on this worker: its notebook in a fresh private folder, the
    unpacked graders, then :func:`~initkit.grading.runner.grade_one`. Idempotent."""
    root = _UNPACKED.get(task.digest)
    if root is None:
        raise RuntimeError("the run's graders were not unpacked on this worker (its grader "
                           "plugin did not run)")
    job = task.job
    private = Path(tempfile.mkdtemp(prefix="initkit-dask-sub-"))
    try:
        private.chmod(0o700)
        copy = private / job.path.name
        if task.notebook is not None:
            copy.write_bytes(task.notebook)
        elif task.size >= 0:
            with open(copy, "wb") as fh:  # over the limit: a sparse file of the same size
                fh.truncate(task.size)
        grader_dir = root / task.exercise if task.exercise else None
        with _GRADE_LOCK:
            result = grade_one(replace(job, path=copy), grader_dir, task.options)
    finally:
        shutil.rmtree(private, ignore_errors=True)
    mapping = [(str(private), str(job.path.parent))]
    if grader_dir is not None and task.grader_origin:
        mapping.append((str(grader_dir), task.grader_origin))
    return replace(_map_result(result, mapping), path=str(job.path))


def daemonic_warning(executor: DaskExecutor) -> str | None:
    """One line when some workers are daemonic processes (a cluster the kit joined), else
    None: the kit starts its own workers with ``distributed.worker.daemon: False``."""
    daemonic = executor.daemonic()
    if not daemonic:
        return None
    return (f"{len(daemonic)} Dask worker(s) run as daemonic processes ({daemonic[0]}, ...): "
            "the grading sandbox forks inside each worker, so start them with "
            "DASK_DISTRIBUTED__WORKER__DAEMON=False (distributed.worker.daemon: False)")


def grade_on_dask(executor: DaskExecutor, jobs: list[Job], exercises: dict[str, Path],
                  options: Options,
                  on_result: Callable[[SubmissionResult], None] | None = None,
                  warn: Callable[[str], None] | None = None) -> list[SubmissionResult]:
    """Grade ``jobs`` on the executor's cluster; results in the order of ``jobs``.

    Args:
        executor: a connected :class:`~initkit.executors.DaskExecutor`.
        jobs / exercises / options: as :func:`initkit.grading.runner.grade_all` takes them.
        on_result: called in this process as each result arrives (progress bars).
        warn: receives one line per problem of the cluster (daemonic workers).

    Returns:
        One result per job; a submission that killed its workers is an ``error`` result.
    """
    message = daemonic_warning(executor)
    if message and warn:
        warn(message)
    if getattr(options, "seed", 0) is None:  # one seed per run, as grade_all draws it
        import secrets

        options = replace(options, seed=secrets.randbelow(2**31))
    used = {job.exercise for job in jobs if job.exercise in exercises}
    bundle = pack_graders({name: exercises[name] for name in sorted(used)}, options.course)
    plugin = _plugin_class()(bundle)
    executor.client.register_plugin(plugin, name=plugin.name)
    tasks = []
    for job in jobs:
        notebook, size = _payload(job)
        exercise = job.exercise if job.exercise in exercises else None
        tasks.append(Task(job, notebook, size, exercise, bundle.digest, options,
                          str(exercises[exercise]) if exercise else None))
    results: list[SubmissionResult | None] = [None] * len(jobs)

    def deliver(index: int, value: Any) -> None:
        results[index] = _finish(jobs[index], value, getattr(options, "seed", None))
        if on_result:
            on_result(results[index])

    try:
        executor.run(grade_task, tasks, keys=[f"{j.student}-{j.exercise}" for j in jobs],
                     on_result=deliver, label="grade")
    finally:
        try:
            executor.client.unregister_worker_plugin(plugin.name)
        except Exception:  # a worker gone meanwhile: its folder went with it
            pass
    return results


def _finish(job: Job, value: SubmissionResult | Failure, seed: int | None) -> SubmissionResult:
    """A task's outcome as the client records it: a failure is an ``error`` result."""
    if isinstance(value, Failure):
        result = SubmissionResult(student=job.student, exercise=job.exercise,
                                  path=str(job.path), status="error",
                                  reason=f"grading worker failed: {value.reason}")
        if hasattr(result, "seed"):
            result.seed = seed
        return result
    return value

"""One submission as one task of any executor: the same function locally and on Dask.

A :class:`Task` carries everything grading needs (the notebook's bytes, read once by the
client; the exercise; where the graders are; the settings; the submission's seed), so it
runs the same in this process, in a forked local worker or on a Dask worker, and running it
twice (Dask reruns a task whose worker died) gives the same result and writes nothing but
its own temporary folder. :func:`grade_task` puts the notebook in a fresh private folder,
grades it with :func:`initkit.grading.runner.grade_one`, and maps the paths in the result
back to the client's, so a result is the same wherever it was computed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .discover import Job
from .results import SubmissionResult, TestResult
from .settings import GradingSettings

#: One grading at a time per process (pytest and the sandbox keep per-process state).
_GRADE_LOCK = threading.Lock()
#: Submissions graded in this process so far (the first one also pays the process's
#: start-up: imports, the template; ``timing["earlier"]`` says which one a result was).
_GRADED_HERE = [0]


@dataclass(frozen=True)
class Task:
    """One submission's task.

    Attributes:
        job: the submission (its ``path`` is the client's).
        notebook: the notebook's bytes, or None when over the size limit (then ``size``
            alone travels, so it is refused with the same message) or unreadable (size -1).
        size: the file's size in bytes.
        graders: the client's grader folder of the exercise (None: unknown exercise).
        bundle: digest of the shipped graders (:mod:`initkit.grading.dask_grading`) where
            the worker finds them; None: ``graders`` is on this machine.
        settings: the run's settings.
        seed: the submission's hidden-check seed.
    """

    job: Job
    notebook: bytes | None
    size: int
    graders: str | None
    bundle: str | None
    settings: GradingSettings
    seed: int


def _grader_dir(task: Task) -> Path | None:
    if task.graders is None or task.job.exercise is None:
        return None
    if task.bundle is None:
        return Path(task.graders)
    from .dask_grading import unpacked

    return unpacked(task.bundle) / task.job.exercise


def grade_task(task: Task) -> SubmissionResult:
    """Grade one submission here (see the module docstring). Idempotent."""
    from .runner import grade_one

    start = time.monotonic()
    os.environ.setdefault("MPLBACKEND", "Agg")
    job = task.job
    grader_dir = _grader_dir(task)
    private = Path(tempfile.mkdtemp(prefix="initkit-task-"))
    try:
        private.chmod(0o700)
        copy = private / job.path.name
        if task.notebook is not None:
            copy.write_bytes(task.notebook)
        elif task.size >= 0:
            with open(copy, "wb") as fh:  # over the limit: a sparse file of the same size
                fh.truncate(task.size)
        with _GRADE_LOCK:
            result = grade_one(replace(job, path=copy), grader_dir, task.settings, task.seed)
            result.timing["earlier"] = float(_GRADED_HERE[0])
            _GRADED_HERE[0] += 1
    finally:
        shutil.rmtree(private, ignore_errors=True)
    mapping = [(str(private), str(job.path.parent))]
    if grader_dir is not None and task.graders and str(grader_dir) != task.graders:
        mapping.append((str(grader_dir), task.graders))
    result = replace(_map_result(result, mapping), path=str(job.path))
    result.timing["task"] = time.monotonic() - start
    return result


def _remap(text: str, mapping: list[tuple[str, str]]) -> str:
    for here, client in mapping:
        text = text.replace(here, client)
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

    return replace(result, reason=fix(result.reason), tests=fix(result.tests),
                   notes=fix(result.notes), cell_errors=fix(result.cell_errors),
                   stdout=fix(result.stdout), stderr=fix(result.stderr))

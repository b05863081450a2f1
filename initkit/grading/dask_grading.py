"""Graders shipped to Dask workers: the one thing grading on Dask does differently.

Grading runs every submission as a :class:`~initkit.grading.task.Task` through
:meth:`initkit.executors.Executor.run`, locally and on Dask alike
(:mod:`initkit.grading.pipeline`). A Dask worker may be on another machine, with no shared
file system: :func:`ship` packs the graders of the exercises in the run (and a course's
release notebook when the grader folder has none) into one tar.gz and registers it as a
worker plugin, so each worker receives and unpacks it once per run, including workers that
join or restart mid-run; it is removed from the workers when the run ends. Tasks then find
the graders with :func:`unpacked`. Each task carries its notebook's bytes itself.

On a Dask worker each notebook runs sandboxed in its own child process of the worker
(workers on a cluster do not run as root, so the sandbox's non-root confinement is the one
they use); forking there needs ``distributed.worker.daemon: False``
(:func:`daemonic_warning`).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..executors import Executor, require_distributed
from .discover import reference_notebook

#: Unpacked grader bundles of this worker process: digest -> folder.
_UNPACKED: dict[str, Path] = {}


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


def unpacked(digest: str) -> Path:
    """This worker's folder of the shipped graders ``digest`` (one sub-folder per exercise).

    Raises:
        RuntimeError: the run's worker plugin did not run on this worker.
    """
    root = _UNPACKED.get(digest)
    if root is None:
        raise RuntimeError("the run's graders were not unpacked on this worker (its grader "
                           "plugin did not run)")
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
                from .runner import warm

                warm()
            except Exception:  # warming is an optimisation only
                pass

        def teardown(self, worker: Any) -> None:
            root = _UNPACKED.pop(self.bundle.digest, None)
            if root is not None:
                shutil.rmtree(root, ignore_errors=True)

    return GraderBundle


@contextlib.contextmanager
def ship(executor: Executor, exercises: dict[str, Path], course: str | None = None
         ) -> Iterator[str | None]:
    """Make ``exercises``' graders reachable from the executor's workers for a run.

    Yields the bundle's digest on Dask (tasks look their graders up with :func:`unpacked`),
    None for local processes (they read the graders where they are).
    """
    if executor.kind != "dask":
        yield None
        return
    bundle = pack_graders(exercises, course)
    plugin = _plugin_class()(bundle)
    executor.client.register_plugin(plugin, name=plugin.name)
    try:
        yield bundle.digest
    finally:
        try:
            executor.client.unregister_worker_plugin(plugin.name)
        except Exception:  # a worker gone meanwhile: its folder went with it
            pass


def daemonic_warning(executor: Executor) -> str | None:
    """One line when some Dask workers are daemonic processes (a cluster the kit joined),
    else None: the kit starts its own workers with ``distributed.worker.daemon: False``."""
    daemonic = executor.daemonic() if executor.kind == "dask" else []
    if not daemonic:
        return None
    return (f"{len(daemonic)} Dask worker(s) run as daemonic processes ({daemonic[0]}, ...): "
            "the grading sandbox forks inside each worker, so start them with "
            "DASK_DISTRIBUTED__WORKER__DAEMON=False (distributed.worker.daemon: False)")

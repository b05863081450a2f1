"""One control group per submission: its memory and process limits hold for all its processes.

``setrlimit(2)``'s ``RLIMIT_AS`` bounds each process, so a submission that forks four
processes holds four budgets. A cgroup bounds them together (``cgroups(7)``):

- **cgroup v2** (``cgroup2`` mount, the memory and pids controllers enabled for the folder
  this process sits in, or enabled by us; root, or a subtree delegated to the user):
  ``memory.max``, ``memory.swap.max = 0``, ``pids.max``; an OOM kill shows in
  ``memory.events`` (``oom_kill N``);
- **cgroup v1** (the ``memory`` and ``pids`` hierarchies, writable by root):
  ``memory.limit_in_bytes`` (and ``memory.memsw.limit_in_bytes`` where swap is accounted),
  ``pids.max``; an OOM kill shows in ``memory.oom_control`` (``oom_kill N``, Linux >= 4.13).

:func:`create` makes a fresh folder under the one this process sits in (so the grader's
own limits still hold above it) and writes the limits; the child joins it
before anything else (:func:`initkit.grading.confine.enter` writes its pid to each
``cgroup.procs`` while still outside its namespaces), so every process of the submission is
in it; :meth:`Group.remove` deletes it once they are gone (and :func:`create` sweeps away the empty
groups of graders that died before they could). Where no cgroup is writable,
:func:`limit_for` says so, and the sandbox shrinks ``RLIMIT_NPROC`` instead
(:data:`FALLBACK_NPROC`), so processes x per-process memory stays near the budget.
"""

from __future__ import annotations

import functools
import itertools
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

#: Processes (threads included) a submission may have where no cgroup bounds its memory
#: together: the notebook, IPython's history thread and two more (a fork, a helper).
FALLBACK_NPROC = 4
#: Room above the budget: ``RLIMIT_AS`` counts a process's address space, the cgroup its
#: resident memory plus the confinement's own processes (monitor, init: forked Python, so
#: copy-on-write pages), the working directory's tmpfs and kernel memory; with this margin a
#: single process's bomb still ends in a clean ``MemoryError`` at its own limit first.
HEADROOM = 128 * 1024**2
_COUNTER = itertools.count()


@dataclass
class Group:
    """A submission's cgroup: one folder (v2) or one per hierarchy (v1: memory, pids)."""

    version: int
    folders: list[Path] = field(default_factory=list)
    #: the open OOM counter file (asked after every cell and request: read with one
    #: ``pread``, not opened each time)
    _oom_fd: int | None = field(default=None, repr=False)

    @property
    def procs_files(self) -> list[str]:
        """The ``cgroup.procs`` files a process writes its pid to, to join."""
        return [str(f / "cgroup.procs") for f in self.folders]

    def oom_kills(self) -> int:
        """How many of the group's processes the kernel killed for lack of memory."""
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        try:
            if self._oom_fd is None:
                self._oom_fd = os.open(self.folders[0] / name, os.O_RDONLY | os.O_CLOEXEC)
            text = os.pread(self._oom_fd, 4096, 0).decode("ascii", "replace")
        except OSError:
            return 0
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0

    def peak_bytes(self) -> int | None:
        """The most memory the group held at once (None where the kernel does not say)."""
        name = "memory.peak" if self.version == 2 else "memory.max_usage_in_bytes"
        try:
            return int((self.folders[0] / name).read_text())
        except (OSError, ValueError):
            return None

    def remove(self) -> None:
        """Delete the group (its processes are gone; a dying one may hold it a moment)."""
        if self._oom_fd is not None:
            os.close(self._oom_fd)
            self._oom_fd = None
        for folder in reversed(self.folders):
            for attempt in range(50):
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02 * (attempt + 1))


def _mounts() -> list[tuple[str, str, str, set[str]]]:
    """``(fstype, mount point, root, options)`` of every cgroup mount of this process."""
    found = []
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        left, _, right = line.partition(" - ")
        parts, rparts = left.split(), right.split()
        if len(parts) < 5 or len(rparts) < 3 or rparts[0] not in ("cgroup", "cgroup2"):
            continue
        point = parts[4].replace("\\040", " ")
        found.append((rparts[0], point, parts[3], set(rparts[2].split(","))))
    return found


def _own_paths() -> dict[str, str]:
    """This process's cgroup path per hierarchy: ``""`` for v2, else each controller."""
    paths = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return {}
    for line in lines:
        _, controllers, path = line.split(":", 2)
        for name in controllers.split(",") if controllers else [""]:
            paths[name] = path
    return paths


def _where(point: str, root: str, path: str) -> Path:
    if root != "/" and path.startswith(root):
        path = path[len(root):] or "/"
    return Path(point) / path.lstrip("/")


def _v2_parent() -> Path | None:
    own = _own_paths().get("")
    for fstype, point, root, _ in _mounts():
        if fstype == "cgroup2" and own is not None:
            parent = _where(point, root, own)
            try:
                enabled = (parent / "cgroup.subtree_control").read_text().split()
                if not {"memory", "pids"} <= set(enabled):
                    have = (parent / "cgroup.controllers").read_text().split()
                    if not {"memory", "pids"} <= set(have):
                        continue
                    (parent / "cgroup.subtree_control").write_text("+memory +pids")
            except OSError:
                continue
            if os.access(parent, os.W_OK):
                return parent
    return None


def _v1_parents() -> list[Path] | None:
    own = _own_paths()
    parents = []
    for controller in ("memory", "pids"):
        for fstype, point, root, options in _mounts():
            if fstype == "cgroup" and controller in options and controller in own:
                parent = _where(point, root, own[controller])
                if os.access(parent, os.W_OK):
                    parents.append(parent)
                    break
        else:
            return None
    return parents


@functools.lru_cache(maxsize=4)
def _parents(pid: int) -> tuple[int, tuple[Path, ...]] | None:
    """Where process ``pid`` (this one) makes its groups: ``(2, (folder,))``, ``(1, (memory,
    pids))`` or None; found once per process (mount table and own groups read once)."""
    v2 = _v2_parent()
    if v2 is not None:
        return 2, (v2,)
    v1 = _v1_parents()
    return (1, tuple(v1)) if v1 is not None else None


def _sweep(parent: Path) -> None:
    """Remove the empty groups a grader that died before closing its sandbox left behind
    (``initkit-<pid>-...`` whose pid no longer runs; ``rmdir`` refuses a group in use)."""
    try:
        names = [n for n in os.listdir(parent) if n.startswith("initkit-")]
    except OSError:
        return
    for name in names:
        pid = name.split("-")[1]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            try:
                os.rmdir(parent / name)
            except OSError:
                pass


def _write(path: Path, value: str) -> None:
    with open(path, "w") as fh:
        fh.write(value)


def create(memory_bytes: int, pids: int) -> Group | None:
    """A fresh cgroup holding at most ``memory_bytes`` (plus :data:`HEADROOM`) and ``pids``
    processes, or None where this process cannot make one (then nothing is left behind)."""
    name = f"initkit-{os.getpid()}-{next(_COUNTER)}-{uuid.uuid4().hex[:8]}"
    limit = str(memory_bytes + HEADROOM)
    found = _parents(os.getpid())
    if found is None:
        return None
    version, parents = found
    for parent in parents:
        _sweep(parent)
    group = Group(version, [parent / name for parent in parents])
    try:
        for folder in group.folders:
            folder.mkdir(mode=0o755)
        memory, pid_folder = group.folders[0], group.folders[-1]
        if version == 2:
            _write(memory / "memory.max", limit)
            if (memory / "memory.swap.max").exists():
                _write(memory / "memory.swap.max", "0")
        else:
            _write(memory / "memory.limit_in_bytes", limit)
            if (memory / "memory.memsw.limit_in_bytes").exists():
                _write(memory / "memory.memsw.limit_in_bytes", limit)
        _write(pid_folder / "pids.max", str(pids))
        return group
    except OSError:
        group.remove()
        return None


@functools.lru_cache(maxsize=1)
def available() -> int | None:
    """The cgroup version a submission gets here (2 or 1), or None (probed once)."""
    group = create(64 * 1024**2, 8)
    if group is None:
        return None
    try:
        return group.version
    finally:
        group.remove()


def limit_for(memory_bytes: int, nproc: int) -> str:
    """One line saying which memory limit applies to a submission on this machine."""
    mb = memory_bytes // 1024**2
    version = available()
    if version is not None:
        return (f"memory: {mb} MB per submission, all its processes together (cgroup "
                f"v{version}), at most {nproc} processes")
    n = min(nproc, FALLBACK_NPROC)
    return (f"memory: {mb} MB per process and at most {n} processes and threads per "
            f"submission (no writable cgroup here, so up to {n * mb} MB per submission)")

"""The resource limits and timeouts of one submission's sandbox, as one plain record.

Its own module so that everything that plans, starts or probes a sandbox (:mod:`.sandbox`,
:mod:`.confine`, :mod:`.lifecycle`, :mod:`.zygote`) can name it without importing the
others: the sandbox's modules form no import cycle (``tests/test_import_cycles.py``).
The defaults a run can change (timeouts, memory) come from
:data:`initkit.grading.settings.DEFAULTS`, the one table of defaults.
"""

from __future__ import annotations

from dataclasses import dataclass

from .settings import DEFAULTS, GradingSettings


@dataclass
class Limits:
    """Resource limits and timeouts of one submission's child.

    Attributes:
        timeout: wall-clock seconds for the whole submission (cells and checks).
        cell_timeout: wall-clock seconds for one cell or one call from a check.
        startup_timeout: wall-clock seconds the child may take to start (interpreter,
            imports, confinement) before its first cell, when that is more than
            ``cell_timeout``: no submission code runs then, so a slow start on a loaded
            machine is not the first cell's time.
        cpu_seconds: ``RLIMIT_CPU`` of the child (per process).
        memory_bytes: ``RLIMIT_AS`` (address space) of each process, and, where a cgroup
            is writable (:mod:`.cgroup`), the memory of all its processes together.
        nproc: ``RLIMIT_NPROC``: processes and threads the child's uid may have (and the
            cgroup's ``pids.max``); without a cgroup at most :data:`.cgroup.FALLBACK_NPROC`.
        fsize_bytes: ``RLIMIT_FSIZE``: largest file the child may write.
        nofile: ``RLIMIT_NOFILE``: open file descriptors.
        output_bytes: stdout and stderr kept (each); the rest is counted and dropped.
        disk_bytes: size of the working directory's tmpfs: all the files the notebook
            writes there together.
        message_bytes: most bytes of the child's messages buffered at once (frames,
            blobs, partial input); more kills the child (a protocol error).
    """

    timeout: float = DEFAULTS.timeout
    cell_timeout: float = DEFAULTS.cell_timeout
    startup_timeout: float = 60.0
    cpu_seconds: int = 120
    memory_bytes: int = DEFAULTS.memory_mb * 1024**2
    nproc: int = 32
    fsize_bytes: int = 64 * 1024**2
    nofile: int = 256
    output_bytes: int = 256 * 1024
    message_bytes: int = 256 * 1024**2
    disk_bytes: int = 512 * 1024**2

    @property
    def start_allowance(self) -> float:
        """Wall-clock seconds from a child's launch to its first cell: ``startup_timeout``,
        or ``cell_timeout`` where that is longer."""
        return max(self.cell_timeout, self.startup_timeout)

    @classmethod
    def of(cls, settings: GradingSettings) -> Limits:
        """The limits a run's settings ask for (the rest at their defaults)."""
        return cls(timeout=settings.timeout, cell_timeout=settings.cell_timeout,
                   memory_bytes=settings.memory_mb * 1024**2)

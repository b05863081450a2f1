"""Run one submission's code in a confined child process and talk to it over pipes.

Three homes, one job each: :mod:`.confine` (with :mod:`.rootfs`, :mod:`.userns` and
:mod:`.libc`) is the confinement, :mod:`.lifecycle` starts and stops the child,
:mod:`.pipes` moves bytes; :class:`Sandbox` here is the conversation (run the cells, serve
requests, time out, restart after a check that killed the child).

What every notebook gets, as root and as an ordinary user alike (:func:`confine.enter`):

- new mount, PID, IPC, UTS and network namespaces (for a user, inside an unprivileged user
  namespace); nothing of the host's processes to see or signal, no network, and at the
  end every process it started dies with its PID namespace;
- an allow-list root (:mod:`.rootfs`): the interpreter, its libraries, ``initkit``, a few
  ``/etc`` and ``/dev`` entries, read-only, and a working directory that is a tmpfs of
  ``Limits.disk_bytes`` holding a copy of the submission; no home, no ``/tmp`` of the host,
  no graders wherever they are (nothing needs hiding);
- ``setrlimit(2)`` limits (CPU, address space, processes, file size, open files);
- a cgroup of its own where one is writable (:mod:`.cgroup`): ``Limits.memory_bytes`` and
  ``Limits.nproc`` hold for all its processes together, and an OOM kill is the student's
  "out of memory"; elsewhere at most :data:`.cgroup.FALLBACK_NPROC` processes;
- root: a uid of its own and an empty capability bounding set; a user: no capability left;
  a fresh session keyring; a scrubbed environment;
- a system-call filter (:mod:`.seccomp`) from the student's first line on;
- wall-clock timeouts per cell and per submission, enforced here; output kept up to a cap.

A confinement that cannot be set up raises :class:`~initkit.errors.SandboxError` (the kit's
error, with the reason), never a student's crash; where none is available at all,
:class:`~initkit.errors.ConfinementUnavailable`, unless ``unconfined=True`` was asked for.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import SandboxError
from . import cgroup, confine, lifecycle, protocol
from .limits import Limits
from .pipes import Channel, OutputStream

_UID_BASE = 1_900_000_000
#: Fresh children a submission may get after one died or hung answering a check.
MAX_RESTARTS = 8


@dataclass
class CellResult:
    """What happened to one code cell: its error (type and message) if it raised."""

    index: int
    error_type: str | None = None
    error_message: str | None = None
    seconds: float = 0.0


class ChildGone(Exception):
    """The child is not running (it exited, timed out, or was killed); str says why."""


class Sandbox:
    """One submission's child process.

    Args:
        cells: the code cells' sources, in order (already structure-checked).
        files: files to place in the working directory, name -> bytes (the submission).
        limits: resource limits and timeouts.
        python: interpreter to start (default: this one, so the same numpy is found).
        isolate_network: put the child in an empty network namespace.
        data_dir: a folder whose files are copied next to the submission (exercise data).
        prewarm: fork the child from the pre-warmed template (:mod:`.zygote`) instead of
            starting a fresh ``python -I`` (same confinement, ~0.5 s faster).
        unconfined: run without namespaces, allow-list root or privilege drop (resource
            limits and timeouts only): only when the user asked for it knowingly.

    Raises (from :meth:`start`):
        ConfinementUnavailable: no confinement can be set up here (and not ``unconfined``).
        SandboxError: the confinement failed to set up for this child.

    Use as a context manager: ``with Sandbox(cells, files) as sb: sb.start(); sb.call(...)``.
    """

    def __init__(self, cells: list[str], files: dict[str, bytes] | None = None, *,
                 limits: Limits | None = None,
                 python: str | None = None, isolate_network: bool = True,
                 data_dir: str | Path | None = None, prewarm: bool = True,
                 unconfined: bool = False):
        self.prewarm = prewarm
        self.unconfined = unconfined
        self.cells_src = list(cells)
        self.files = dict(files or {})
        self.limits = limits or Limits()
        self.python = python or sys.executable
        self.isolate_network = isolate_network
        self.data_dir = Path(data_dir) if data_dir else None
        self.kind: str | None = None  # "root", "userns" or "unconfined", once started
        self.uid: int | None = None
        self.gid: int | None = None
        self.cells: list[CellResult] = []
        self.stdout = OutputStream(self.limits.output_bytes)
        self.stderr = OutputStream(self.limits.output_bytes)
        self.proc = None
        self.workdir: Path | None = None
        self.gone_reason: str | None = None
        self.current_cell: int | None = None
        self._channel: Channel | None = None
        self._deadline = 0.0
        self._cell_deadline = 0.0
        self._ready = False
        self._heard = False  # a message arrived from this child (its set-up worked)
        self._starting = False  # the child has not yet reached its first cell
        self._cgroup: cgroup.Group | None = None
        #: why each earlier child of this submission ended (a fresh one took over)
        self.restarts: list[str] = []
        #: how many requests the checks sent, their wall seconds here (round trips
        #: included) and the seconds the child says it spent answering them (its own
        #: word: a measurement to print, never a grade)
        self.requests = 0
        self.request_seconds = 0.0
        self.child_seconds = 0.0

    # ------------------------------------------------------------------ life cycle

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> list[CellResult]:
        """Start the child, run every cell, wait until it serves requests.

        Returns:
            One :class:`CellResult` per cell that started (fewer if the child died or
            timed out; then :attr:`gone_reason` says why).

        Raises:
            ConfinementUnavailable, SandboxError: see the class.
        """
        self._deadline = time.monotonic() + self.limits.timeout
        self._launch()
        return self.cells

    def _confinement(self) -> str:
        if self.unconfined:
            return "unconfined"
        return confine.mode(self.python)

    def _launch(self) -> None:
        """Make the working directory, start the child and run its cells."""
        lifecycle.finish_ending(wait=False)  # earlier children closed without waiting
        self.kind = self._confinement()
        if self.kind == "root":
            self.uid = self.gid = _UID_BASE + os.getpid() % 4_000_000
        else:
            self.uid, self.gid = os.getuid(), os.getgid()
        self.workdir = lifecycle.make_workdir(self.files, self.data_dir)
        extra = confine.count_own_processes() if self.kind == "unconfined" else 0
        limits = self.limits
        self._cgroup = cgroup.create(limits.memory_bytes, limits.nproc + 2)
        if self._cgroup is None:  # memory is bounded per process only: fewer processes
            limits = replace(limits, nproc=min(limits.nproc, cgroup.FALLBACK_NPROC))
        try:
            plan = confine.make_plan(self.kind, python=self.python, workdir=str(self.workdir),
                                     uid=self.uid, gid=self.gid, limits=limits,
                                     netns=self.isolate_network, nproc_extra=extra)
        except OSError as exc:
            self._close_process()
            raise SandboxError(f"cannot plan the sandbox for {self.python}: {exc}") from None
        plan["cgroup"] = self._cgroup.procs_files if self._cgroup else []
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        env = lifecycle.child_env(self.workdir)
        try:
            self.proc = lifecycle.spawn(plan, self.python, self.workdir, env, self.prewarm,
                                        req_r, rep_w)
        except BaseException:
            for fd in (req_w, rep_r):
                os.close(fd)
            self._close_process()
            raise
        finally:  # the child has its copies: ours are closed here, and only here
            os.close(req_r)
            os.close(rep_w)
        self._channel = Channel(req_w, rep_r, self.proc.stdout, self.proc.stderr,
                                self.stdout, self.stderr, self.limits.message_bytes)
        self._heard = False
        self._starting = True  # until the first cell: the start-up's own allowance
        self._cell_deadline = time.monotonic() + self.limits.start_allowance
        try:
            self._send({"op": "run", "cells": self.cells_src})
            self._run_cells()
            self._ready = True
        except ChildGone as exc:
            self.gone_reason = str(exc)

    def _restart(self) -> None:
        """Replace a child that died or hung during a request by a fresh one.

        The new child runs the notebook's cells again (a new working directory, same
        limits, same overall deadline), so one check that hangs or crashes the process
        costs that check only. The first run's cell results are kept.
        """
        self.restarts.append(self.gone_reason or "")
        first_cells, self.cells = self.cells, []
        self._close_process()
        self.gone_reason = None
        self.current_cell = None
        self._ready = False  # a fresh child that fails its cells is not restarted again
        self._launch()
        self.cells = first_cells
        if self.gone_reason:
            self.gone_reason = f"{self.gone_reason} (while restarting the notebook)"

    def _can_restart(self) -> bool:
        return (self._ready and len(self.restarts) < MAX_RESTARTS
                and time.monotonic() < self._deadline - 1.0)

    def _run_cells(self) -> None:
        started = 0.0
        while True:
            header, _ = self._receive(cell_timeout=True)
            event = header.get("event")
            if event == "setup_failed" and not self._heard:
                self._close_process()
                raise SandboxError("the notebook's sandbox could not be set up: "
                                   f"{str(header.get('reason'))[:2000]}")
            self._heard = True
            index = header.get("index", -1)
            err = header.get("error")
            if type(index) is not int or not (err is None or isinstance(err, dict)):
                self.close_child()
                raise ChildGone("the notebook's process broke the protocol: malformed "
                                f"{str(event)[:50]!r} message")
            if event == "cell":
                self._starting = False
                self.current_cell = index
                started = time.monotonic()
                self._cell_deadline = started + self.limits.cell_timeout
            elif event == "cell_done":
                self._check_memory()
                err = err or {}
                self.cells.append(CellResult(
                    index=index, error_type=_s(err.get("type")),
                    error_message=_s(err.get("message")), seconds=time.monotonic() - started))
                self.current_cell = None
                self._cell_deadline = time.monotonic() + self.limits.cell_timeout
            elif event == "ready":
                self._starting = False
                self._drain(0)  # what the cells printed, before the caller reads it
                self._check_memory()
                return
            else:
                raise ChildGone(f"the notebook's process sent an unexpected message {event!r}")

    def close(self, wait: bool = True) -> None:
        """Kill the child and every process it started; remove its working directory.

        Args:
            wait: return once they are gone (default). False: the kill is sent now and
                nothing more is asked of the child, but waiting for the kernel to end its
                namespaces and removing its cgroup and folder are left to
                :func:`.lifecycle.finish_ending` (the next sandbox's start, the end of a
                grading run, the end of this process), so that wait overlaps with the
                grader's own work instead of adding to it.
        """
        self._close_process(wait)

    def _close_process(self, wait: bool = True) -> None:
        group, workdir = self._cgroup, self.workdir
        self._cgroup = self.workdir = None

        def remove_traces() -> None:
            if group is not None:
                group.remove()
            if workdir is not None:
                shutil.rmtree(workdir, ignore_errors=True)

        if self.proc is not None:
            if self._channel is not None:
                os.close(self._channel.request_w)  # EOF: an idle child ends by itself
                self._channel.request_w = -1
            if wait:
                lifecycle.terminate(self.proc, self.kind != "unconfined")
            else:
                lifecycle.end_later(self.proc, self.kind != "unconfined", remove_traces)
            if self._channel is not None:
                self._channel.close()
                self._channel = None
            self.proc = None
            if not wait:
                return
        remove_traces()

    # ------------------------------------------------------------------ requests

    def request(self, header: dict, blobs: list[bytes] = ()) -> tuple[dict, list[bytes]]:
        """Send one request and return the child's reply (header, blobs).

        Raises:
            ChildGone: the child is not running, or did not answer within the cell timeout
                (then it is killed, and every later request raises ChildGone too).
        """
        self.requests += 1
        if self.gone_reason and self._can_restart():
            self._restart()
        if self.gone_reason:
            raise ChildGone(self.gone_reason)
        if self._channel is None:
            raise ChildGone("the notebook's sandbox is closed (or was never started)")
        sent = time.monotonic()
        try:
            self._cell_deadline = sent + self.limits.cell_timeout
            self._send(header, blobs)
            reply = self._receive(cell_timeout=True, what=f"answering {header.get('op')}"
                                  f" {header.get('name', '')}".rstrip())
            self._check_memory()
        except ChildGone as exc:
            self.gone_reason = str(exc)
            self.close_child()
            raise
        finally:
            self.request_seconds += time.monotonic() - sent
        said = reply[0].get("seconds")
        if type(said) is float and 0.0 <= said <= time.monotonic() - sent:
            self.child_seconds += said
        return reply

    def close_child(self) -> None:
        """Kill the child now but keep what it printed."""
        if self.proc is not None:
            lifecycle.kill(self.proc, self.kind != "unconfined")

    def _send(self, header: dict, blobs: list[bytes] = ()) -> None:
        try:
            self._channel.send(header, blobs)
        except OSError:
            while self._drain(0.05):  # whatever it said before it went
                pass
            self._wait_exit()
            if not self._heard:
                self._never_started()
            raise ChildGone(self._death_reason()) from None

    def _never_started(self) -> None:
        """The child ended before its first message: no student code ran, so it is the
        kit's error (:class:`SandboxError`), with the set-up's own reason if it sent one."""
        try:
            msg = self._channel.message()
        except protocol.ProtocolError:
            msg = None
        reason = self._death_reason()
        if msg is not None and msg[0].get("event") == "setup_failed":
            reason = str(msg[0].get("reason"))[:2000]
        else:
            tail = self.stderr.text().strip()[-1500:]
            reason += f": {tail}" if tail else ""
        self._close_process()
        raise SandboxError(f"the notebook's sandbox could not be set up: {reason}")

    def _receive(self, cell_timeout: bool, what: str = "") -> tuple[dict, list[bytes]]:
        while True:
            try:
                msg = self._channel.message()
            except protocol.ProtocolError as exc:
                self.close_child()
                raise ChildGone(f"the notebook's process broke the protocol: {exc}") from None
            if msg is not None:
                return msg
            now = time.monotonic()
            if now > self._deadline:
                self.close_child()
                raise ChildGone(f"the submission exceeded its time limit of "
                                f"{self.limits.timeout:g} s{self._where()}")
            if cell_timeout and now > self._cell_deadline:
                self.close_child()
                if self._starting:
                    raise ChildGone("the notebook's process did not start within "
                                    f"{self.limits.start_allowance:g} s")
                where = self._where() or (f" while {what}" if what else "")
                raise ChildGone(f"timed out after {self.limits.cell_timeout:g} s{where}")
            limit = min(self._deadline, self._cell_deadline if cell_timeout else self._deadline)
            if not self._drain(max(0.0, limit - now)):
                try:
                    msg = self._channel.message()
                except protocol.ProtocolError:
                    msg = None
                if msg is not None:
                    return msg
                self._wait_exit()
                if not self._heard:  # it died before its first word: no student code ran
                    self._never_started()
                raise ChildGone(self._death_reason())

    def _wait_exit(self) -> None:
        try:
            self.proc.wait(timeout=2)
        except Exception:  # noqa: BLE001 - it closed the pipe but lives on: end it
            self.close_child()
            try:
                self.proc.wait(timeout=10)
            except Exception:  # noqa: BLE001
                pass

    def _drain(self, timeout: float) -> bool:
        """Read whatever is ready; False once the reply pipe is closed (child gone)."""
        try:
            return self._channel.drain(timeout)
        except protocol.ProtocolError as exc:
            self.close_child()
            raise ChildGone(f"the notebook's process broke the protocol: {exc}") from None

    def _where(self) -> str:
        return f" in cell {self.current_cell + 1}" if self.current_cell is not None else ""

    def out_of_memory(self) -> bool:
        """Whether the kernel killed a process of this child's cgroup for lack of memory."""
        return self._cgroup is not None and self._cgroup.oom_kills() > 0

    def memory_peak(self) -> int | None:
        """The most memory the child's processes held together (None without a cgroup)."""
        return self._cgroup.peak_bytes() if self._cgroup is not None else None

    def _oom_reason(self) -> str:
        return (f"the notebook ran out of memory: its processes together used more than "
                f"{self.limits.memory_bytes // 1024**2} MB{self._where()}")

    def _check_memory(self) -> None:
        """An OOM kill in the submission's cgroup ends the submission: out of memory."""
        if self.out_of_memory():
            self.close_child()
            raise ChildGone(self._oom_reason())

    def _death_reason(self) -> str:
        if self.out_of_memory():
            return self._oom_reason()
        code = self.proc.poll() if self.proc else None
        if code is None:
            how = "closed its pipe"
        elif code < 0:
            name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
            hint = {"SIGXCPU": " (CPU time limit)", "SIGXFSZ": " (file size limit)",
                    "SIGKILL": " (killed)", "SIGSEGV": " (crashed)"}.get(name, "")
            how = f"was killed by {name}{hint}"
        else:
            how = f"exited with code {code}"
        return f"the notebook's process {how}{self._where() or ' after its cells ran'}"


def memory_limit_description(limits: Limits | None = None) -> str:
    """The one line `initkit grade` prints about the memory limit that applies here."""
    limits = limits or Limits()
    return cgroup.limit_for(limits.memory_bytes, limits.nproc)


def _s(v) -> str | None:
    return None if v is None else str(v)[:2000]

"""Run one submission's code in a locked-down child process and talk to it over pipes.

The child (:mod:`initkit.grading.child`) is a fresh ``python -I`` interpreter, or (the
default, ~0.5 s faster) a fork of a pre-warmed ``python -I`` template that has imported
numpy and matplotlib and never runs student code (:mod:`initkit.grading.zygote`); both apply
the same confinement (:func:`initkit.grading.confine.apply_sandbox`):

- its working directory is a new temporary directory holding only a copy of the
  submission (and any data files the exercise ships); the environment is scrubbed to a few
  fixed variables (no ``PYTHONPATH``, no secrets, one BLAS thread);
- it is the leader of its own session and process group (``start_new_session``), killed
  with ``SIGKILL`` at the end;
- ``resource.setrlimit`` caps CPU seconds, address space, processes, file size and open
  files (see ``setrlimit(2)``);
- when the grader runs as root, the child first enters a private mount namespace
  (``unshare(2)`` with ``CLONE_NEWNS``) in which the grader's secrets (graders, solutions,
  gradebook, other submissions, the output directory, and the whole project tree around
  the graders) are covered by empty read-only ``tmpfs`` mounts, ``/tmp``, ``/var/tmp``,
  ``/dev/shm``, ``/run/lock`` and ``/dev/mqueue`` are fresh and empty but for its own
  working directory (so ``../`` shows nothing), the working directory is a tmpfs of
  ``Limits.disk_bytes``, a private IPC namespace takes its System V objects away with it,
  a folder closed to others that holds the interpreter (``/root`` with pyenv) is covered
  with only the interpreter bound back, and a new network namespace has no interfaces up;
  then it drops to an unprivileged uid of its own (``setgroups``/``setgid``/``setuid``),
  unique per sandbox, so ``RLIMIT_NPROC`` counts only this submission's processes, and at
  the end every process of that uid, even one that left the process group with
  ``setsid``, is killed with ``kill(-1, SIGKILL)`` from a helper running as that uid (``kill(2)``);
- wall-clock timeouts are enforced here, per cell and per submission, by killing it;
- its stdout and stderr are drained continuously and kept up to a size cap, so printing
  100 MB neither blocks it nor fills the grader's memory.

The trusted side and the child speak :mod:`initkit.grading.protocol` over two dedicated
pipes (never the child's stdout, which student code can write to).
"""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import SandboxError
from . import protocol
from .confine import (  # noqa: F401 - processes_of_uid and running_as_root are re-exported
    _SHARED_DIRS,
    CHILD_SCRIPT,
    _become_subreaper,
    _count_own_processes,
    _hide_plan,
    _needed_paths,
    _reveal_plan,
    apply_sandbox,
    confinement,
    kill_uid,
    namespaces_available,
    processes_of_uid,
    running_as_root,
)

_UID_BASE = 1_900_000_000
#: Fresh children a submission may get after one died or hung answering a check.
MAX_RESTARTS = 8


@dataclass
class Limits:
    """Resource limits and timeouts of one submission's child.

    Attributes:
        timeout: wall-clock seconds for the whole submission (cells and checks).
        cell_timeout: wall-clock seconds for one cell or one call from a check.
        cpu_seconds: ``RLIMIT_CPU`` of the child (per process).
        memory_bytes: ``RLIMIT_AS`` (address space) of each process.
        nproc: ``RLIMIT_NPROC``: processes and threads the child's uid may have.
        fsize_bytes: ``RLIMIT_FSIZE``: largest file the child may write.
        nofile: ``RLIMIT_NOFILE``: open file descriptors.
        output_bytes: stdout and stderr kept (each); the rest is counted and dropped.
        disk_bytes: size of the working directory's tmpfs (root with namespaces only):
            all the files the notebook writes there together.
        message_bytes: most bytes of the child's messages buffered at once (frames,
            blobs, partial input); more kills the child (a protocol error).
    """

    timeout: float = 120.0
    cell_timeout: float = 30.0
    cpu_seconds: int = 120
    memory_bytes: int = 2 * 1024**3
    nproc: int = 32
    fsize_bytes: int = 64 * 1024**2
    nofile: int = 256
    output_bytes: int = 256 * 1024
    message_bytes: int = 256 * 1024**2
    disk_bytes: int = 512 * 1024**2


@dataclass
class CellResult:
    """What happened to one code cell: its error (type and message) if it raised."""

    index: int
    error_type: str | None = None
    error_message: str | None = None
    seconds: float = 0.0


@dataclass
class _Stream:
    cap: int
    data: bytearray = field(default_factory=bytearray)
    dropped: int = 0

    def add(self, chunk: bytes) -> None:
        room = self.cap - len(self.data)
        if room > 0:
            self.data += chunk[:room]
        self.dropped += max(0, len(chunk) - max(room, 0))

    def text(self) -> str:
        out = self.data.decode("utf-8", errors="replace")
        if self.dropped:
            out += f"\n[... {self.dropped} more bytes of output dropped ...]"
        return out


class ChildGone(Exception):
    """The child is not running (it exited, timed out, or was killed); str says why."""


class Sandbox:
    """One submission's child process.

    Args:
        cells: the code cells' sources, in order (already structure-checked).
        files: files to place in the working directory, name -> bytes (the submission).
        limits: resource limits and timeouts.
        hide: paths the child must not see (directories or files); only honoured when
            running as root (mount namespace), else the file permissions decide.
        python: interpreter to start (default: this one, so the same numpy is found).
        isolate_network: put the child in an empty network namespace (root only).
        data_dir: a folder whose files are copied next to the submission (exercise data).
        prewarm: fork the child from the pre-warmed template (:mod:`.zygote`) instead of
            starting a fresh ``python -I`` (same confinement, ~0.5 s faster).
        ipython: run cells through IPython's ``InteractiveShell`` (magics work).

    Use as a context manager: ``with Sandbox(cells, files) as sb: sb.start(); sb.call(...)``.
    """

    def __init__(self, cells: list[str], files: dict[str, bytes] | None = None, *,
                 limits: Limits | None = None, hide: tuple[str | Path, ...] = (),
                 python: str | None = None, isolate_network: bool = True,
                 data_dir: str | Path | None = None, prewarm: bool = True,
                 ipython: bool = False):
        self.prewarm = prewarm
        self.ipython = ipython
        self.cells_src = list(cells)
        self.files = dict(files or {})
        self.limits = limits or Limits()
        self.python = python or sys.executable
        self.isolate_network = isolate_network
        self.data_dir = Path(data_dir) if data_dir else None
        self.root = running_as_root()
        self._dropped = False
        self.uid: int | None = None
        self.gid: int | None = None
        self._hide = tuple(Path(p).resolve() for p in hide)
        self.cells: list[CellResult] = []
        self.stdout = _Stream(self.limits.output_bytes)
        self.stderr = _Stream(self.limits.output_bytes)
        self.proc = None
        self.workdir: Path | None = None
        self.gone_reason: str | None = None
        self.current_cell: int | None = None
        self._reader = protocol.FrameReader()
        self._deadline = 0.0
        self._ready = False
        #: why each earlier child of this submission ended (a fresh one took over)
        self.restarts: list[str] = []
        self._sel: selectors.BaseSelector | None = None
        self._req_w = self._rep_r = -1

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
        """
        self._deadline = time.monotonic() + self.limits.timeout
        self._launch()
        return self.cells

    def _launch(self) -> None:
        """Make the working directory, start the child and run its cells."""
        import subprocess

        self._reader = protocol.FrameReader(max_total=self.limits.message_bytes)
        self.workdir = Path(tempfile.mkdtemp(prefix="initkit-grade-"))
        for name, content in self.files.items():
            (self.workdir / Path(name).name).write_bytes(content)
        if self.data_dir and self.data_dir.is_dir():
            for item in self.data_dir.iterdir():
                if item.is_file():
                    shutil.copy2(item, self.workdir / item.name)
        _seed_matplotlib_cache(self.workdir / ".config" / "matplotlib")
        if self.root:
            self.uid = self.gid = _UID_BASE + os.getpid() % 4_000_000
            for path in [self.workdir, *self.workdir.rglob("*")]:
                os.chown(path, self.uid, self.gid)
        self.workdir.chmod(0o700)

        if self.root:
            _become_subreaper()
        req_r, self._req_w = os.pipe()
        self._rep_r, rep_w = os.pipe()
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(self.workdir),
            "TMPDIR": str(self.workdir), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
            "MPLBACKEND": "Agg", "MPLCONFIGDIR": str(self.workdir / ".config" / "matplotlib"),
            "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "NUMEXPR_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1",
        }
        self.proc = None
        if self.prewarm:
            try:
                self.proc = self._spawn_from_template(env, req_r, rep_w)
            except OSError:  # no template: start a fresh interpreter instead
                self.proc = None
        if self.proc is None:
            try:
                self.proc = subprocess.Popen(
                    [self.python, "-I", "-u", str(CHILD_SCRIPT), str(req_r), str(rep_w)],
                    cwd=self.workdir, env=env, stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=(req_r, rep_w),
                    start_new_session=True, preexec_fn=self._preexec(), close_fds=True)
            except (OSError, subprocess.SubprocessError) as exc:
                raise SandboxError(f"could not start the sandboxed child ({self.python}): "
                                   f"{exc}. Check that the interpreter exists and runs.") \
                    from exc
            finally:
                os.close(req_r)
                os.close(rep_w)
        self._sel = selectors.DefaultSelector()
        for fd, what in ((self.proc.stdout.fileno(), "out"), (self.proc.stderr.fileno(), "err"),
                         (self._rep_r, "rep")):
            os.set_blocking(fd, False)
            self._sel.register(fd, selectors.EVENT_READ, what)

        self._cell_deadline = time.monotonic() + self.limits.cell_timeout
        try:
            self._send({"op": "run", "cells": self.cells_src, "ipython": self.ipython})
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
            index = header.get("index", -1)
            err = header.get("error")
            if type(index) is not int or not (err is None or isinstance(err, dict)):
                self.close_child()
                raise ChildGone("the notebook's process broke the protocol: malformed "
                                f"{str(event)[:50]!r} message")
            if event == "cell":
                self.current_cell = index
                started = time.monotonic()
                self._cell_deadline = started + self.limits.cell_timeout
            elif event == "cell_done":
                err = err or {}
                self.cells.append(CellResult(
                    index=index, error_type=_s(err.get("type")),
                    error_message=_s(err.get("message")), seconds=time.monotonic() - started))
                self.current_cell = None
                self._cell_deadline = time.monotonic() + self.limits.cell_timeout
            elif event == "ready":
                return
            else:
                raise ChildGone(f"the notebook's process sent an unexpected message {event!r}")

    def close(self) -> None:
        """Kill the child's process group (and every process of its uid); clean up."""
        self._close_process()

    def _close_process(self) -> None:
        if self.proc is not None:
            for fd in (self._req_w, self._rep_r):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._req_w = self._rep_r = -1
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.proc.wait(timeout=5)
            except Exception:
                pass
            if self.root and self.uid is not None and self._dropped:
                kill_uid(self.uid, self.gid)
            for stream in (self.proc.stdout, self.proc.stderr):
                try:
                    stream.close()
                except Exception:
                    pass
            if self._sel is not None:
                self._sel.close()
                self._sel = None
            self.proc = None
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    # ------------------------------------------------------------------ requests

    def request(self, header: dict, blobs: list[bytes] = ()) -> tuple[dict, list[bytes]]:
        """Send one request and return the child's reply (header, blobs).

        Raises:
            ChildGone: the child is not running, or did not answer within the cell timeout
                (then it is killed, and every later request raises ChildGone too).
        """
        if self.gone_reason and self._can_restart():
            self._restart()
        if self.gone_reason:
            raise ChildGone(self.gone_reason)
        try:
            self._cell_deadline = time.monotonic() + self.limits.cell_timeout
            self._send(header, blobs)
            reply = self._receive(cell_timeout=True, what=f"answering {header.get('op')}"
                                  f" {header.get('name', '')}".rstrip())
        except ChildGone as exc:
            self.gone_reason = str(exc)
            self.close_child()
            raise
        return reply

    def close_child(self) -> None:
        """Kill the child now but keep what it printed."""
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def _send(self, header: dict, blobs: list[bytes] = ()) -> None:
        try:
            protocol.write_message(self._req_w, header, blobs)
        except (BrokenPipeError, OSError):
            self._drain(0)
            raise ChildGone(self._death_reason()) from None

    def _receive(self, cell_timeout: bool, what: str = "") -> tuple[dict, list[bytes]]:
        while True:
            try:
                msg = self._reader.message()
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
                where = self._where() or (f" while {what}" if what else "")
                raise ChildGone(f"timed out after {self.limits.cell_timeout:g} s{where}")
            limit = min(self._deadline, self._cell_deadline if cell_timeout else self._deadline)
            if not self._drain(max(0.0, limit - now)):
                try:
                    self.proc.wait(timeout=2)
                except Exception:  # it closed the pipe but lives on: end it
                    self.close_child()
                    self.proc.wait(timeout=5)
                raise ChildGone(self._death_reason())

    def _drain(self, timeout: float) -> bool:
        """Read whatever is ready; False once the reply pipe is closed (child gone)."""
        alive = True
        for key, _ in self._sel.select(timeout=min(timeout, 1.0)):
            try:
                chunk = os.read(key.fd, 1 << 20)
            except BlockingIOError:
                continue
            if key.data == "out":
                self.stdout.add(chunk)
            elif key.data == "err":
                self.stderr.add(chunk)
            elif chunk:
                try:
                    self._reader.feed(chunk)
                except protocol.ProtocolError as exc:
                    self.close_child()
                    raise ChildGone(f"the notebook's process broke the protocol: {exc}"
                                    ) from None
            else:
                alive = False
            if not chunk:
                self._sel.unregister(key.fd)
        return alive

    def _where(self) -> str:
        return f" in cell {self.current_cell + 1}" if self.current_cell is not None else ""

    def _death_reason(self) -> str:
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

    # ------------------------------------------------------------------ preexec

    def _spawn_from_template(self, env: dict[str, str], req_r: int, rep_w: int):
        """Fork the child from this process's pre-warmed template (:mod:`.zygote`)."""
        from .zygote import get_zygote

        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            zygote = get_zygote(self.python, _template_env())
            plan = self._plan()
            self._dropped = plan["drop"]
            return zygote.spawn(plan, str(self.workdir), env,
                                [req_r, rep_w, out_w, err_w],
                                os.fdopen(out_r, "rb", buffering=0),
                                os.fdopen(err_r, "rb", buffering=0))
        except OSError:
            for fd in (out_r, err_r, out_w, err_w):
                try:
                    os.close(fd)
                except OSError:
                    pass
            raise

    def _plan(self) -> dict:
        """Everything the child does to itself before running code, as plain data."""
        limits = self.limits
        keep = _needed_paths(self.python, self.workdir)
        dec = os.fsdecode
        ns = self.root and namespaces_available()
        reveals = _reveal_plan(keep, cover=_SHARED_DIRS) if ns else []
        # without namespaces an interpreter under a closed folder cannot be reached by
        # another uid: then the child keeps root (rlimits only; `confinement()` says so)
        drop = self.root and (ns or not _reveal_plan(keep))
        nproc = limits.nproc if drop else _count_own_processes() + limits.nproc
        return {
            "root": ns, "drop": drop, "uid": self.uid, "gid": self.gid,
            "netns": self.isolate_network,
            "mounts": [[dec(t), d] for t, d in _hide_plan(self._hide, keep)] if ns else [],
            "reveals": [[dec(b), [dec(p) for p, _ in inner]] for b, inner in reveals],
            "cpu": limits.cpu_seconds, "memory": limits.memory_bytes,
            "fsize": limits.fsize_bytes, "nofile": limits.nofile, "nproc": nproc,
            "workdir": str(self.workdir) if self.workdir else None,
            "disk": limits.disk_bytes if ns else 0,
        }

    def _preexec(self):
        plan = self._plan()
        self._dropped = plan["drop"]

        def preexec() -> None:  # runs in the forked child before exec: syscalls only
            if not apply_sandbox(plan):
                os._exit(97)

        return preexec


# ---------------------------------------------------------------------- helpers


def _s(v) -> str | None:
    return None if v is None else str(v)[:2000]


_MPL_CACHE: Path | None = None
def _template_env() -> dict[str, str]:
    """Environment of the template process: scrubbed, one BLAS thread.

    The template makes its own home and matplotlib folder (seeded from
    ``INITKIT_MPL_SEED``, this process's font cache) and removes them when it ends.
    """
    seed = Path(tempfile.mkdtemp(prefix="initkit-seed-"))
    _seed_matplotlib_cache(seed)
    fonts = [p.name for p in seed.iterdir()]
    shutil.rmtree(seed, ignore_errors=True)
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
            "MPLBACKEND": "Agg", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1", "NUMEXPR_NUM_THREADS": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "INITKIT_MPL_SEED": str(_MPL_CACHE) if _MPL_CACHE and fonts else ""}


def _seed_matplotlib_cache(target: Path) -> None:
    """Give the child a ready font cache, so matplotlib does not rebuild it every time."""
    global _MPL_CACHE
    target.mkdir(parents=True, exist_ok=True)
    if _MPL_CACHE is None:
        try:
            import matplotlib

            _MPL_CACHE = Path(matplotlib.get_cachedir())
            import matplotlib.font_manager  # noqa: F401 - builds fontlist-*.json if missing
        except Exception:
            _MPL_CACHE = Path("/nonexistent")
    for item in _MPL_CACHE.glob("fontlist-*.json") if _MPL_CACHE.is_dir() else []:
        shutil.copy2(item, target / item.name)

"""A pre-warmed template process that forks one sandboxed child per submission.

Starting ``python -I`` and importing numpy and matplotlib costs about 0.5-0.8 s, more than
the rest of grading a small notebook. The zygote (the Android/Chromium name for the same
idea, and what ``multiprocessing``'s ``forkserver`` does) is a ``python -I`` process started
once per grading process, with a scrubbed environment and one BLAS thread, that imports
:data:`PRELOAD`, fills the caches every child would fill (:func:`warm`), builds the
notebook's IPython shell (:func:`initkit.grading.child.prepare`), freezes its heap
for the children's garbage collector, and then only ever forks: it never runs student
code itself. For each
submission the trusted side sends it, over a ``SOCK_SEQPACKET`` Unix socket, the sandbox
plan (:func:`initkit.grading.confine.make_plan`), the working directory, the
environment and four pipe ends (``SCM_RIGHTS``); the forked child starts a new session,
moves to the working directory, confines itself exactly as the fresh-interpreter path does
(:func:`initkit.grading.confine.enter`: namespaces, allow-list root, rlimits, privilege
drop) and runs :func:`initkit.grading.child.main`. Every
child is a copy-on-write copy of the pristine template, so nothing one submission does can
reach another. The zygote is a child subreaper: it reaps its children and their orphans and
reports each child's exit status back (a confined child's is the exit status of the
confinement's monitor, which mirrors the notebook's).
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import time

#: Modules imported once in the template: the example exercises' imports, and the
#: notebook engine every child builds (:func:`initkit.grading.child._notebook_runner`):
#: IPython's shell with what its construction imports, and the inline backend (~0.3 s).
PRELOAD = ("numpy", "matplotlib", "matplotlib.pyplot", "initkit",
           "IPython.core.interactiveshell", "IPython.core.application",
           "IPython.core.completer", "IPython.core.completerlib", "IPython.core.logger",
           "IPython.core.magics", "IPython.core.oinspect", "IPython.core.pylabtools",
           "IPython.utils.wildcard", "bdb", "importlib.metadata", "traitlets.config",
           "matplotlib_inline.backend_inline")


def warm() -> None:
    """Fill the caches every child would otherwise fill for itself, once, in the template.

    - matplotlib's backend registry reads every installed package's entry points the first
      time a backend name is checked (~0.2 s);
    - ``initkit``'s plugin registry (built-ins and entry points, ~0.1-0.4 s on the first
      ``calculate_gain`` or ``get_initializer``): the template's environment is the child's
      (scrubbed, no ``INITKIT_PLUGINS``), so it is the registry the child would build;
    - matplotlib's first figure: fonts loaded and text measured, a log axis, a legend, one
      drawing (~0.3 s); the figure is closed again, so a child starts with no figure open
      and numbers its first figure 1, as a fresh kernel does.

    A cache that cannot be filled (an older matplotlib, a broken plugin) is left to the
    child, which then meets the same problem itself.
    """
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            from matplotlib.backends.registry import backend_registry

            backend_registry.is_valid_backend("inline")
        except Exception:  # noqa: BLE001 - an older matplotlib: nothing to warm
            pass
        try:
            from initkit import registry

            registry.initializers()
            registry.activations()
        except Exception:  # noqa: BLE001 - the child reports a broken plugin itself
            pass
        try:
            import matplotlib.pyplot as plt

            fig, ax = plt.subplots()
            ax.plot([1, 2, 3], [1, 10, 100], label="warm")
            ax.set_yscale("log")
            ax.set(title="warm", xlabel="x", ylabel="y")
            ax.legend()
            fig.canvas.draw()
            plt.close("all")
        except Exception:  # noqa: BLE001 - no figure could be drawn: nothing to warm
            pass


class ZygoteChild:
    """Popen-like handle of a child forked by the zygote (pid, poll, wait, returncode)."""

    def __init__(self, zygote: Zygote, pid: int, stdout, stderr):
        self.zygote = zygote
        self.pid = pid
        self.stdout = stdout
        self.stderr = stderr
        self.returncode: int | None = None

    def poll(self) -> int | None:
        """The exit code (negative: killed by that signal) once the zygote reported it."""
        if self.returncode is None:
            self.zygote.pump()
            self.returncode = self.zygote.exits.pop(self.pid, None)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the exit report; ``subprocess.TimeoutExpired`` after ``timeout`` s."""
        end = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if end is not None and time.monotonic() > end:
                raise subprocess.TimeoutExpired(str(self.pid), timeout)
            self.zygote.pump(0.02)
        return self.returncode


class Zygote:
    """Trusted-side handle of the template process.

    The process starts at once and warms up on its own (1-3 s); the first :meth:`spawn`
    waits until it is ready, so the grader's own start-up (pytest, the graders, the
    notebook) overlaps with the template's.

    Args:
        python: the interpreter (the one whose numpy the notebooks use).
        env: its environment (already scrubbed).
        preload: modules to import in the template.
    """

    def __init__(self, python: str, env: dict[str, str], preload: tuple[str, ...] = PRELOAD):
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.exits: dict[int, int] = {}
        self._ready = False
        try:
            self.proc = subprocess.Popen(
                [python, "-I", "-u", os.path.abspath(__file__), str(theirs.fileno()),
                 ",".join(preload), str(os.getpid())], pass_fds=(theirs.fileno(),), env=env,
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True)
        finally:
            theirs.close()

    def wait_ready(self, timeout: float = 60) -> None:
        """Return once the template has warmed up and serves.

        Raises:
            OSError: it did not say so within ``timeout`` s (it is stopped then).
        """
        if self._ready:
            return
        reply = self._recv(timeout=timeout)
        if reply is None or reply.get("ready") is not True:
            self.close()
            raise OSError("the grading template process did not start")
        self._ready = True

    def alive(self) -> bool:
        """Whether the template process still runs."""
        return self.proc.poll() is None

    def spawn(self, plan: dict, cwd: str, env: dict[str, str], fds: list[int],
              stdout, stderr) -> ZygoteChild:
        """Fork a confined child; ``fds`` = request read end, reply write end, stdout and
        stderr write ends. The template receives copies of them: the caller still owns
        these and closes them (only the owner closes an fd: a second close would hit
        whichever file another thread opened under the same number meanwhile).

        Raises:
            OSError: the template did not start, or stopped answering.
        """
        self.wait_ready()
        msg = json.dumps({"plan": plan, "cwd": cwd, "env": env}).encode()
        socket.send_fds(self.sock, [msg], fds)
        while True:
            reply = self._recv(timeout=30)
            if reply is None:
                raise OSError("the grading template process stopped answering")
            if "pid" in reply:
                return ZygoteChild(self, int(reply["pid"]), stdout, stderr)
            self._note(reply)

    def pump(self, timeout: float = 0.0) -> None:
        """Collect exit reports that have arrived."""
        while True:
            reply = self._recv(timeout=timeout)
            if reply is None:
                return
            self._note(reply)
            timeout = 0.0

    def _note(self, reply: dict) -> None:
        if "exit" in reply:
            self.exits[int(reply["exit"])] = int(reply["code"])

    def _recv(self, timeout: float) -> dict | None:
        ready, _, _ = select.select([self.sock], [], [], timeout)
        if not ready:
            return None
        data = self.sock.recv(1 << 16)
        if not data:
            return None
        return json.loads(data)

    def close(self) -> None:
        """Stop the template process: closing its socket makes it clean up and exit."""
        try:
            self.sock.close()
        finally:
            try:
                self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


_ZYGOTES: dict[str, Zygote] = {}


def get_zygote(python: str, env: dict[str, str]) -> Zygote:
    """This process's template for ``python`` (started on first use, restarted if dead;
    perhaps still warming up: :meth:`Zygote.spawn` waits for it)."""
    z = _ZYGOTES.get(python)
    if z is None or not z.alive() or z.proc.pid is None:
        if z is not None:
            z.close()
        z = _ZYGOTES[python] = Zygote(python, env)
        if len(_ZYGOTES) == 1:
            import atexit

            atexit.register(_close_all)
    return z


def _close_all() -> None:
    for z in list(_ZYGOTES.values()):
        z.close()
    _ZYGOTES.clear()


# ---------------------------------------------------------------------- the template side


def _die_with(parent: int) -> None:
    """End the template when the grading process that started it dies.

    ``PR_SET_PDEATHSIG`` delivers SIGTERM at the parent's death (a SIGKILLed ``initkit
    grade`` included), and SIGTERM exits through ``finally`` so the private home is removed;
    a parent that died before this ran is caught by comparing ``getppid()``. The template
    runs no student code, so the handler is its own.
    """
    import signal

    from initkit.grading import libc

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    libc.prctl(libc.PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:
        sys.exit(0)


def _serve(sock_fd: int, preload: list[str], parent: int) -> None:
    """Make a private home with a seeded font cache, serve, and remove the home at the end."""
    import glob
    import shutil
    import tempfile

    _die_with(parent)

    home = tempfile.mkdtemp(prefix="initkit-template-")
    os.chmod(home, 0o755)
    mpl = os.path.join(home, "matplotlib")
    os.mkdir(mpl, 0o755)
    seed = os.environ.pop("INITKIT_MPL_SEED", "")
    for path in glob.glob(os.path.join(seed, "fontlist-*.json")) if seed else []:
        shutil.copy(path, mpl)
    os.environ.update(HOME=home, MPLCONFIGDIR=mpl)
    try:
        _serve_forever(sock_fd, preload)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def preload_and_warm(preload: list[str] | tuple[str, ...] = PRELOAD) -> None:
    """Import ``preload``, :func:`warm` the caches and freeze the heap: the state every
    child starts from (``benchmarks/bench_grading.py`` times a notebook's cells in a process
    made the same way, the limit a sandbox can approach).

    What the process holds then is shared by every child, copy-on-write; frozen
    (``gc.freeze``, after a last collection: the ``gc`` documentation's recipe for a
    process that forks without exec), a child's garbage collections never walk it, so they
    neither spend time on it nor copy its pages (a plotting cell: 0.7 s without, 0.26 s
    with).
    """
    import gc
    import importlib

    for name in preload:
        try:
            importlib.import_module(name)
        except Exception:  # a missing optional module just is not preloaded
            pass
    warm()
    gc.collect()
    gc.freeze()


def _serve_forever(sock_fd: int, preload: list[str]) -> None:
    import gc
    import signal

    from initkit.grading import child, libc
    from initkit.grading.confine import enter

    preload_and_warm(preload)
    try:
        child.prepare()
    except Exception:  # noqa: BLE001 - then each child builds its own, and meets the problem
        pass

    libc.prctl(libc.PR_SET_CHILD_SUBREAPER, 1)
    # a child's exit wakes the loop at once (its report is what a closing sandbox waits for)
    wake_r, wake_w = os.pipe()
    for fd in (wake_r, wake_w):
        os.set_blocking(fd, False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(wake_w)
    gc.collect()  # the shell and the loop's own imports: frozen too
    gc.freeze()
    sock = socket.socket(fileno=sock_fd)
    sock.send(json.dumps({"ready": True}).encode())
    ours: set[int] = set()
    while True:
        while True:  # reap children (and orphans re-parented to us)
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            if pid in ours:
                ours.discard(pid)
                sock.send(json.dumps({"exit": pid,
                                      "code": os.waitstatus_to_exitcode(status)}).encode())
        ready, _, _ = select.select([sock, wake_r], [], [], 1.0)
        if wake_r in ready:
            while _drained(wake_r):
                pass
        if sock not in ready:
            continue
        msg, fds, _, _ = socket.recv_fds(sock, 1 << 20, 8)
        if not msg:
            return
        request = json.loads(msg)
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                sock.close()
                os.close(wake_r)
                os.close(wake_w)
                os.setsid()
                req_r, rep_w, out_w, err_w = fds
                null = os.open(os.devnull, os.O_RDONLY)
                os.dup2(null, 0)
                os.dup2(out_w, 1)
                os.dup2(err_w, 2)
                for fd in (null, out_w, err_w):
                    os.close(fd)
                os.chdir(request["cwd"])
                os.environ.clear()
                os.environ.update(request["env"])
                enter(request["plan"], rep_w)  # returns only in the confined notebook
                child.main(req_r, rep_w)
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:  # noqa: B036 - report and leave, never return to the loop
                import traceback

                traceback.print_exc()
            finally:
                try:
                    sys.stdout.flush()
                    sys.stderr.flush()
                finally:
                    os._exit(code)
        ours.add(pid)
        for fd in fds:
            os.close(fd)
        sock.send(json.dumps({"pid": pid}).encode())


def _drained(fd: int) -> bool:
    """Read what is waiting on a non-blocking pipe; False once it is empty."""
    try:
        return bool(os.read(fd, 4096))
    except BlockingIOError:
        return False


if __name__ == "__main__":
    _serve(int(sys.argv[1]), [m for m in sys.argv[2].split(",") if m], int(sys.argv[3]))
    os._exit(0)  # no interpreter teardown of numpy and matplotlib: gone at once

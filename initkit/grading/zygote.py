"""A pre-warmed template process that forks one sandboxed child per submission.

Starting ``python -I`` and importing numpy and matplotlib costs about 0.5-0.8 s, more than
the rest of grading a small notebook. The zygote (the Android/Chromium name for the same
idea, and what ``multiprocessing``'s ``forkserver`` does) is a ``python -I`` process started
once per grading process, with a scrubbed environment and one BLAS thread, that imports
:data:`PRELOAD` and then only ever forks: it never runs student code itself. For each
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


def _warm() -> None:
    """Caches the children would each fill: matplotlib's backend registry reads every
    installed package's entry points (~0.2 s) the first time a backend name is checked."""
    try:
        from matplotlib.backends.registry import backend_registry

        backend_registry.is_valid_backend("inline")
    except Exception:  # noqa: BLE001 - an older matplotlib: nothing to warm
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

    Args:
        python: the interpreter (the one whose numpy the notebooks use).
        env: its environment (already scrubbed).
        preload: modules to import in the template.
    """

    def __init__(self, python: str, env: dict[str, str], preload: tuple[str, ...] = PRELOAD):
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.exits: dict[int, int] = {}
        try:
            self.proc = subprocess.Popen(
                [python, "-I", "-u", os.path.abspath(__file__), str(theirs.fileno()),
                 ",".join(preload), str(os.getpid())], pass_fds=(theirs.fileno(),), env=env,
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True)
        finally:
            theirs.close()
        reply = self._recv(timeout=60)
        if reply is None or reply.get("ready") is not True:
            self.close()
            raise OSError("the grading template process did not start")

    def alive(self) -> bool:
        """Whether the template process still runs."""
        return self.proc.poll() is None

    def spawn(self, plan: dict, cwd: str, env: dict[str, str], fds: list[int],
              stdout, stderr) -> ZygoteChild:
        """Fork a confined child; ``fds`` = request read end, reply write end, stdout and
        stderr write ends. The template receives copies of them: the caller still owns
        these and closes them (only the owner closes an fd: a second close would hit
        whichever file another thread opened under the same number meanwhile)."""
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
    """This process's template for ``python`` (started on first use, restarted if dead)."""
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


def _serve_forever(sock_fd: int, preload: list[str]) -> None:
    import importlib

    for name in preload:
        try:
            importlib.import_module(name)
        except Exception:  # a missing optional module just is not preloaded
            pass
    _warm()
    from initkit.grading import child, libc
    from initkit.grading.confine import enter

    libc.prctl(libc.PR_SET_CHILD_SUBREAPER, 1)
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
        ready, _, _ = select.select([sock], [], [], 0.05)
        if not ready:
            continue
        msg, fds, _, _ = socket.recv_fds(sock, 1 << 20, 8)
        if not msg:
            return
        request = json.loads(msg)
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                sock.close()
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


if __name__ == "__main__":
    _serve(int(sys.argv[1]), [m for m in sys.argv[2].split(",") if m], int(sys.argv[3]))
    os._exit(0)  # no interpreter teardown of numpy and matplotlib: gone at once

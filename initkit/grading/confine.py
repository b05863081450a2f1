"""The confinement of a notebook's process, step by step, the same for root and for a user.

:func:`enter` runs in a freshly forked process (the pre-warmed template's fork,
:mod:`initkit.grading.zygote`, or ``subprocess``'s ``preexec_fn`` before ``exec`` of a fresh
``python -I``) and returns only in the confined notebook process. It reads as bubblewrap's
``bwrap --unshare-all --die-with-parent --tmpfs / --ro-bind ...`` does:

0. the process joins the submission's cgroup, if it has one (:mod:`.cgroup`: memory and
   processes bounded for all its processes together);
1. ``PR_SET_PDEATHSIG``: this *monitor* dies when the grader (or template) does;
   ``unshare(2)`` into new mount, PID, IPC, UTS and (unless asked not to) network
   namespaces; without root, in a new user namespace first, with the user's uid and gid
   mapped to themselves (:mod:`.userns`);
2. ``fork``: the child is PID 1 of the new PID namespace, a tiny *init*; the monitor stays
   outside, waits for it and leaves with the notebook's own exit status (or dies of its
   signal), so the trusted side sees the notebook's fate; ``SIGTERM`` to the monitor kills
   the init, and with it, by the kernel's rule for a PID namespace whose init ends, every
   process of the notebook: double-forked, ``setsid``, ignoring ``SIGTERM``, all of them;
3. the init (``PR_SET_PDEATHSIG`` too, so the namespace dies with the monitor) names the
   host ``sandbox``, builds the allow-list root (:func:`initkit.grading.rootfs.build_root`:
   tmpfs root, read-only binds, fresh ``/proc``, private ``/dev/shm``, size-limited working
   directory, ``pivot_root``) and forks the notebook process, then only reaps;
4. the notebook process sets its ``setrlimit(2)`` limits (CPU, address space, file size,
   open files, no core, processes), drops privileges for good (root: ``setgroups`` /
   ``setresgid`` / ``setresuid`` to a uid of its own, the capability bounding set emptied
   first; a user: every capability of its namespace, bounding set included), joins a fresh
   anonymous session keyring (nothing of the grader's keyrings stays reachable), sets
   ``PR_SET_NO_NEW_PRIVS`` and, last, installs the system-call filter (:mod:`.seccomp`).

Every failing step writes ``{"event": "setup_failed", "reason": ...}`` on the reply pipe, as
the first message, before any student code could have run, and exits with
:data:`EXIT_SETUP`: the trusted side raises :class:`~initkit.errors.SandboxError` (the kit's
error, never the student's zero). :func:`mode` probes once which confinement this machine
gives (a real dry run) and raises :class:`~initkit.errors.ConfinementUnavailable` saying why.
``unconfined`` plans (asked for explicitly) set the resource limits only.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from ..errors import ConfinementUnavailable
from . import libc, rootfs, seccomp, userns
from .limits import Limits

CHILD_SCRIPT = Path(__file__).with_name("child.py")
#: Exit code of a process whose confinement could not be set up.
EXIT_SETUP = 97
_MAXFD = 1 << 16


def running_as_root() -> bool:
    """Whether this process can drop a child to another uid and mount namespaces."""
    return hasattr(os, "geteuid") and os.geteuid() == 0


# ---------------------------------------------------------------------- the plan


def make_plan(kind: str, *, python: str, workdir: str | None, uid: int, gid: int,
              limits: Limits, netns: bool = True, nproc_extra: int = 0) -> dict:
    """Everything the child does to itself before running code, as plain (JSON) data.

    Args:
        kind: ``"root"``, ``"userns"`` or ``"unconfined"`` (rlimits only).
        python: the interpreter (its folders are bound into the root).
        workdir: host path of the working directory.
        uid, gid: the notebook's ids (root: a uid of its own; userns: the user's).
        limits: the child's :class:`~initkit.grading.limits.Limits`.
        netns: an empty network namespace.
        nproc_extra: processes to allow beyond ``limits.nproc`` (unconfined: the user's own).
    """
    plan = {"kind": kind, "uid": uid, "gid": gid, "netns": netns,
            "host_uid": os.getuid(), "host_gid": os.getgid(), "workdir": workdir,
            "cpu": limits.cpu_seconds, "memory": limits.memory_bytes,
            "fsize": limits.fsize_bytes, "nofile": limits.nofile,
            # userns: RLIMIT_NPROC counts the uid's processes in this user namespace
            # (Linux >= 5.14), the monitor and the init included
            "nproc": limits.nproc + nproc_extra + (2 if kind == "userns" else 0),
            "root": None, "seccomp": kind != "unconfined", "keyring": True, "cgroup": []}
    if kind != "unconfined" and workdir is not None:
        plan["root"] = rootfs.plan_root(python, workdir, uid, gid, limits.disk_bytes)
    return plan


# ---------------------------------------------------------------------- in the child


def enter(plan: dict, reply_fd: int) -> None:
    """Confine the calling, freshly forked process as ``plan`` says (see the module doc).

    Returns only in the confined notebook process; the monitor and the init it becomes on
    the way never return (they ``_exit``). A failed step is reported on ``reply_fd`` and
    ends the process with :data:`EXIT_SETUP`.
    """
    if plan.get("cgroup"):
        _step(plan, reply_fd, "joining the submission's cgroup", _join_cgroup, plan)
    if plan["kind"] == "unconfined":
        _step(plan, reply_fd, "resource limits", _limits, plan)
        if plan.get("keyring", True):
            _step(plan, reply_fd, "a fresh session keyring", libc.join_new_session_keyring)
        os.umask(0o077)
        return
    _step(plan, reply_fd, "namespaces", _unshare, plan)
    status_r, status_w = os.pipe()
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD, signal.SIGTERM})
    init = _step(plan, reply_fd, "fork of the init", os.fork)
    if init:
        os.close(status_w)
        _monitor(init, status_r)
    os.close(status_r)
    _init(plan, reply_fd, status_w)


def _step(plan: dict, reply_fd: int, what: str, func, *args):
    """Run one set-up step; on failure report it (the kit's error) and exit."""
    try:
        return func(*args)
    except Exception as exc:  # noqa: BLE001 - any failure of the set-up is reported
        reason = f"{what}: {exc}"
        if plan["kind"] == "userns":
            reason = userns.why_unavailable(reason)
        elif plan["kind"] == "root" and "not permitted" in str(exc):
            reason += (" (root without CAP_SYS_ADMIN, as in a container: give it that "
                       "capability, or run `initkit grade` as an ordinary user)")
        _report(reply_fd, reason)
        os._exit(EXIT_SETUP)


def _report(reply_fd: int, reason: str) -> None:
    from . import protocol

    try:
        protocol.write_message(reply_fd, {"event": "setup_failed", "reason": reason[:2000]})
    except OSError:
        pass


def _join_cgroup(plan: dict) -> None:
    """Move this process (and so everything it will start) into the submission's cgroup."""
    pid = str(os.getpid())
    for procs in plan["cgroup"]:
        with open(procs, "w") as fh:
            fh.write(pid)


def _unshare(plan: dict) -> None:
    libc.prctl(libc.PR_SET_PDEATHSIG, signal.SIGKILL)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    flags = libc.CLONE_NEWNS | libc.CLONE_NEWPID | libc.CLONE_NEWIPC | libc.CLONE_NEWUTS
    if plan["netns"]:
        flags |= libc.CLONE_NEWNET
    if plan["kind"] == "userns":
        libc.unshare(flags | libc.CLONE_NEWUSER)
        userns.write_id_maps(plan["uid"], plan["gid"], plan["host_uid"], plan["host_gid"])
    else:
        libc.unshare(flags)


def _close_fds_but(keep: int) -> None:
    os.closerange(0, keep)
    os.closerange(keep + 1, _MAXFD)


def _monitor(init: int, status_r: int) -> None:
    """Outside the namespace: wait for the init, then leave as the notebook did."""
    _close_fds_but(status_r)
    killed = False
    while True:
        try:
            pid, status = os.waitpid(init, os.WNOHANG)
        except ChildProcessError:
            pid, status = init, 0
        if pid:
            break
        info = signal.sigwaitinfo({signal.SIGCHLD, signal.SIGTERM})
        if info.si_signo == signal.SIGTERM and not killed:
            killed = True  # the init's end kills the whole namespace
            os.kill(init, signal.SIGKILL)
    os.set_blocking(status_r, False)
    try:
        data = os.read(status_r, 16)
    except OSError:
        data = b""
    if data[:1] == b"X" and len(data) >= 5:
        code = os.waitstatus_to_exitcode(int.from_bytes(data[1:5], "little"))
    elif data[:1] == b"S":
        code = EXIT_SETUP
    elif os.WIFEXITED(status):
        code = os.WEXITSTATUS(status)
    else:
        code = -signal.SIGKILL
    if code < 0:
        sig = -code
        try:
            if sig not in (signal.SIGKILL, signal.SIGSTOP):
                signal.signal(sig, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {sig})
            os.kill(os.getpid(), sig)
        finally:
            os._exit(128 + sig)
    os._exit(code)


def _init(plan: dict, reply_fd: int, status_w: int) -> None:
    """PID 1: build the root, fork the notebook process, reap until it ends."""
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE,
                signal.SIGUSR1, signal.SIGUSR2, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)

    def setup() -> int:
        libc.prctl(libc.PR_SET_PDEATHSIG, signal.SIGKILL)
        libc.sethostname(plan["root"]["hostname"] if plan["root"] else "sandbox")
        if plan["root"] is not None:
            rootfs.build_root(plan["root"])
        return os.fork()

    try:
        child = setup()
    except Exception as exc:  # noqa: BLE001
        _fail_init(plan, reply_fd, status_w, exc)
    if child == 0:
        os.close(status_w)
        _step(plan, reply_fd, "dropping privileges", _drop, plan)
        return
    _close_fds_but(status_w)
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            os._exit(0)
        if pid == child:
            os.write(status_w, b"X" + status.to_bytes(4, "little"))
            os._exit(0)  # the kernel now kills whatever the notebook left in the namespace


def _fail_init(plan: dict, reply_fd: int, status_w: int, exc: Exception) -> None:
    try:
        os.write(status_w, b"S")
    except OSError:
        pass
    _step(plan, reply_fd, "building the root", _raise, exc)


def _raise(exc: Exception) -> None:
    raise exc


def _limits(plan: dict) -> None:
    resource.setrlimit(resource.RLIMIT_CPU, (plan["cpu"], plan["cpu"] + 1))
    resource.setrlimit(resource.RLIMIT_AS, (plan["memory"], plan["memory"]))
    resource.setrlimit(resource.RLIMIT_FSIZE, (plan["fsize"], plan["fsize"]))
    resource.setrlimit(resource.RLIMIT_NOFILE, (plan["nofile"], plan["nofile"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (plan["nproc"], plan["nproc"]))


def _drop(plan: dict) -> None:
    """Limits, then no way back: root empties the capability bounding set and takes a uid of
    its own, a user loses its capabilities; a fresh session keyring; no new privileges; and,
    last, the system-call filter (:mod:`.seccomp`), so the student's first line runs under it.
    """
    _limits(plan)
    if plan["kind"] == "root":
        uid, gid = plan["uid"], plan["gid"]
        libc.drop_bounding_set()
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
    else:
        libc.drop_capabilities()
    if plan.get("keyring", True):
        libc.join_new_session_keyring()
    libc.prctl(libc.PR_SET_NO_NEW_PRIVS, 1)
    os.umask(0o077)
    if plan["workdir"]:
        os.chdir(plan["workdir"])
    if plan.get("seccomp"):
        seccomp.install(libc._LIBC)


# ---------------------------------------------------------------------- probing


_MODES: dict[str, str | ConfinementUnavailable] = {}


def mode(python: str | None = None) -> str:
    """Which confinement a notebook gets here: ``"root"`` or ``"userns"`` (probed once).

    A real dry run: a forked process sets up the whole confinement (namespaces, root,
    privilege drop) and exits.

    Raises:
        ConfinementUnavailable: neither works; the message says why and how to allow it
            (or to pass ``--unconfined`` knowingly).
    """
    python = python or sys.executable
    if python not in _MODES:
        kind = "root" if running_as_root() else "userns"
        problem = dry_run(kind, python)
        _MODES[python] = kind if problem is None else ConfinementUnavailable(
            f"cannot confine notebooks on this machine: {problem}. Grading untrusted code "
            "unconfined would let it read this user's files and leave processes behind; "
            "if you accept that, pass --unconfined")
    found = _MODES[python]
    if isinstance(found, ConfinementUnavailable):
        raise found
    return found


def dry_run(kind: str, python: str) -> str | None:
    """Set up a ``kind`` confinement in a forked process; None if it worked, else why not."""
    from . import protocol

    workdir = tempfile.mkdtemp(prefix="initkit-probe-")
    try:
        uid = os.getuid() if kind == "userns" else 1_900_000_000 + os.getpid() % 4_000_000
        try:
            plan = make_plan(kind, python=python, workdir=workdir, uid=uid,
                             gid=os.getgid() if kind == "userns" else uid, limits=Limits())
        except OSError as exc:
            return str(exc)
        rep_r, rep_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the probe
            code = EXIT_SETUP
            try:
                os.close(rep_r)
                enter(plan, rep_w)
                code = 0 if os.listdir(workdir) == [] and os.getuid() == uid else 1
            finally:
                os._exit(code)
        os.close(rep_w)
        status = os.waitpid(pid, 0)[1]
        reader = protocol.FrameReader()
        with os.fdopen(rep_r, "rb") as fh:
            reader.feed(fh.read())
        msg = reader.message()
        if msg is not None and msg[0].get("event") == "setup_failed":
            return str(msg[0].get("reason"))
        if os.waitstatus_to_exitcode(status) != 0:
            return f"the confined probe process ended with status " \
                   f"{os.waitstatus_to_exitcode(status)}"
        return None
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


#: What ``--unconfined`` gives up, printed whenever it is used.
UNCONFINED_WARNING = (
    "--unconfined: notebooks run as this user with resource limits and timeouts only: no "
    "namespaces, no allow-list root, no uid of their own. A submission can read every file "
    "this user can (graders and solutions anywhere, your home), see and signal this user's "
    "processes, use the network, and leave processes running after grading")


def require_confinement(unconfined: bool = False, python: str | None = None) -> list[str]:
    """Check before grading that notebooks can be confined; the warnings to print.

    For ``initkit grade`` and ``initkit check``: without ``unconfined`` it fails closed.

    Raises:
        ConfinementUnavailable: no confinement here and ``unconfined`` is False; the message
            says why, how to allow it, and that ``--unconfined`` exists.
    """
    if unconfined:
        return [UNCONFINED_WARNING]
    mode(python)
    return []


def confinement(python: str | None = None) -> tuple[str, list[str]]:
    """How confined notebooks are on this machine: ``(level, warnings)``.

    Levels: ``root`` (namespaces, allow-list root, a uid of its own), ``userns`` (the same
    in an unprivileged user namespace), ``none`` (not available: the warning says why).
    """
    try:
        return mode(python), []
    except ConfinementUnavailable as exc:
        return "none", [str(exc)]


# ---------------------------------------------------------------------- host-side helpers


def processes_of_uid(uid: int, zombies: bool = False) -> list[int]:
    """Pids of processes whose real uid is ``uid`` (from ``/proc``); zombies if asked."""
    pids = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status") as fh:
                for line in fh:
                    if line.startswith("State:") and line.split()[1] in ("Z", "X") \
                            and not zombies:
                        break  # a zombie: already dead, waiting to be reaped
                    if line.startswith("Uid:"):
                        if int(line.split()[1]) == uid:
                            pids.append(int(entry.name))
                        break
        except OSError:
            pass
    return pids


def count_own_processes() -> int:
    """Processes and threads of this uid (what ``RLIMIT_NPROC`` counts without a namespace)."""
    uid = os.getuid()
    n = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if os.stat(entry.path).st_uid == uid:
                    n += len(os.listdir(f"/proc/{entry.name}/task"))
            except OSError:
                pass
    return n

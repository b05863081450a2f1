"""Confinement of a freshly forked child: namespaces, mounts, resource limits, uid drop.

:func:`apply_sandbox` runs in the child between fork and exec (or, for the pre-warmed
template, right after fork), from a plan of plain data built by
:class:`initkit.grading.sandbox.Sandbox`; only system calls, so it is safe there:

1. (root, if ``unshare(2)`` works) a private mount namespace, a private IPC namespace (its
   System V shared memory, semaphores and message queues die with it) and an empty network
   namespace; ``/tmp``, ``/var/tmp``, ``/dev/shm``, ``/run/lock`` (``/var/lock``) and
   ``/dev/mqueue`` become fresh tmpfs with only the
   child's working directory bound back; a folder closed to others that holds the
   interpreter (``/root`` with pyenv) is covered the same way with only the interpreter
   bound back; the grader's secrets are covered by empty read-only tmpfs (files by
   ``/dev/null``), see ``mount(2)``; the working directory itself becomes a tmpfs of
   ``plan["disk"]`` bytes holding a copy of its files (so the disk cannot be filled);
2. ``setrlimit(2)``: CPU seconds, address space, file size, open files, no core, processes;
3. (root) ``setgroups``/``setresgid``/``setresuid`` to a uid of its own, so
   ``RLIMIT_NPROC`` counts only this submission, and :func:`kill_uid` can later kill every
   process it left, even those that left its process group with ``setsid``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import resource
import signal
import sys
import time
from pathlib import Path

CHILD_SCRIPT = Path(__file__).with_name("child.py")

_CLONE_NEWNS = 0x00020000
_CLONE_NEWNET = 0x40000000
_CLONE_NEWIPC = 0x08000000
_MS_RDONLY = 1
_MS_NOSUID = 2
_MS_NODEV = 4
_MS_BIND = 4096
_MS_REC = 16384
_MS_PRIVATE = 1 << 18

# resolved before any fork: preexec_fn must only make system calls
_LIBC = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


def running_as_root() -> bool:
    """Whether this process can drop a child to another uid and mount namespaces."""
    return hasattr(os, "geteuid") and os.geteuid() == 0


_NAMESPACES: bool | None = None


def namespaces_available() -> bool:
    """Whether a child can ``unshare`` mount and network namespaces here (probed once).

    Root in a container without ``CAP_SYS_ADMIN`` cannot; then hidden paths rely on file
    permissions only.
    """
    global _NAMESPACES
    if _NAMESPACES is None:
        if not running_as_root():
            _NAMESPACES = False
        else:
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the probe child
                os._exit(0 if _LIBC.unshare(_CLONE_NEWNS | _CLONE_NEWNET | _CLONE_NEWIPC) == 0
                         else 1)
            _NAMESPACES = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    return _NAMESPACES


def confinement(python: str | None = None) -> tuple[str, list[str]]:
    """How confined notebooks are on this machine: ``(level, warnings)``.

    Levels: ``full`` (namespaces, own uid, rlimits), ``uid`` (own uid and rlimits, no
    namespaces), ``rlimits`` (resource limits and timeouts only).
    """
    if not running_as_root():
        return "rlimits", ["not running as root: notebooks run as this user, with resource "
                           "limits but without namespaces; they can read what this user can "
                           "(run `initkit grade` as root, e.g. in a container, for isolation)"]
    if namespaces_available():
        return "full", []
    keep = _needed_paths(python or sys.executable, None)
    if _reveal_plan(keep):
        return "rlimits", ["mount namespaces are unavailable (no CAP_SYS_ADMIN) and the "
                           "interpreter sits in a folder other users cannot enter: notebooks "
                           "run as root with resource limits only"]
    return "uid", ["mount namespaces are unavailable (no CAP_SYS_ADMIN): notebooks run as "
                   "their own uid, so hidden files are protected by file permissions only"]


def apply_sandbox(plan: dict) -> bool:
    """Confine the calling (freshly forked) process as ``plan`` says; False on failure.

    Order matters: namespaces and mounts need root, so they come first (``plan["root"]``);
    then the resource limits; then the uid drop (``plan["drop"]``: ``setgroups``,
    ``setresgid``, ``setresuid``, after which there is no way back); then a private umask.
    Only system calls, so it is safe between fork and exec.
    """
    if plan["root"]:
        flags = _CLONE_NEWNS | _CLONE_NEWIPC | (_CLONE_NEWNET if plan["netns"] else 0)
        if _LIBC.unshare(flags) != 0:
            return False
        if _LIBC.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None) != 0:
            return False
        for blocker, inner in plan["reveals"]:
            fds = [os.open(src, os.O_PATH) for src in inner]
            if _LIBC.mount(b"tmpfs", os.fsencode(blocker), b"tmpfs", _MS_NOSUID | _MS_NODEV,
                           b"size=64k,mode=0755") != 0:
                return False
            for dest, fd in zip(inner, fds, strict=True):
                os.makedirs(dest, exist_ok=True)
                if _LIBC.mount(b"/proc/self/fd/%d" % fd, os.fsencode(dest), None,
                               _MS_BIND | _MS_REC, None) != 0:
                    return False
                os.close(fd)
        for target, is_dir in plan["mounts"]:
            if is_dir:
                rc = _LIBC.mount(b"tmpfs", os.fsencode(target), b"tmpfs",
                                 _MS_RDONLY | _MS_NOSUID | _MS_NODEV, b"size=4k,mode=0")
            else:
                rc = _LIBC.mount(b"/dev/null", os.fsencode(target), None, _MS_BIND, None)
            if rc != 0 and ctypes.get_errno() != errno.ENOENT:
                return False
        if plan.get("disk") and plan.get("workdir"):
            if not _workdir_tmpfs(plan["workdir"], plan["disk"], plan["uid"] if plan["drop"]
                                  else 0, plan["gid"] if plan["drop"] else 0):
                return False
    resource.setrlimit(resource.RLIMIT_CPU, (plan["cpu"], plan["cpu"] + 1))
    resource.setrlimit(resource.RLIMIT_AS, (plan["memory"], plan["memory"]))
    resource.setrlimit(resource.RLIMIT_FSIZE, (plan["fsize"], plan["fsize"]))
    resource.setrlimit(resource.RLIMIT_NOFILE, (plan["nofile"], plan["nofile"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (plan["nproc"], plan["nproc"]))
    if plan["drop"]:
        uid, gid = plan["uid"], plan["gid"]
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
    os.umask(0o077)
    return True


def _workdir_tmpfs(workdir: str, size: int, uid: int, gid: int) -> bool:
    """Replace the working directory by a tmpfs of ``size`` bytes holding a copy of it.

    So a notebook fills at most ``size`` bytes (of memory, freed with its mount namespace),
    never the host's disk. The process's current directory moves onto the new mount.
    """
    target = os.fsencode(workdir)
    src = os.open(target, os.O_RDONLY | os.O_DIRECTORY)
    try:
        opts = b"size=%d,mode=0700,uid=%d,gid=%d" % (size, uid, gid)
        if _LIBC.mount(b"tmpfs", target, b"tmpfs", _MS_NOSUID | _MS_NODEV, opts) != 0:
            return False
        _copy_tree(src, workdir, uid, gid)
    finally:
        os.close(src)
    os.chdir(workdir)
    return True


def _copy_tree(src_fd: int, dest: str, uid: int, gid: int) -> None:
    """Copy the regular files and folders of the directory ``src_fd`` into ``dest``."""
    for entry in os.scandir(src_fd):
        path = os.path.join(dest, entry.name)
        if entry.is_dir(follow_symlinks=False):
            os.mkdir(path, 0o700)
            os.chown(path, uid, gid)
            sub = os.open(entry.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW,
                          dir_fd=src_fd)
            try:
                _copy_tree(sub, path, uid, gid)
            finally:
                os.close(sub)
        elif entry.is_file(follow_symlinks=False):
            fd = os.open(entry.name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=src_fd)
            with os.fdopen(fd, "rb") as fin, open(path, "wb") as fout:
                while chunk := fin.read(1 << 20):
                    fout.write(chunk)
            os.chmod(path, 0o600)
            os.chown(path, uid, gid)


def _needed_paths(python: str, workdir: Path | None) -> list[Path]:
    """Paths the child must still see: interpreter, its libraries, this package, workdir.

    Never the other ``sys.path`` entries: under pytest they include the graders' folder
    (``rootdir``, ``prepend`` import mode), which must stay hidden.
    """
    import sysconfig

    paths = {Path(python).resolve().parent, Path(sys.prefix).resolve(),
             Path(sys.base_prefix).resolve(), CHILD_SCRIPT.resolve().parent.parent}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        p = sysconfig.get_paths().get(key)
        if p:
            paths.add(Path(p).resolve())
    if workdir is not None:
        paths.add(workdir.resolve())
    return sorted(paths)


def secret_root(path: Path) -> Path:
    """The tree to hide around ``path`` (a graders or course folder).

    The nearest ancestor that is a project root (holds ``.git`` or ``pyproject.toml``), so
    the solutions, the nbgrader source and the repository's history next to the graders
    are hidden too; else ``path`` itself. Never ``/``.
    """
    path = Path(path).resolve()
    for anc in [path, *path.parents]:
        if anc == Path("/"):
            break
        if (anc / ".git").exists() or (anc / "pyproject.toml").exists():
            return anc
    return path


def _hide_plan(hide: tuple[Path, ...], keep: list[Path]) -> list[tuple[bytes, bool]]:
    """Mount targets that cover ``hide`` without covering anything in ``keep``.

    A hidden directory that contains a kept path (say a course directory that also holds
    the virtualenv) is not covered whole: its other entries are, one by one.
    """
    plan: list[tuple[bytes, bool]] = []

    def visit(path: Path) -> None:
        if not path.exists():
            return
        if any(k == path for k in keep) or path == Path("/"):
            return
        if any(path in k.parents for k in keep):
            if path.is_dir() and not path.is_symlink():
                for child in path.iterdir():
                    visit(child)
            return
        plan.append((os.fsencode(path), path.is_dir()))

    for p in hide:
        visit(p)
    return plan


#: World-writable shared folders every child gets a fresh, empty copy of (so ``../`` from
#: its working directory, ``/tmp``, shows nothing of the grader's or other submissions',
#: and nothing it leaves there, a lock file say, outlives it).
_SHARED_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock", "/dev/mqueue")


def _reveal_plan(keep: list[Path], cover: tuple[str, ...] = ()
                 ) -> list[tuple[bytes, list[tuple[bytes, bytes]]]]:
    """Folders to cover with a fresh tmpfs, and the kept paths to bind back inside them.

    Two kinds of folder are covered: every ``cover`` folder (``/tmp`` and friends), and
    every ancestor of a kept path that lacks the others' search bit (say ``/root`` holding
    the interpreter): there the tmpfs (mode 0755) hides the rest of the folder and the kept
    path is bound back at the same place, reachable by the unprivileged uid.
    """
    plan: dict[Path, set[Path]] = {}
    for c in cover:
        cp = Path(c)
        if cp.is_dir() and not cp.is_symlink():
            plan[cp.resolve()] = set()
    for path in keep:
        for blocker in list(plan):
            if blocker in path.parents:
                plan[blocker].add(path)
        for anc in reversed(path.parents):
            try:
                if not anc.stat().st_mode & 0o001:
                    plan.setdefault(anc, set()).add(path)
                    break
            except OSError:
                break
    out = []
    # outer folders first, so an inner blocker is mounted on top of the outer tmpfs' bind
    for blocker in sorted(plan, key=lambda p: len(p.parts)):
        paths = plan[blocker]
        top = sorted(p for p in paths if not any(q in p.parents for q in paths))
        out.append((os.fsencode(blocker), [(os.fsencode(p), os.fsencode(p)) for p in top]))
    return out


def _count_own_processes() -> int:
    uid = os.getuid()
    n = 0
    for entry in os.scandir("/proc") if os.path.isdir("/proc") else []:
        if entry.name.isdigit():
            try:
                n += len(os.listdir(f"/proc/{entry.name}/task")) \
                    if os.stat(entry.path).st_uid == uid else 0
            except OSError:
                pass
    return n


def _become_subreaper() -> None:
    """Make this process the reaper of its orphaned descendants (``PR_SET_CHILD_SUBREAPER``).

    Without it, a killed background process of the child is re-parented to pid 1, which in
    a container may never reap it, leaving a zombie behind.
    """
    _LIBC.prctl(36, 1, 0, 0, 0)


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


def kill_uid(uid: int, gid: int, attempts: int = 50) -> None:
    """Kill every process of ``uid``: a forked helper takes that uid and calls kill(-1, 9).

    As that uid, ``kill(-1, SIGKILL)`` reaches exactly its processes (``kill(2)``), all at
    once, so a fork bomb cannot outrun it; repeated until ``/proc`` shows none.
    """
    _become_subreaper()
    for _ in range(attempts):
        pids = processes_of_uid(uid, zombies=True)
        live = []
        for pid in pids:
            try:  # orphans were re-parented to us (the subreaper): reap them
                if os.waitpid(pid, os.WNOHANG)[0] == 0:
                    live.append(pid)
            except ChildProcessError:  # not ours to reap (no subreaper support)
                if pid in processes_of_uid(uid):
                    live.append(pid)
        if not live:
            return
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the helper child
            try:
                os.setgroups([])
                os.setresgid(gid, gid, gid)
                os.setresuid(uid, uid, uid)
                os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        time.sleep(0.01)

"""The allow-list root of a notebook's process: what it may see, planned and then built.

The notebook does not get the machine's file system with some folders hidden (a deny-list
misses the copy of the graders in a backup or a second clone); it gets a fresh ``tmpfs``
root holding only what running it needs, bound in read-only from the host, as bubblewrap
(``--tmpfs / --ro-bind ...``) and Flatpak do:

- ``/usr`` (and the ``/bin``, ``/lib``, ``/lib64``, ``/sbin`` links or folders next to it):
  the C library, ``sh``, the shared libraries numpy and matplotlib load;
- the interpreter: its executable, ``sys.prefix`` and ``sys.base_prefix`` and every entry of
  its ``python -I`` ``sys.path`` (standard library, site-packages) that is not a project
  folder, plus the folder of the ``initkit`` package itself (never the project around it);
- ``/etc/ld.so.cache``, ``/etc/localtime`` and ``/etc/nsswitch.conf``, and a ``passwd`` /
  ``group`` naming only the notebook's own user (no host account);
- ``/dev/null``, ``zero``, ``full``, ``random``, ``urandom``, a private ``/dev/shm`` and the
  ``/dev/fd`` links; a fresh ``/proc`` of the notebook's own PID namespace;
- the working directory (at the same path as on the host): a ``tmpfs`` of
  ``Limits.disk_bytes`` holding a copy of the submission's files, the only writable place
  besides ``/dev/shm``; both ``noexec``, so together with the system-call filter's
  ``memfd_create`` and ``execveat`` (:mod:`.seccomp`) only programs of the read-only root
  can be run.

No home folder, no ``/srv``, ``/opt``, ``/var`` or ``/run``, no host ``/tmp``, no other user's
files, no graders wherever they are. :func:`plan_root` builds the plan as plain data in the
trusted process; :func:`build_root` carries it out in the sandbox's PID 1 (after
``unshare``), with the two ``pivot_root`` steps of bubblewrap's ``setup_newroot``.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
from pathlib import Path

from . import libc

#: Host folders the root is built from, besides the interpreter's.
SYSTEM_DIRS = ("/usr", "/bin", "/lib", "/lib32", "/lib64", "/libx32", "/sbin")
#: Host files of /etc that Python and numpy read (the dynamic linker's cache, the time
#: zone, name-service switch); copied as links when they are links.
ETC_FILES = ("/etc/ld.so.cache", "/etc/localtime", "/etc/nsswitch.conf")
DEVICES = ("null", "zero", "full", "random", "urandom")
_PROJECT_MARKERS = (".git", "pyproject.toml", "setup.py", "setup.cfg")
#: Largest size of the private /dev/shm (bytes).
SHM_BYTES = 64 * 1024**2
PACKAGE_DIR = Path(__file__).resolve().parent.parent


@functools.lru_cache(maxsize=8)
def interpreter_paths(python: str) -> tuple[str, ...]:
    """The folders ``python -I`` needs: its prefixes and its ``sys.path`` (asked once).

    Raises:
        OSError: the interpreter does not run.
    """
    code = ("import json, sys; print(json.dumps([sys.executable, sys.prefix, sys.base_prefix,"
            " sys.exec_prefix, sys.base_exec_prefix, *sys.path]))")
    try:
        out = subprocess.run([python, "-I", "-c", code], capture_output=True, text=True,
                             timeout=60, env={"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"})
    except (OSError, subprocess.SubprocessError) as exc:
        raise OSError(f"cannot run the interpreter {python}: {exc}") from None
    if out.returncode != 0:
        raise OSError(f"the interpreter {python} failed: {out.stderr.strip()[-300:]}")
    entries = json.loads(out.stdout)
    exe = Path(entries[0])
    found = [str(exe.parent), str(Path(python).parent)]
    for link in (Path(python), exe):  # a venv's python is a link to the base interpreter
        found.append(str(Path(os.path.realpath(link)).parent))
    return tuple(dict.fromkeys([*found, *entries[1:]]))


def _is_project(path: Path) -> bool:
    return any((path / m).exists() for m in _PROJECT_MARKERS)


def allowed_paths(python: str) -> list[tuple[str, str]]:
    """``(host path, path inside)`` pairs bound read-only: system, interpreter, ``initkit``.

    A ``sys.path`` entry that is a project folder (an old-style editable install puts the
    checkout itself on ``sys.path``) is left out: only the ``initkit`` package is bound. A
    path reached through a symbolic link is bound from its real location at both places.
    """
    wanted: list[Path] = [Path(p) for p in SYSTEM_DIRS if os.path.isdir(p)
                          and not os.path.islink(p)]
    for entry in interpreter_paths(python):
        path = Path(entry)
        if not path.is_absolute() or not path.exists() or path == Path("/"):
            continue
        if path.is_dir() and _is_project(path):
            continue
        wanted.append(path)
    wanted.append(PACKAGE_DIR)
    out: list[tuple[str, str]] = []
    for path in sorted({Path(os.path.realpath(p)) for p in wanted} | set(wanted),
                       key=lambda p: (len(p.parts), str(p))):
        inside = [Path(d) for _, d in out]
        if path.exists() and not any(d == path or d in path.parents for d in inside):
            out.append((os.path.realpath(path), str(path)))
    return out


def plan_root(python: str, workdir: str, uid: int, gid: int, disk_bytes: int,
              hostname: str = "sandbox") -> dict:
    """The allow-list root of one sandbox as plain data (JSON-safe; see :func:`build_root`).

    Args:
        python: the interpreter the notebook runs in.
        workdir: host path of the working directory (copied onto a tmpfs at the same path).
        uid, gid: owner of the working directory's files inside (the notebook's ids).
        disk_bytes: size of the working directory's tmpfs.
        hostname: the UTS name inside.
    """
    links = [[os.readlink(p), p] for p in (*SYSTEM_DIRS, *ETC_FILES) if os.path.islink(p)]
    binds = [[src, dest, "ro"] for src, dest in allowed_paths(python)]
    binds += [[p, p, "ro"] for p in ETC_FILES if os.path.isfile(p) and not os.path.islink(p)]
    home = workdir
    files = {
        "/etc/passwd": f"root:x:0:0:root:/:/bin/sh\nstudent:x:{uid}:{gid}:student:{home}:"
                       "/bin/sh\n",
        "/etc/group": f"root:x:0:\nstudent:x:{gid}:\n",
        "/etc/hostname": f"{hostname}\n",
        "/etc/hosts": f"127.0.0.1 localhost {hostname}\n",
    }
    return {"binds": binds, "links": links, "files": files, "workdir": workdir,
            "disk": int(disk_bytes), "uid": uid, "gid": gid, "hostname": hostname,
            "shm": int(min(SHM_BYTES, disk_bytes))}


# ---------------------------------------------------------------------- in the sandbox


def build_root(root: dict) -> None:
    """Make ``root`` (:func:`plan_root`) the process's file system; call in its PID 1.

    bubblewrap's sequence: every mount private; a tmpfs on ``/tmp`` becomes the root, the
    host's root moves to ``/oldroot``; a second tmpfs, ``/newroot``, receives the binds
    (each then remounted read-only, keeping the flags a user namespace locks), ``/proc``,
    ``/dev``, ``/etc`` and the working directory; ``/oldroot`` is detached; a second
    ``pivot_root`` into ``/newroot`` and the detach of the first tmpfs leave nothing of the
    host but the binds; the root is made read-only.

    Raises:
        OSError: a step failed; its message names the step and the path.
    """
    nosuid_nodev = libc.MS_NOSUID | libc.MS_NODEV
    os.umask(0o022)
    libc.mount(None, "/", None, libc.MS_REC | libc.MS_PRIVATE)
    workdir_fd = os.open(root["workdir"], os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        libc.mount("tmpfs", "/tmp", "tmpfs", nosuid_nodev, "mode=0755,size=64k")
        os.chdir("/tmp")
        os.mkdir("newroot", 0o755)
        os.mkdir("oldroot", 0o755)
        libc.pivot_root("/tmp", "oldroot")
        os.chdir("/")
        libc.mount("tmpfs", "/newroot", "tmpfs", nosuid_nodev, "mode=0755,size=1m")
        for src, dest, kind in root["binds"]:
            _bind(src, dest, kind)
        for target, link in root["links"]:
            _makedirs(os.path.dirname("/newroot" + link))
            os.symlink(target, "/newroot" + link)
        _proc()
        _dev(root["shm"])
        for path, text in root["files"].items():
            _makedirs(os.path.dirname("/newroot" + path))
            with open("/newroot" + path, "w") as fh:
                fh.write(text)
        _workdir(root["workdir"], workdir_fd, root["disk"], root["uid"], root["gid"])
    finally:
        os.close(workdir_fd)
    libc.mount(None, "/oldroot", None, libc.MS_REC | libc.MS_PRIVATE)
    libc.umount2("/oldroot")
    base = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.chdir("/newroot")
        libc.pivot_root(".", ".")
        os.fchdir(base)
        libc.umount2(".")
    finally:
        os.close(base)
    os.chdir("/")
    libc.mount(None, "/", None, libc.MS_REMOUNT | libc.MS_BIND | libc.MS_RDONLY | nosuid_nodev)
    os.chdir(root["workdir"])


def _makedirs(path: str) -> None:
    os.makedirs(path, mode=0o755, exist_ok=True)


def _bind(src: str, dest: str, kind: str) -> None:
    """Bind host ``src`` (under ``/oldroot``) at ``dest`` in ``/newroot``, read-only."""
    host, dest = "/oldroot" + src, "/newroot" + dest
    if os.path.isdir(host):
        _makedirs(dest)
    else:
        _makedirs(os.path.dirname(dest))
        os.close(os.open(dest, os.O_CREAT | os.O_WRONLY, 0o644))
    libc.mount(host, dest, None, libc.MS_BIND | libc.MS_REC)
    if kind == "dev":  # device nodes stay writable (/dev/null) and keep their dev flag
        return
    locked = os.statvfs(dest).f_flag & libc.LOCKED_FLAGS
    libc.mount(None, dest, None, libc.MS_BIND | libc.MS_REMOUNT | libc.MS_RDONLY
               | libc.MS_NOSUID | libc.MS_NODEV | locked)


def _proc() -> None:
    """A fresh ``/proc`` of this PID namespace (its processes only).

    Where the kernel refuses it (``/proc`` of the host partly covered, as in some
    containers: ``mount_too_revealing``), the folder stays empty: less to see, not more.
    """
    _makedirs("/newroot/proc")
    try:
        libc.mount("proc", "/newroot/proc", "proc",
                   libc.MS_NOSUID | libc.MS_NODEV | libc.MS_NOEXEC)
    except OSError:
        pass


def _dev(shm_bytes: int) -> None:
    """A tmpfs ``/dev`` with the harmless device nodes bound in and a private ``/dev/shm``."""
    _makedirs("/newroot/dev")
    libc.mount("tmpfs", "/newroot/dev", "tmpfs", libc.MS_NOSUID, "mode=0755,size=64k")
    for name in DEVICES:
        if os.path.exists(f"/oldroot/dev/{name}"):
            _bind(f"/dev/{name}", f"/dev/{name}", "dev")
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"/newroot/dev/{name}")
    os.mkdir("/newroot/dev/shm", 0o755)
    libc.mount("tmpfs", "/newroot/dev/shm", "tmpfs",
               libc.MS_NOSUID | libc.MS_NODEV | libc.MS_NOEXEC, f"mode=1777,size={shm_bytes}")


def _workdir(workdir: str, src_fd: int, size: int, uid: int, gid: int) -> None:
    """The working directory: a tmpfs of ``size`` bytes holding a copy of the host's."""
    dest = "/newroot" + workdir
    _makedirs(dest)
    libc.mount("tmpfs", dest, "tmpfs", libc.MS_NOSUID | libc.MS_NODEV | libc.MS_NOEXEC,
               f"size={size},mode=0700,uid={uid},gid={gid}")
    _copy_tree(src_fd, dest, uid, gid)


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

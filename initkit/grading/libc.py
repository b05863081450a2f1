"""The Linux system calls the confinement makes, through ``ctypes``, each raising ``OSError``.

Python's ``os`` module has ``unshare`` and ``setns`` only from 3.12 and no ``mount``,
``umount2``, ``pivot_root``, ``capset`` or ``prctl``; these thin wrappers call the C library
(resolved once, at import, so they are safe between ``fork`` and ``exec``) and turn a -1
return into ``OSError(errno, "<call> <what>: <strerror>")``, so every failing step of the
set-up names itself (``unshare(2)``, ``mount(2)``, ``pivot_root(2)``, ``capset(2)``,
``prctl(2)``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21
#: Flags a bind mount inherits and, in a user namespace, must keep on a remount (they are
#: "locked"); ``statvfs`` reports them with the same bit values (``ST_*``).
LOCKED_FLAGS = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME \
    | MS_RELATIME
MNT_DETACH = 2

PR_SET_PDEATHSIG = 1
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38

_LIBC = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
_LIBC.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                        ctypes.c_char_p]
_LIBC.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_LIBC.syscall.restype = ctypes.c_long
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203,
                   "s390x": 217}.get(os.uname().machine, 155)
_SYS_CAPSET = {"x86_64": 126, "aarch64": 91, "riscv64": 91, "ppc64le": 184,
               "s390x": 185}.get(os.uname().machine, 126)


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _b(path: str | bytes | None) -> bytes | None:
    return None if path is None else os.fsencode(path)


def unshare(flags: int) -> None:
    """``unshare(2)``: move the caller into new namespaces (``CLONE_NEW*`` flags)."""
    _check(_LIBC.unshare(ctypes.c_int(flags)), "unshare")


def mount(source: str | None, target: str, fstype: str | None = None, flags: int = 0,
          data: str | None = None) -> None:
    """``mount(2)``."""
    _check(_LIBC.mount(_b(source), _b(target), _b(fstype), flags, _b(data)),
           f"mount {target}")


def umount2(target: str, flags: int = MNT_DETACH) -> None:
    """``umount2(2)`` (lazily, by default: ``MNT_DETACH``)."""
    _check(_LIBC.umount2(_b(target), flags), f"umount {target}")


def pivot_root(new_root: str, put_old: str) -> None:
    """``pivot_root(2)``: make ``new_root`` the root mount, the old one moves to ``put_old``."""
    _check(_LIBC.syscall(ctypes.c_long(_SYS_PIVOT_ROOT), _b(new_root), _b(put_old)),
           "pivot_root")


def prctl(option: int, arg: int = 0) -> None:
    """``prctl(2)`` with one argument."""
    _check(_LIBC.prctl(option, ctypes.c_ulong(arg), 0, 0, 0), f"prctl({option})")


def sethostname(name: str) -> None:
    """``sethostname(2)`` (in a private UTS namespace)."""
    raw = name.encode()
    _check(_LIBC.sethostname(raw, len(raw)), "sethostname")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def drop_capabilities() -> None:
    """Lose every capability for good: empty the bounding set, then ``capset(2)`` to zero.

    In a user namespace its creator holds all capabilities there; after this it holds none,
    and ``execve`` cannot give any back (the bounding set is empty).
    """
    drop_bounding_set()
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    _check(_LIBC.syscall(ctypes.c_long(_SYS_CAPSET), ctypes.byref(header), data), "capset")


def drop_bounding_set() -> None:
    """Empty the capability bounding set (``PR_CAPBSET_DROP`` for every capability).

    Root does this before taking the notebook's uid, so no ``execve`` can ever give a
    capability back, whatever file capabilities a binary carries.
    """
    for cap in range(64):
        if _LIBC.prctl(PR_CAPBSET_DROP, ctypes.c_ulong(cap), 0, 0, 0) != 0:
            err = ctypes.get_errno()
            if err == errno.EINVAL:
                break  # past the last capability this kernel knows
            raise OSError(err, f"prctl(PR_CAPBSET_DROP, {cap}): {os.strerror(err)}")


_SYS_KEYCTL = {"x86_64": 250, "aarch64": 219, "riscv64": 219, "ppc64le": 271,
               "s390x": 280}.get(os.uname().machine, 250)
KEYCTL_JOIN_SESSION_KEYRING = 1


def join_new_session_keyring() -> None:
    """``keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL)``: a fresh, empty, anonymous session
    keyring, so nothing of the caller's (pam_keyinit links the user keyring there) is
    reachable any more; a kernel without keyrings (``ENOSYS``) has nothing to hide."""
    rc = _LIBC.syscall(ctypes.c_long(_SYS_KEYCTL), ctypes.c_long(KEYCTL_JOIN_SESSION_KEYRING),
                       ctypes.c_void_p(None))
    if rc < 0:
        err = ctypes.get_errno()
        if err != errno.ENOSYS:
            raise OSError(err, f"keyctl(KEYCTL_JOIN_SESSION_KEYRING): {os.strerror(err)}")

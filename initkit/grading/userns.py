"""Unprivileged user namespaces: the id maps, and why the kernel refuses one, in words.

An ordinary user gets mount, PID, network, IPC and UTS namespaces by creating a user
namespace first (``user_namespaces(7)``): inside it the user's own uid and gid are mapped
to themselves (one line each in ``/proc/self/uid_map`` and ``gid_map``, after ``deny`` in
``setgroups``, the only map an unprivileged process may write), and the creator holds every
capability over the new namespaces, none over the host. Several systems switch this off;
:func:`why_unavailable` names the switch that is off and the command that turns it on.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

#: (file, value that forbids, what it means, how to allow)
_SWITCHES = (
    ("/proc/sys/kernel/unprivileged_userns_clone", "0",
     "the sysctl kernel.unprivileged_userns_clone is 0 (Debian's and Arch's switch)",
     "sudo sysctl -w kernel.unprivileged_userns_clone=1 (and put "
     "kernel.unprivileged_userns_clone=1 in /etc/sysctl.d/99-userns.conf to keep it)"),
    ("/proc/sys/user/max_user_namespaces", "0",
     "the sysctl user.max_user_namespaces is 0",
     "sudo sysctl -w user.max_user_namespaces=15000"),
    ("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "1",
     "AppArmor restricts unprivileged user namespaces "
     "(kernel.apparmor_restrict_unprivileged_userns=1, the default on Ubuntu 24.04)",
     "allow it for this interpreter with an AppArmor profile granting `userns,` (see "
     "/etc/apparmor.d/bwrap-userns-restrict on Ubuntu), or system-wide with "
     "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"),
)


def write_id_maps(inside_uid: int, inside_gid: int, host_uid: int, host_gid: int) -> None:
    """Map ``inside`` ids to ``host`` ids in the caller's new user namespace (one line each).

    Raises:
        OSError: the kernel refused a map.
    """
    for name, text in (("setgroups", "deny"), ("uid_map", f"{inside_uid} {host_uid} 1\n"),
                       ("gid_map", f"{inside_gid} {host_gid} 1\n")):
        fd = os.open(f"/proc/self/{name}", os.O_WRONLY)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def why_unavailable(error: str) -> str:
    """Explain a failed unprivileged set-up (``error``: the failing step) and how to allow it."""
    for path, forbids, what, fix in _SWITCHES:
        if _read(path) == forbids:
            return f"{what}: {error}. To allow it: {fix}"
    if "unshare" in error and (f"[Errno {errno.EPERM}]" in error or "not permitted" in error):
        return (f"{error}: this system forbids unprivileged user namespaces (a container's "
                "seccomp profile, e.g. Docker's default, or a security module). Run "
                "`initkit grade` as root, or start the container with user namespaces "
                "allowed (e.g. docker run --security-opt seccomp=unconfined), or as a host "
                "user")
    if "nested" in error or "ENOSPC" in error or f"[Errno {errno.ENOSPC}]" in error:
        return (f"{error}: no user namespace left (user.max_user_namespaces reached, or this "
                "process is already in a user namespace that forbids nesting)")
    return (f"{error}. The kernel must allow unprivileged user namespaces with mount, PID "
            "and network namespaces (Linux >= 3.8; check `unshare --user --map-root-user "
            "--mount --pid --fork true`)")

"""The system-call filter of a notebook's process: a deny list, as data, each with its reason.

Installed last, just before the student's first line (:func:`initkit.grading.confine.enter`),
after ``PR_SET_NO_NEW_PRIVS``, with ``prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)``
(``seccomp(2)``); it holds for every process the notebook starts, across ``execve``. The
program is classic BPF over ``struct seccomp_data`` (``linux/seccomp.h``)::

    struct seccomp_data { int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]; };

so ``nr`` is at offset 0, ``arch`` at 4 and the low 32 bits of ``args[i]`` at ``16 + 8 i``
(little-endian x86_64 and aarch64). Written out here with ``ctypes`` (``struct sock_filter``
and ``struct sock_fprog`` of ``linux/filter.h``), no dependency, in the order bubblewrap's
``--seccomp`` and libseccomp's generated programs use:

1. a system call of another ABI (``arch`` is not this machine's ``AUDIT_ARCH_*``: i386's
   ``int 0x80`` on x86_64) kills the process; on x86_64 an x32 call (``nr`` with bit 30,
   ``__X32_SYSCALL_BIT``) fails with ``EPERM``;
2. ``clone`` with any ``CLONE_NEW*`` flag in its first argument fails with ``EPERM`` (a
   plain ``fork`` and threads still work); ``clone3``, whose flags sit in memory a filter
   cannot read, fails with ``ENOSYS``, so the C library falls back to ``clone`` (Docker's
   default profile does the same);
3. ``personality`` is allowed only with the values Docker allows (0, ``PER_LINUX32``,
   ``UNAME26`` and their mix, and the query ``0xffffffff``);
4. each call of :data:`DENIED` fails with ``EPERM``: Python raises a clean ``OSError``;
5. everything else is allowed.

The choices follow Docker's ``profiles/seccomp/default.json`` (calls an unprivileged
container does not get) and bubblewrap's demo filter; :func:`table` renders :data:`DENIED`
for the README. ``memfd_create`` and ``execveat`` are both denied and the writable folders
are mounted ``noexec`` (:mod:`.rootfs`), so no program that is not on the read-only root can
be run (numpy, matplotlib and ``multiprocessing`` use none of them).
"""

from __future__ import annotations

import ctypes
import errno
import os

#: The deny list, grouped by reason: (reason, ((name, x86_64 number, aarch64 number or
#: None where the call does not exist), ...)). Numbers from the kernel's
#: ``arch/x86/entry/syscalls/syscall_64.tbl`` and ``include/uapi/asm-generic/unistd.h``.
DENY_GROUPS: tuple[tuple[str, tuple[tuple[str, int, int | None], ...]], ...] = (
    ("nested namespaces: the kernel's largest unprivileged attack surface, and a way out "
     "of the sandbox's own",
     (("unshare", 272, 97), ("setns", 308, 268),)),
    ('changing or uncovering the mount tree the allow-list root built',
     (("mount", 165, 40), ("umount2", 166, 39), ("pivot_root", 155, 41), ("chroot", 161, 51),
      ("move_mount", 429, 429), ("open_tree", 428, 428), ("fsopen", 430, 430),
      ("fsconfig", 431, 431), ("fsmount", 432, 432), ("fspick", 433, 433),
      ("mount_setattr", 442, 442),)),
    ('io_uring: a second system-call path no filter sees, and a frequent source of kernel '
     'bugs',
     (("io_uring_setup", 425, 425), ("io_uring_enter", 426, 426),
      ("io_uring_register", 427, 427),)),
    ('running code that is not on the read-only root (memfd + exec, fexecve)',
     (("memfd_create", 319, 279), ("execveat", 322, 281),)),
    ('the kernel keyrings: cached passwords, Kerberos tickets',
     (("keyctl", 250, 219), ("add_key", 248, 217), ("request_key", 249, 218),)),
    ('programs and counters inside the kernel: eBPF, perf side channels',
     (("bpf", 321, 280), ("perf_event_open", 298, 241),)),
    ('reaching into other processes (memory, descriptors, kernel objects)',
     (("ptrace", 101, 117), ("process_vm_readv", 310, 270), ("process_vm_writev", 311, 271),
      ("kcmp", 312, 272), ("pidfd_getfd", 438, 438), ("process_madvise", 440, 440),)),
    ('memory hidden from the kernel, page faults paused mid-copy (staples of kernel '
     'exploits)',
     (("memfd_secret", 447, 447), ("userfaultfd", 323, 282),)),
    ('opening files by handle, around the mount tree',
     (("open_by_handle_at", 304, 265), ("name_to_handle_at", 303, 264),)),
    ('changing the running kernel: kexec, modules',
     (("kexec_load", 246, 104), ("kexec_file_load", 320, 294), ("init_module", 175, 105),
      ("finit_module", 313, 273), ("delete_module", 176, 106),)),
    ('host administration: swap, reboot, accounting, quotas, the kernel log, profiling, '
     'host names, the terminal',
     (("swapon", 167, 224), ("swapoff", 168, 225), ("reboot", 169, 142), ("acct", 163, 89),
      ("quotactl", 179, 60), ("quotactl_fd", 443, 443), ("lookup_dcookie", 212, 18),
      ("syslog", 103, 116), ("sethostname", 170, 161), ("setdomainname", 171, 162),
      ("vhangup", 153, 58),)),
    ('watching the whole file system',
     (("fanotify_init", 300, 262),)),
    ('setting or adjusting the clock',
     (("settimeofday", 164, 170), ("clock_settime", 227, 112), ("adjtimex", 159, 171),
      ("clock_adjtime", 305, 266),)),
    ('I/O ports, and obsolete calls',
     (("iopl", 172, None), ("ioperm", 173, None), ("nfsservctl", 180, 42), ("uselib", 134, None),
      ("ustat", 136, None), ("sysfs", 139, None), ("_sysctl", 156, None),
      ("create_module", 174, None), ("get_kernel_syms", 177, None), ("query_module", 178, None),)),
)
#: (name, x86_64 number, aarch64 number or None, reason), one row per call.
DENIED: tuple[tuple[str, int, int | None, str], ...] = tuple(
    (name, x86, arm, reason) for reason, calls in DENY_GROUPS for name, x86, arm in calls)

#: ``clone`` flags that make namespaces (``CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC |
#: NEWUSER | NEWPID | NEWNET``); ``CLONE_NEWTIME`` only exists for ``clone3`` and ``unshare``.
CLONE_NS_FLAGS = 0x7E020000
#: ``personality(2)`` values allowed (Docker's list).
PERSONALITIES = (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)

_ARCH = {"x86_64": (0xC000003E, 1, 56, 435, 135),  # AUDIT_ARCH_X86_64, x86_64 ABI index
         "aarch64": (0xC00000B7, 2, 220, 435, 92)}  # AUDIT_ARCH_AARCH64
_X32_BIT = 0x40000000

_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JGE = 0x35  # BPF_JMP | BPF_JGE | BPF_K
_JSET = 0x45  # BPF_JMP | BPF_JSET | BPF_K
_RET = 0x06  # BPF_RET | BPF_K
RET_KILL_PROCESS = 0x80000000
RET_ERRNO = 0x00050000
RET_ALLOW = 0x7FFF0000
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2


class SockFilter(ctypes.Structure):
    """``struct sock_filter``: one classic BPF instruction."""

    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte),
                ("k", ctypes.c_uint32)]


class SockFprog(ctypes.Structure):
    """``struct sock_fprog``: the program's length and instructions."""

    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(SockFilter))]


def denied_numbers(machine: str | None = None) -> dict[str, int]:
    """Name -> system-call number of every call of :data:`DENIED` on ``machine``."""
    column = _ARCH[machine or os.uname().machine][1]
    return {row[0]: row[column] for row in DENIED if row[column] is not None}


def program(machine: str | None = None) -> list[tuple[int, int, int, int]]:
    """The filter as ``(code, jt, jf, k)`` instructions (see the module doc).

    Raises:
        OSError: no filter is written for this machine's architecture.
    """
    machine = machine or os.uname().machine
    if machine not in _ARCH:
        raise OSError(errno.ENOSYS, f"no system-call filter for the {machine} architecture")
    arch, _, clone, clone3, personality = _ARCH[machine]
    denied = sorted(set(denied_numbers(machine).values()))
    # (code, target-if-true or None, target-if-false or None, k); targets are labels
    ops: list[tuple[int, str | None, str | None, int]] = [
        (_LD_W_ABS, None, None, 4), (_JEQ, None, "kill", arch), (_LD_W_ABS, None, None, 0)]
    if machine == "x86_64":
        ops.append((_JGE, "eperm", None, _X32_BIT))
    ops += [(_JEQ, "clone", None, clone), (_JEQ, "enosys", None, clone3),
            (_JEQ, "personality", None, personality)]
    ops += [(_JEQ, "eperm", None, nr) for nr in denied]
    ops += [(_RET, None, None, RET_ALLOW),
            ("clone", None, None, 0), (_LD_W_ABS, None, None, 16),
            (_JSET, "eperm", None, CLONE_NS_FLAGS), (_RET, None, None, RET_ALLOW),
            ("personality", None, None, 0), (_LD_W_ABS, None, None, 16)]
    ops += [(_JEQ, "allow", None, value) for value in PERSONALITIES]
    ops += [("eperm", None, None, 0), (_RET, None, None, RET_ERRNO | errno.EPERM),
            ("allow", None, None, 0), (_RET, None, None, RET_ALLOW),
            ("enosys", None, None, 0), (_RET, None, None, RET_ERRNO | errno.ENOSYS),
            ("kill", None, None, 0), (_RET, None, None, RET_KILL_PROCESS)]
    labels, out, position = {}, [], 0
    for op in ops:
        if isinstance(op[0], str):
            labels[op[0]] = position
        else:
            position += 1
    position = 0
    for code, jt, jf, k in ops:
        if isinstance(code, str):
            continue
        here = position + 1
        out.append((code, labels[jt] - here if jt else 0, labels[jf] - here if jf else 0, k))
        position += 1
    assert all(0 <= jt < 256 and 0 <= jf < 256 for _, jt, jf, _ in out)
    return out


def install(libc) -> None:
    """Install the filter on the calling thread (``PR_SET_NO_NEW_PRIVS`` must be set).

    Args:
        libc: the ``ctypes`` C library (:data:`initkit.grading.libc._LIBC`).

    Raises:
        OSError: the kernel refused the filter.
    """
    code = program()
    filters = (SockFilter * len(code))(*[SockFilter(*ins) for ins in code])
    prog = SockFprog(len(code), filters)
    if libc.prctl(PR_SET_SECCOMP, ctypes.c_ulong(SECCOMP_MODE_FILTER), ctypes.byref(prog),
                  0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"seccomp filter: {os.strerror(err)}")


def table() -> str:
    """:data:`DENIED` as a Markdown table (for the README's sandbox section)."""
    rows = ["| system calls | result | why |", "| --- | --- | --- |",
            "| any call of another ABI (i386 on x86_64) | process killed | a second "
            "system-call table the list below does not name |",
            "| x32 calls (x86_64) | EPERM | the same |",
            "| `clone` with a `CLONE_NEW*` flag | EPERM | nested namespaces |",
            "| `clone3` | ENOSYS | its flags are out of a filter's reach; the C library "
            "falls back to `clone` |",
            "| `personality` other than 0, 0x8, 0x20000, 0x20008, query | EPERM | "
            "ASLR off and other legacy modes |"]
    by_reason: dict[str, list[str]] = {}
    for name, _, _, reason in DENIED:
        by_reason.setdefault(reason, []).append(f"`{name}`")
    rows += [f"| {', '.join(names)} | EPERM | {reason} |" for reason, names in by_reason.items()]
    return "\n".join(rows)

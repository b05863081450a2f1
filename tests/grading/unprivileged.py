"""Run `initkit grade` as root and as an ordinary user, from the same test (imported by tests).

CI runs as root. The ordinary user is a spare uid with no account (no change to
``/etc/passwd``) and a home of its own. The CI interpreter may sit where other users cannot
enter (pyenv under ``/root``), so the user gets an interpreter it can run: a virtual
environment made from the system's Python of the same version, whose one ``.pth`` line adds
this project's own site-packages (same ABI, nothing downloaded), so ``initkit`` and its
dependencies are the very ones under test. Made once per test session, in ``/var/tmp``.
Where the checkout itself sits in a folder closed to others (a clone under ``/root``), the
user's processes start in a private mount namespace in which that folder is a fresh tmpfs
with only the checkout bound back (the host's permissions stay as they are).
"""

from __future__ import annotations

import ctypes
import functools
import os
import pwd
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from initkit.grading import libc

REPO = Path(__file__).resolve().parents[2]
INITKIT = Path(sys.executable).with_name("initkit")
_MAIN = "import sys; from initkit.cli.main import main; sys.argv[0] = 'initkit'; main()"


def spare_uid() -> int:
    """A uid (and gid) that no account and no process of this machine uses."""
    for uid in range(64123, 64200):
        try:
            pwd.getpwuid(uid)
        except KeyError:
            if not any(_uid_of(p) == uid for p in os.listdir("/proc") if p.isdigit()):
                return uid
    raise RuntimeError("no spare uid in 64123..64199")


def _uid_of(pid: str) -> int | None:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None


@dataclass
class Grader:
    """Who runs `initkit grade`: ``uid`` None is this process's user (root in CI)."""

    name: str
    command: list[str]
    uid: int | None = None
    home: Path = field(default_factory=Path.home)
    env: dict[str, str] | None = None
    reveal: list[tuple[str, list[str]]] = field(default_factory=list)

    def popen_kwargs(self, session_key: tuple[str, str] | None = None) -> dict:
        """``subprocess`` arguments that start a process as this user (with, if given, a
        fresh session keyring holding the key ``(description, secret)``)."""
        steps = []
        if self.uid is not None:
            steps.append(functools.partial(_become, self.uid, self.reveal))
        if session_key is not None:
            steps.append(functools.partial(add_session_key, *session_key))
        kwargs = {} if self.uid is None else {"env": self.env}
        if steps:
            kwargs["preexec_fn"] = functools.partial(_in_turn, steps)
        return kwargs

    def run(self, args: list, cwd: Path, timeout: float = 600,
            session_key: tuple[str, str] | None = None) -> subprocess.CompletedProcess:
        """Run ``initkit ARGS`` as this user (``session_key``: see :meth:`popen_kwargs`)."""
        return subprocess.run([*self.command, *map(str, args)], capture_output=True,
                              text=True, cwd=cwd, timeout=timeout,
                              **self.popen_kwargs(session_key))

    def start(self, args: list, cwd: Path, log: Path,
              session_key: tuple[str, str] | None = None) -> subprocess.Popen:
        """Start ``initkit ARGS`` as this user, its stdout and stderr into the file ``log``
        (so that runs side by side never block on a full pipe); see :meth:`run`."""
        with open(log, "w") as fh:
            return subprocess.Popen([*self.command, *map(str, args)], cwd=cwd, stdout=fh,
                                    stderr=subprocess.STDOUT,
                                    **self.popen_kwargs(session_key))

    def give(self, path: Path) -> None:
        """Make ``path`` (a tree) this user's own."""
        if self.uid is None:
            return
        for p in [path, *path.rglob("*")]:
            os.lchown(p, self.uid, self.uid)

    def workspace(self) -> Path:
        """A fresh folder this user owns and can reach (under /tmp or /var/tmp)."""
        base = Path(tempfile.mkdtemp(prefix="initkit-grader-", dir="/var/tmp"))
        base.chmod(0o755)
        self.give(base)
        return base


def _in_turn(steps: list) -> None:
    for step in steps:
        step()


def add_session_key(description: str, secret: str) -> None:
    """As ``keyctl session; keyctl link @u @s; keyctl add user DESC SECRET @s`` (what a login
    with pam_keyinit and a cached password looks like): a fresh session keyring holding the
    user keyring and a ``user`` key of ``secret``."""
    add_key = {"x86_64": 248, "aarch64": 217}[os.uname().machine]
    keyctl = {"x86_64": 250, "aarch64": 219}[os.uname().machine]
    libc.join_new_session_keyring()
    call = libc._LIBC.syscall
    if call(ctypes.c_long(keyctl), ctypes.c_long(8), ctypes.c_long(-4),
            ctypes.c_long(-3)) < 0:  # KEYCTL_LINK @u into @s
        raise OSError(ctypes.get_errno(), "keyctl link @u @s")
    payload = secret.encode()
    if call(ctypes.c_long(add_key), b"user", description.encode(), payload,
            ctypes.c_size_t(len(payload)), ctypes.c_long(-3)) < 0:
        raise OSError(ctypes.get_errno(), "add_key")


def _become(uid: int, reveal: list[tuple[str, list[str]]]) -> None:
    """In a child before exec: reveal the closed folders (a mount namespace), take ``uid``."""
    if reveal:
        libc.unshare(libc.CLONE_NEWNS)
        libc.mount(None, "/", None, libc.MS_REC | libc.MS_PRIVATE)
        for blocker, inner in reveal:
            fds = [os.open(p, os.O_PATH) for p in inner]
            libc.mount("tmpfs", blocker, "tmpfs", libc.MS_NOSUID | libc.MS_NODEV,
                       "mode=0755,size=64k")
            for path, fd in zip(inner, fds, strict=True):
                os.makedirs(path, exist_ok=True)
                libc.mount(f"/proc/self/fd/{fd}", path, None, libc.MS_BIND | libc.MS_REC)
                os.close(fd)
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


def _closed_folders(paths: list[Path]) -> list[tuple[str, list[str]]]:
    """For each folder others cannot enter above ``paths``: the paths to bind back in it."""
    found: dict[Path, list[str]] = {}
    for path in paths:
        for anc in reversed(path.parents):
            if anc != Path("/") and not anc.stat().st_mode & 0o001:
                found.setdefault(anc, []).append(str(path))
                break
    return [(str(b), sorted(set(p))) for b, p in found.items()]


def _reachable(uid: int, paths: list[Path]) -> list[Path]:
    """The ``paths`` that ``uid`` cannot read (checked in a child that takes that uid)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the checker
        try:
            os.close(r)
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            bad = [str(p) for p in paths if not os.access(p, os.R_OK | os.X_OK)]
            os.write(w, "\n".join(bad).encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r) as fh:
        text = fh.read()
    os.waitpid(pid, 0)
    return [Path(p) for p in text.splitlines() if p]


def _system_python() -> str | None:
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    for cand in (f"/usr/bin/python{version}", f"/usr/local/bin/python{version}"):
        if os.path.exists(cand):
            return cand
    return None


_USER: Grader | None = None


def ordinary_user() -> Grader:
    """The unprivileged grader (made once): a spare uid, its home, its interpreter.

    Not root: the current user is already ordinary. Skips when the system has no Python of
    this version or the spare uid cannot reach this checkout (say, a clone under /root).
    """
    global _USER
    if os.geteuid() != 0:
        return Grader("user", [str(INITKIT)])
    if _USER is not None:
        return _USER
    uid = spare_uid()
    system = _system_python()
    if system is None:
        pytest.skip(f"no system Python {sys.version_info[:2]} to build the user's venv from")
    site = Path(sysconfig.get_paths()["purelib"]).resolve()
    needed = [REPO] + ([] if REPO in site.parents else [site])
    reveal = _closed_folders(needed)
    blocked = [] if reveal else _reachable(uid, [site, REPO / "initkit"])
    if blocked:
        pytest.skip(f"an ordinary user cannot read {blocked[0]}")
    base = Path(tempfile.mkdtemp(prefix="initkit-user-", dir="/var/tmp"))
    base.chmod(0o755)
    venv = base / "venv"
    subprocess.run([system, "-m", "venv", "--without-pip", str(venv)], check=True,
                   capture_output=True)
    user_site = next((venv / "lib").glob("python*/site-packages"))
    (user_site / "initkit-under-test.pth").write_text(
        f"import site; site.addsitedir({str(site)!r})\n")
    home = base / "home"
    home.mkdir(mode=0o700)
    os.chown(home, uid, uid)
    env = {"HOME": str(home), "USER": "initkit-grader", "LOGNAME": "initkit-grader",
           "PATH": f"{venv / 'bin'}:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    _USER = Grader("user", [str(venv / "bin" / "python"), "-c", _MAIN], uid=uid, home=home,
                   env=env, reveal=reveal)
    import atexit

    atexit.register(shutil.rmtree, base, True)
    return _USER


def root_user() -> Grader:
    """The grader as this process's own user (root in CI); skips when that is not root."""
    if os.geteuid() != 0:
        pytest.skip("the root run needs root (CI is root)")
    return Grader("root", [str(INITKIT)])


def grader(mode: str) -> Grader:
    """``"root"`` or ``"user"``."""
    return root_user() if mode == "root" else ordinary_user()

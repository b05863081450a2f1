"""The confinement itself: set-up failures are the kit's errors, it fails closed, and it is
the same for an ordinary user (unprivileged user namespace) as for root."""

import errno
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import uuid
from pathlib import Path

import pytest

from initkit.errors import SandboxError
from initkit.grading import cgroup, confine
from initkit.grading.limits import Limits
from initkit.grading.sandbox import Sandbox
from initkit.grading.submission import Submission

HERE = Path(__file__).parent / "grading"
sys.path.insert(0, str(HERE))
from build_example import KEYRING_HUNT  # noqa: E402
from unprivileged import grader, ordinary_user  # noqa: E402

#: A seccomp filter that makes unshare(2) fail with EPERM, as Docker's default profile does
#: for unprivileged callers; installed, then the rest of the script runs under it.
NO_UNSHARE = textwrap.dedent("""
    import ctypes, os
    _nr = {"x86_64": 272, "aarch64": 97}[os.uname().machine]
    class _F(ctypes.Structure):
        _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte),
                    ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint)]
    class _P(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_F))]
    _prog = (_F * 4)(_F(0x20, 0, 0, 0), _F(0x15, 0, 1, _nr), _F(0x06, 0, 0, 0x00050001),
                     _F(0x06, 0, 0, 0x7fff0000))
    _libc = ctypes.CDLL(None, use_errno=True)
    assert _libc.prctl(38, 1, 0, 0, 0) == 0
    assert _libc.prctl(22, 2, ctypes.byref(_P(4, _prog)), 0, 0) == 0
""")


def _as_user(script: str, cwd: Path, user=None) -> subprocess.CompletedProcess:
    """Run a Python ``script`` as the ordinary user (or this process's user)."""
    who = user or ordinary_user()
    python = who.command[0] if who.uid is not None else sys.executable
    return subprocess.run([python, "-c", script], capture_output=True, text=True, cwd=cwd,
                          timeout=300, **who.popen_kwargs())


@pytest.mark.parametrize("prewarm", [True, False], ids=["template", "fresh"])
def test_a_set_up_failure_raises_sandbox_error_with_the_reason(monkeypatch, prewarm):
    """A root the kernel cannot build is SandboxError naming the step, not a dead notebook."""
    confine.mode()  # probed (and cached) with the real plan, before it is broken
    make_plan = confine.make_plan
    missing = f"/nonexistent-{uuid.uuid4().hex}"

    def broken_plan(*args, **kwargs):
        plan = make_plan(*args, **kwargs)
        plan["root"]["binds"].append([missing, missing, "ro"])
        return plan

    monkeypatch.setattr(confine, "make_plan", broken_plan)
    with Sandbox(["x = 1"], prewarm=prewarm) as sb, \
            pytest.raises(SandboxError, match="could not be set up: building the root.*"
                          + missing):
        sb.start()


def test_a_child_that_dies_before_its_first_word_is_the_kits_error():
    """A child that ends before any cell started (no student code ran) is SandboxError."""
    with Sandbox(["x = 1"], python="/bin/false", prewarm=False, unconfined=True) as sb, \
            pytest.raises(SandboxError, match="could not be set up: .*exited with code 1"):
        sb.start()


#: The corpus's walker (build_example.WALK_FOR_SECRETS: breadth first from /) looking for
#: this run's needle only, to depth 4, until the walk ends or finds it: what it finds
#: depends neither on the machine's speed nor on other runs' planted copies.
WALK_FOR_ONE = """import collections, os
_needle = bytes.fromhex(NEEDLE_HEX)
_found, _seen = [], set()
_queue = collections.deque(('/' + e, 1) for e in sorted(os.listdir('/'))
                           if e not in ('proc', 'sys', 'usr', 'dev'))
while _queue and not _found:
    _d, _depth = _queue.popleft()
    try:
        _real = os.path.realpath(_d)
        if _real in _seen:
            continue
        _seen.add(_real)
        _entries = list(os.scandir(_d))
    except OSError:
        continue
    for _e in _entries:
        try:
            if _e.is_symlink():
                continue
            if _e.is_dir() and _depth < 4:
                _queue.append((_e.path, _depth + 1))
            elif _e.is_file() and _e.stat().st_size < 1 << 20:
                with open(_e.path, 'rb') as _fh:
                    if _needle in _fh.read(65536):
                        _found.append(_e.path)
        except OSError:
            pass
"""


def test_unconfined_walker_finds_the_planted_secret_and_confined_does_not():
    """A walker of the whole tree (to depth 4) does find a world-readable secret when
    unconfined, so its empty result under confinement is the confinement's doing."""
    spot = Path(tempfile.mkdtemp(prefix="initkit-test-plant-", dir="/var/tmp"))
    secret = f"GRADER-SECRET-{uuid.uuid4().hex}"
    walker = WALK_FOR_ONE.replace("NEEDLE_HEX", repr(secret.encode().hex()))
    try:
        spot.chmod(0o755)
        (spot / "graders.py").write_text(secret + "\n")
        (spot / "graders.py").chmod(0o644)
        found = {}
        for unconfined in (False, True):
            limits = Limits(cell_timeout=300, timeout=600)
            with Sandbox([walker], unconfined=unconfined, limits=limits) as sb:
                sb.start()
                assert sb.gone_reason is None
                found[unconfined] = Submission(sb).get("_found")
    finally:
        shutil.rmtree(spot)
    assert found[False] == []
    assert found[True] == [str(spot / "graders.py")]


def test_confinement_as_an_ordinary_user(tmp_path):
    """An ordinary user's notebook runs in its own user, PID and mount namespaces: its uid,
    PID 1 and 2 only, no home, no host /tmp, no network."""
    who = ordinary_user()
    work = who.workspace()
    try:
        (work / "secret.txt").write_text("users-own-file")
        who.give(work)
        script = textwrap.dedent(f"""
            import json
            from initkit.grading.sandbox import Sandbox
            from initkit.grading.submission import Submission
            cells = ['''import os, socket
            uid = os.getuid()
            pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
            try:
                open({str(work / "secret.txt")!r}).read()
                secret = "read"
            except OSError as exc:
                secret = type(exc).__name__
            tops = sorted(os.listdir("/"))
            try:
                socket.create_connection(("127.0.0.1", 22), timeout=1)
                net = "connected"
            except OSError as exc:
                net = type(exc).__name__
            ''']
            with Sandbox(cells) as sb:
                sb.start()
                sub = Submission(sb)
                print(json.dumps(dict(kind=sb.kind, reason=sb.gone_reason,
                                      **{{n: sub.get(n) for n in
                                         ("uid", "pids", "secret", "tops", "net")}})))
        """)
        proc = _as_user(script, work, who)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    expect_uid = who.uid if who.uid is not None else os.getuid()
    assert (got["kind"], got["uid"], got["reason"]) == ("userns", expect_uid, None)
    assert got["pids"] == [1, 2]
    assert got["secret"] == "FileNotFoundError" and got["net"] != "connected"
    assert not {"home", "srv", "opt", "run", "mnt"} & set(got["tops"])


def test_fail_closed_without_user_namespaces_and_unconfined_still_runs(tmp_path):
    """Where unshare(2) is forbidden (a seccomp filter here), Sandbox refuses to start with
    ConfinementUnavailable saying why and what to do; unconfined=True still runs cells."""
    who = ordinary_user()
    work = who.workspace()
    try:
        script = NO_UNSHARE + textwrap.dedent("""
            from initkit.errors import ConfinementUnavailable
            from initkit.grading.sandbox import Sandbox
            from initkit.grading.submission import Submission
            try:
                with Sandbox(["x = 1"]) as sb:
                    sb.start()
                print("CONFINED")
            except ConfinementUnavailable as exc:
                print("REFUSED:", exc)
            with Sandbox(["import os\\nx = os.getpid()"], unconfined=True) as sb:
                sb.start()
                print("UNCONFINED PID", Submission(sb).get("x"))
        """)
        proc = _as_user(script, work, who)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    refused = next(ln for ln in proc.stdout.splitlines() if ln.startswith(("REFUSED",
                                                                            "CONFINED")))
    assert refused.startswith("REFUSED: cannot confine notebooks on this machine")
    assert "unshare" in refused and "forbids unprivileged user namespaces" in refused
    assert "pass --unconfined" in refused
    pid = int(proc.stdout.split("UNCONFINED PID")[1].split()[0])
    assert pid > 2  # a host pid: no PID namespace, as asked


def test_grade_stops_with_the_reason_without_confinement_and_grades_unconfined(tmp_path):
    """`initkit grade` under a seccomp that forbids unshare fails (exit 1, status error, the
    reason); with --unconfined the honest submission gets its 8 points."""
    who = ordinary_user()
    work = who.workspace()
    try:
        shutil.copytree(HERE / "graders", work / "graders")
        shutil.copy(HERE / "corpus" / "honest_correct_variance.ipynb",
                    work / "alice_variance.ipynb")
        who.give(work)
        runs = {}
        for extra in ([], ["--unconfined"]):
            script = NO_UNSHARE + textwrap.dedent(f"""
                import sys
                from initkit.cli.main import main
                sys.argv = ["initkit", "grade", "alice_variance.ipynb", "--graders", "graders",
                            "--out", "out{len(extra)}", "--jobs", "1", "--no-progress",
                            *{extra!r}]
                main()
            """)
            runs[bool(extra)] = (_as_user(script, work, who),
                                 (work / f"out{len(extra)}" / "grades.csv"))
        refused, csv_refused = runs[False]
        graded, csv_graded = runs[True]
        assert refused.returncode != 0
        assert "cannot confine notebooks" in refused.stderr
        if csv_refused.exists():
            assert ",error," in csv_refused.read_text()
        assert graded.returncode == 0, graded.stderr[-3000:]
        assert ",8," in csv_graded.read_text() or ",8.0," in csv_graded.read_text()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_a_set_up_failure_is_status_error_not_a_zero(monkeypatch):
    """grade_one on the honest submission whose sandbox fails to set up: status error with
    the reason, never 'graded' with 0 points."""
    from initkit.grading.discover import discover, find_exercises
    from initkit.grading.runner import grade_one
    from initkit.grading.settings import GradingSettings

    confine.mode()
    make_plan = confine.make_plan

    def broken_plan(*args, **kwargs):
        plan = make_plan(*args, **kwargs)
        plan["root"]["binds"].append(["/nonexistent-bind", "/nonexistent-bind", "ro"])
        return plan

    monkeypatch.setattr(confine, "make_plan", broken_plan)
    exercises = find_exercises(HERE / "graders")
    job = discover([HERE / "corpus" / "honest_correct_variance.ipynb"], exercises, None)[0]
    result = grade_one(job, exercises["variance"], GradingSettings(prewarm=False))
    assert result.status == "error"
    assert "could not be set up: building the root" in result.reason
    assert "/nonexistent-bind" in result.reason


#: Run as root or as the ordinary user: the keyring hunt in a sandbox whose plan has no
#: system-call filter (so only the keyring step stands in the way), with and without that
#: step; prints the hunt's output of each.
KEYRING_SCRIPT = textwrap.dedent("""
    import json, sys
    from initkit.grading import confine
    from initkit.grading.sandbox import Sandbox
    make_plan = confine.make_plan
    out = {}
    for keyring in (True, False):
        def plan(*args, keyring=keyring, **kwargs):
            p = make_plan(*args, **kwargs)
            p["seccomp"], p["keyring"] = False, keyring
            return p
        confine.make_plan = plan
        with Sandbox([HUNT]) as sb:
            sb.start()
            out[str(keyring)] = [sb.gone_reason, sb.stdout.text()]
    print(json.dumps(out))
""")


@pytest.mark.parametrize("mode", ["root", "user"])
def test_a_fresh_session_keyring_alone_keeps_the_graders_key_out_of_reach(mode):
    """With the filter off, the notebook cannot read a key of the grader's session keyring
    (its own fresh one is empty); without the fresh keyring it can (the hunt works)."""
    who = grader(mode)
    secret = f"KEYRING-SECRET-{uuid.uuid4().hex}"
    script = KEYRING_SCRIPT.replace("HUNT", repr(KEYRING_HUNT))
    work = who.workspace()
    try:
        python = who.command[0] if who.uid is not None else sys.executable
        proc = subprocess.run([python, "-c", script], capture_output=True, text=True,
                              cwd=work, timeout=300,
                              **who.popen_kwargs((f"initkit-test-{secret[-8:]}", secret)))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["True"][0] is None and "keys read []" in got["True"][1]
    assert secret not in got["True"][1]
    assert got["False"][0] is None and secret in got["False"][1]


#: Four processes, each touching 600 MB and holding it for a moment, under a 1024 MB
#: budget; prints the description of the limit, the outcome and the cgroup's peak.
MEMORY_CELL = """import os, time
import numpy as np
_kids, _failed = [], []
for _i in range(4):
    try:
        _pid = os.fork()
    except OSError as _exc:
        _failed.append(_exc.errno)
        continue
    if _pid == 0:
        _a = np.ones(600 * 2**20 // 8)
        time.sleep(3)
        os._exit(0)
    _kids.append(_pid)
_codes = [os.waitstatus_to_exitcode(os.waitpid(_p, 0)[1]) for _p in _kids]
"""
MEMORY_SCRIPT = textwrap.dedent("""
    import json
    from initkit.grading import cgroup
    from initkit.grading.limits import Limits
    from initkit.grading.sandbox import Sandbox, memory_limit_description
    from initkit.grading.submission import Submission
    limits = Limits(memory_bytes=1024 * 2**20, cell_timeout=120, timeout=240)
    with Sandbox([CELL], limits=limits) as sb:
        sb.start()
        got = {"line": memory_limit_description(limits), "reason": sb.gone_reason,
               "peak": sb.memory_peak(), "cgroup": cgroup.available()}
        if sb.gone_reason is None:
            got["codes"] = Submission(sb).get("_codes")
            got["failed"] = Submission(sb).get("_failed")
    print(json.dumps(got))
""")


@pytest.mark.parametrize("mode", ["root", "user"])
def test_memory_is_bounded_per_submission_not_per_process(mode):
    """Four processes of 600 MB under a 1024 MB budget: with a cgroup the submission is out
    of memory and its peak stays within the budget; without one, only three forks succeed
    (four processes in all, as `memory_limit_description` says)."""
    who = grader(mode)
    work = who.workspace()
    try:
        python = who.command[0] if who.uid is not None else sys.executable
        proc = subprocess.run([python, "-c", MEMORY_SCRIPT.replace("CELL", repr(MEMORY_CELL))],
                              capture_output=True, text=True, cwd=work, timeout=300,
                              **who.popen_kwargs())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    if got["cgroup"] is not None:
        assert got["line"] == ("memory: 1024 MB per submission, all its processes together "
                               f"(cgroup v{got['cgroup']}), at most 32 processes")
        assert got["reason"].startswith("the notebook ran out of memory: its processes "
                                        "together used more than 1024 MB in cell 1")
        assert 600 * 2**20 < got["peak"] <= 1024 * 2**20 + cgroup.HEADROOM
    else:
        n = cgroup.FALLBACK_NPROC
        assert got["line"] == (f"memory: 1024 MB per process and at most {n} processes and "
                               "threads per submission (no writable cgroup here, so up to "
                               f"{n * 1024} MB per submission)")
        assert got["reason"] is None and got["codes"] == [0] * (n - 1)
        assert got["failed"] == [errno.EAGAIN] * (4 - (n - 1))


@pytest.mark.skipif(cgroup.available() is None, reason="no writable cgroup here")
def test_a_new_cgroup_sweeps_away_the_empty_ones_of_dead_graders():
    """An empty group named after a grader that no longer runs is removed by the next
    create(); the group of a live grader (this process) stays until it is removed."""
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    mine = cgroup.create(64 * 2**20, 8)
    parents = [folder.parent for folder in mine.folders]
    stale = [parent / f"initkit-{dead}-0-{uuid.uuid4().hex[:8]}" for parent in parents]
    try:
        for folder in stale:
            folder.mkdir()
        fresh = cgroup.create(64 * 2**20, 8)
        fresh.remove()
        assert [f.exists() for f in stale] == [False] * len(stale)
        assert all(f.exists() for f in mine.folders)
    finally:
        mine.remove()
        for folder in stale:
            if folder.exists():
                folder.rmdir()

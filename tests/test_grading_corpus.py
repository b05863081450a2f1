"""`initkit grade` on the corpus of honest and hostile submissions: each gets its outcome,
the same as root and as an ordinary user (who gets an unprivileged user namespace)."""

import csv
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

HERE = Path(__file__).parent / "grading"
CORPUS = HERE / "corpus"
GRADERS = HERE / "graders"
EXPECTED = {k: v for k, v in json.loads((CORPUS / "expected.json").read_text()).items()
            if not k.startswith("_")}
STOCK_SECRET = "GRADER-SECRET-7f3a"
SECRET = f"GRADER-SECRET-{uuid.uuid4().hex}"
_RNG = random.Random(uuid.uuid4().int)
VICTIM = str(_RNG.randrange(10**8, 10**9))  # a host process the /proc walker must not reach
#: sleep arguments of background_process (98765x) and detached_children (98764xx), made
#: unique per run so another grading run on the machine cannot be mistaken for this one
TOKENS = {"98765": str(_RNG.randrange(10**7, 10**8)), "98764": str(_RNG.randrange(10**7, 10**8))}

#: Cases whose expected outcome is a cell timeout. They are graded in a run of their own with
#: a 3 s cell timeout, the others in a run with generous timeouts: a memory bomb's page
#: faults (1.2 s alone on a 2-core VM) or a 2 s walk of the file system, given 3 s, is a
#: timeout whenever the machine is loaded (memory_bomb scored 0 so beside a second
#: `make test`), and no outcome but these three may depend on the machine's speed.
TIMED_OUT = frozenset(k for k, v in EXPECTED.items() if v.get("output") == "timed out")
#: ``initkit grade`` limits of the two runs: the timing-out cases', and everyone else's
TIGHT = ["--cell-timeout", "3", "--timeout", "40"]
GENEROUS = ["--cell-timeout", "20", "--timeout", "120"]

sys.path.insert(0, str(HERE))
from build_example import SYSCALL_NUMBERS, make_huge  # noqa: E402
from unprivileged import grader as grader_for  # noqa: E402

from initkit.grading import seccomp  # noqa: E402


def _ticks() -> int:
    """Now, in the clock ticks since boot that /proc/PID/stat counts start times in."""
    return int(float(Path("/proc/uptime").read_text().split()[0]) * os.sysconf("SC_CLK_TCK"))


def _processes(token: str, since: int = 0, until: int | None = None
               ) -> list[tuple[int, str]]:
    """(parent pid, command line) of every process whose command line contains ``token``
    (and, if given, that started between the ticks ``since`` and ``until``)."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/cmdline", "rb") as fh:
                    cmd = fh.read()
                with open(f"/proc/{entry.name}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
                parent, started = int(fields[1]), int(fields[19])
            except (OSError, ValueError, IndexError):
                continue
            if until is not None and not since - 100 <= started <= until:
                continue  # another grading run's (the machine may be shared)
            if token.encode() in cmd:
                found.append((parent, cmd.decode(errors="replace")))
    return found


def _running(token: str) -> list[str]:
    return [cmd for _, cmd in _processes(token)]


def _is_grading_run(pid: int) -> bool:
    """Whether ``pid`` is a live `initkit grade` / worker (a process of a grading run)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            cmd = fh.read().decode(errors="replace")
    except OSError:
        return False
    return "initkit" in cmd and ("grade" in cmd or "zygote.py" in cmd)


def _orphans(token: str, window: tuple[int, int]) -> list[str]:
    """Runtime processes of this run (started in ``window``) whose grading run has ended
    (reparented to init or a subreaper)."""
    return [cmd for parent, cmd in _processes(token, *window) if not _is_grading_run(parent)]


def _plant(base: Path, graders: Path, run: str) -> Path:
    """A world-readable copy of the graders (holding the run's secret) under ``base``."""
    spot = base / f"initkit-corpus-{run}"
    shutil.copytree(graders, spot / "graders")
    for p in [spot, *spot.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    return spot


def _finish(proc: subprocess.Popen, log: Path, timeout: float
            ) -> subprocess.CompletedProcess:
    """Wait for a run of ``Grader.start``: its exit code, and its output as ``stderr``."""
    try:
        proc.wait(timeout=timeout)
    finally:
        if proc.returncode is None:
            proc.kill()
            proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, "", log.read_text())


@pytest.fixture(scope="module", params=["root", "user"])
def graded(request):
    """Grade the whole corpus (plus a 100 MB notebook) once per mode, with the run's secret
    planted around the machine and a host process and sockets within reach: the cases that
    must time out in one run (:data:`TIGHT`, one at a time), beside it the rest in another
    (:data:`GENEROUS`, two at a time)."""
    who = grader_for(request.param)
    tmp = who.workspace()
    run = uuid.uuid4().hex[:12]
    # the graders carry a secret made fresh for this run; world-readable copies of them sit
    # outside the project (a backup, a second clone, /tmp, /srv, the grading user's home)
    graders = tmp / "graders"
    shutil.copytree(GRADERS, graders)
    grader_file = graders / "variance" / "test_variance.py"
    grader_file.write_text(grader_file.read_text().replace(STOCK_SECRET, SECRET))
    plants = [_plant(base, graders, run) for base in
              (Path("/srv"), Path("/tmp"), Path("/var/tmp"), who.home) if base.is_dir()]
    outside = Path("/var/tmp") / f"initkit-corpus-{run}-outside"
    outside.mkdir()
    outside.chmod(0o1777)
    sock_path = f"/run/initkit-corpus-{run}.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(sock_path)
    os.chmod(sock_path, 0o777)
    listener.listen(8)
    abstract = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    abstract.bind(f"\0initkit-corpus-{run}")
    abstract.listen(8)
    victim = subprocess.Popen(["sleep", VICTIM], **who.popen_kwargs())
    subs = tmp / "subs"
    shutil.copytree(CORPUS, subs, ignore=shutil.ignore_patterns("*.json"))
    for nb in subs.glob("*.ipynb"):
        text = nb.read_text()
        for key, value in {"@GRADERS@": str(graders), "@GRADING@": str(HERE),
                           "@OUTSIDE@": str(outside), "@SOCKET@": sock_path,
                           "@ABSTRACT@": f"initkit-corpus-{run}"}.items():
            text = text.replace(key, value)
        if nb.name.startswith(("background_process", "detached_children")):
            for key, value in TOKENS.items():
                text = text.replace(key, value)
        nb.write_text(text)
    make_huge(subs / "huge_100mb_variance.ipynb")
    timed = tmp / "subs_timed_out"
    timed.mkdir()
    for case in TIMED_OUT:
        (subs / f"{case}_variance.ipynb").rename(timed / f"{case}_variance.ipynb")
    who.give(tmp)
    out, out_timed = tmp / "out", tmp / "out_timed_out"
    since = _ticks()
    try:
        # the grader's session keyring holds a key of the run's secret (and links its user
        # keyring), as a login with pam_keyinit and a cached password has
        # side by side (the timing-out run spends its time waiting for its timeouts), each
        # started from this thread: preexec_fn is not safe beside another thread
        runs = [(timed, out_timed, "1", TIGHT), (subs, out, "2", GENEROUS)]
        logs = [tmp / f"{dest.name}.log" for _, dest, _, _ in runs]
        started = [who.start(["grade", folder, "--graders", graders, "--out", dest,
                              "--jobs", jobs, *limits, "--memory", "768", "--no-progress"],
                             cwd=tmp, log=log, session_key=(f"initkit-corpus-{run}", SECRET))
                   for (folder, dest, jobs, limits), log in zip(runs, logs, strict=True)]
        procs = [_finish(proc, log, timeout=600)
                 for proc, log in zip(started, logs, strict=True)]
        rows = {}
        for proc, (_, dest, _, _) in zip(procs, runs, strict=True):
            assert (dest / "grades.csv").exists(), proc.stderr[-3000:]
            with open(dest / "grades.csv") as fh:
                rows.update((r["student"], r) for r in csv.DictReader(fh))
        for case in TIMED_OUT:
            shutil.copytree(out_timed / case, out / case)
        results = {d.name: json.loads((d / "variance" / "results.json").read_text())
                   for d in out.iterdir() if (d / "variance" / "results.json").is_file()}
        facts = {"victim_alive": victim.poll() is None, "outside": sorted(outside.iterdir()),
                 "connected": [], "window": (since, _ticks())}
        for s in (listener, abstract):
            s.setblocking(False)
            try:
                facts["connected"].append(s.accept())
            except BlockingIOError:
                pass
        yield procs, out, results, rows, facts
    finally:
        victim.kill()
        victim.wait()
        listener.close()
        abstract.close()
        os.unlink(sock_path)
        for spot in [*plants, outside, tmp]:
            shutil.rmtree(spot, ignore_errors=True)


def test_every_submission_gets_a_result_and_exit_code_zero(graded):
    """All corpus cases are graded or refused, none crashes the grader: exit code 0."""
    procs, out, results, rows, _ = graded
    for proc in procs:
        assert proc.returncode == 0, proc.stderr[-2000:]
    assert set(results) == set(EXPECTED)
    assert set(rows) == set(EXPECTED)


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_corpus_case_gets_its_expected_outcome(graded, case):
    """Score, failing tests and the stated reason match corpus/expected.json exactly."""
    _, _, results, rows, _ = graded
    want, got, row = EXPECTED[case], results[case], rows[case]
    # what each lost check said, so that a failure here shows why
    lost = [f"{t['tags'][0]}: {(t.get('output') or '')[:300]!r}"
            for t in got["tests"] if t["score"] < t["max_score"]]
    assert row["status"] == want["status"], f"{row['reason']!r}; {lost}"
    assert got["score"] == want["score"] == float(row["total"]), f"{row['reason']!r}; {lost}"
    assert float(row["max_score"]) == 8
    # grades.csv has one column per test, "<exercise>:<file>::<test>"
    failed = sorted(k.rsplit("::", 1)[1] for k, v in row.items()
                    if "::" in k and v not in ("", None) and float(v) == 0)
    if want["status"] == "graded":
        assert failed == sorted(want["failed"])
        for t in got["tests"]:
            assert t["score"] in (0, t["max_score"])
    if "reason" in want:
        assert want["reason"] in row["reason"]
    if "output" in want:
        assert any(want["output"] in t["output"] for t in got["tests"] if t["score"] == 0)
    if "note" in want:
        assert want["note"] in got["output"]


def test_results_json_is_in_gradescope_format(graded):
    """results.json has score, output and tests with name, score, max_score, visibility."""
    _, _, results, _, _ = graded
    r = results["honest_wrong_he"]
    assert {"score", "output", "tests", "execution_time"} <= set(r)
    by_id = _by_id(r)
    assert set(by_id) == {f"test_variance.py::{n}" for n in
                          ["test_xavier_std", "test_he_std", "test_simulate_variance",
                           "test_plot"]}
    he = by_id["test_variance.py::test_he_std"]
    assert (he["score"], he["max_score"], he["output"], he["visibility"]) == (
        0.0, 2.0, "he_std(2) = 0.707107 is not sqrt(2 / fan_in)", "visible")
    assert by_id["test_variance.py::test_plot"]["visibility"] == "after_published"


def _by_id(result: dict) -> dict[str, dict]:
    """Tests of a results.json by pytest id (kept in ``tags``; ``name`` is the title)."""
    return {(t.get("tags") or [t["name"]])[0]: t for t in result["tests"]}


def test_feedback_never_shows_hidden_test_source_or_secrets(graded):
    """No output file quotes the graders' source, and the secret-hunting cell found nothing."""
    _, out, results, _, _ = graded
    grader_lines = [ln.strip() for ln in (GRADERS / "variance" / "test_variance.py")
                    .read_text().splitlines() if len(ln.strip()) > 25]
    for path in out.rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert SECRET not in text, path
            if path.name != "notebook_output.txt":  # that one holds the students' own prints
                assert not [ln for ln in grader_lines if ln in text], path
    hunted = (out / "reads_secrets" / "variance" / "notebook_output.txt").read_text()
    assert "BEGIN SOLUTION" not in hunted and "def xavier_std" not in hunted
    md = (out / "honest_wrong_he" / "variance" / "feedback.md").read_text()
    assert "Score: **6 / 8**" in md
    he_title = _by_id(results["honest_wrong_he"])["test_variance.py::test_he_std"]["name"]
    assert f"| {he_title} | 0 / 2 | he_std(2) = 0.707107" in md
    assert "(hidden check) | 1 / 1 | details after release" in md


def test_printed_output_is_capped_and_kept_for_staff_only(graded):
    """100 MB of prints are truncated in notebook_output.txt and absent from feedback."""
    _, out, _, _, _ = graded
    d = out / "print_100mb" / "variance"
    text = (d / "notebook_output.txt").read_text()
    assert "more bytes of output dropped" in text and len(text) < 1_000_000
    assert "xxxxxxxx" not in (d / "feedback.md").read_text()


def test_fake_results_written_by_a_submission_change_nothing(graded):
    """A submission writing results.json/grades.csv and printing '4 passed' keeps its 6/8."""
    _, out, results, rows, _ = graded
    assert results["fake_results"]["score"] == 6.0
    assert not (out / "fake_results" / "variance" / "grades.csv").exists()


def test_no_process_of_any_submission_survives_grading(graded):
    """Background processes, fork bombs, 30 detached children and a double fork that
    ignores SIGTERM are all gone once `initkit grade` returns."""
    assert _running(TOKENS["98765"]) == [] and _running(TOKENS["98764"]) == []
    # a runtime process that outlived its `initkit grade` is an orphan (parent pid 1); one
    # whose grader is alive belongs to another grading run on the machine, not to this one
    window = graded[4]["window"]
    assert _orphans("initkit/grading/child.py", window) == []
    assert _orphans("initkit/grading/zygote.py", window) == []


def _output(out: Path, case: str) -> str:
    return (out / case / "variance" / "notebook_output.txt").read_text()


def test_no_submission_finds_the_secret_planted_around_the_machine(graded):
    """The walk from / and every ../ reads files for 2 s and finds no planted secret."""
    _, out, results, _, _ = graded
    text = _output(out, "walks_for_secrets")
    assert "secrets found in []" in text and SECRET not in text
    assert results["walks_for_secrets"]["score"] == 8


def test_host_processes_are_out_of_sight_and_out_of_reach(graded):
    """Listing /proc shows only the submission's own namespace; the host's process lives."""
    _, out, _, _, facts = graded
    text = _output(out, "signals_host_processes")
    assert facts["victim_alive"]
    assert VICTIM not in text and "initkit grade" not in text and "pytest" not in text
    seen = text.split("processes seen:", 1)[1].split("signalled:")[0]
    pids = [int(p) for p in re.findall(r"\((\d+), ", seen)]
    assert pids == [1]  # its namespace's init, PID 1, is the only other process


def test_system_files_name_no_host_account(graded):
    """/etc/passwd lists only root and the student; /etc/shadow does not exist."""
    _, out, _, _, _ = graded
    text = _output(out, "reads_system_files")
    host_users = [line.split(":")[0] for line in Path("/etc/passwd").read_text().splitlines()
                  if line and not line.startswith("root:")]
    assert [u for u in host_users if f"\n{u}:" in text] == []
    assert "student:x:" in text and "/etc/shadow -> FileNotFoundError" in text


def test_host_unix_sockets_cannot_be_reached(graded):
    """Neither a socket file under /run nor an abstract socket of the host takes a call."""
    _, out, _, _, facts = graded
    assert facts["connected"] == []
    assert "CONNECTED" not in _output(out, "host_sockets")


def test_writes_outside_the_working_directory_change_nothing(graded):
    """Writing to /, /tmp, /etc, ../, /var/tmp, /srv or a world-writable host folder fails."""
    _, out, _, _, facts = graded
    assert facts["outside"] == []
    assert "WROTE []" in _output(out, "writes_outside")
    for path in ("/escape.txt", "/tmp/escape.txt", "/var/tmp/escape.txt", "/srv/escape.txt"):
        assert not os.path.exists(path)


def test_the_graders_session_keyring_is_out_of_reach(graded):
    """The grader's session key (the run's secret) cannot be listed or read: every keyring
    the notebook names answers EPERM and no key is read."""
    _, out, _, _, _ = graded
    text = _output(out, "reads_keyring")
    assert SECRET not in text and "keys read []" in text
    for ring in (-3, -4, -5):
        assert f"keyring {ring} EPERM" in text


def _syscalls(out: Path) -> dict[str, str]:
    """What each probed system call of the denied_syscalls notebook returned."""
    text = _output(out, "denied_syscalls")
    return dict(line[len("syscall "):].split(": ", 1) for line in text.splitlines()
                if line.startswith("syscall "))


_MACHINE = os.uname().machine
_COLUMN = 0 if _MACHINE == "x86_64" else 1
#: The calls the notebook probes (with their own numbers, not the filter's table).
_PROBED = sorted(n for n, row in SYSCALL_NUMBERS.items() if row[_COLUMN] is not None)


def test_every_call_the_filter_denies_is_probed_by_the_corpus():
    """Each call of the filter's deny list has a probe (its own number) in the corpus."""
    assert sorted(set(seccomp.denied_numbers()) - set(_PROBED)) == []


@pytest.mark.parametrize("name", [*_PROBED, "clone(CLONE_NEWUSER)"])
def test_each_denied_system_call_fails_with_eperm(graded, name):
    """Each probed call (its own number and harmless arguments, so that only the filter
    answers EPERM: unfiltered, most fail with EBADF, EFAULT or ESRCH, or work) is EPERM."""
    assert _syscalls(graded[1])[name] == "EPERM"


def test_the_filter_leaves_fork_and_the_personality_query_and_makes_clone3_enosys(graded):
    """fork and personality's query still work, and clone3 is ENOSYS (threads fall back to
    clone)."""
    got = _syscalls(graded[1])
    assert (got["fork"], got["clone3"], got["personality(query)"]) == ("7", "ENOSYS", "ok")


def test_a_program_copied_into_the_working_directory_cannot_run(graded):
    """The working directory is noexec: a copy of /bin/true there fails with EACCES."""
    assert _syscalls(graded[1])["exec from the working directory"] == "EACCES"


def test_the_capability_bounding_set_is_empty(graded):
    """No capability can come back through execve: CapBnd is 0 (root drops it too)."""
    assert _syscalls(graded[1])["CapBnd"] == "0000000000000000"

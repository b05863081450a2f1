"""A grading run loses nothing: each result stored as it is known, a killed run resumed, a
late submission merged, every process and temporary folder of a run gone with it."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from initkit.grading.results import SubmissionResult, TestResult
from initkit.grading.scratch import PREFIX, remove_stale, run_scratch
from initkit.grading.seeds import derive_seed, run_secret
from initkit.grading.store import (
    ResultKey,
    load_all,
    remove_partial,
    result_path,
    reusable,
    save,
)

HERE = Path(__file__).parent / "grading"
CORPUS = HERE / "corpus"
GRADERS = HERE / "graders"
INITKIT = Path(sys.executable).with_name("initkit")
#: twelve students and the corpus notebook each submits
CLASS = {f"s{i:02d}": name for i, name in enumerate(
    ["honest_correct"] * 4 + ["honest_wrong_he"] * 3 + ["syntax_error"] * 2
    + ["not_implemented", "not_json", "nan_inf"], start=1)}
REUSE = ("reused {n} of {m} results (graded with the same graders and seed); --regrade to "
         "grade them again")


def _grade(*args, **kw):
    return subprocess.run([str(INITKIT), "grade", *map(str, args), "--no-progress"],
                          capture_output=True, text=True, timeout=600, **kw)


def _class(folder: Path, students: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for student, name in students.items():
        shutil.copy(CORPUS / f"{name}_variance.ipynb", folder / f"{student}_variance.ipynb")
    return folder


def _rows(out: Path) -> list[dict]:
    with open(out / "grades.csv") as fh:
        return list(csv.DictReader(fh))


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, start time) of a live process, None when it is gone (or a zombie)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else (int(fields[1]), fields[19])


def _descendants(root: int) -> dict[int, str]:
    """Every live process below ``root``: pid -> start time (a reused pid is not it)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (st := _stat(int(entry))) is not None:
            parents[int(entry)] = st
    found, frontier = {}, [root]
    while frontier:
        pid = frontier.pop()
        for child, (parent, started) in parents.items():
            if parent == pid and child not in found:
                found[child] = started
                frontier.append(child)
    return found


def _alive(procs: dict[int, str]) -> list[int]:
    return [pid for pid, started in procs.items()
            if (st := _stat(pid)) is not None and st[1] == started]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The class graded in one go (the reference table), with a fixed run secret."""
    root = tmp_path_factory.mktemp("whole")
    subs = _class(root / "subs", CLASS)
    secret = uuid.uuid4().hex
    proc = _grade(subs, "--graders", GRADERS, "--out", root / "out", "--seed", secret,
                  "--jobs", "2")
    assert proc.returncode == 0, proc.stderr
    return subs, secret, root / "out"


def test_a_killed_run_resumes_to_the_uninterrupted_table(uninterrupted, tmp_path):
    """SIGKILL `initkit grade` after 5 of 12 results: no process of the run survives it, the
    next run reuses the stored results, grades the rest, gets the uninterrupted grades.csv,
    and removes the killed run's scratch folder (where all its temporary folders were)."""
    subs, secret, reference = uninterrupted
    out = tmp_path / f"out-{uuid.uuid4().hex[:8]}"
    proc = subprocess.Popen([str(INITKIT), "grade", str(subs), "--graders", str(GRADERS),
                             "--out", str(out), "--seed", secret, "--jobs", "2",
                             "--no-progress"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    scratch_inside = set()
    try:
        deadline = time.monotonic() + 400
        while len(list((out / "results").glob("*.json"))) < 5:
            assert proc.poll() is None, "the run ended before 5 results"
            assert time.monotonic() < deadline, "no 5 results in 400 s"
            for folder in Path(tempfile.gettempdir()).glob(f"{PREFIX}{proc.pid}-*"):
                scratch_inside |= {p.name.rsplit("-", 1)[0] for p in folder.iterdir()}
            time.sleep(0.05)
        family = _descendants(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=60)
    stored = len(list((out / "results").glob("*.json")))
    assert 5 <= stored < 12
    assert family, "the run had no worker processes"
    deadline = time.monotonic() + 30
    while _alive(family) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _alive(family) == []
    stale = list(Path(tempfile.gettempdir()).glob(f"{PREFIX}{proc.pid}-*"))
    assert len(stale) == 1 and (stale[0] / "owner").is_file()
    assert {"initkit-task", "initkit-grade"} <= scratch_inside  # student files lived there
    again = _grade(subs, "--graders", GRADERS, "--out", out, "--jobs", "2")
    assert again.returncode == 0, again.stderr
    assert REUSE.format(n=stored, m=12) in again.stderr.splitlines()
    assert (out / "grades.csv").read_bytes() == (reference / "grades.csv").read_bytes()
    assert not stale[0].exists()


def test_a_late_submission_is_merged_into_the_table(uninterrupted, tmp_path):
    """Grading one late notebook into an existing --out adds its row and keeps every other
    row as it was; the whole class again reuses all; an edited grader, or --regrade, grades
    again."""
    subs, secret, reference = uninterrupted
    out = tmp_path / "out"
    shutil.copytree(reference, out)
    before = _rows(out)
    late = _class(tmp_path / "late", {"zoe": "honest_wrong_he"})
    proc = _grade(late / "zoe_variance.ipynb", "--graders", GRADERS, "--out", out)
    assert proc.returncode == 0, proc.stderr
    rows = _rows(out)
    assert [r["student"] for r in rows] == sorted(CLASS) + ["zoe"]
    assert rows[:12] == before
    assert (rows[12]["total"], rows[12]["status"]) == ("6", "graded")
    assert "zoe" in proc.stdout and "s01" in proc.stdout
    assert json.loads((out / "run.json").read_text()) == {"run_secret": secret}
    again = _grade(subs, "--graders", GRADERS, "--out", out)
    assert REUSE.format(n=12, m=12) in again.stderr.splitlines()
    assert "0 submission(s) graded, 12 reused; 13 result(s)" in again.stdout
    graders = tmp_path / "graders"
    shutil.copytree(GRADERS, graders)
    with open(graders / "variance" / "test_variance.py", "a") as fh:
        fh.write("\n# edited\n")
    edited = _grade(late, "--graders", graders, "--out", out)
    assert "reused" not in edited.stderr
    assert "1 submission(s) graded, 0 reused; 13 result(s)" in edited.stdout
    same = _grade(late, "--graders", graders, "--out", out)
    assert REUSE.format(n=1, m=1) in same.stderr.splitlines()
    forced = _grade(late, "--graders", graders, "--out", out, "--regrade")
    assert "reused" not in forced.stderr
    assert "1 submission(s) graded, 0 reused; 13 result(s)" in forced.stdout


def _hmac_sha256(key: bytes, message: bytes) -> bytes:
    """HMAC-SHA256 written out from RFC 2104 (an independent reference for hmac.new)."""
    block = 64
    key = key.ljust(block, b"\0")
    inner = hashlib.sha256(bytes(k ^ 0x36 for k in key) + message).digest()
    return hashlib.sha256(bytes(k ^ 0x5C for k in key) + inner).digest()


def test_seed_is_the_hmac_of_student_exercise_and_notebook():
    """A submission's seed is HMAC-SHA256(secret, student NUL exercise NUL sha) mod 2**31:
    the same for the same inputs, different for a twin notebook of another student."""
    sha = hashlib.sha256(b"notebook").hexdigest()
    mac = _hmac_sha256(b"s3cret", f"alice\0variance\0{sha}".encode())
    assert derive_seed("s3cret", "alice", "variance", sha) == \
        int.from_bytes(mac[:8], "big") % 2**31
    assert derive_seed("s3cret", "bob", "variance", sha) != \
        derive_seed("s3cret", "alice", "variance", sha)
    assert derive_seed("other", "alice", "variance", sha) != \
        derive_seed("s3cret", "alice", "variance", sha)


def test_run_secret_is_recorded_privately_and_reused(tmp_path):
    """The first run records a fresh secret in run.json (mode 0600), the next one reads it,
    and --seed replaces it."""
    first = run_secret(tmp_path)
    assert len(first) == 32
    assert (tmp_path / "run.json").stat().st_mode & 0o777 == 0o600
    assert run_secret(tmp_path) == first
    assert run_secret(tmp_path, "given") == "given"
    assert json.loads((tmp_path / "run.json").read_text()) == {"run_secret": "given"}


def test_stored_results_round_trip_and_match_their_key_only(tmp_path):
    """A result stored under an undecodable name reads back equal; it is reused only for
    the same notebook, graders and seed, and never when it is an error."""
    name = os.fsdecode(b"j\xe9r\xf4me")
    result = SubmissionResult(student=name, exercise="variance", path="/x", status="graded",
                              tests=[TestResult("t.py::a", 2.0, 2.0)], seed=7,
                              cell_errors=[(3, "NameError", "x")])
    key = ResultKey(name, "variance", "abc", "graders", 7)
    path = save(tmp_path, key, result)
    assert path == result_path(tmp_path, name, "variance") and path.name.isascii()
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left
    assert load_all(tmp_path) == [result]
    assert reusable(tmp_path, key) == result
    for other in (ResultKey(name, "variance", "abd", "graders", 7),
                  ResultKey(name, "variance", "abc", "graders2", 7),
                  ResultKey(name, "variance", "abc", "graders", 8)):
        assert reusable(tmp_path, other) is None
    save(tmp_path, key, SubmissionResult(name, "variance", "/x", "error", seed=7))
    assert reusable(tmp_path, key) is None


def test_scratch_folder_goes_on_every_exit_and_stale_ones_are_removed(tmp_path):
    """Temporary folders made in a run live in its scratch folder, which is removed when the
    run ends (an exception too); a dead run's folder is removed, a live run's kept."""
    with pytest.raises(RuntimeError), run_scratch() as scratch:
        inner = Path(tempfile.mkdtemp(prefix="initkit-task-"))
        assert inner.parent == scratch and os.environ["TMPDIR"] == str(scratch)
        raise RuntimeError("boom")
    assert not scratch.exists() and tempfile.gettempdir() != str(scratch)
    dead = subprocess.Popen(["true"])
    dead.wait()
    for pid, name in ((dead.pid, "dead"), (os.getpid(), "live")):
        folder = tmp_path / f"{PREFIX}{name}"
        folder.mkdir()
        with open(f"/proc/{os.getpid()}/stat") as fh:
            started = fh.read().rsplit(")", 1)[1].split()[19]
        (folder / "owner").write_text(f"{pid} {started}\n")
    assert remove_stale(tmp_path) == [tmp_path / f"{PREFIX}dead"]
    assert (tmp_path / f"{PREFIX}live").is_dir()


def test_half_written_results_of_a_dead_run_are_removed(tmp_path):
    """A result's temporary file left by a killed run goes; a live run's stays."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    folder = tmp_path / "results"
    folder.mkdir()
    for pid in (dead.pid, os.getpid()):
        (folder / f".a.b--variance.json.{pid}.tmp").write_text("{")
    assert remove_partial(tmp_path) == 1
    assert [p.name for p in folder.iterdir()] == [f".a.b--variance.json.{os.getpid()}.tmp"]


def test_graders_edited_or_moved_are_the_ones_a_later_grading_in_the_same_process_uses(
        tmp_path):
    """Gradings one after another in one process (a Dask worker's tasks, a notebook): after
    the graders are edited in place, and for another folder whose test file has the same
    name, each grades with the graders it was given, never with a module an earlier one
    imported (pytest's importlib mode would reuse ``sys.modules['test_variance']``)."""
    from initkit.grading.discover import Job
    from initkit.grading.runner import grade_one

    first, second = tmp_path / "first" / "variance", tmp_path / "second" / "variance"
    shutil.copytree(GRADERS / "variance", first)
    shutil.copytree(GRADERS / "variance", second)
    notebook = CORPUS / "honest_correct_variance.ipynb"

    def points(graders: Path) -> dict[str, float]:
        result = grade_one(Job(path=notebook, student="alice", exercise="variance"),
                           graders, seed=1)
        return {t.name.split("::")[1]: t.score for t in result.tests}

    assert sum(points(first).values()) == 8
    grader = first / "test_variance.py"
    grader.write_text(grader.read_text().replace(
        '    """Glorot & Bengio (2010): std = sqrt(2 / (fan_in + fan_out))."""\n',
        '    """Glorot & Bengio (2010): std = sqrt(2 / (fan_in + fan_out))."""\n'
        "    assert False, 'edited: xavier no longer passes'\n"))
    assert points(first) == {"test_xavier_std": 0, "test_he_std": 2,
                             "test_simulate_variance": 3, "test_plot": 1}
    assert sum(points(second).values()) == 8

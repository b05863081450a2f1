"""`initkit grade` on the corpus of honest and hostile submissions: each gets its outcome."""

import csv
import json
import os
import shutil
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
INITKIT = Path(sys.executable).with_name("initkit")
STOCK_SECRET = "GRADER-SECRET-7f3a"
SECRET = f"GRADER-SECRET-{uuid.uuid4().hex}"

sys.path.insert(0, str(HERE))
from build_example import make_huge  # noqa: E402


def _processes(token: str) -> list[tuple[int, str]]:
    """(parent pid, command line) of every process whose command line contains ``token``."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/cmdline", "rb") as fh:
                    cmd = fh.read()
                with open(f"/proc/{entry.name}/stat") as fh:
                    parent = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
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


def _orphans(token: str) -> list[str]:
    """Runtime processes whose grading run has ended (reparented to init or a subreaper)."""
    return [cmd for parent, cmd in _processes(token) if not _is_grading_run(parent)]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade the whole corpus (plus a 100 MB notebook) once, two submissions at a time."""
    tmp = tmp_path_factory.mktemp("corpus")
    # the graders carry a secret made fresh for this run, so a copy of the repository
    # elsewhere on the machine (world-readable, outside this run) cannot leak it
    graders = tmp / "graders"
    shutil.copytree(GRADERS, graders)
    grader_file = graders / "variance" / "test_variance.py"
    grader_file.write_text(grader_file.read_text().replace(STOCK_SECRET, SECRET))
    subs = tmp / "subs"
    shutil.copytree(CORPUS, subs, ignore=shutil.ignore_patterns("*.json"))
    hunter = subs / "reads_secrets_variance.ipynb"
    hunter.write_text(hunter.read_text().replace("@GRADERS@", str(graders))
                      .replace("@GRADING@", str(HERE)))
    make_huge(subs / "huge_100mb_variance.ipynb")
    out = tmp / "out"
    proc = subprocess.run(
        [str(INITKIT), "grade", str(subs), "--graders", str(graders), "--out", str(out),
         "--jobs", "2", "--cell-timeout", "3", "--timeout", "40", "--memory", "768",
         "--no-progress"], capture_output=True, text=True, timeout=300)
    results = {d.name: json.loads((d / "variance" / "results.json").read_text())
               for d in out.iterdir() if d.is_dir()}
    with open(out / "grades.csv") as fh:
        rows = {r["student"]: r for r in csv.DictReader(fh)}
    return proc, out, results, rows


def test_every_submission_gets_a_result_and_exit_code_zero(graded):
    """All corpus cases are graded or refused, none crashes the grader: exit code 0."""
    proc, out, results, rows = graded
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert set(results) == set(EXPECTED)
    assert set(rows) == set(EXPECTED)


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_corpus_case_gets_its_expected_outcome(graded, case):
    """Score, failing tests and the stated reason match corpus/expected.json exactly."""
    _, _, results, rows = graded
    want, got, row = EXPECTED[case], results[case], rows[case]
    assert row["status"] == want["status"]
    assert got["score"] == want["score"] == float(row["total"])
    assert float(row["max_score"]) == 8
    failed = sorted(t["name"].split("::")[1] for t in got["tests"] if t["score"] == 0)
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
    _, _, results, _ = graded
    r = results["honest_wrong_he"]
    assert {"score", "output", "tests", "execution_time"} <= set(r)
    by_name = {t["name"]: t for t in r["tests"]}
    assert set(by_name) == {f"test_variance.py::{n}" for n in
                            ["test_xavier_std", "test_he_std", "test_simulate_variance",
                             "test_plot"]}
    assert by_name["test_variance.py::test_he_std"] == {
        "name": "test_variance.py::test_he_std", "score": 0.0, "max_score": 2.0,
        "output": "he_std(2) = 0.707107 is not sqrt(2 / fan_in)", "visibility": "visible"}
    assert by_name["test_variance.py::test_plot"]["visibility"] == "after_published"


def test_feedback_never_shows_hidden_test_source_or_secrets(graded):
    """No output file quotes the graders' source, and the secret-hunting cell found nothing."""
    _, out, _, _ = graded
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
    assert "| test_variance.py::test_he_std | 0 / 2 | he_std(2) = 0.707107" in md
    assert "(hidden check) | 1 / 1 | details after release" in md


def test_printed_output_is_capped_and_kept_for_staff_only(graded):
    """100 MB of prints are truncated in notebook_output.txt and absent from feedback."""
    _, out, _, _ = graded
    d = out / "print_100mb" / "variance"
    text = (d / "notebook_output.txt").read_text()
    assert "more bytes of output dropped" in text and len(text) < 1_000_000
    assert "xxxxxxxx" not in (d / "feedback.md").read_text()


def test_fake_results_written_by_a_submission_change_nothing(graded):
    """A submission writing results.json/grades.csv and printing '4 passed' keeps its 6/8."""
    _, out, results, rows = graded
    assert results["fake_results"]["score"] == 6.0
    assert not (out / "fake_results" / "variance" / "grades.csv").exists()


def test_no_process_of_any_submission_survives_grading(graded):
    """Background processes and fork bombs are gone once `initkit grade` returns."""
    assert _running("98765") == []
    # a runtime process that outlived its `initkit grade` is an orphan (parent pid 1); one
    # whose grader is alive belongs to another grading run on the machine, not to this one
    assert _orphans("initkit/grading/child.py") == []
    assert _orphans("initkit/grading/zygote.py") == []

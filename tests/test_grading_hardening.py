"""Hostile notebooks graded for real: secrets stay hidden, one bad check costs only itself."""

import csv
import errno
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent / "grading"
REPO = Path(__file__).resolve().parent.parent
GRADERS = HERE / "graders"
CORRECT = HERE / "corpus" / "honest_correct_variance.ipynb"
INITKIT = Path(sys.executable).with_name("initkit")
PYTEST = Path(sys.executable).with_name("pytest")


def _notebook(path: Path, extra: str | None = None, replace: dict[str, str] | None = None
              ) -> Path:
    """The honest, correct submission, with solution cells replaced and a cell appended."""
    nb = json.loads(CORRECT.read_text())
    for cell in nb["cells"]:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if replace and gid in replace:
            cell["source"] = replace[gid]
    if extra is not None:
        nb["cells"].append({"cell_type": "code", "metadata": {}, "source": extra,
                            "outputs": [], "execution_count": None})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb))
    return path


def _grade(*args, cwd, timeout=240):
    return subprocess.run([str(INITKIT), "grade", *map(str, args), "--no-progress"],
                          capture_output=True, text=True, cwd=cwd, timeout=timeout)


def _results(out: Path, student: str) -> dict:
    return json.loads((out / student / "variance" / "results.json").read_text())


def _tests(result: dict) -> dict[str, dict]:
    """Tests by their pytest function name (results.json keeps the id in ``tags``)."""
    return {(t.get("tags") or [t["name"]])[0].split("::")[-1]: t for t in result["tests"]}


def _prober(paths: list[str]) -> str:
    """A cell redefining xavier_std to report which of ``paths`` it could read bytes of."""
    return (f"_found = []\nfor _p in {paths!r}:\n    try:\n"
            "        with open(_p, 'rb') as _fh:\n            if _fh.read(1):\n"
            "                _found.append(_p)\n    except OSError:\n        pass\n"
            "def xavier_std(a, b):\n    raise RuntimeError('readable=' + repr(_found))\n")


SECRETS = [str(REPO / "tests/grading/course/source/variance/variance.ipynb"),
           str(REPO / ".git/HEAD"), str(REPO / "pyproject.toml"),
           str(GRADERS / "variance" / "test_variance.py")]
CONTROL = "/etc/hostname" if Path("/etc/hostname").exists() else "/etc/passwd"


@pytest.mark.parametrize("rootdir", [None, "graders"], ids=["default", "graders-rootdir"])
def test_graders_tree_is_hidden_when_running_pytest_by_hand(tmp_path, rootdir):
    """`pytest graders/variance --submission NB` (also with --rootdir graders/variance, not
    the project root) shows the notebook none of the course, .git or pyproject.toml."""
    nb = _notebook(tmp_path / "mallory_variance.ipynb", _prober([*SECRETS, CONTROL]))
    extra = ["--rootdir", str(GRADERS / "variance")] if rootdir else []
    proc = subprocess.run([str(PYTEST), str(GRADERS / "variance"), "--submission", str(nb),
                           "-p", "no:cacheprovider", "-q", "--assert=plain", *extra],
                          capture_output=True, text=True, cwd=tmp_path, timeout=240)
    assert f"RuntimeError: readable={[CONTROL]!r}" in proc.stdout, proc.stdout[-3000:]


_RAW = ("import os, fcntl, stat, struct, json\n"
        "def _reply_fd():\n"
        "    for fd in range(3, 256):\n"
        "        try:\n            st = os.fstat(fd)\n        except OSError:\n"
        "            continue\n"
        "        if stat.S_ISFIFO(st.st_mode) and "
        "fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_WRONLY:\n"
        "            return fd\n"
        "def _frame(b):\n    return struct.pack('>Q', len(b)) + b\n")

#: student -> (cell replacing he_std's or appended, expected failed tests, expected output)
HOSTILE = {
    "hang": ({"he": "def he_std(fan_in):\n    while fan_in > 100:\n        pass\n"
                    "    return (2 / fan_in) ** 0.5\n"}, None, ["test_he_std"], "timed out"),
    "bigint": ({"he": "def he_std(fan_in):\n    if fan_in > 100:\n        return 10 ** 5000\n"
                      "    return (2 / fan_in) ** 0.5\n"}, None, ["test_he_std"],
               "ValueError: Exceeds the limit"),
    "many_blobs": ({}, _RAW + "def xavier_std(a, b):\n"
                   "    os.write(_reply_fd(), _frame(json.dumps({'ok': True, 'value': 1, "
                   "'nblobs': 10 ** 9}).encode()))\n"
                   "    big = bytes(64 << 20)\n    while True:\n"
                   "        os.write(_reply_fd(), _frame(big))\n",
                   ["test_xavier_std"], "'nblobs' is not an int from 0 to 4096"),
    "flood": ({}, _RAW + "def xavier_std(a, b):\n"
              "    os.write(_reply_fd(), _frame(json.dumps({'ok': True, 'value': 1, "
              "'nblobs': 4000}).encode()))\n"
              "    big = bytes(64 << 20)\n    while True:\n"
              "        os.write(_reply_fd(), _frame(big))\n",
              ["test_xavier_std"], "bytes of messages at once"),
    "wrong_simulate": ({"simulate": "def simulate_variance(std, depth=10, width=64, seed=0):"
                                    "\n    return np.ones(depth)\n"}, None,
                       ["test_simulate_variance"], "5 of 5 layer variances differ"),
    "huge_int_header": ({}, _RAW + "def xavier_std(a, b):\n"
                        "    os.write(_reply_fd(), _frame(b'{\"ok\": true, \"value\": 1, "
                        "\"x\": 1' + b'0' * 5000 + b'}'))\n    while True:\n        pass\n",
                        ["test_xavier_std"], "header is not JSON"),
}


#: Hostile notebooks whose check fails by a limit of bytes, not of time: graded in a run of
#: their own with generous timeouts, one job at a time, so that a loaded machine (256 MB
#: through a pipe beside the other runs) cannot turn their failure into a timeout.
UNTIMED = ("flood",)
#: The one notebook whose check must time out: graded with a 2 s cell timeout, side by side
#: with everything else, which gets 20 s (on a loaded machine a child's start and cells,
#: ctypes' ldconfig included, can take a good part of 2 s, and none of them may time out).
TIMED = ("hang",)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """Grade the hostile notebooks of HOSTILE (and a malformed cell message) once."""
    tmp = tmp_path_factory.mktemp("hostile")
    untimed = tmp_path_factory.mktemp("hostile_untimed")
    timed = tmp_path_factory.mktemp("hostile_timed")
    for student, (replace, extra, _, _) in HOSTILE.items():
        where = untimed if student in UNTIMED else timed if student in TIMED else tmp
        _notebook(where / "subs" / f"{student}_variance.ipynb", extra, replace)
    _notebook(tmp / "subs" / "bad_cell_error_variance.ipynb",
              _RAW + "os.write(_reply_fd(), _frame(b'{\"event\": \"cell_done\", "
              "\"index\": 0, \"error\": [1, 2]}'))\n")
    _notebook(tmp / "subs" / "mallory_variance.ipynb", _prober([*SECRETS, CONTROL]))
    _notebook(tmp / "subs" / "ipc_variance.ipynb", _ipc_cell(f"{LOCK_DIR}/{tmp.name}"))
    for student in ["..", "bob!", "bob?", "=1+2"]:
        _notebook(tmp / "subs" / f"{student}_variance.ipynb")
    _notebook(tmp / "subs" / "newline_error_variance.ipynb",
              "raise ValueError('first\\n## Injected heading\\n- injected item')\n")
    out = tmp / "out"
    with open(timed / "grade.log", "w") as log:  # a file: a full pipe would block the run
        tight = subprocess.Popen(
            [str(INITKIT), "grade", str(timed / "subs"), "--graders", str(GRADERS), "--out",
             str(timed / "out"), "--jobs", "1", "--cell-timeout", "2", "--timeout", "60",
             "--no-progress"], stdout=log, stderr=subprocess.STDOUT, cwd=timed)
    try:
        proc = _grade(tmp / "subs", "--graders", GRADERS, "--out", out, "--jobs", "2",
                      "--cell-timeout", "20", "--timeout", "120", cwd=tmp)
        slow = _grade(untimed / "subs", "--graders", GRADERS, "--out", untimed / "out",
                      "--jobs", "1", "--cell-timeout", "120", "--timeout", "220", cwd=untimed,
                      timeout=400)
        tight.wait(timeout=240)
    finally:
        tight.kill()
        tight.wait()
    assert slow.returncode == 0, slow.stderr[-2000:]
    assert tight.returncode == 0, (timed / "grade.log").read_text()[-2000:]
    for folder, students in ((untimed, UNTIMED), (timed, TIMED)):
        for student in students:
            shutil.copytree(folder / "out" / student, out / student)
    return proc, out


SHM_KEY = 0x1E17C0DE
LOCK_DIR = "/run/lock"


def _ipc_cell(lock: str) -> str:
    """A cell leaving a SysV shared memory segment and a lock file behind, if it can."""
    return ("import ctypes, ctypes.util\n"
            "_libc = ctypes.CDLL(ctypes.util.find_library('c'), use_errno=True)\n"
            f"shm_id = _libc.shmget({SHM_KEY}, 4096, 0o1000 | 0o600)\n"
            f"try:\n    open({lock!r}, 'w').close()\nexcept OSError:\n    pass\n")


def test_graders_project_tree_is_hidden_when_grading_from_elsewhere(hostile):
    """Grading from /tmp, the notebook cannot open the nbgrader source, .git or the graders."""
    proc, out = hostile
    assert proc.returncode == 0, proc.stderr[-2000:]
    test = _tests(_results(out, "mallory"))["test_xavier_std"]
    assert test["output"] == f"RuntimeError: readable={[CONTROL]!r}"


def test_no_shared_memory_or_lock_file_survives_grading(hostile):
    """A SysV shared memory segment and a /run/lock file made by a notebook are gone after."""
    proc, out = hostile
    assert _results(out, "ipc")["score"] == 8
    keys = [int(line.split()[0]) for line in
            Path("/proc/sysvipc/shm").read_text().splitlines()[1:]]
    assert SHM_KEY not in keys
    assert not Path(f"{LOCK_DIR}/{out.parent.name}").exists()


def test_output_folders_stay_inside_out_and_never_collide(hostile):
    """'..', 'bob!' and 'bob?' get distinct folders under --out; CSV cells are not formulas."""
    proc, out = hostile
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert sorted(p.name for p in out.parent.iterdir()) == ["out", "subs"]
    names = [p.name for p in out.iterdir() if p.is_dir()]
    assert not any(n.startswith(".") for n in names)
    bobs = [n for n in names if n.startswith("bob_-")]
    dots = [n for n in names if n.startswith("_.-")]
    formula = [n for n in names if n.startswith("_1_2-")]
    assert (len(bobs), len(dots), len(formula)) == (2, 1, 1)
    for name in [*bobs, *dots, *formula]:
        assert json.loads((out / name / "variance" / "results.json").read_text())["score"] == 8
    rows = (out / "grades.csv").read_text().splitlines()
    assert any(r.startswith("'=1+2,variance,") for r in rows), rows


@pytest.mark.parametrize("student", sorted(HOSTILE))
def test_one_bad_check_costs_only_its_own_points(hostile, student):
    """A hang, an unsendable value or a flood of the reply pipe fails one test; a fresh
    child answers the later ones."""
    proc, out = hostile
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = _results(out, student)
    _, _, failed, output = HOSTILE[student]
    tests = _tests(result)
    assert sorted(n for n, t in tests.items() if t["score"] == 0) == failed
    assert output in tests[failed[0]]["output"]
    assert result["score"] == 8 - sum(tests[n]["max_score"] for n in failed)


def test_malformed_cell_message_is_a_protocol_error(hostile):
    """A cell_done message whose error is a list ends the child with a protocol error."""
    proc, out = hostile
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = _results(out, "bad_cell_error")
    assert result["score"] == 0
    assert all("broke the protocol: malformed 'cell_done' message" in t["output"]
               for t in result["tests"])


def test_out_that_is_a_file_fails_before_grading(tmp_path):
    """--out naming an existing file is one error line and exit 1, with nothing graded."""
    out = tmp_path / "out.txt"
    out.write_text("keep me")
    proc = _grade(CORRECT, "--graders", GRADERS, "--out", out, cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"error: --out {out} is a file, not a folder: pass a folder for grades.csv and the "
        "feedback"]
    assert proc.stdout == "" and out.read_text() == "keep me"


def test_feedback_hides_expected_values_and_keeps_messages_on_one_line(hostile):
    """A wrong simulation's feedback names no expected value; a cell error's newlines are
    escaped, so it cannot add Markdown headings or items to feedback.md."""
    _, out = hostile
    text = (out / "wrong_simulate" / "variance" / "feedback.md").read_text()
    output = _tests(_results(out, "wrong_simulate"))["test_simulate_variance"]["output"]
    assert output == ("simulate_variance(1.2, depth=5, width=32, seed=3): 5 of 5 layer "
                      "variances differ from the specification")
    assert "DESIRED" not in text and "ACTUAL" not in text and output in text
    md = (out / "newline_error" / "variance" / "feedback.md").read_text().splitlines()
    assert ("- the cell under 'Variance through depth': `ValueError` first\\n## Injected "
            "heading\\n- injected item") in md
    assert not any(line.startswith(("## Injected", "- injected")) for line in md)


def test_nbgrader_assignment_folder_decides_the_exercise(tmp_path):
    """A notebook in submitted/<student>/variance/ whose metadata names another exercise is
    graded by variance's graders, and the mismatch is in the reason."""
    graders = tmp_path / "graders"
    shutil.copytree(GRADERS / "variance", graders / "variance")
    (graders / "decoy").mkdir()
    (graders / "decoy" / "test_decoy.py").write_text(
        "import pytest\n\n@pytest.mark.points(50)\ndef test_free(submission):\n    pass\n")
    nb = _notebook(tmp_path / "submitted" / "eve" / "variance" / "variance.ipynb")
    data = json.loads(nb.read_text())
    data["metadata"]["initkit"] = {"exercise": "decoy"}
    nb.write_text(json.dumps(data))
    out = tmp_path / "out"
    proc = _grade(tmp_path / "submitted", "--graders", graders, "--out", out, "--jobs", "1",
                  cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert not (out / "eve" / "decoy").exists()
    result = _results(out, "eve")
    assert (result["score"], len(result["tests"])) == (8.0, 4)
    with open(out / "grades.csv") as fh:
        (row,) = list(csv.DictReader(fh))
    assert row["reason"] == ("variance.ipynb: its metadata names exercise 'decoy' but it was "
                             "submitted for 'variance'; graded as 'variance'")


@pytest.mark.parametrize("prewarm", [True, False], ids=["template", "fresh"])
def test_working_directory_is_a_size_limited_tmpfs(prewarm):
    """Files written to the working directory fill a tmpfs of Limits.disk_bytes, not the disk;
    the submission and the exercise's data are copied onto it."""
    from initkit.grading.limits import Limits
    from initkit.grading.sandbox import Sandbox
    from initkit.grading.submission import Submission

    cell = ("import os\nfiles = sorted(os.listdir('.'))\nwritten, err = 0, None\ntry:\n"
            "    for i in range(64):\n        with open(f'blob{i}', 'wb') as fh:\n"
            "            fh.write(b'x' * (1 << 20))\n        written += 1 << 20\n"
            "except OSError as exc:\n    err = exc.errno\n")
    with Sandbox([cell], {"alice.ipynb": b"{}"}, limits=Limits(disk_bytes=8 << 20),
                 prewarm=prewarm) as sb:
        sb.start()
        sub = Submission(sb)
        assert sub.get("err") == errno.ENOSPC
        assert 0 < sub.get("written") <= 8 << 20
        assert "alice.ipynb" in sub.get("files") and ".config" in sub.get("files")
        assert not list(sb.workdir.glob("blob*"))

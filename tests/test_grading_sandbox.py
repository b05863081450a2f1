"""The sandboxed child: real processes, real limits, real isolation (root-only parts marked)."""

import os
import platform
import random
import re
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from initkit.grading import (
    BadValue,
    MissingName,
    NotebookUnavailable,
    Rng,
    StudentException,
    lifecycle,
)
from initkit.grading.confine import processes_of_uid, running_as_root
from initkit.grading.limits import Limits
from initkit.grading.sandbox import Sandbox
from initkit.grading.submission import Submission

ROOT = Path(__file__).parent
GRADER_FILE = ROOT / "grading" / "graders" / "variance" / "test_variance.py"
needs_root = pytest.mark.skipif(not running_as_root(),
                                reason="a uid of its own needs root (CI is root)")


def _cmdlines_containing(token: str) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/cmdline", "rb") as fh:
                    if token.encode() in fh.read():
                        found.append(int(entry.name))
            except OSError:
                pass
    return found


@pytest.mark.parametrize("prewarm", [True, False], ids=["template", "fresh"])
def test_cells_run_in_order_and_every_error_is_the_cells_own(prewarm):
    """Each cell's exception (SystemExit too) is recorded and later cells still run."""
    cells = ["x = 1", "raise ValueError('boom')", "import sys; sys.exit(0)", "y = x + 1",
             "print('y is', y)"]
    with Sandbox(cells, prewarm=prewarm) as sb:
        sb.start()
        assert [(c.index, c.error_type) for c in sb.cells] == [
            (0, None), (1, "ValueError"), (2, "SystemExit"), (3, None), (4, None)]
        assert sb.cells[1].error_message == "boom"
        assert "y is 2" in sb.stdout.text()
        assert Submission(sb).get("y") == 2


def test_environment_is_scrubbed_and_cwd_holds_only_the_submission(monkeypatch):
    """The child sees none of the grader's environment and only its own files."""
    monkeypatch.setenv("INITKIT_GRADER_TOKEN", "s3cret")
    cells = ["import os\nenv = dict(os.environ)\nfiles = sorted(os.listdir('.'))"]
    with Sandbox(cells, {"alice.ipynb": b"{}"}) as sb:
        sb.start()
        sub = Submission(sb)
        env = sub.get("env")
        assert "INITKIT_GRADER_TOKEN" not in env and "s3cret" not in str(env)
        assert [f for f in sub.get("files") if not f.startswith(".")] == ["alice.ipynb"]


_KERNEL_PROBE = """
import sys
import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits
from initkit.grading.sandbox import Sandbox
from initkit.grading.submission import Submission

rng = np.random.default_rng(0)
a = rng.normal(size=(32, 784)).astype(np.float32)
b = rng.normal(size=(784, 64)).astype(np.float32)
cells = ["import numpy as np\\nfrom threadpoolctl import threadpool_info\\n"
         "rng = np.random.default_rng(0)\\n"
         "a = rng.normal(size=(32, 784)).astype(np.float32)\\n"
         "b = rng.normal(size=(784, 64)).astype(np.float32)\\n"
         "c = a @ b\\nkernel = threadpool_info()[0]['architecture']"]
with Sandbox(cells, prewarm=sys.argv[1] == "template") as sb:
    sb.start()
    sub = Submission(sb)
    with threadpool_limits(1):  # the child has one BLAS thread, like ex04's replay
        print(threadpool_info()[0]["architecture"], sub.get("kernel"),
              np.array_equal(sub.get("c"), a @ b))
"""


@pytest.mark.skipif(platform.machine() != "x86_64", reason="the OpenBLAS core types named "
                    "here are x86-64's")
@pytest.mark.parametrize("prewarm", ["template", "fresh"])
def test_the_child_computes_with_the_graders_blas_kernels(prewarm):
    """A grader replaying a notebook's float32 matmul gets the child's numbers bit for bit,
    also where the grader's environment pins a BLAS kernel (``OPENBLAS_CORETYPE``) other than
    the one OpenBLAS would detect: the child uses the grader's kernel (ex04's training replay
    lost honest notebooks their points on such a machine)."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    detect = subprocess.run([sys.executable, "-c", "from threadpoolctl import threadpool_info;"
                             "import numpy; print(threadpool_info()[0]['architecture'])"],
                            env=env, capture_output=True, text=True, check=True).stdout.strip()
    pinned = "Haswell" if detect == "Sandybridge" else "Sandybridge"
    out = subprocess.run([sys.executable, "-c", _KERNEL_PROBE, prewarm],
                         env={**env, "OPENBLAS_CORETYPE": pinned}, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == [pinned, pinned, "True"], (detect, out.stdout)


def test_the_readme_names_every_variable_that_passes_to_the_child():
    """The sandbox section lists exactly the grader's variables the child gets."""
    from initkit.grading.lifecycle import KERNEL_VARIABLES

    readme = (ROOT.parent / "README.md").read_text()
    bullet = readme.split("**A scrubbed environment, the grader's numbers.**", 1)[1]
    bullet = bullet.split("\n- **", 1)[0]
    assert re.findall(r"`([A-Z][A-Z0-9_]+)`", bullet) == list(KERNEL_VARIABLES)


@pytest.mark.parametrize("prewarm", [True, False], ids=["template", "fresh"])
def test_files_outside_the_working_directory_cannot_be_read(prewarm):
    """Grader files, ../ (the host's /tmp) and files elsewhere are not in the child's root."""
    shared = Path(tempfile.mkdtemp(prefix="initkit-test-shared-"))
    shared.chmod(0o755)
    (shared / "answers.txt").write_text("TOP-SECRET-ANSWERS")
    (shared / "answers.txt").chmod(0o644)
    # a folder of the host outside /tmp and the project: absent from the allow-list root
    visible = next(d for d in ("/srv", "/opt", "/var/lib", "/var") if os.path.isdir(d))
    private = Path(tempfile.mkdtemp(dir=visible, prefix="initkit-test-private-"))
    (private / "gradebook.db").write_text("TOP-SECRET-GRADEBOOK")
    (private / "gradebook.db").chmod(0o600)
    private.chmod(0o755)
    cells = [f"""
import glob, os
got = []
for p in [{str(GRADER_FILE)!r}, {str(shared / 'answers.txt')!r},
          {str(private / 'gradebook.db')!r}] + glob.glob('../*') + glob.glob('../*/*'):
    try:
        got.append(open(p).read())
    except Exception as exc:
        got.append(type(exc).__name__)
uid = os.getuid()
"""]
    try:
        with Sandbox(cells, prewarm=prewarm) as sb:
            sb.start()
            got = Submission(sb).get("got")
            uid = Submission(sb).get("uid")
    finally:
        (shared / "answers.txt").unlink()
        shared.rmdir()
        (private / "gradebook.db").unlink()
        private.rmdir()
    text = "\n".join(got)
    assert GRADER_FILE.read_text()[:40] not in text and "GRADER-SECRET" not in text
    assert "TOP-SECRET" not in text
    assert got[0] in ("", "PermissionError", "FileNotFoundError")
    assert got[1] == "FileNotFoundError"  # /tmp holds only the child's working directory
    assert got[2] == "FileNotFoundError"  # not bound into the child's root at all
    assert uid != 0


@needs_root
@pytest.mark.parametrize("prewarm", [True, False], ids=["template", "fresh"])
def test_fork_bomb_is_contained_and_killed(prewarm):
    """A fork bomb hits RLIMIT_NPROC, times out, and no process of its uid survives."""
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    with Sandbox(["a = 1", bomb, "b = 2"], limits=Limits(cell_timeout=2, nproc=16),
                 prewarm=prewarm) as sb:
        sb.start()
        uid = sb.uid
        assert "timed out after 2 s in cell 2" in sb.gone_reason
        assert len(processes_of_uid(uid)) <= 16
    assert processes_of_uid(uid) == []


@pytest.mark.parametrize("prewarm", [True, False], ids=["template", "fresh"])
def test_background_processes_are_gone_after_grading(prewarm):
    """Processes started in a new session or double-forked do not outlive the sandbox."""
    token = str(random.randrange(10**7, 10**8))  # not another test run's
    cells = ["import subprocess\n"
             f"subprocess.Popen(['sleep', '{token}1'], start_new_session=True)\n"
             f"subprocess.Popen(['sh', '-c', 'sleep {token}2 & exit 0'])\n"
             "import time; time.sleep(0.2)"]
    with Sandbox(cells, prewarm=prewarm) as sb:
        sb.start()
        assert _cmdlines_containing(token), "the background processes should be running"
    assert _cmdlines_containing(f"{token}1") == [] and _cmdlines_containing(f"{token}2") == []


class _SlowStart(Sandbox):
    """A sandbox whose child gets its cells 2 s after it was started, as on a loaded machine
    where the interpreter, its imports and the confinement take that long."""

    def _send(self, message: dict) -> None:
        if message.get("op") == "run":
            time.sleep(2.0)
        super()._send(message)


def test_a_slow_start_is_not_the_first_cells_time():
    """The child's start (no submission code runs then) has its own allowance: with a 1 s cell
    timeout and a 2 s start, both cells run (kills a first deadline of start + cell_timeout);
    a start beyond the allowance says so, not that a cell timed out."""
    with _SlowStart(["a = 1", "b = a + 1"], limits=Limits(cell_timeout=1.0)) as sb:
        sb.start()
        assert sb.gone_reason is None
        assert [c.error_type for c in sb.cells] == [None, None]
    with Sandbox(["a = 1"], limits=Limits(cell_timeout=0.001, startup_timeout=0.001)) as sb:
        sb.start()
        assert sb.gone_reason == "the notebook's process did not start within 0.001 s"
        assert sb.cells == []


def test_cell_timeout_kill_and_output_cap():
    """An endless loop is stopped by the cell timeout; huge output is truncated, not stored."""
    cells = ["import sys\nfor _ in range(20):\n    sys.stdout.write('x' * 2**18)",
             "try:\n    while True:\n        pass\nexcept BaseException:\n    pass"]
    with Sandbox(cells, limits=Limits(cell_timeout=1.5, output_bytes=4096)) as sb:
        sb.start()
        assert "timed out after 1.5 s in cell 2" in sb.gone_reason
        out = sb.stdout.text()
        assert out.startswith("x" * 4096) and f"{20 * 2**18 - 4096} more bytes" in out
        with pytest.raises(NotebookUnavailable, match="timed out"):
            Submission(sb).get("sys")


@pytest.mark.parametrize("prewarm", [True, False], ids=["template", "fresh"])
def test_os_exit_and_memory_limit_give_clear_reasons(prewarm):
    """A huge allocation is a MemoryError of its cell; os._exit ends the child with a reason."""
    cells = ["big = bytearray(2**40)", "import os\nos._exit(3)"]
    with Sandbox(cells, limits=Limits(memory_bytes=1024**3), prewarm=prewarm) as sb:
        sb.start()
        assert sb.cells[0].error_type == "MemoryError"
        assert sb.gone_reason == "the notebook's process exited with code 3 in cell 2"


def test_submission_proxy_returns_validated_data():
    """call/get/in return checked data; errors become StudentError subclasses with reasons."""
    cells = ["import numpy as np\n"
             "def f(a, b=1.0):\n    return np.arange(a) * b\n"
             "def boom():\n    raise KeyError('inner')\n"
             "def nan():\n    return float('nan')\n"
             "class Obj:\n    pass\n"
             "def obj():\n    return Obj()\n"
             "x = {'k': (1, 2.5)}"]
    with Sandbox(cells) as sb:
        sb.start()
        sub = Submission(sb)
        np.testing.assert_array_equal(sub.call("f", 3, b=2.0), [0.0, 2.0, 4.0])
        assert sub.get("x") == {"k": (1, 2.5)}
        assert "f" in sub and "nope" not in sub
        with pytest.raises(MissingName, match="'nope' is not defined"):
            sub.call("nope")
        with pytest.raises(StudentException, match="KeyError: 'inner'"):
            sub.call("boom")
        with pytest.raises(BadValue, match="nan\\(...\\) returned nan, not a finite number"):
            sub.call("nan")
        assert np.isnan(sub.call_unchecked("nan"))
        with pytest.raises(BadValue, match="object of type .*Obj, not data"):
            sub.call("obj")


def test_many_calls_in_one_request_give_what_single_calls_give():
    """call_many returns, in one request, the values that one call per argument list gives
    (fresh generators from Rng seeds included); a raising call names which one it was, a
    missing name and a value that is not finite data are refused as with call."""
    cells = ["import numpy as np\n"
             "def draw(shape, rng):\n    return rng.normal(size=shape)\n"
             "def inverse(x):\n    return 1.0 / x if x else float('nan')\n"
             "def picky(x):\n    if x == 3:\n        raise ValueError('not three')\n"
             "    return x"]
    with Sandbox(cells) as sb:
        sb.start()
        sub = Submission(sb)
        arg_lists = [((3, 2), Rng(seed)) for seed in range(5)]
        before = sb.requests
        many = sub.call_many("draw", arg_lists)
        assert sb.requests == before + 1
        single = [sub.call("draw", *args) for args in arg_lists]
        assert len(many) == 5 and all(np.array_equal(a, b) for a, b in zip(many, single, strict=True))
        assert not np.array_equal(many[0], many[1])
        assert sub.call_many("inverse", [(2.0,), (4.0,)]) == [0.5, 0.25]
        assert sub.call_many("inverse", []) == []
        with pytest.raises(StudentException, match="ValueError: call 3 of 4: not three"):
            sub.call_many("picky", [(1,), (2,), (3,), (4,)])
        with pytest.raises(MissingName, match="'nope' is not defined"):
            sub.call_many("nope", [(1,)])
        with pytest.raises(BadValue, match="returned nan, not a finite number"):
            sub.call_many("inverse", [(1.0,), (0,)])
        assert np.isnan(sub.call_many("inverse", [(0,)], finite=False)[0])


def test_figures_arrive_as_png_and_series_data():
    """Figures come back as each line's and scatter's x, y, label and scales, and as PNG
    bytes drawn when first read; a closed sandbox answers nothing."""
    cells = ["import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\n"
             "ax.plot([1, 2, 3], [10, 100, 1000], label='he')\n"
             "ax.scatter([0.5, 1.5], [5, 50], label='pts')\nax.set_yscale('log')\n"
             "ax.set_title('variance')"]
    with Sandbox(cells) as sb:
        sb.start()
        (fig,) = Submission(sb).figures
        png = fig.png  # drawn when first read, while the notebook runs
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and fig.png is png
    with pytest.raises(NotebookUnavailable, match="sandbox is closed"):
        Submission(sb).get("fig")
    (ax,) = fig.axes
    assert (ax.title, ax.xscale, ax.yscale) == ("variance", "linear", "log")
    line, scatter = ax.lines
    assert (line.kind, line.label, scatter.kind, scatter.label) == ("line", "he", "scatter",
                                                                    "pts")
    np.testing.assert_array_equal(line.y, [10, 100, 1000])
    np.testing.assert_array_equal(scatter.x, [0.5, 1.5])


def test_a_figure_is_drawn_only_when_a_check_reads_its_pixels():
    """Reading figures as data draws nothing in the child; the first read of ``png`` draws
    that figure once (the notebook counts its own savefig calls)."""
    cells = ["import matplotlib.pyplot as plt\nfrom matplotlib.figure import Figure\n"
             "drawn = []\n_savefig = Figure.savefig\n"
             "def _counted(self, *args, **kwargs):\n    drawn.append(1)\n"
             "    return _savefig(self, *args, **kwargs)\n"
             "Figure.savefig = _counted\nfig, ax = plt.subplots()\nax.plot([1, 2], [3, 4])"]
    with Sandbox(cells) as sb:
        sb.start()
        sub = Submission(sb)
        (fig,) = sub.figures
        assert fig.axes[0].lines[0].y.tolist() == [3.0, 4.0]
        assert sub.get("drawn") == []
        assert fig.png.startswith(b"\x89PNG") and fig.png.startswith(b"\x89PNG")
        assert sub.get("drawn") == [1]


def test_a_close_without_waiting_stops_the_notebook_and_is_finished_later():
    """close(wait=False) returns at once with the notebook killed (no request reaches it);
    finish_ending waits for its processes to be gone (root: none left under its uid) and
    removes its working directory and cgroup."""
    sb = Sandbox(["import subprocess, sys\n"
                  "child = subprocess.Popen([sys.executable, '-c', 'import time; "
                  "time.sleep(300)'])"])
    sb.start()
    assert not [c for c in sb.cells if c.error_type], sb.cells
    proc, workdir, group, uid = sb.proc, sb.workdir, sb._cgroup, sb.uid
    sb.close(wait=False)
    assert sb.proc is None and sb.workdir is None
    with pytest.raises(NotebookUnavailable, match="sandbox is closed"):
        Submission(sb).get("child")
    lifecycle.finish_ending()
    assert proc.poll() is not None and not workdir.exists()
    assert group is None or not any(folder.exists() for folder in group.folders)
    if running_as_root():
        assert processes_of_uid(uid, zombies=True) == []


def test_one_submission_cannot_affect_the_next_from_the_same_template():
    """Patching numpy or builtins in one child leaves the template and later children clean."""
    with Sandbox(["import numpy, builtins\nnumpy.pi = 3\nbuiltins.leak = 1\n"
                  "import initkit\ninitkit.calculate_gain = None"]) as sb:
        sb.start()
        assert Submission(sb).cell_errors == []
    with Sandbox(["import numpy, builtins, initkit\npi = numpy.pi\n"
                  "leaked = hasattr(builtins, 'leak')\n"
                  "gain = initkit.calculate_gain('relu')"]) as sb:
        sb.start()
        sub = Submission(sb)
        assert sub.get("pi") == np.pi and sub.get("leaked") is False
        assert sub.get("gain") == pytest.approx(np.sqrt(2))


def test_exercise_data_is_copied_next_to_the_submission(tmp_path):
    """Files of data_dir are readable in the child's working directory."""
    (tmp_path / "weights.csv").write_text("1,2,3\n")
    with Sandbox(["data = open('weights.csv').read()"], {"a.ipynb": b"{}"},
                 data_dir=tmp_path) as sb:
        sb.start()
        assert Submission(sb).get("data") == "1,2,3\n"


def test_magics_run_and_a_raising_cell_is_still_its_error():
    """Cells run as in Jupyter: line and cell magics work and a raising cell is its error."""
    cells = ["%time x = 21", "%%capture captured\nprint('hidden')", "y = x * 2",
             "raise RuntimeError('bad cell')", "z = y + 1"]
    with Sandbox(cells) as sb:
        sb.start()
        assert [c.error_type for c in sb.cells] == [None, None, None, "RuntimeError", None]
        sub = Submission(sb)
        assert (sub.get("y"), sub.get("z")) == (42, 43)
        assert "hidden" not in sb.stdout.text()


def test_child_has_no_network():
    """The child's network namespace has no interfaces up: even loopback connects fail."""
    cells = ["import socket\nerrors = []\n"
             "for host in [('127.0.0.1', 22), ('10.0.0.1', 80)]:\n"
             "    try:\n        socket.create_connection(host, timeout=1).close()\n"
             "        errors.append('connected')\n"
             "    except OSError as exc:\n        errors.append(type(exc).__name__)"]
    with Sandbox(cells) as sb:
        sb.start()
        errors = Submission(sb).get("errors")
    assert "connected" not in errors and len(errors) == 2


@pytest.mark.parametrize("prewarm", [True, False], ids=["template", "fresh"])
def test_each_pipe_is_closed_once_while_another_thread_opens_files(prewarm):
    """A Dask worker opens sockets on other threads while it grades. The sandbox closes each
    of its fds once, so it never closes another thread's file that took a freed number (nor
    that thread, closing its own, one of the sandbox's pipes)."""
    stop = threading.Event()
    errors: list[str] = []

    def churn() -> None:
        while not stop.is_set():
            try:
                r, w = os.pipe()
                os.set_blocking(r, False)
                os.write(w, b"x")
                if os.read(r, 1) != b"x":
                    errors.append("another file's byte")
                os.close(r)
                os.close(w)
            except OSError as exc:
                errors.append(repr(exc))

    thread = threading.Thread(target=churn, daemon=True)
    thread.start()
    try:
        for i in range(6):
            with Sandbox([f"x = {i} + 1"], prewarm=prewarm) as sb:
                sb.start()
                assert Submission(sb).get("x") == i + 1
    finally:
        stop.set()
        thread.join(timeout=10)
    assert errors == []

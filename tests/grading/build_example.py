"""Rebuild the example exercise and the corpus of bad submissions (run by hand, not a test).

``python tests/grading/build_example.py`` writes:

- ``course/source/variance/variance.ipynb``: the nbgrader source notebook (solutions and the
  visible test cells, with nbgrader cell metadata);
- ``graders/variance/variance.ipynb``: the released student version, made by real
  ``nbgrader generate_assignment`` (checksums included), used by the structure checks;
- ``corpus/*.ipynb``: submissions, honest and hostile, made from the released notebook; their
  expected outcomes are in ``corpus/expected.json`` (written by hand, not by this script).

The 100 MB notebook is not stored: the corpus test writes it (see ``make_huge``).
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

HERE = Path(__file__).parent
EXERCISE = "variance"

SETUP = "import numpy as np\nimport matplotlib.pyplot as plt\nimport initkit"
XAVIER = '''def xavier_std(fan_in, fan_out):
    """Glorot & Bengio (2010): std = sqrt(2 / (fan_in + fan_out))."""
    ### BEGIN SOLUTION
    return float(initkit.calculate_gain("linear") * np.sqrt(2.0 / (fan_in + fan_out)))
    ### END SOLUTION'''
HE = '''def he_std(fan_in):
    """He et al. (2015): std = sqrt(2 / fan_in), for ReLU layers."""
    ### BEGIN SOLUTION
    return float(initkit.calculate_gain("relu") / np.sqrt(fan_in))
    ### END SOLUTION'''
SIMULATE = '''def simulate_variance(std, depth=10, width=64, seed=0):
    """np.var of the activations after each of `depth` random ReLU layers.

    x ~ N(0, I) of size `width` is drawn first from np.random.default_rng(seed); then each
    layer draws W = rng.normal(scale=std, size=(width, width)) and sets x = relu(W @ x).
    """
    ### BEGIN SOLUTION
    rng = np.random.default_rng(seed)
    x = rng.normal(size=width)
    out = []
    for _ in range(depth):
        w = rng.normal(scale=std, size=(width, width))
        x = np.maximum(w @ x, 0.0)
        out.append(np.var(x))
    return np.array(out)
    ### END SOLUTION'''
PLOT = '''# Plot simulate_variance(he_std(64), depth=20) against the layer (1..20), label "he",
# with a logarithmic y axis, on a figure named `fig`.
### BEGIN SOLUTION
fig, ax = plt.subplots()
ax.plot(np.arange(1, 21), simulate_variance(he_std(64), depth=20), label="he")
ax.set_yscale("log")
ax.set_xlabel("layer")
ax.set_ylabel("variance")
ax.legend()
### END SOLUTION'''
TEST_XAVIER = '''assert abs(xavier_std(3, 5) - 0.5) < 1e-9
assert abs(xavier_std(100, 100) - 0.1) < 1e-9'''
TEST_HE = '''assert abs(he_std(2) - 1.0) < 1e-9
assert abs(he_std(50) - 0.2) < 1e-9'''
TEST_SIM = '''_v = simulate_variance(1.2, depth=5, width=32, seed=3)
assert np.shape(_v) == (5,)
_rng = np.random.default_rng(3)
_x = _rng.normal(size=32)
for _i in range(5):
    _x = np.maximum(_rng.normal(scale=1.2, size=(32, 32)) @ _x, 0.0)
    assert abs(_v[_i] - np.var(_x)) <= 1e-9 * max(1.0, np.var(_x))'''
TEST_PLOT = '''_lines = [l for a in fig.get_axes() for l in a.get_lines() if l.get_label() == "he"]
assert len(_lines) == 1 and len(_lines[0].get_ydata()) == 20
assert _lines[0].axes.get_yscale() == "log"'''


def _cell(src, kind="code", **nbg):
    maker = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
    cell = maker(src)
    if nbg:
        cell.metadata["nbgrader"] = {"schema_version": 3, "grade": False, "solution": False,
                                     "locked": False, **nbg}
    return cell


def source_notebook():
    """The nbgrader source notebook of the example exercise."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["initkit"] = {"exercise": EXERCISE}
    nb.cells = [
        _cell("# Variance through depth\nImplement the two standard deviations and the "
              "simulation.", "markdown", grade_id="intro", locked=True),
        _cell(SETUP, grade_id="setup", locked=True),
        _cell(XAVIER, grade_id="xavier", solution=True),
        _cell(TEST_XAVIER, grade_id="test_xavier", grade=True, points=2),
        _cell(HE, grade_id="he", solution=True),
        _cell(TEST_HE, grade_id="test_he", grade=True, points=2),
        _cell(SIMULATE, grade_id="simulate", solution=True),
        _cell(TEST_SIM, grade_id="test_simulate", grade=True, points=3),
        _cell(PLOT, grade_id="plot", solution=True),
        _cell(TEST_PLOT, grade_id="test_plot", grade=True, points=1),
    ]
    return nb


def nbgrader_config(course: Path) -> None:
    """A minimal nbgrader_config.py for a course folder (plain assignment, no db extras)."""
    (course / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.root = r'{course}'\n"
        f"c.CourseDirectory.db_url = 'sqlite:///{course / 'gradebook.db'}'\n"
        "c.Execute.timeout = 60\n")


def nbgrader_env() -> dict:
    """The environment for nbgrader: it runs ``alembic`` from PATH, so the venv comes first."""
    import os

    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def release(source: Path) -> nbformat.NotebookNode:
    """Run real ``nbgrader generate_assignment`` on the source; return the release notebook."""
    with tempfile.TemporaryDirectory() as tmp:
        course = Path(tmp)
        (course / "source" / EXERCISE).mkdir(parents=True)
        shutil.copy(source, course / "source" / EXERCISE / f"{EXERCISE}.ipynb")
        nbgrader_config(course)
        subprocess.run([str(Path(sys.executable).with_name("nbgrader")), "generate_assignment",
                        EXERCISE, "--force"], cwd=course, check=True, capture_output=True,
                       env=nbgrader_env())
        return nbformat.read(course / "release" / EXERCISE / f"{EXERCISE}.ipynb", as_version=4)


def _answer(nb, grade_id, src):
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            cell.source = src
            return nb
    raise KeyError(grade_id)


def _solution(src):
    return "\n".join(ln for ln in src.splitlines() if "### " not in ln)


def honest(released, **overrides):
    """The released notebook with the correct answers (some replaced by ``overrides``)."""
    nb = copy.deepcopy(released)
    for gid, src in (("xavier", XAVIER), ("he", HE), ("simulate", SIMULATE), ("plot", PLOT)):
        _answer(nb, gid, overrides.get(gid, _solution(src)))
    return nb


def _insert(nb, index, src):
    nb.cells.insert(index, nbformat.v4.new_code_cell(src))
    return nb


def _gid_index(nb, gid):
    return next(i for i, c in enumerate(nb.cells)
                if c.metadata.get("nbgrader", {}).get("grade_id") == gid)


WRONG_HE = "def he_std(fan_in):\n    return float(np.sqrt(1.0 / fan_in))"
SECRET_HUNT = '''import os, glob
# @GRADERS@ and @GRADING@ are replaced by the real paths when the corpus is graded: the
# hunter knows exactly where the hidden graders are, wherever the repository lives
found = []
for pattern in ["../*", "../../*", "../../../source/*/*", "@GRADERS@/*/*",
                "@GRADING@/corpus/*", "@GRADING@/course/*/*/*",
                "/root/*", "/tmp/initkit-sub-*/*"]:
    for p in glob.glob(pattern):
        try:
            with open(p, errors="replace") as fh:
                found.append(p + ": " + fh.read(100000))
        except Exception as exc:
            pass
found.append(repr(dict(os.environ)))
print("\\n".join(found))'''


def corpus(released):
    """name -> notebook (dict or str for the non-notebook ones)."""
    c = {}
    c["honest_correct"] = honest(released)
    c["honest_wrong_he"] = honest(released, he=WRONG_HE)
    c["not_implemented"] = copy.deepcopy(released)
    nb = honest(released)
    del nb.cells[_gid_index(nb, "test_he")]
    c["missing_test_cell"] = nb
    nb = honest(released)
    nb.cells[_gid_index(nb, "test_he")].metadata.nbgrader["grade_id"] = "test_he_renamed"
    c["renamed_test_cell"] = nb
    nb = honest(released, he=WRONG_HE)
    nb.cells[_gid_index(nb, "test_he")].source = "pass"
    c["edited_test_cell"] = nb
    nb = honest(released)
    del nb.cells[_gid_index(nb, "test_he")].metadata["nbgrader"]
    c["detagged_test_cell"] = nb
    nb = honest(released)
    nb.cells[_gid_index(nb, "setup")].source = "import numpy as np\nimport matplotlib.pyplot " \
        "as plt\nimport initkit\nnp.allclose = lambda *a, **k: True"
    c["edited_locked_setup"] = nb
    c["syntax_error"] = honest(released, xavier="def xavier_std(fan_in, fan_out)\n    return 1")
    c["sys_exit"] = _insert(honest(released), len(released.cells), "import sys\nsys.exit(0)")
    c["os_exit"] = _insert(honest(released), len(released.cells), "import os\nos._exit(0)")
    c["infinite_loop"] = _insert(honest(released), 3, "while True:\n    pass")
    c["swallow_keyboard_interrupt"] = _insert(honest(released), 3, (
        "import time\nwhile True:\n    try:\n        time.sleep(0.05)\n"
        "    except BaseException:\n        pass"))
    c["memory_bomb"] = _insert(honest(released), len(released.cells), (
        "def _bomb():\n    hog = []\n    while True:\n        hog.append(bytearray(50 * 2**20))"
        "\n_bomb()\n_huge = bytearray(2**40)"))
    c["fork_bomb"] = _insert(honest(released), len(released.cells), (
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n"
        "        pass"))
    c["print_100mb"] = _insert(honest(released), len(released.cells), (
        "import sys\nfor _ in range(100):\n    sys.stdout.write('x' * 2**20)"))
    c["background_process"] = _insert(honest(released), len(released.cells), (
        "import subprocess\n"
        "subprocess.Popen(['sleep', '987651'], start_new_session=True)\n"
        "subprocess.Popen(['sh', '-c', 'sleep 987652 & exit 0'])"))
    c["reads_secrets"] = _insert(honest(released, he=WRONG_HE), len(released.cells), SECRET_HUNT)
    c["fake_results"] = _insert(honest(released, he=WRONG_HE), len(released.cells), (
        "import json\nfor p in ['results.json', '../results.json', 'grades.csv']:\n"
        "    try:\n        open(p, 'w').write(json.dumps({'score': 100.0, 'tests': []}))\n"
        "    except OSError:\n        pass\n"
        "print('=' * 20 + ' 4 passed in 0.10s ' + '=' * 20)\n"
        "import sys; sys.stderr.write('4 passed, 0 failed\\n')"))
    c["shadow_builtins"] = _insert(honest(released, he=WRONG_HE), 2, (
        "import builtins\nabs = lambda x: 0\nbuiltins.abs = lambda x: 0\n"
        "builtins.isinstance = lambda *a: True\nround = lambda *a, **k: 0\n"
        "builtins.float = lambda *a: 0.2"))
    c["rigged_dunders"] = honest(released, he=(
        "class _Any(float):\n    def __eq__(self, other):\n        return True\n"
        "    __ne__ = lambda self, other: False\n    __sub__ = lambda self, other: 0.0\n"
        "    __rsub__ = __sub__\n    __abs__ = lambda self: 0.0\n"
        "    __lt__ = __le__ = __gt__ = __ge__ = __eq__\n"
        "def he_std(fan_in):\n    return _Any(123.0)\n"), xavier=(
        "class _Anything:\n    def __eq__(self, other):\n        return True\n"
        "    def __sub__(self, other):\n        return 0.0\n"
        "    __rsub__ = __sub__\n"
        "    def __abs__(self):\n        return 0.0\n"
        "    def __float__(self):\n        return 0.5\n"
        "def xavier_std(fan_in, fan_out):\n    return _Anything()\n"))
    c["input_transformer"] = _insert(honest(released, he=WRONG_HE), 2, (
        "get_ipython().input_transformers_cleanup.append(lambda lines: [])"))
    c["monkeypatch_numpy"] = _insert(honest(released, he=WRONG_HE), 2, (
        "import numpy, initkit, pytest\nnumpy.allclose = lambda *a, **k: True\n"
        "numpy.isclose = lambda *a, **k: True\nnumpy.testing.assert_allclose = "
        "lambda *a, **k: None\ninitkit.VarianceSimulator = None\n"
        "pytest.approx = lambda *a, **k: 0.2"))
    c["nan_inf"] = honest(released, xavier="def xavier_std(fan_in, fan_out):\n    "
                          "return float('nan')", he="def he_std(fan_in):\n    return "
                          "float('inf')")
    c["wrong_types_shapes"] = honest(released, xavier="def xavier_std(fan_in, fan_out):\n"
                                     "    return '0.5'", simulate=(
                                         "def simulate_variance(std, depth=10, width=64, "
                                         "seed=0):\n    return np.zeros((depth, 2))"))
    c["stderr_warning"] = _insert(honest(released), 3, (
        "import warnings, sys\nwarnings.warn('this is only a warning')\n"
        "sys.stderr.write('some noise on stderr\\n')"))
    return c


def write_all() -> None:
    """Write source, release and corpus notebooks next to this file."""
    src = HERE / "course" / "source" / EXERCISE / f"{EXERCISE}.ipynb"
    src.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(source_notebook(), src)
    released = release(src)
    graders = HERE / "graders" / EXERCISE
    graders.mkdir(parents=True, exist_ok=True)
    nbformat.write(released, graders / f"{EXERCISE}.ipynb")
    out = HERE / "corpus"
    out.mkdir(exist_ok=True)
    for name, nb in corpus(released).items():
        nbformat.write(nb, out / f"{name}_{EXERCISE}.ipynb")
    (out / f"not_json_{EXERCISE}.ipynb").write_text(
        json.dumps(nbformat.v4.new_notebook(), indent=1)[:-40] + "\n")
    (out / f"not_a_notebook_{EXERCISE}.ipynb").write_text(json.dumps({"hello": [1, 2, 3]}))
    (out / f"old_nbformat_{EXERCISE}.ipynb").write_text(json.dumps(
        {"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [{"cells": []}]}))
    (out / f"invalid_schema_{EXERCISE}.ipynb").write_text(json.dumps(
        {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
         "cells": [{"cell_type": "code", "source": 42}]}))


def make_huge(path: Path, megabytes: int = 100) -> None:
    """Write a valid notebook of about ``megabytes`` MB (a huge output) to ``path``."""
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print('x')")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="x" * megabytes
                                           * 1024 * 1024)]
    nb.cells = [cell]
    nbformat.write(nb, path)


if __name__ == "__main__":
    write_all()

"""Notebooks run in the sandbox exactly as in a Jupyter kernel: magics and cell magics,
``%matplotlib inline``, ``display``, ``_``/``Out``, ``get_ipython()``, figures closed after
each cell; compared with a real kernel (nbclient) on the same notebook, and graded with
full marks by the example exercise's hidden graders."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from initkit.grading.sandbox import Sandbox
from initkit.grading.submission import Submission

HERE = Path(__file__).parent / "grading"
GRADERS = HERE / "graders" / "variance"
HONEST = HERE / "corpus" / "honest_correct_variance.ipynb"

#: What a student who uses Jupyter adds to the honest answer, cell by grade_id: (before, after).
MAGICS = {
    "xavier": ("%%time\n", ""),
    "he": ("", "\n%time he_two = he_std(2)\n%timeit -n1 -r1 timed = he_std(8)\nhe_two"),
    "simulate": ("%matplotlib inline\n", "\nsimulate_variance(1.0, depth=3, width=8, seed=1)"),
    "plot": ("last_sim = _\n", "\ndisplay(fig)"),
}
#: Cells a student may add at the end, then the cell that reads the names out as JSON.
EXTRA = [
    "%%capture captured\nprint('hidden')\ncaptured_value = 7",
    "cap_text = captured.stdout\nimport matplotlib\nbackend = matplotlib.get_backend()\n"
    "open_figures = len(plt.get_fignums())\nhas_shell = get_ipython() is not None",
    "import json\n_report = json.dumps({\n"
    "    'he_two': he_two, 'last_sim': [round(float(v), 12) for v in last_sim],\n"
    "    'captured_value': captured_value, 'cap_text': cap_text, 'backend': backend,\n"
    "    'open_figures': open_figures, 'has_shell': has_shell, 'out_keys': sorted(Out),\n"
    "    'timed_defined': 'timed' in globals(), 'xavier': xavier_std(3, 5),\n"
    "    'fig_axes': len(fig.get_axes())}, sort_keys=True)\nprint(_report)",
]


def magics_notebook(path: Path) -> Path:
    """The honest variance answer written with magics, display and `_`, saved at ``path``."""
    nb = nbformat.read(str(HONEST), as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in MAGICS:
            before, after = MAGICS[grade_id]
            cell.source = before + cell.source + after
    nb.cells += [nbformat.v4.new_code_cell(src) for src in EXTRA]
    nbformat.write(nb, str(path))
    return path


def _code(nb) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "code"]


@pytest.fixture(scope="module")
def notebook(tmp_path_factory) -> Path:
    """The magics notebook in a fresh temporary folder."""
    return magics_notebook(tmp_path_factory.mktemp("ipython") / "magics_variance.ipynb")


@pytest.fixture(scope="module")
def kernel_report(notebook) -> dict:
    """The names the notebook defines, read out of a real python3 kernel (nbclient)."""
    nb = nbformat.read(str(notebook), as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(notebook.parent)}}).execute()
    errors = [o.ename for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert errors == [], errors
    last = nb.cells[-1].outputs
    return json.loads("".join(o.text for o in last if o.output_type == "stream"))


def _sandbox_report(notebook: Path, prewarm: bool) -> tuple[dict, str]:
    nb = nbformat.read(str(notebook), as_version=4)
    with Sandbox(_code(nb), prewarm=prewarm) as sb:
        sb.start()
        errors = [(c.index, c.error_type, c.error_message) for c in sb.cells if c.error_type]
        assert errors == [], errors
        return json.loads(Submission(sb).get("_report")), sb.stderr.text()


def test_magics_display_and_underscore_give_a_kernels_names(notebook, kernel_report):
    """`%time x = f()` assigns x, a `%%time` cell defines its function, `_`, `Out`,
    `%%capture`, `%matplotlib inline` and `display(fig)`: the sandbox's names and values
    equal a real kernel's, and the figures are closed after each cell as there."""
    got, stderr = _sandbox_report(notebook, prewarm=True)
    assert got == kernel_report
    assert got["he_two"] == 1.0 and got["captured_value"] == 7 and got["cap_text"] == "hidden\n"
    assert got["backend"] == "inline"  # what `%matplotlib inline` leaves in a kernel
    assert got["open_figures"] == 0 and got["fig_axes"] == 1 and got["has_shell"] is True
    assert len(got["last_sim"]) == 3 and got["timed_defined"] is False
    assert stderr == "", stderr  # nothing on stderr: nbgrader scores such a test cell 0


def test_a_fresh_interpreter_runs_the_notebook_the_same_way(notebook, kernel_report):
    """Without the pre-warmed template (`python -I child.py`), the same names and values."""
    got, stderr = _sandbox_report(notebook, prewarm=False)
    assert got == kernel_report and stderr == ""


def test_magics_notebook_gets_full_marks_from_the_hidden_graders(notebook):
    """`pytest graders/variance --submission NB` passes all four checks of the magics answer."""
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                           str(GRADERS), "--submission", str(notebook)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "4 passed" in proc.stdout


def test_an_error_inside_a_magic_is_the_cells_error():
    """`%time 1/0` is the cell's ZeroDivisionError, so is a result whose repr raises (the
    traceback a kernel shows as an error output), a syntax error is reported as data, and
    the later cells still run."""
    cells = ["%time 1/0", "def f(:\n    pass", "%%time\nraise ValueError('inside')",
             "class R:\n    def __repr__(self):\n        raise RuntimeError('bad repr')\nR()",
             "after = 1"]
    with Sandbox(cells) as sb:
        sb.start()
        got = [(c.index, c.error_type) for c in sb.cells]
        assert got == [(0, "ZeroDivisionError"), (1, "SyntaxError"), (2, "ValueError"),
                       (3, "RuntimeError"), (4, None)]
        assert Submission(sb).get("after") == 1


def test_the_shell_keeps_no_history_database_and_no_colours():
    """IPython writes no history DB, prints no ANSI colour and no warning at set-up."""
    cells = ["hm = get_ipython().history_manager\nenabled = hm.enabled\n"
             "import os\nfiles = sorted(os.listdir(get_ipython().profile_dir.location))\n"
             "colors = get_ipython().colors.lower()", "undefined_name"]
    with Sandbox(cells) as sb:
        sb.start()
        sub = Submission(sb)
        assert sub.get("enabled") is False and sub.get("colors") == "nocolor"
        assert "history.sqlite" not in sub.get("files")
        assert "\x1b[" not in sb.stderr.text()
        assert sb.stderr.text() == "NameError: name 'undefined_name' is not defined\n"


PYPLOT_ONLY = [
    "import matplotlib\nimport matplotlib.pyplot as plt\nfig = plt.figure()\n"
    "plt.plot([1, 2, 3])",
    "import json\n_report = json.dumps({'open_figures': len(plt.get_fignums()),\n"
    "    'backend': matplotlib.get_backend(), 'interactive': matplotlib.is_interactive(),\n"
    "    'lines': len(fig.axes[0].get_lines())})",
]


def _kernel_value(cells: list[str], name: str, tmp_path: Path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells]
                                  + [nbformat.v4.new_code_cell(f"print({name})")])
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    return json.loads("".join(o.text for o in nb.cells[-1].outputs
                              if o.output_type == "stream"))


@pytest.mark.parametrize("prewarm", [True, False], ids=["template", "fresh"])
def test_without_the_magic_pyplot_is_inline_and_closes_figures(prewarm, tmp_path):
    """With no `%matplotlib` line, pyplot uses the inline backend in interactive mode and its
    figures are closed after the cell that made them, as in a kernel (a figure lives on only
    in a variable)."""
    with Sandbox(PYPLOT_ONLY, prewarm=prewarm) as sb:
        sb.start()
        assert not [c for c in sb.cells if c.error_type], sb.cells
        got = json.loads(Submission(sb).get("_report"))
    assert got == _kernel_value(PYPLOT_ONLY, "_report", tmp_path)
    assert got["open_figures"] == 0 and got["lines"] == 1 and got["interactive"] is True


HOMES = [
    "import os\nip = get_ipython()\n%cd ~\nwent_home = os.getcwd()\n%cd -\n"
    "homes = {'profile': ip.profile_dir.location, 'profile_is_dir':"
    " os.path.isdir(ip.profile_dir.location), 'ipython_dir': ip.ipython_dir,"
    " 'home': ip.home_dir, 'dh': [str(d) for d in _dh], 'went_home': went_home,"
    " 'cwd': os.getcwd(), 'HOME': os.environ['HOME']}",
]


@pytest.mark.parametrize("prewarm", [True, False], ids=["template", "fresh"])
def test_the_shell_lives_in_the_notebooks_own_folder(prewarm):
    """The shell (built once in the template, or in a fresh interpreter) keeps its profile
    under the notebook's $HOME, which is its working directory, and `_dh`, `%cd ~` and
    `%cd -` use that folder, as a kernel started there would: nothing points at the
    template's own folders."""
    with Sandbox(HOMES, prewarm=prewarm) as sb:
        sb.start()
        assert not [c for c in sb.cells if c.error_type], sb.cells
        got = Submission(sb).get("homes")
    cwd = got["cwd"]
    assert got["HOME"] == cwd and got["home"] == cwd and got["went_home"] == cwd
    assert got["dh"][0] == cwd
    assert got["ipython_dir"] == os.path.join(cwd, ".ipython")
    assert got["profile"] == os.path.join(cwd, ".ipython", "profile_default")
    assert got["profile_is_dir"] is True

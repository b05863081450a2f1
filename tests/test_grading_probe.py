"""Checks that need more than a call, run inside the real sandboxed child: names hidden,
functions spied on, the kit's own implementation forbidden, generators sent as seeds,
figures found by variable; and the in-kernel transport of nbgrader's hidden cells answering
exactly as the sandbox does."""

import numpy as np
import pytest

from initkit.course.bridge import KernelTransport
from initkit.grading import MissingName, Rng
from initkit.grading.sandbox import Sandbox
from initkit.grading.submission import Submission

CELLS = [
    "import numpy as np\nimport initkit",
    "def squares(n):\n    return [i * i for i in range(1, n + 1)]\n\n"
    "def sum_of_squares(n):\n    return sum(squares(n))\n\n"
    "def sum_alone(n):\n    return sum(i * i for i in range(1, n + 1))",
    "def own_xavier(shape, rng):\n    fan_out, fan_in = shape\n"
    "    return rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), size=shape)\n\n"
    "def kit_xavier(shape, rng):\n"
    "    return initkit.get_initializer('xavier_normal')(shape, rng)\n\n"
    "def uses_own(shape, rng):\n    return own_xavier(shape, rng) + own_xavier(shape, rng)",
    "import matplotlib\nmatplotlib.use('Agg')\nfrom matplotlib.figure import Figure\n"
    "fig = Figure()\nax = fig.add_subplot()\nax.plot([1, 2, 3], [4, 5, 6], label='curve')\n"
    "ax.set_yscale('log')",
]
KIT_XAVIER = ["initkit.builtin_initializers.xavier_normal"]


@pytest.fixture(scope="module", params=["sandbox", "kernel"])
def submission(request):
    """The same notebook, reached through the sandboxed child or an in-process namespace."""
    if request.param == "kernel":
        ns: dict = {"__name__": "__main__"}
        for src in CELLS:
            exec(compile(src, "<cell>", "exec"), ns)
        yield Submission(KernelTransport(ns))
        return
    with Sandbox(CELLS) as sb:
        sb.start()
        assert not [c for c in sb.cells if c.error_type], sb.cells
        yield Submission(sb)


def test_hiding_a_name_shows_whether_a_function_calls_it(submission):
    """With `squares` hidden, sum_of_squares raises NameError; a reimplementation does not."""
    uses = submission.probe("sum_of_squares", 3, hide=["squares"])
    alone = submission.probe("sum_alone", 3, hide=["squares"])
    assert uses.error_type == "NameError" and uses.value is None
    assert alone.error is None and alone.value == 14
    assert submission.call("sum_of_squares", 3) == 14  # restored after the probe


def test_spy_counts_calls_of_notebook_functions(submission):
    """spy= counts how often each named notebook function ran during the call."""
    probe = submission.probe("uses_own", (3, 2), Rng(1), spy=["own_xavier", "squares"])
    assert probe.calls == {"own_xavier": 2, "squares": 0}
    assert probe.value.shape == (3, 2)


def test_forbid_sees_delegation_to_the_kits_implementation(submission):
    """The kit's xavier_normal running inside the call is reported, however it was reached."""
    assert submission.probe("kit_xavier", (4, 3), Rng(0), forbid=KIT_XAVIER).forbidden \
        == KIT_XAVIER
    assert submission.probe("own_xavier", (4, 3), Rng(0), forbid=KIT_XAVIER).forbidden == []
    # a name that names nothing would never match: the grader's error, not a silent pass
    from initkit.errors import GraderError

    with pytest.raises(GraderError, match="'initkit.no_such_thing', which is not an importable"):
        submission.probe("own_xavier", (4, 3), Rng(0), forbid=["initkit.no_such_thing"])


def test_a_seed_crosses_as_a_fresh_generator(submission):
    """Rng(seed) arrives as numpy.random.default_rng(seed): same seed, same draw."""
    first = submission.call("own_xavier", (5, 4), Rng(7))
    again = submission.call("own_xavier", (5, 4), Rng(7))
    want = np.random.default_rng(7).normal(0.0, np.sqrt(2 / 9), size=(5, 4))
    assert np.array_equal(first, again) and np.allclose(first, want, rtol=0, atol=0)


def test_a_figure_is_found_by_its_variable(submission):
    """submission.figure('fig') reads the figure the variable holds (pyplot or not)."""
    fig = submission.figure("fig")
    assert fig.names == ["fig"] and fig.png.startswith(b"\x89PNG")
    (ax,) = fig.axes
    assert ax.yscale == "log" and ax.lines[0].label == "curve"
    assert np.array_equal(ax.lines[0].y, [4, 5, 6])
    with pytest.raises(MissingName, match="no variable 'figure2'"):
        submission.figure("figure2")


def test_a_misspelled_forbid_name_is_the_graders_error_not_a_silent_pass(tmp_path):
    """A grader whose probe forbids a name that names nothing stops as status `error` naming
    it (a misspelled name would never match, so a delegating student would pass)."""
    import csv
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    here = Path(__file__).parent / "grading"
    graders = tmp_path / "graders" / "variance"
    shutil.copytree(here / "graders" / "variance", graders)
    test = graders / "test_variance.py"
    test.write_text(test.read_text() + '''

@pytest.mark.points(0, grade_id="test_he")
def test_he_is_own_code(submission):
    """he_std is the student's own code."""
    probe = submission.probe("he_std", 4, forbid=["initkit.gain.calculate_gian"])
    assert not probe.forbidden
''')
    proc = subprocess.run([str(Path(sys.executable).with_name("initkit")), "grade",
                           str(here / "corpus" / "honest_correct_variance.ipynb"), "--graders",
                           str(tmp_path / "graders"), "--out", str(tmp_path / "out"),
                           "--no-progress"], capture_output=True, text=True)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    (row,) = csv.DictReader((tmp_path / "out" / "grades.csv").open())
    assert row["status"] == "error"
    assert "'initkit.gain.calculate_gian', which is not an importable object" in row["reason"]

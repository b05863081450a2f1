"""``initkit course new SLUG``: a working exercise skeleton to edit, not to copy from another.

It writes, in a kit checkout (or any folder that will hold ``solutions/`` and ``graders/``):

- ``solutions/<slug>.ipynb``: the nbgrader source: an intro, a solution cell
  (``scaled_normal(shape, std, rng)``) with its visible test cell and hidden block, a figure
  cell with its test cell, and a manually graded answer;
- ``graders/<slug>/test_<slug>.py``: one hidden check of each kind (a value, a statistical
  check with a tolerance from the target distribution, a probe that forbids delegating to
  the kit, a figure read back by label), their ``points`` markers adding up to each cell's
  points;
- ``exercises/<slug>.ipynb`` after ``initkit course release --exercise <slug>``.

The skeleton releases, checks and grades as it is: the reference gets every point, the
untouched release none (``initkit course validate <slug>`` runs both).
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import CourseError

SLUG_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")


def _cell(kind: str, source: str, grade_id: str, *, grade: bool = False,
          solution: bool = False, locked: bool = True, points: float | None = None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3,
            "solution": solution, "task": False}
    if points is not None:
        meta["points"] = points
    cell = {"cell_type": kind, "id": grade_id.replace("_", "-")[:64],
            "metadata": {"nbgrader": meta}, "source": source}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def source_notebook(slug: str, title: str) -> dict:
    """The nbgrader source notebook of the skeleton exercise."""
    hidden = ("# When the notebook is graded, hidden checks of this cell run here too (new "
              "inputs,\n# other seeds). A failing visible test above scores this whole cell "
              "0.\n### BEGIN HIDDEN TESTS\nfrom initkit.course import hidden_checks\n"
              f'hidden_checks("{slug}", "{{grade_id}}", globals())\n### END HIDDEN TESTS\n')
    cells = [
        _cell("markdown", f"# {title}\n\nWhat the student learns here, in two sentences. "
              "State every contract exactly: shapes, layout, seeds, return types.",
              "intro"),
        _cell("code", "import numpy as np\nimport matplotlib.pyplot as plt\n\nN = 64  # a "
              "constant the cells below use", "setup"),
        _cell("markdown", "## 1. `scaled_normal(shape, std, rng)`\n\nReturn a float numpy "
              "array of exactly `shape` whose entries are drawn independently from "
              "$\\mathcal N(0, \\mathrm{std}^2)$ with the **given** `rng` (a "
              "`numpy.random.Generator`: `rng.normal(...)`, never the global `np.random`), so "
              "that the same seed gives the same array. Write it yourself: a `scaled_normal` "
              "that calls the kit's initializers gets no points.\n\nThen "
              "`sample_variance(shape, std, rng)`: the variance (`np.var`, a float) of one "
              "array drawn by **your** `scaled_normal(shape, std, rng)`, called once.", "q1"),
        _cell("code", "def scaled_normal(shape, std, rng):\n    ### BEGIN SOLUTION\n    "
              "return rng.normal(0.0, std, size=shape)\n    ### END SOLUTION\n\n\n"
              "def sample_variance(shape, std, rng):\n    ### BEGIN SOLUTION\n    "
              "return float(np.var(scaled_normal(shape, std, rng)))\n    ### END SOLUTION\n",
              "scaled_normal", solution=True, locked=False),
        _cell("code", "# Visible tests: run this cell to check scaled_normal.\n"
              "from initkit.course import check_shape, check_variance\n\n"
              "W = check_shape(scaled_normal((200, 100), 0.1, np.random.default_rng(0)), "
              "(200, 100),\n                \"scaled_normal((200, 100), 0.1, rng)\")\n"
              "check_variance(W, 0.1**2, \"scaled_normal((200, 100), 0.1, rng)\", "
              "formula=\"std**2\")\n"
              "v = sample_variance((200, 100), 0.1, np.random.default_rng(0))\n"
              "assert abs(v - 0.01) < 0.001, f\"sample_variance((200, 100), 0.1, rng) is "
              "{v}; about 0.01 expected\"\n"
              "print(\"scaled_normal and sample_variance: visible tests passed\")\n\n"
              + hidden.replace("{grade_id}", "test_scaled_normal"),
              "test_scaled_normal", grade=True, points=4),
        _cell("markdown", "## 2. The figure\n\nMake `fig, ax = plt.subplots()` with one curve "
              "labelled exactly `\"variance\"`: "
              "`ax.plot(stds, [np.var(scaled_normal((N, N), s, rng)) for s in stds], "
              "label=\"variance\")` for `stds = np.linspace(0.1, 1, 10)` and "
              "`rng = np.random.default_rng(0)`. Keep `fig`; other lines are fine.", "q2"),
        _cell("code", "### BEGIN SOLUTION\nrng = np.random.default_rng(0)\n"
              "stds = np.linspace(0.1, 1, 10)\nfig, ax = plt.subplots()\n"
              "ax.plot(stds, [np.var(scaled_normal((N, N), s, rng)) for s in stds], "
              "label=\"variance\")\nax.plot(stds, stds**2, \"--\", label=\"std**2\")\n"
              "ax.legend()\n### END SOLUTION\n", "figure", solution=True, locked=False),
        _cell("code", "# Visible tests: the figure has what the grader reads.\n"
              "curves = {line.get_label(): line for line in fig.axes[0].get_lines()}\n"
              "assert \"variance\" in curves, f\"fig has no curve labelled 'variance'; found "
              "{sorted(curves)}\"\nprint(\"fig: visible tests passed\")\n\n"
              + hidden.replace("{grade_id}", "test_figure"),
              "test_figure", grade=True, points=1),
        _cell("markdown", "## 3. In your words (graded by hand)\n\nWhy does the variance "
              "grow like `std**2`?", "q3"),
        _cell("markdown", "### BEGIN SOLUTION\nScaling a standard normal by `std` scales its "
              "variance by `std**2`.\n### END SOLUTION", "why", grade=True, solution=True,
              locked=False, points=1),
    ]
    return {"cells": cells, "metadata": {
        "initkit": {"exercise": slug},
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"}}, "nbformat": 4, "nbformat_minor": 5}


GRADERS = '''"""Hidden graders of {slug} (instructors only: never in exercises/ or the wheel).

Each check reaches the notebook through the ``submission`` fixture (data only) and draws
fresh inputs from ``grade_seed``, so answers fitted to the visible tests earn nothing. The
``grade_id`` of each ``points`` marker is the nbgrader cell whose hidden block runs it; a
cell's points are the sum of its markers (``initkit course validate`` checks it).
"""

from __future__ import annotations

import numpy as np
import pytest

from initkit.course import check_variance
from initkit.grading import Rng, expect

#: the kit's own initializers: a probe reports whether any of their code ran
KIT_NORMAL = ("initkit.builtin_initializers.normal",)


@pytest.mark.points(1, grade_id="test_scaled_normal")
def test_scaled_normal_shape(submission, grade_seed):
    """scaled_normal returns a float array of exactly the requested shape (a value check)."""
    for i, shape in enumerate([(3, 4), (7,), (2, 3, 4)]):
        expect(submission.call("scaled_normal", shape, 0.5, Rng(grade_seed + i)),
               shape=shape, dtype="f", what=f"scaled_normal({{shape}}, 0.5, rng)")


@pytest.mark.points(1, grade_id="test_scaled_normal")
def test_scaled_normal_variance(submission, grade_seed):
    """scaled_normal draws N(0, std^2) (a statistical check: its tolerance comes from the
    target distribution's standard error, never from the student's own sample)."""
    std = 0.3
    w = expect(submission.call("scaled_normal", (300, 200), std, Rng(grade_seed + 10)),
               shape=(300, 200), what="scaled_normal((300, 200), 0.3, rng)")
    check_variance(w, std**2, "scaled_normal((300, 200), 0.3, rng)", formula="std**2",
                   mistakes={{"pass the variance where the std is meant": std**4}})


@pytest.mark.points(1, grade_id="test_scaled_normal")
def test_scaled_normal_is_own_code_and_uses_rng(submission, grade_seed):
    """scaled_normal is the student's own code and draws from the rng it is given (a probe)."""
    probe = submission.probe("scaled_normal", (20, 10), 1.0, Rng(grade_seed + 20),
                             forbid=KIT_NORMAL)
    assert probe.error is None, f"scaled_normal raised {{probe.error}}"
    assert not probe.forbidden, ("scaled_normal calls the kit's own initializer "
                                 f"({{probe.forbidden[0]}}): write the draw yourself")
    again = submission.call("scaled_normal", (20, 10), 1.0, Rng(grade_seed + 20))
    other = submission.call("scaled_normal", (20, 10), 1.0, Rng(grade_seed + 21))
    assert np.array_equal(probe.value, again), "the same seed should give the same array"
    assert not np.array_equal(probe.value, other), \\
        "another seed should give another array: draw from the rng you are given"


@pytest.mark.points(1, grade_id="test_scaled_normal")
def test_sample_variance_calls_scaled_normal(submission, grade_seed):
    """sample_variance draws with the student's own scaled_normal, once (spy and hide)."""
    args = ((50, 40), 0.5, Rng(grade_seed + 30))
    probe = submission.probe("sample_variance", *args, spy=["scaled_normal"])
    assert probe.error is None, f"sample_variance raised {{probe.error}}"
    assert probe.calls.get("scaled_normal") == 1, \
        f"sample_variance called scaled_normal {{probe.calls.get('scaled_normal', 0)}} times; once"
    hidden = submission.probe("sample_variance", *args, hide=["scaled_normal"])
    assert hidden.error is not None, \
        "sample_variance works without scaled_normal: draw the array with scaled_normal"


@pytest.mark.points(1, grade_id="test_figure")
def test_variance_figure(submission):
    """fig has a curve labelled 'variance' with 10 points, each near std**2 (a figure check)."""
    curves = {{line.label: line for line in submission.figure("fig").axes[0].lines}}
    assert "variance" in curves, f"fig has no curve labelled 'variance'; found {{sorted(curves)}}"
    line = curves["variance"]
    stds = np.linspace(0.1, 1, 10)
    assert len(line.y) == 10, f"the 'variance' curve has {{len(line.y)}} points, not 10"
    assert np.allclose(line.y, stds**2, rtol=0.5), \\
        "the 'variance' curve should be near std**2 at each std"
'''


def new_exercise(root: Path, slug: str, title: str | None = None) -> list[Path]:
    """Write the skeleton of exercise ``slug`` under ``root``; the files written.

    Raises:
        CourseError: a slug that is not a lowercase identifier, or one that exists.
    """
    import json

    if not SLUG_PATTERN.match(slug):
        raise CourseError(f"{slug!r} is not a usable slug: lowercase letters, digits and _, "
                          "starting with a letter (e.g. ex06_lsuv)")
    source = root / "solutions" / f"{slug}.ipynb"
    graders = root / "graders" / slug / f"test_{slug}.py"
    for path in (source, graders.parent):
        if path.exists():
            raise CourseError(f"{path} exists: choose another slug or remove it first")
    source.parent.mkdir(parents=True, exist_ok=True)
    graders.parent.mkdir(parents=True)
    title = title or slug.replace("_", " ").capitalize()
    source.write_text(json.dumps(source_notebook(slug, title), indent=1) + "\n")
    graders.write_text(GRADERS.format(slug=slug))
    return [source, graders]

"""Hidden graders of the example exercise ``variance`` (GRADER-SECRET-7f3a: never shown).

Each test reaches the student's notebook only through the ``submission`` fixture of
``initkit.grading.pytest_plugin``: values arrive as validated data, so the comparisons below
are between real floats and arrays built in this process. The points match the nbgrader
test cells of ``course/source/variance/variance.ipynb`` (2 + 2 + 3 + 1).
"""

import math

import numpy as np
import pytest

from initkit.grading import expect


def reference_variance(std, depth, width, seed):
    """The specification of ``simulate_variance`` (the notebook's docstring), as code."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=width)
    out = []
    for _ in range(depth):
        x = np.maximum(rng.normal(scale=std, size=(width, width)) @ x, 0.0)
        out.append(np.var(x))
    return np.array(out)


@pytest.mark.points(2, grade_id="test_xavier")
def test_xavier_std(submission):
    """Glorot & Bengio (2010): std = sqrt(2 / (fan_in + fan_out))."""
    for fan_in, fan_out in [(3, 5), (100, 100), (784, 10)]:
        got = expect(submission.call("xavier_std", fan_in, fan_out), float,
                     what=f"xavier_std({fan_in}, {fan_out})")
        assert math.isclose(got, math.sqrt(2 / (fan_in + fan_out)), rel_tol=1e-9), \
            f"xavier_std({fan_in}, {fan_out}) = {got:.6g} is not sqrt(2 / (fan_in + fan_out))"


@pytest.mark.points(2, grade_id="test_he")
def test_he_std(submission):
    """He et al. (2015): std = sqrt(2 / fan_in)."""
    for fan_in in [2, 50, 512]:
        got = expect(submission.call("he_std", fan_in), float, what=f"he_std({fan_in})")
        assert math.isclose(got, math.sqrt(2 / fan_in), rel_tol=1e-9), \
            f"he_std({fan_in}) = {got:.6g} is not sqrt(2 / fan_in)"


@pytest.mark.points(3, grade_id="test_simulate")
def test_simulate_variance(submission):
    """The per-layer variances equal the specification's, draw for draw."""
    for std, depth, width, seed in [(1.2, 5, 32, 3), (0.25, 8, 16, 11)]:
        got = expect(submission.call("simulate_variance", std, depth=depth, width=width,
                                     seed=seed), shape=(depth,), dtype="f",
                     what="simulate_variance(...)")
        # our own message: numpy's would print the expected (hidden) array
        wrong = ~np.isclose(got, reference_variance(std, depth, width, seed), rtol=1e-9,
                            atol=0.0)
        assert not wrong.any(), \
            f"simulate_variance({std}, depth={depth}, width={width}, seed={seed}): " \
            f"{int(wrong.sum())} of {depth} layer variances differ from the specification"


@pytest.mark.points(1, visibility="after_published", grade_id="test_plot")
def test_plot(submission):
    """One line labelled "he" with 20 points on a log y axis."""
    lines = [(ax, line) for fig in submission.figures for ax in fig.axes
             for line in ax.lines if line.label == "he"]
    assert len(lines) == 1, f"expected one line labelled 'he', found {len(lines)}"
    ax, line = lines[0]
    assert line.y.shape == (20,), f"the 'he' line has {line.y.size} points, expected 20"
    assert ax.yscale == "log", f"the y axis is {ax.yscale!r}, expected 'log'"

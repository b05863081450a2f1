"""initkit.course: the visible-check helpers' sentences and tolerances, the catalogue, the
nbgrader settings `initkit course init` writes, and `initkit check`'s report."""

import math

import numpy as np
import pytest
from traitlets.config.loader import PyFileConfigLoader

from initkit.course import (
    EXERCISES,
    CheckFailed,
    check_close,
    check_shape,
    check_variance,
    diagnose,
    exercise,
)
from initkit.course.check import CheckReport, VisibleTest, format_report, strip_hidden
from initkit.course.checks import N_SE, sample_variance
from initkit.course.setup import init_course
from initkit.errors import CourseError


def test_diagnose_names_the_closest_mistake_within_tolerance():
    """The nearest prediction inside the tolerance wins; none inside gives None."""
    mistakes = {"use fan_in alone": 0.02, "use 1/fan_in": 0.01}
    assert diagnose(0.0195, mistakes, 0.001) == "use fan_in alone"
    assert diagnose(0.0104, mistakes, 0.001) == "use 1/fan_in"
    assert diagnose(0.05, mistakes, 0.001) is None


def test_check_variance_false_alarms_are_rare_and_its_tolerance_is_five_standard_errors():
    """True N(0, v) samples pass (200 seeds); a 3% error fails at n = 1e6 and is named."""
    for seed in range(200):
        check_variance(np.random.default_rng(seed).normal(0, 0.1, size=2000), 0.01, "w")
    w = np.random.default_rng(0).normal(0, math.sqrt(0.0103), size=1_000_000)
    var, se = sample_variance(w)
    assert se == pytest.approx(0.0103 * math.sqrt(2 / w.size), rel=0.02)  # normal: v sqrt(2/n)
    assert abs(var - 0.01) > N_SE * se
    with pytest.raises(CheckFailed, match=r"w has variance 0.0103\d?; Glorot's = 0.01 - did you "
                                          r"use the wrong one\?"):
        check_variance(w, 0.01, "w", formula="Glorot's", mistakes={"use the wrong one": 0.0103})


def test_check_shape_and_check_close_say_what_is_wrong():
    """A transposed shape is named as the (in, out) layout; numbers are quoted."""
    with pytest.raises(CheckFailed, match=r"has shape \(100, 300\); it should be \(300, 100\) "
                                          r"- the \(in, out\) layout"):
        check_shape(np.zeros((100, 300)), (300, 100), "xavier_normal((300, 100))")
    with pytest.raises(CheckFailed, match="should return a numpy array, got list"):
        check_shape([1, 2], (2,), "f")
    with pytest.raises(CheckFailed, match=r"f\(\) is 2, expected 1; rule - did you double it\?"):
        check_close(2.0, 1.0, "f()", formula="rule", mistakes={"double it": 2.0})
    with pytest.raises(CheckFailed, match=r"differs at index \(1,\): 5 instead of 3"):
        check_close([1, 5], [1, 3], "g")
    check_close([1.0, 3.0], [1.0, 3.0 + 1e-9], "g")


def test_the_catalogue_names_the_five_exercises():
    """Five slugs in the lesson's order; an unknown slug is a CourseError listing them."""
    assert [e.slug for e in EXERCISES] == ["ex01_gradient_norms", "ex02_mnist_collapse",
                                           "ex03_orthogonal_rnn", "ex04_he_vs_xavier",
                                           "ex05_eigenvalues"]
    with pytest.raises(CourseError, match="ex01_gradient_norms, ex02"):
        exercise("ex9")


def test_course_init_writes_safe_nbgrader_settings(tmp_path):
    """A per-cell timeout that interrupts, stderr warnings ignored, hidden tests cleared from
    feedback, the graders' folder for the hidden blocks; sources and graders copied."""
    init_course(tmp_path, slugs=["ex01_gradient_norms"], cell_timeout=42)
    config = PyFileConfigLoader("nbgrader_config.py", path=str(tmp_path)).load_config()
    assert config.Execute.timeout == 42 and config.Execute.interrupt_on_timeout is True
    assert config.IgnorePattern.enabled is True and config.IgnorePattern.pattern == "Warning"
    assert "ClearHiddenTests" in [p.__name__ for p in config.GenerateFeedback.preprocessors]
    assert (tmp_path / "source" / "ex01_gradient_norms" / "ex01_gradient_norms.ipynb").is_file()
    assert list((tmp_path / "graders" / "ex01_gradient_norms").glob("test_*.py"))
    with pytest.raises(CourseError, match="no source notebook and graders for nope"):
        init_course(tmp_path, slugs=["nope"])


def test_strip_hidden_removes_every_hidden_block():
    """What `initkit check` runs of an instructor's source: the visible part only."""
    src = "assert f(1) == 1\n### BEGIN HIDDEN TESTS\nsecret()\n### END HIDDEN TESTS\nprint('ok')"
    assert strip_hidden(src) == "assert f(1) == 1\nprint('ok')"


def test_check_report_reads_like_pytest_with_points():
    """One line per visible test, the sentence under a failure, a closing count."""
    from pathlib import Path

    report = CheckReport(path=Path("ex.ipynb"), manual_points=2, tests=[
        VisibleTest("test_a", 3, 1.0, True), VisibleTest("test_b", 5, 3.0, False, "too big")])
    text = format_report(report)
    assert "cell   3  test_a      PASSED  1/1" in text
    assert "cell   5  test_b      FAILED  0/3\n          too big" in text
    assert text.endswith("1 passed, 1 failed: 1/4 points of the visible tests (hidden checks "
                         "run when you submit; 2 more graded by hand) =====")
    assert not report.ok

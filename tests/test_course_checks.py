"""initkit.course: the visible-check helpers' sentences and tolerances, the catalogue, the
nbgrader settings `initkit course init` writes, and `initkit check`'s report."""

import math
import os
from unittest import mock

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
from initkit.course.checks import (
    Mistake,
    Target,
    check_normal,
    mistake_id,
    sample_tests,
    variance_se,
)
from initkit.course.setup import init_course
from initkit.errors import CourseError


def test_diagnose_names_the_closest_mistake_within_tolerance():
    """The nearest prediction inside the tolerance wins; none inside gives None."""
    mistakes = {"use fan_in alone": 0.02, "use 1/fan_in": 0.01}
    assert diagnose(0.0195, mistakes, 0.001) == "use fan_in alone"
    assert diagnose(0.0104, mistakes, 0.001) == "use 1/fan_in"
    assert diagnose(0.05, mistakes, 0.001) is None


def test_check_variance_takes_its_tolerance_from_the_target_and_names_the_mistake():
    """True N(0, v) samples pass (200 seeds); a 3% error fails at n = 1e6 and is named, with
    its id; the standard error is the target's v sqrt(2/(n-1)), whatever the sample holds."""
    for seed in range(200):
        check_variance(np.random.default_rng(seed).normal(0, 0.1, size=3000), 0.01, "w")
    assert variance_se(0.01, 20_001) == pytest.approx(0.01 * math.sqrt(2 / 20_000))
    assert variance_se(0.01, 20_001, "uniform") == pytest.approx(
        math.sqrt((1.8e-4 - 1e-4 * 19_998 / 20_000) / 20_001))
    w = np.random.default_rng(0).normal(0, math.sqrt(0.0103), size=1_000_000)
    with pytest.raises(CheckFailed, match=r"w has variance 0.0103\d?; Glorot's = 0.01 - did you "
                                          r"use the wrong one\?") as info:
        check_variance(w, 0.01, "w", formula="Glorot's", mistakes={"use the wrong one": 0.0103})
    assert info.value.mistake == Mistake("use_the_wrong_one", "use the wrong one")
    with pytest.raises(CheckFailed, match=r"w has variance 0.0103\d?; it should be 0.01 \(1.03 "
                                          r"times too large\)") as info:
        check_variance(w, 0.01, "w")
    assert info.value.mistake_id == "wrong_scale"


def _spike(n, v, rng):
    """Zeros and one entry sqrt(n v): the sample's own variance is exactly v."""
    x = np.zeros(n)
    x[rng.integers(n)] = math.sqrt(n * v)
    return x


def _few_spikes(n, v, rng):
    """Zeros and five large random entries carrying the whole variance."""
    x = np.zeros(n)
    x[rng.choice(n, 5, replace=False)] = rng.normal(0, math.sqrt(n * v / 5), 5)
    return x


def _flip_negative(x):
    """The draws with the sign of every negative one flipped."""
    x = x.copy()
    x[x < 0] *= -1
    return x


#: degenerate samples of the target variance v (n entries) -> the mistake id they must get
DEGENERATE = {
    "spike": (_spike, "spike", "mostly zeros with a few large entries"),
    "few_spikes": (_few_spikes, "spike", "mostly zeros with a few large entries"),
    "constant": (lambda n, v, rng: np.full(n, math.sqrt(v)), "constant",
                 "has every entry equal to"),
    "zeros": (lambda n, v, rng: np.zeros(n), "constant", "has every entry equal to 0"),
    "two_values": (lambda n, v, rng: math.sqrt(v) * rng.choice([-1.0, 1.0], n), "few_values",
                   "takes only 2 distinct values"),
    "three_values_normal_moments": (  # -a, 0, a with P = 1/6, 2/3, 1/6: a normal's kurtosis
        lambda n, v, rng: math.sqrt(3 * v) * rng.choice([-1.0, 0.0, 1.0], n,
                                                         p=[1 / 6, 2 / 3, 1 / 6]),
        "few_values", "takes only 3 distinct values"),
    "student_t3": (lambda n, v, rng: rng.standard_t(3, n) * math.sqrt(v / 3), "heavy_tails",
                   "heavier tails than a normal"),
    "uniform": (lambda n, v, rng: rng.uniform(-math.sqrt(3 * v), math.sqrt(3 * v), n),
                "uniform_not_normal",
                "did you draw from a uniform distribution instead of a normal one?"),
    "abs_of_normal": (lambda n, v, rng: np.abs(rng.normal(0, math.sqrt(v), n)), "one_sign",
                      "100% of its entries positive"),
    "negative_half_flipped": (  # the negative draws made positive (sign flip of that half)
        lambda n, v, rng: _flip_negative(rng.normal(0, math.sqrt(v), n)), "one_sign",
        r"did you take abs\(\) of the draws"),
    "variance_as_std": (lambda n, v, rng: rng.normal(0, v, n), "variance_as_std",
                        r"did you pass the variance where the std is meant\?"),
    "wrong_scale": (lambda n, v, rng: rng.normal(0, math.sqrt(1.5 * v), n), "wrong_scale",
                    r"1\.[45]\d* times too large"),
    "shifted": (lambda n, v, rng: rng.normal(0.2 * math.sqrt(v), math.sqrt(v), n),
                "nonzero_mean", "the weights should have mean 0"),
}


@pytest.mark.parametrize("n", [3456, 30_000])
@pytest.mark.parametrize("name", sorted(DEGENERATE))
def test_check_variance_fails_each_degenerate_sample_with_its_sentence(name, n):
    """Each degenerate N(0, v) impostor fails (5 seeds) with one sentence and its mistake id."""
    make, mistake, sentence = DEGENERATE[name]
    v = 2 / 400
    for seed in range(5):
        x = make(n, v, np.random.default_rng(seed))
        with pytest.raises(CheckFailed, match=sentence) as info:
            check_variance(x, v, "xavier_normal(...)",
                           mistakes={"pass the variance where the std is meant": v**2,
                                     "use fan_in alone (2/fan_in is He's rule)": 4 * v})
        assert info.value.mistake_id == mistake
        assert str(info.value).startswith("xavier_normal(...)") and "\n" not in str(info.value)


@pytest.mark.parametrize("name", ["spike", "constant", "two_values", "student_t3", "uniform",
                                  "abs_of_normal", "shifted", "three_values_normal_moments"])
def test_check_normal_without_a_variance_fails_each_degenerate_sample(name):
    """The scale-free normality check names the same degenerate shapes (5 seeds each)."""
    make, mistake, sentence = DEGENERATE[name]
    if name == "three_values_normal_moments":  # a normal's first four moments: only KS sees it
        x = make(30_000, 0.01, np.random.default_rng(0))
        with pytest.raises(CheckFailed, match=sentence):
            check_normal(x, "w", variance=0.01)
        return
    for seed in range(5):
        x = make(30_000, 0.01, np.random.default_rng(seed))
        with pytest.raises(CheckFailed, match=sentence) as info:
            check_normal(x, "w")
        assert info.value.mistake_id == mistake


def _uniform(n, v, rng, scale=1.0, shift=0.0):
    b = math.sqrt(3 * v) * scale
    return rng.uniform(-b, b, n) + shift * math.sqrt(v)


#: impostors of a uniform target U(-b, b) of variance v -> their mistake id
UNIFORM_IMPOSTORS = {
    "spike": (_spike, "spike"),
    "constant": (DEGENERATE["constant"][0], "constant"),
    "two_values": (DEGENERATE["two_values"][0], "few_values"),
    "student_t3": (DEGENERATE["student_t3"][0], "heavy_tails"),
    "normal": (lambda n, v, rng: rng.normal(0, math.sqrt(v), n), "normal_not_uniform"),
    "abs_of_uniform": (lambda n, v, rng: np.abs(_uniform(n, v, rng)), "one_sign"),
    "wrong_scale": (lambda n, v, rng: _uniform(n, v, rng, scale=1.2), "wrong_scale"),
    "shifted": (lambda n, v, rng: _uniform(n, v, rng, shift=0.2), "nonzero_mean"),
}


@pytest.mark.parametrize("name", sorted(UNIFORM_IMPOSTORS))
def test_check_variance_of_a_uniform_target_fails_each_degenerate_sample(name):
    """Against a uniform target the impostors fail too (5 seeds), each with its mistake id."""
    make, mistake = UNIFORM_IMPOSTORS[name]
    for seed in range(5):
        x = make(3456, 0.01, np.random.default_rng(seed))
        with pytest.raises(CheckFailed) as info:
            check_variance(x, 0.01, "u", distribution="uniform")
        assert info.value.mistake_id == mistake
        if name == "normal":
            assert "did you draw from a normal distribution instead of a uniform one?" \
                in str(info.value)


def test_each_test_of_a_sample_fails_on_its_own():
    """Variance, mean, kurtosis and KS each reject a sample the other three accept."""
    n, rng = 30_000, np.random.default_rng(5)
    x = rng.normal(0, 0.1, n)
    ok = sample_tests(x, Target(0.01))
    assert ok.ok
    assert not sample_tests(x * 1.05, Target(0.01)).variance_ok
    shifted = sample_tests(x + 0.004, Target(0.01))
    assert shifted.variance_ok and shifted.kurtosis_ok and not shifted.mean_ok
    lap = rng.laplace(0, 0.1 / math.sqrt(2), n)  # variance 0.01, kurtosis 6
    heavy = sample_tests(lap, Target(0.01))
    assert heavy.variance_ok and heavy.mean_ok and not heavy.kurtosis_ok
    three = math.sqrt(0.03) * rng.choice([-1.0, 0.0, 1.0], n, p=[1 / 6, 2 / 3, 1 / 6])
    discrete = sample_tests(three, Target(0.01))
    assert discrete.variance_ok and discrete.mean_ok and discrete.kurtosis_ok
    assert not discrete.ks_ok


def test_a_failed_check_renders_as_its_sentence_in_jupyter():
    """IPython shows _render_traceback_'s lines instead of a traceback through checks.py."""
    from IPython.core.interactiveshell import InteractiveShell

    failure = CheckFailed("w has variance 2; it should be 1", Mistake("wrong_scale", "x"))
    assert failure._render_traceback_() == ["CheckFailed: w has variance 2; it should be 1"]
    shell = InteractiveShell()
    shown = []
    shell._showtraceback = lambda etype, value, stb: shown.append(stb)
    shell.run_cell("from initkit.course import check_variance\n"
                   "check_variance([0.0] * 2999 + [54.77], 1.0, 'w')")
    assert shown == [["CheckFailed: w is mostly zeros with a few large entries (only 1 of its "
                      "3000 entries are not 0): draw every entry at random from N(0, 1)"]]


def test_diagnose_refuses_to_guess_between_two_mistakes_that_predict_the_same_value():
    """Two different mistakes within tolerance: naming either would be a guess, so None."""
    n = 512
    std = 1 / math.sqrt(n)  # leaving out sqrt(n) and squaring the std give the same radius
    mistakes = {"leave out sqrt(n)": std, "use the variance std**2": std**2 * math.sqrt(n)}
    assert diagnose(std, mistakes, 1e-9) is None
    assert diagnose(std, {"leave out sqrt(n)": std}, 1e-9) == "leave out sqrt(n)"
    assert mistake_id("pass the variance where the std is meant") == "variance_as_std"
    assert mistake_id("forget the 1/B") == "forget_the_1_b"


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
    with mock.patch.dict(os.environ):  # the config sets nbgrader's environment: not ours
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
    assert "test_a      PASSED  1/1" in text and "cell" not in text
    assert "test_b      FAILED  0/3\n    too big" in text
    assert text.endswith("1 passed, 1 failed: 1/4 points of the visible tests (hidden checks "
                         "run when you submit; 2 more graded by hand) =====")
    assert not report.ok

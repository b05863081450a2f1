"""initkit.course: the visible-check helpers' sentences and tolerances, the catalogue, the
nbgrader settings `initkit course init` writes, and `initkit check`'s report."""

import math
import os
import re
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


# --------------------------------------------------------------------------------------
# Each rule of checks.py on its own: ids and sentences a class report counts, tolerances at
# their boundaries (in standard errors of the target), the degenerate shapes at theirs.

from initkit.course.checks import (  # noqa: E402
    MIN_SAMPLE,
    check_sample,
    name_mistake,
)

#: what a class report reads for each shape mistake (id -> sentence)
SHAPE_SENTENCES = {
    "not_finite": "the sample contains NaN or infinity",
    "constant": "every entry is the same number",
    "few_values": "only a few distinct values (e.g. random signs times a constant)",
    "spike": "mostly zeros with a few large entries",
    "one_sign": "(almost) every entry has the same sign, e.g. abs() of a draw",
    "heavy_tails": "heavier tails than the target (a few entries far too large)",
    "light_tails": "lighter tails than a normal",
    "uniform_not_normal": "uniform draws where a normal is asked",
    "normal_not_uniform": "normal draws where a uniform is asked",
    "not_target_shape": "values not spread like the target distribution (KS test)",
    "wrong_scale": "a variance that no named mistake explains",
    "nonzero_mean": "a mean away from 0",
}


def _exact(n, variance, seed=0, mean=0.0):
    """n normal draws moved and scaled to exactly this mean and sample variance (ddof 1)."""
    z = np.random.default_rng(seed).normal(size=n)
    z = (z - z.mean()) / z.std(ddof=1)
    return mean + math.sqrt(variance) * z


def _failure(check, *args, **kwargs) -> CheckFailed:
    with pytest.raises(CheckFailed) as info:
        check(*args, **kwargs)
    return info.value


def test_mistake_ids_are_stable():
    """The phrases the notebooks and graders use keep their ids (a class report counts by
    them); any other phrase gets a lower-case slug of at most 48 characters."""
    known = {
        "use fan_in alone (2/fan_in is He's rule)": "fan_in_alone",
        "use fan_out alone": "fan_out_alone",
        "use 1/fan_in (LeCun's rule)": "lecun_variance",
        "pass the variance where the std is meant": "variance_as_std",
        "take the square root twice": "sqrt_twice",
        "use fan_out where fan_in is meant": "fans_swapped",
        "use fan_out where fan_in is meant (or the other way round)": "fans_swapped",
        "leave out the factor 2 (1/fan_in is LeCun's rule)": "missing_factor_2",
        "use Glorot's 2/(fan_in + fan_out)": "glorot_for_he",
        "leave out the receptive field of the kernel": "no_receptive_field",
        "use 2/n_in (He's rule)": "he_for_other",
        "use 1/n_in (Xavier's for a square matrix)": "xavier_for_other",
        "draw from a uniform distribution instead of a normal one": "uniform_not_normal",
    }
    assert {phrase: mistake_id(phrase) for phrase in known} == known
    assert mistake_id("  Forget the 1/B!! ") == "forget_the_1_b"
    assert mistake_id("Use " + "x" * 60) == "use_" + "x" * 44
    assert CheckFailed("plain").mistake_id is None and CheckFailed("plain").mistake is None


def test_name_mistake_tolerance_is_inclusive_and_taken_at_the_prediction():
    """A prediction exactly one tolerance away is named; a callable tolerance is evaluated at
    the prediction (not the measurement); two phrases of one id are one mistake (the closer
    phrase is named); a Mistake key is returned as itself; no mistakes, no name."""
    assert name_mistake(1.25, {"a": 1.0}, 0.25) == Mistake("a", "a")
    assert name_mistake(1.3, {"a": 1.0}, lambda predicted: predicted / 4) is None
    assert name_mistake(1.25, {"a": 1.0}, lambda predicted: predicted / 4) is not None
    swapped = {"use fan_out where fan_in is meant": 1.0,
               "use fan_out where fan_in is meant (or the other way round)": 1.1}
    assert name_mistake(1.08, swapped, 0.5) == Mistake(
        "fans_swapped", "use fan_out where fan_in is meant (or the other way round)")
    assert name_mistake(1.02, swapped, 0.5).sentence == "use fan_out where fan_in is meant"
    own = Mistake("own_id", "do it your own way")
    assert name_mistake(2.0, {own: 2.0}, 0.0) is own
    assert name_mistake(2.0, None, 1.0) is None and diagnose(2.0, {}, 1.0) is None


def test_check_shape_names_each_shape_mistake():
    """A non-array, a transposed and another wrong shape each give their sentence and
    mistake; a list of dims is a shape; the array is returned."""
    e = _failure(check_shape, (1, 2), (2,), "f()")
    assert (str(e), e.mistake) == ("f() should return a numpy array, got tuple",
                                   Mistake("not_an_array", "not a numpy array"))
    e = _failure(check_shape, np.zeros((3, 2)), (2, 3), "w")
    assert e.mistake == Mistake("in_out_layout", "the (in, out) layout")
    e = _failure(check_shape, np.zeros((3, 3)), [2, 3], "w")
    assert (str(e), e.mistake) == ("w has shape (3, 3); it should be (2, 3)",
                                   Mistake("wrong_shape", "a wrong shape"))
    x = np.zeros((2, 3))
    assert check_shape(x, [2, 3], "w") is x


def test_check_close_tolerances_and_sentences():
    """rtol is relative to the right value and atol absolute, as numpy.allclose; a wrong
    shape, a NaN, a wrong number (no formula: no '; ') and a wrong entry of an array (the
    largest miss, its index) each give their sentence and mistake."""
    check_close(1.0 + 0.9e-6, 1.0, "x")
    check_close(0.0015, 0.001, "x", atol=5e-4)
    check_close(1.2, 1.0, "x", rtol=0.2)
    e = _failure(check_close, 1.0 + 2e-6, 1.0, "x")
    assert (str(e), e.mistake) == ("x is 1, expected 1", None)
    e = _failure(check_close, [1.0], 1.0, "x")
    assert (str(e), e.mistake) == ("x has shape (1,); it should be ()",
                                   Mistake("wrong_shape", "a wrong shape"))
    e = _failure(check_close, [1.0, math.inf], [1.0, 1.0], "x")
    assert (str(e), e.mistake) == ("x contains NaN or infinity",
                                   Mistake("not_finite", SHAPE_SENTENCES["not_finite"]))
    e = _failure(check_close, [[0.0, 1.0], [5.0, 9.0]], [[0.0, 1.5], [4.0, 9.0]], "w",
                 formula="the rule")
    assert str(e) == "w differs at index (1, 0): 5 instead of 4; the rule" and e.mistake is None
    check_close(2**70, 2.0**70, "x")  # Python ints beyond int64 compare as numbers
    check_close(2.0**70, 2**70 + 1, "x")


def test_check_close_names_a_mistake_within_ten_times_the_tolerance():
    """A wrong number is explained by a mistake whose prediction lies within 10 times the
    tolerance (atol, or rtol times the size of the student's number, at least 1e-12)."""
    def named(got, predicted, **tol):
        return _failure(check_close, got, 3.0, "x", mistakes={"slip": predicted},
                        **tol).mistake_id

    assert named(-1.0, -1.0000095) == "slip" and named(-1.0, -1.0000105) is None
    assert named(0.5, 1.4, atol=0.1) == "slip" and named(0.5, 1.6, atol=0.1) is None
    assert named(0.0, 5e-12) == "slip" and named(0.0, 5e-11) is None


def test_a_sample_needs_2000_finite_numbers():
    """MIN_SAMPLE = 2000 numbers pass the size rule (any shape), one fewer is too few; a
    NaN or an infinity is named before anything else."""
    assert MIN_SAMPLE == 2000
    check_variance(_exact(2000, 0.01).reshape(40, 50), 0.01, "w")
    e = _failure(check_variance, _exact(1999, 0.01), 0.01, "w")
    assert (str(e), e.mistake) == ("w has 1999 numbers; a statistical check needs at least "
                                   "2000", Mistake("too_few", "too small a sample"))
    x = _exact(3000, 0.01)
    x[7] = math.nan
    for check in (check_variance, check_normal):
        e = _failure(check, x, *([0.01] if check is check_variance else []), what="w")
        assert (str(e), e.mistake) == ("w contains NaN or infinity",
                                       Mistake("not_finite", SHAPE_SENTENCES["not_finite"]))


def test_the_variance_tolerance_is_five_standard_errors_of_the_target():
    """A sample whose variance is 4.5 of the target's standard errors v sqrt(2/(n-1)) away
    passes; 5.5 away fails as a wrong scale; a named mistake is recognised within 5 of the
    mistaken variance's standard errors (uniform: its own, smaller, standard error)."""
    n, v = 3456, 0.01
    rel = math.sqrt(2 / (n - 1))
    check_variance(_exact(n, v * (1 + 4.5 * rel)), v, "w")
    check_variance(_exact(n, v * (1 - 4.5 * rel)), v, "w")
    e = _failure(check_variance, _exact(n, v * (1 + 5.5 * rel)), v, "w")
    assert e.mistake == Mistake("wrong_scale", SHAPE_SENTENCES["wrong_scale"])
    mistaken = 2 * v
    for k, named in ((4.5, True), (5.5, False)):
        e = _failure(check_variance, _exact(n, mistaken * (1 + k * rel)), v, "w",
                     mistakes={"double it": mistaken})
        assert e.mistake_id == ("double_it" if named else "wrong_scale")
    urel = math.sqrt((1.8 - (n - 3) / (n - 1)) / n)  # a uniform's standard error / v
    for k, named in ((4.5, True), (5.5, False)):
        b = math.sqrt(3 * mistaken * (1 + k * urel))
        u = np.linspace(-b, b, n)
        u *= math.sqrt(mistaken * (1 + k * urel) / u.var(ddof=1))
        e = _failure(check_variance, u, v, "u", mistakes={"double it": mistaken},
                     distribution="uniform")
        assert e.mistake_id == ("double_it" if named else "wrong_scale"), k


def test_variance_sentences_quote_the_rule_and_the_ratio():
    """A variance miss quotes the formula with the target value, or says what it should
    be and how many times too large or too small it is."""
    e = _failure(check_variance, _exact(3000, 0.005), 0.01, "w")
    assert str(e) == "w has variance 0.005; it should be 0.01 (0.5 times too small)"
    e = _failure(check_variance, _exact(3000, 0.03), 0.01, "w", formula="2/fan_in")
    assert str(e) == "w has variance 0.03; 2/fan_in = 0.01 (3 times too large)"
    with pytest.raises(ValueError, match="^distribution is 'normal' or 'uniform', not 'gauss'$"):
        check_variance(_exact(3000, 0.01), 0.01, "w", distribution="gauss")


def test_the_mean_tolerance_is_five_standard_errors_of_the_target():
    """A mean 4.5 target standard errors s/sqrt(n) from 0 passes, 5.5 fails with the
    sentence quoting the bound; the sample's own spread does not widen it."""
    n, v = 3456, 0.01
    se = math.sqrt(v / n)
    check_variance(_exact(n, v, mean=4.5 * se), v, "w")
    e = _failure(check_variance, _exact(n, v, mean=-5.5 * se), v, "w")
    assert str(e) == (f"w has mean {-5.5 * se:.4g}; the weights should have mean 0 (a sample "
                      "of 3456 draws from N(0, 0.01) stays within 0.0085 of it)")
    assert e.mistake == Mistake("nonzero_mean", SHAPE_SENTENCES["nonzero_mean"])


def test_a_sample_with_a_normals_moments_but_not_its_shape_fails_the_ks_test():
    """{-a, 0, a} with probabilities 1/6, 2/3, 1/6 (a normal's first four moments), each
    value jittered so there are more than 10 distinct ones: the KS sentence quotes the gap
    (1/3: 1/6 to 5/6 where the CDF is 1/2) and the bound KS_CRIT / sqrt(n)."""
    n, v = 3456, 0.01
    a = math.sqrt(3 * v)
    jitter = np.linspace(-1e-4, 1e-4, n // 6)
    x = np.concatenate([-a + jitter, np.tile(jitter, 4), a + jitter])
    e = _failure(check_variance, x, v, "w")
    assert str(e) == ("w's values are not spread like N(0, 0.01): the largest gap between "
                      "their distribution and its CDF is 0.333 (at most 0.047 for 3456 true "
                      "draws)")
    assert e.mistake == Mistake("not_target_shape", SHAPE_SENTENCES["not_target_shape"])


def _sign_flipped_half(x):
    x = x.copy()
    x[x < 0] *= -1
    return x


def test_degenerate_shapes_at_their_thresholds():
    """The thresholds of the shape sentences: 90% zeros (at most 1e-6 target standard
    deviations) is a spike, one fewer zero is not, and the sentence counts the rest; 10 distinct values are 'a few', 11 are
    not; 99% of one sign is one sign (positive or negative; a zero is not positive), one
    entry fewer is not."""
    n, v = 3000, 0.01
    std = math.sqrt(v)
    rng = np.random.default_rng(1)
    big = rng.normal(0, std * math.sqrt(10), n)
    for zeros, tiny, spike in ((2700, 0.0, True), (2700, 1.0, True), (2699, 0.0, False),
                               (2700, 1.1, False)):
        x = big.copy()
        x[:zeros] = tiny * 1e-6 * std * rng.choice([-1.0, 1.0], zeros)
        x[2900:] = 5e-5 * std  # not zeros: 100 small entries among the 300
        e = _failure(check_variance, x, v, "w")
        assert (e.mistake_id == "spike") is spike, (zeros, tiny)
        if spike:
            assert str(e) == ("w is mostly zeros with a few large entries (only 300 of its "
                              "3000 entries are not 0): draw every entry at random from "
                              "N(0, 0.01)")
            assert e.mistake == Mistake("spike", SHAPE_SENTENCES["spike"])
    for k in (4, 5, 10, 11):
        levels = np.linspace(-1, 1, k) * std * 1.6
        e = _failure(check_variance, np.resize(levels, n), v, "w")
        assert (e.mistake_id == "few_values") is (k <= 10), k
    e = _failure(check_variance, np.resize(np.array([-2.0, -1, 1, 2]) * std, n), v, "w")
    assert str(e) == ("w takes only 4 distinct values (-0.2, -0.1, 0.1, 0.2) over 3000 "
                      "entries: draw every entry at random from N(0, 0.01), not a constant "
                      "times random signs")
    assert e.mistake == Mistake("few_values", SHAPE_SENTENCES["few_values"])
    e = _failure(check_variance, np.resize(np.arange(-2.0, 3) * std, n), v, "w")
    assert "takes only 5 distinct values (-0.2, -0.1, 0, 0.1, ...) over 3000" in str(e)
    positive = np.abs(_exact(n, v))
    # (entries of the other sign, zeros, one sign when positive, when negative): a zero is
    # not a positive entry, so ten zeros break 99% positive but not 99% negative
    for others, zeros, *verdicts in ((30, 0, True, True), (31, 0, False, False),
                                     (30, 10, False, True)):
        x = positive.copy()
        x[:others] *= -1
        x[others:others + zeros] = 0.0
        for sign, sample, one_sign in (("positive", x, verdicts[0]),
                                       ("negative", -x, verdicts[1])):
            e = _failure(check_variance, sample, v, "w")
            assert (e.mistake_id == "one_sign") is one_sign, (others, zeros, sign)
            if one_sign:
                assert str(e) == (f"w has 99% of its entries {sign} where a zero-mean "
                                  "distribution gives half - did you take abs() of the draws "
                                  "or flip the sign of the negative ones?")
                assert e.mistake == Mistake("one_sign", SHAPE_SENTENCES["one_sign"])


def test_a_constant_sample_names_its_value():
    """A constant sample gives its value and the target to draw from, for both checks."""
    e = _failure(check_variance, np.full(3000, 0.25), 0.01, "w")
    assert str(e) == "w has every entry equal to 0.25: draw every entry at random from N(0, 0.01)"
    assert e.mistake == Mistake("constant", SHAPE_SENTENCES["constant"])
    e = _failure(check_normal, np.full(3000, -0.5), "w")
    assert str(e) == "w has every entry equal to -0.5: draw every entry at random from N(0, 1)"
    assert e.mistake == Mistake("constant", SHAPE_SENTENCES["constant"])


def _triangular(n, v, rng):
    """The sum of two uniforms (kurtosis 2.4) of variance v."""
    a = math.sqrt(1.5 * v)
    return rng.uniform(-a, a, n) + rng.uniform(-a, a, n)


def _arcsine(n, v, rng):
    """sqrt(2 v) sin(U(0, 2 pi)): kurtosis 1.5, lighter tails than a uniform."""
    return math.sqrt(2 * v) * np.sin(rng.uniform(0, 2 * math.pi, n))


def test_kurtosis_sentences_name_the_tails():
    """Against a normal target, a triangular sample (kurtosis 2.4) has light tails (not a
    uniform's 1.8) and a Student t heavy ones; against a uniform target, an arcsine
    (1.5) has light tails, a triangular (2.4, not a normal's 3) and a Laplace (6) heavy."""
    n, v = 30_000, 0.01
    rng = np.random.default_rng(3)
    e = _failure(check_variance, _triangular(n, v, rng), v, "w")
    assert e.mistake == Mistake("light_tails", SHAPE_SENTENCES["light_tails"])
    assert re.fullmatch(r"w's draws have kurtosis 2\.\d\d; a normal distribution's is 3 "
                        r"\(lighter tails than a normal\): draw from N\(0, 0\.01\)", str(e))
    e = _failure(check_variance, rng.standard_t(3, n) * math.sqrt(v / 3), v, "w")
    assert e.mistake == Mistake("heavy_tails", SHAPE_SENTENCES["heavy_tails"])
    assert re.fullmatch(r"w has heavier tails than a normal distribution \(kurtosis \S+; a "
                        r"normal's is 3\): a few entries are far larger than N\(0, 0\.01\) "
                        r"gives - draw from a normal, not a Student t or a mixture of scales",
                        str(e))
    e = _failure(check_variance, rng.uniform(-0.1732, 0.1732, n), v, "w")
    assert e.mistake == Mistake("uniform_not_normal", SHAPE_SENTENCES["uniform_not_normal"])
    for make, mistake, text in (
            (_arcsine, "light_tails", r"w's draws have kurtosis 1\.\d\d; a uniform "
                                      r"distribution's is 1\.8: draw from U\(-0\.1732, 0\.1732\)"),
            (_triangular, "heavy_tails", r"w's draws have kurtosis 2\.\d\d; a uniform "
                                         r"distribution's is 1\.8: draw from U\(-0\.1732, "
                                         r"0\.1732\)"),
            (lambda n, v, rng: rng.laplace(0, math.sqrt(v / 2), n), "heavy_tails", ".*")):
        e = _failure(check_variance, make(n, v, rng), v, "w", distribution="uniform")
        assert e.mistake == Mistake(mistake, SHAPE_SENTENCES[mistake]), make
        assert re.fullmatch(text, str(e)), str(e)
    e = _failure(check_variance, rng.normal(0, 0.1, n), v, "w", distribution="uniform")
    assert e.mistake == Mistake("normal_not_uniform", SHAPE_SENTENCES["normal_not_uniform"])
    assert re.fullmatch(r"w's draws have kurtosis (2\.[789]|3\.[0-3])\d?: a normal "
                        r"distribution's is 3 and a uniform distribution's is 1\.8 - did you "
                        r"draw from a normal distribution instead of a uniform one\?", str(e))


def test_check_normal_tolerates_five_standard_errors_of_the_mean():
    """Without a variance, the mean's t statistic mean / (sd / sqrt(n)) may be 4.5 but not
    5.5 (at any scale); the sentence quotes the mean."""
    n = 3000
    for scale in (1e-3, 10.0):
        check_normal(_exact(n, scale**2, mean=4.5 * scale / math.sqrt(n)), "w")
        e = _failure(check_normal, _exact(n, scale**2, mean=5.5 * scale / math.sqrt(n)), "w")
        assert str(e) == (f"w has mean {5.5 * scale / math.sqrt(n):.4f}; the weights should "
                          "have mean 0")
        assert e.mistake == Mistake("nonzero_mean", SHAPE_SENTENCES["nonzero_mean"])


def test_check_normal_judges_tails_at_the_samples_own_scale():
    """check_normal's kurtosis sentences describe N(0, the sample's variance); uniform draws
    and a sign-flipped half are named; with a variance it is check_variance."""
    rng = np.random.default_rng(4)
    e = _failure(check_normal, rng.standard_t(3, 30_000) * 2.0, "w")
    assert e.mistake_id == "heavy_tails" and "far larger than N(0, " in str(e)
    scale2 = float(np.var(rng.standard_t(3, 30_000)))
    assert scale2 > 1.5  # a t3's variance is 3: the sentence's N(0, .) is not N(0, 1)
    e = _failure(check_normal, _triangular(30_000, 4.0, rng), "w")
    assert re.fullmatch(r"w's draws have kurtosis 2\.\d\d; a normal distribution's is 3 "
                        r"\(lighter tails than a normal\): draw from N\(0, (3\.9|4)\d*\)", str(e))
    e = _failure(check_normal, _sign_flipped_half(rng.normal(0, 3.0, 30_000)), "w")
    assert e.mistake == Mistake("one_sign", SHAPE_SENTENCES["one_sign"])
    e = _failure(check_normal, _exact(3000, 0.02), "w", variance=0.01)
    assert str(e).startswith("w has variance 0.02; it should be 0.01")
    check_normal(_exact(3000, 0.01), "w", variance=0.01)


@pytest.mark.parametrize("distribution", ["normal", "uniform"])
def test_a_sign_flipped_half_is_one_sign_for_either_target(distribution):
    """The negative half of correct draws flipped positive (or the positive half negative)
    fails as one sign against a normal and a uniform target (5 seeds each)."""
    v = 0.01
    for seed in range(5):
        rng = np.random.default_rng(seed)
        x = rng.normal(0, 0.1, 3456) if distribution == "normal" else \
            rng.uniform(-math.sqrt(3 * v), math.sqrt(3 * v), 3456)
        for sample in (_sign_flipped_half(x), -_sign_flipped_half(x)):
            e = _failure(check_sample, sample, Target(v, distribution), "w")
            assert e.mistake == Mistake("one_sign", SHAPE_SENTENCES["one_sign"])


def test_name_mistake_breaks_a_tie_by_order():
    """Two phrases of one mistake at the same distance: the first one is named."""
    swapped = {"use fan_out where fan_in is meant": 1.0,
               "use fan_out where fan_in is meant (or the other way round)": 3.0}
    assert name_mistake(2.0, swapped, 1.5).sentence == "use fan_out where fan_in is meant"


def test_a_transposed_shape_names_pytorchs_layout():
    """The transposed-shape sentence in full."""
    e = _failure(check_shape, np.zeros((3, 2)), (2, 3), "w")
    assert str(e) == "w has shape (3, 2); it should be (2, 3) - the (in, out) layout? " \
                     "PyTorch's is (out, in)"


def test_a_sample_of_booleans_is_judged_as_numbers():
    """A boolean mask is a sample of 0s and 1s: two distinct values."""
    x = np.random.default_rng(0).random(3000) > 0.5
    e = _failure(check_variance, x, 0.01, "w")
    assert e.mistake_id == "few_values" and "takes only 2 distinct values (0, 1)" in str(e)


def test_check_sample_without_a_formula_says_what_the_variance_should_be():
    """check_sample called directly, without formula=, quotes the target variance."""
    e = _failure(check_sample, _exact(3000, 0.02), Target(0.01), "w")
    assert str(e) == "w has variance 0.02; it should be 0.01 (2 times too large)"


def test_check_normal_describes_the_samples_own_normal():
    """Without a variance, the sentences name N(0, the sample's variance) (numpy's var)
    for a few values, heavy tails and light tails, and start with the sample's name."""
    rng = np.random.default_rng(6)
    two = np.resize([-0.5, 0.5], 3000)
    e = _failure(check_normal, two, "w")
    assert str(e) == ("w takes only 2 distinct values (-0.5, 0.5) over 3000 entries: draw "
                      "every entry at random from N(0, 0.25), not a constant times random "
                      "signs")
    heavy = rng.standard_t(3, 30_000) * 2.0
    e = _failure(check_normal, heavy, "w")
    assert f"far larger than N(0, {np.var(heavy):.4g}) gives" in str(e)
    light = _triangular(30_000, 4.0, rng)
    e = _failure(check_normal, light, "w")
    assert str(e).endswith(f"draw from N(0, {np.var(light):.4g})")


def test_check_normal_mean_uses_the_sample_sd_with_n_minus_1():
    """The mean's t statistic is mean / (sd / sqrt(n)) with sd's ddof = 1: a mean of 4.9995
    such standard errors passes and 5.0005 fails, where ddof 0 or 2 would move either across
    (by a factor 1 +- 1/(2n), 1.7e-4 at n = 3000)."""
    n = 3000
    se = 1 / math.sqrt(n)  # _exact's sample sd (ddof 1) is 1
    check_normal(_exact(n, 1.0, mean=4.9995 * se), "w")
    e = _failure(check_normal, _exact(n, 1.0, mean=5.0005 * se), "w")
    assert e.mistake_id == "nonzero_mean"

"""initkit.course.checks' statistics: the four tests of a sample against its target agree
with scipy's (independent) implementations, and correct answers pass at the promised rate."""

import math

import numpy as np
import pytest
import scipy.stats

from initkit.course.checks import (
    KS_CRIT,
    N_SE,
    Target,
    check_normal,
    check_variance,
    normal_kurtosis_z,
    sample_tests,
)


def test_kurtosis_score_is_anscombe_glynns_as_scipy_computes_it():
    """normal_kurtosis_z equals scipy.stats.kurtosistest's statistic at several sizes."""
    rng = np.random.default_rng(3)
    for n, x in [(2000, rng.normal(size=2000)), (3456, rng.uniform(size=3456)),
                 (30_000, rng.laplace(size=30_000))]:
        c = x - x.mean()
        b2 = float(np.mean(c**4) / np.mean(c**2) ** 2)
        assert normal_kurtosis_z(b2, n) == pytest.approx(scipy.stats.kurtosistest(x).statistic,
                                                         rel=1e-9)


def test_ks_and_variance_scores_match_scipy():
    """sqrt(n) D is scipy's kstest statistic against the target CDF; the variance score is
    the Wilson-Hilferty normal score of chi^2_{n-1}, close to scipy's exact quantile, also for
    a sample 1.2 times too wide (a sample's own spread would give 12.7 SE, not 16)."""
    rng = np.random.default_rng(4)
    x = rng.normal(0, 0.1, 3456)
    t = sample_tests(x, Target(0.01))
    assert t.ks == pytest.approx(math.sqrt(3456) * scipy.stats.kstest(x, "norm",
                                                                     args=(0, 0.1)).statistic)
    exact = scipy.stats.norm.isf(scipy.stats.chi2.sf(3455 * t.variance / 0.01, 3455))
    assert t.variance_z == pytest.approx(exact, abs=0.01)
    wide = sample_tests(1.2 * x, Target(0.01))  # the target's SE, not the sample's own
    exact = scipy.stats.norm.isf(scipy.stats.chi2.sf(3455 * wide.variance / 0.01, 3455))
    assert wide.variance_z == pytest.approx(exact, rel=0.02) and wide.variance_z > 14
    wide_u = rng.uniform(-0.36, 0.36, 3456)  # variance 0.0432 against a target of 0.03
    u_t = sample_tests(wide_u, Target(0.03, "uniform"))
    assert u_t.variance_z == pytest.approx(
        (np.var(wide_u, ddof=1) - 0.03) / math.sqrt((1.8 * 0.03**2 - 0.03**2 * 3453 / 3455) / 3456))
    u = rng.uniform(-0.3, 0.3, 3456)
    assert sample_tests(u, Target(0.03, "uniform")).ks == pytest.approx(
        math.sqrt(3456) * scipy.stats.kstest(u, "uniform", args=(-0.3, 0.6)).statistic)
    assert scipy.stats.kstwobign.sf(KS_CRIT) == pytest.approx(math.erfc(N_SE / math.sqrt(2)),
                                                             rel=1e-6)


@pytest.mark.parametrize(("family", "n", "seeds"), [("normal", 2000, 2000),
                                                    ("normal", 3456, 2000),
                                                    ("normal", 30_000, 300),
                                                    ("uniform", 3456, 2000)])
def test_correct_answers_pass_over_many_seeds(family, n, seeds):
    """No false failure of check_variance over >= 300 seeds per case (design: 2e-6 each),
    and the tests are calibrated: beyond 3 standard errors about 0.27% of the time."""
    v = 2 / 400
    b = math.sqrt(3 * v)
    beyond = np.zeros(3)
    for seed in range(seeds):
        rng = np.random.default_rng([seed, n])
        x = rng.normal(0, math.sqrt(v), n) if family == "normal" else rng.uniform(-b, b, n)
        check_variance(x, v, "w", distribution=family)
        t = sample_tests(x, Target(v, family))
        beyond += [abs(t.variance_z) > 3, abs(t.mean_z) > 3, abs(t.kurtosis_z) > 3]
    expected = seeds * math.erfc(3 / math.sqrt(2))  # 0.27%
    assert np.all(beyond <= expected + 5 * math.sqrt(expected) + 2)


def test_scale_free_normality_check_passes_normal_draws_of_any_scale():
    """check_normal without a variance passes 1,000 seeds of N(0, s^2) for several s."""
    for seed in range(1000):
        scale = (0.01, 1.0, 50.0)[seed % 3]
        check_normal(np.random.default_rng(seed).normal(0, scale, 3000), "w")

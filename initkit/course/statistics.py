"""The statistics of the course checks: a sample against the distribution it should come from.

Statistical checks are judged by the distribution the student is meant to draw from,
never by the sample's own spread (a sample could otherwise widen its own tolerance: an
array of zeros with one large entry has whatever fourth moment it needs). For a target
``N(0, s^2)`` and ``n >= MIN_SAMPLE`` draws, ``initkit.course.checks.check_variance`` runs
four tests on the same sample, each two-sided in standard errors of the *target*:

* variance, within :data:`N_SE` = 5: the sample variance (``ddof=1``) has standard error
  ``s^2 sqrt(2/(n-1))``, tested through Wilson & Hilferty's cube root of ``chi^2_{n-1}``
  (which removes the variance's right skew); for a uniform target
  ``Var(s_hat^2) = (mu4 - s^4 (n-3)/(n-1)) / n`` with ``mu4 = 9/5 s^4``;
* mean, within :data:`N_SE`: standard error ``s / sqrt(n)``;
* kurtosis, within :data:`KURTOSIS_SE` = 6: a normal's sample kurtosis ``b2`` through
  Anscombe & Glynn's (1983) transformation to a standard normal (the test of
  ``scipy.stats.kurtosistest``; for large ``n`` it is ``(b2 - 3) / sqrt(24/n)``, but ``b2``
  is skewed to the right at a few thousand draws); a uniform's by the delta method,
  ``n Var(b2) = (mu8 - mu4^2) - 4 mu4 (mu6 - mu4) + 4 mu4^2 (mu4 - 1)`` in units of ``s``
  (24 for a normal, 1.3166 for a uniform, whose kurtosis is 1.8). The transformed score
  still has a heavier tail than a normal's (measured: 124 of 40,000 normal samples of
  n = 2000 beyond 3, where 108 are expected, and one at 5.34), hence 6, not 5; the
  impostors it exists for are 14 or more away at n = 3456 (uniform) or far more (heavy tails);
* shape: Kolmogorov-Smirnov's ``sqrt(n) D`` against the target's CDF, within
  :data:`KS_CRIT` (the Kolmogorov distribution's quantile of the same tail as ``N_SE``;
  catches discrete samples with a normal's first four moments, e.g. ``{-a, 0, a}`` with
  probabilities ``1/6, 2/3, 1/6``).

Design false-failure rate of a correct answer: each of the variance, mean and KS tests
5.7e-7 (a normal tail at 5), the kurtosis test 2e-9 at a normal tail (allow 100 times that
for its heavier tail), so at most 2e-6 together by the union bound (<= 1e-4 as required).
Measured (``tests/test_course_statistics.py`` runs 2,000 seeds of each; the 40,000-seed
runs are quoted in ``check_variance``): no failure.

No sentence is made here: :mod:`initkit.course.checks` turns a failed test into one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

#: Standard errors one statistical test allows: a two-sided normal tail of 5.7e-7.
N_SE = 5.0
#: Standard errors the kurtosis test allows (its transformed score has a heavier tail).
KURTOSIS_SE = 6.0
#: ``sqrt(n) D`` of a Kolmogorov-Smirnov test at the same tail probability (asymptotic
#: Kolmogorov distribution: ``special.kolmogorov(KS_CRIT) = 5.7e-7``).
KS_CRIT = float(special.kolmogi(math.erfc(N_SE / math.sqrt(2))))
#: The smallest sample a statistical check accepts (below it the normal approximations of
#: the four tests are not good enough to promise the false-failure rate).
MIN_SAMPLE = 2000


@dataclass(frozen=True)
class Target:
    """The distribution a sample should come from: zero mean, ``variance``, a ``family``.

    ``family`` is ``"normal"`` or ``"uniform"`` (on ``[-b, b]`` with ``b = sqrt(3 variance)``).
    """

    variance: float
    family: str = "normal"

    @property
    def std(self) -> float:
        return math.sqrt(self.variance)

    @property
    def kurtosis(self) -> float:
        return 3.0 if self.family == "normal" else 1.8

    def cdf(self, x: np.ndarray) -> np.ndarray:
        if self.family == "normal":
            return special.ndtr(x / self.std)
        b = math.sqrt(3.0 * self.variance)
        return np.clip((x + b) / (2 * b), 0.0, 1.0)

    def describe(self) -> str:
        if self.family == "normal":
            return f"N(0, {self.variance:.4g})"
        return f"U(-{math.sqrt(3 * self.variance):.4g}, {math.sqrt(3 * self.variance):.4g})"


@dataclass(frozen=True)
class SampleTests:
    """The four tests of a sample against its :class:`Target`, each a z-like score.

    ``variance_z``, ``mean_z`` and ``kurtosis_z`` are in standard errors of the target;
    ``ks`` is ``sqrt(n) D``. A test fails beyond :data:`N_SE` (:data:`KURTOSIS_SE` for the
    kurtosis, :data:`KS_CRIT` for ``ks``).
    """

    n: int
    variance: float
    mean: float
    kurtosis: float
    variance_se: float
    variance_z: float
    mean_z: float
    kurtosis_z: float
    ks: float

    @property
    def variance_ok(self) -> bool:
        return abs(self.variance_z) <= N_SE

    @property
    def mean_ok(self) -> bool:
        return abs(self.mean_z) <= N_SE

    @property
    def kurtosis_ok(self) -> bool:
        return abs(self.kurtosis_z) <= KURTOSIS_SE

    @property
    def ks_ok(self) -> bool:
        return self.ks <= KS_CRIT

    @property
    def ok(self) -> bool:
        return self.variance_ok and self.mean_ok and self.kurtosis_ok and self.ks_ok


def variance_se(variance: float, n: int, family: str = "normal") -> float:
    """Standard error of the sample variance (``ddof=1``) of ``n`` draws from the target.

    ``Var(s_hat^2) = (mu4 - s^4 (n - 3)/(n - 1)) / n``: ``2 s^4 / (n - 1)`` for a normal
    (``mu4 = 3 s^4``), and ``mu4 = 9/5 s^4`` for a uniform.

    Example:
        >>> round(variance_se(1.0, 20_001), 6)  # sqrt(2 / 20000)
        0.01
    """
    mu4 = (3.0 if family == "normal" else 1.8) * variance**2
    return math.sqrt(max(mu4 - variance**2 * (n - 3) / (n - 1), 0.0) / n)


def normal_kurtosis_z(b2: float, n: int) -> float:
    """Anscombe & Glynn's (1983) standard-normal score of a normal sample's kurtosis ``b2``.

    ``b2 = m4 / m2^2`` of ``n`` normal draws has mean ``3 (n-1)/(n+1)`` and variance
    ``24 n (n-2)(n-3) / ((n+1)^2 (n+3)(n+5))``; the cube-root transformation removes its
    right skew (the formula of ``scipy.stats.kurtosistest``).
    """
    e = 3.0 * (n - 1) / (n + 1)
    var = 24.0 * n * (n - 2) * (n - 3) / ((n + 1) ** 2 * (n + 3) * (n + 5))
    x = (b2 - e) / math.sqrt(var)
    beta1 = 6.0 * (n * n - 5 * n + 2) / ((n + 7) * (n + 9)) \
        * math.sqrt(6.0 * (n + 3) * (n + 5) / (n * (n - 2) * (n - 3)))
    a = 6.0 + 8.0 / beta1 * (2.0 / beta1 + math.sqrt(1 + 4.0 / beta1**2))
    denom = 1 + x * math.sqrt(2 / (a - 4.0))
    if denom <= 0:  # beyond the transformation's range: far too light-tailed
        return -math.inf
    term2 = ((1 - 2.0 / a) / denom) ** (1 / 3)
    return (1 - 2 / (9.0 * a) - term2) / math.sqrt(2 / (9.0 * a))


#: ``n Var(b2)`` of a uniform sample's kurtosis (delta method, mu4 = 9/5, mu6 = 27/7, mu8 = 9)
_UNIFORM_KURTOSIS_NVAR = (9 - 1.8**2) - 4 * 1.8 * (27 / 7 - 1.8) + 4 * 1.8**2 * (1.8 - 1)


def sample_tests(sample: Any, target: Target) -> SampleTests:
    """Run the four tests of ``check_variance`` (no exception; see :class:`SampleTests`)."""
    x = np.asarray(sample, dtype=float).ravel()
    n = x.size
    mean = float(x.mean())
    centred = x - mean
    m2 = float(np.mean(centred**2))
    var = m2 * n / (n - 1)
    se = variance_se(target.variance, n, target.family)
    b2 = float(np.mean(centred**4)) / m2**2 if m2 > 0 else math.nan
    if not math.isfinite(b2):
        kurtosis_z = math.inf
    elif target.family == "normal":
        kurtosis_z = normal_kurtosis_z(b2, n)
    else:
        kurtosis_z = (b2 - 1.8) / math.sqrt(_UNIFORM_KURTOSIS_NVAR / n)
    cdf = target.cdf(np.sort(x))
    ranks = np.arange(1, n + 1) / n
    d = float(max(np.max(ranks - cdf), np.max(cdf - (ranks - 1.0 / n))))
    if target.family == "normal":  # (n-1) var / s^2 is chi^2 with n-1 dof: Wilson-Hilferty
        k = n - 1
        variance_z = ((var / target.variance) ** (1 / 3) - (1 - 2 / (9 * k))) \
            / math.sqrt(2 / (9 * k))
    else:
        variance_z = (var - target.variance) / se
    return SampleTests(n=n, variance=var, mean=mean, kurtosis=b2, variance_se=se,
                       variance_z=variance_z,
                       mean_z=mean / (target.std / math.sqrt(n)),
                       kurtosis_z=kurtosis_z, ks=math.sqrt(n) * d)

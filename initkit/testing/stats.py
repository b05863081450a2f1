"""Tolerances from the TARGET distribution, and a shape check on the same sample.

A statistical check compares a moment of ``n`` drawn entries with what the initializer
declares. Its tolerance is ``SIGMAS`` standard errors of that moment *under the declared
distribution* (never under the sample's own moments: an array of zeros with one large entry
has a huge fourth moment, so a tolerance taken from it lets that spike pass for any target
variance). The declared distribution is the variance (and mean) the initializer registers,
with the *shape* it registers as ``distribution`` ("normal" by default, "uniform", or a
scipy.stats frozen distribution), standardised to mean 0 and variance 1 with central
moments mu_3, mu_4 (the kurtosis kappa), mu_5, mu_6, mu_8:

- mean:      SE(xbar) = sigma / sqrt(n)
- variance:  SE(s^2)  = sigma^2 sqrt((kappa - 1) / n + 2 / (n (n - 1)))   (ddof = 1, exact;
  kappa = 3 gives the normal's sigma^2 sqrt(2 / (n - 1)))
- kurtosis (the shape check, b_2 = m_4 / m_2^2, delta method):
  n Var(b_2) = mu_8 - mu_4^2 - 4 kappa (mu_6 - mu_4) + 4 kappa^2 (mu_4 - 1)
  + 16 mu_3^2 (1 + kappa) - 8 mu_3 mu_5          (24 for a normal, 1.317 for a uniform),
  SE(b_2) = sqrt(that / n) + 5 kappa / n (a second-order allowance for b_2's O(1/n) bias)
- mean square ratio (gain, mode): relative SE sqrt((kappa - 1) / n) of each mean(w^2).

(Kendall & Stuart, "The Advanced Theory of Statistics", vol. 1, the sampling moments of
m_2 and b_2.) A check passes when ``|measured - target| <= SIGMAS * SE``; with
``SIGMAS = 5`` a correct initializer fails one comparison with probability about 5.7e-7
(two-sided normal tail); the conformance suite's own docstrings give each check's rate as
measured over seeds. The degenerate samples all fail a shape check on the very sample the
variance is measured on: a uniform declared normal has b_2 = 1.8 instead of 3; a single
spike b_2 ~ n; a constant has variance 0; two values +-s have b_2 = 1; a half of the entries
sign-flipped (all positive rows, all negative rows) has row means far outside their
sigma / sqrt(cols) spread (:func:`row_spread`, an F test whose null distribution is known).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

#: How many standard errors a measured moment may be from the declared one.
SIGMAS = 5.0

#: The probability that a correct sample falls outside SIGMAS standard errors (two-sided
#: normal tail, 2 * (1 - Phi(5))): the designed false-failure rate of one comparison.
FALSE_FAILURE_RATE = math.erfc(SIGMAS / math.sqrt(2))

#: Relative slack for floating-point rounding (matters only when the SE is ~0,
#: e.g. for constant initializers whose declared variance is exactly 0).
ROUNDING = 1e-9


@dataclass(frozen=True)
class Shape:
    """A standardised distribution's central moments (mean 0, variance 1)."""

    name: str
    mu3: float
    mu4: float
    mu5: float
    mu6: float
    mu8: float

    @property
    def kurtosis(self) -> float:
        return self.mu4

    def kurtosis_var(self) -> float:
        """n Var(b_2) by the delta method (24 for a normal)."""
        k = self.mu4
        return max(self.mu8 - k * k - 4 * k * (self.mu6 - k) + 4 * k * k * (k - 1)
                   + 16 * self.mu3 ** 2 * (1 + k) - 8 * self.mu3 * self.mu5, 0.0)


NORMAL = Shape("normal", 0.0, 3.0, 0.0, 15.0, 105.0)
#: U(-sqrt 3, sqrt 3): mu_2k = 3^k / (2k + 1).
UNIFORM = Shape("uniform", 0.0, 9 / 5, 0.0, 27 / 7, 9.0)


def _scipy_shape(dist: Any) -> Shape:
    mean, var = float(dist.mean()), float(dist.var())
    sd = math.sqrt(var)
    moments = [float(dist.expect(lambda x, k=k: ((x - mean) / sd) ** k)) for k in (3, 4, 5, 6, 8)]
    name = getattr(getattr(dist, "dist", None), "name", type(dist).__name__)
    return Shape(name, *moments)


@functools.lru_cache(maxsize=256)
def _cached_shape(key: Any) -> Shape:
    from scipy import stats

    name, args, kwds = key
    return _scipy_shape(getattr(stats, name)(*args, **dict(kwds)))


def standard_shape(distribution: Any) -> Shape:
    """The :class:`Shape` of a declared distribution: "normal", "uniform" or scipy frozen."""
    if distribution is None or distribution == "normal":
        return NORMAL
    if distribution == "uniform":
        return UNIFORM
    if hasattr(distribution, "expect"):
        try:  # a frozen scipy distribution: cached by (family, arguments)
            key = (distribution.dist.name, tuple(distribution.args),
                   tuple(sorted(distribution.kwds.items())))
            hash(key)
            from scipy import stats

            if getattr(stats, key[0], None) is None:
                raise TypeError
        except (AttributeError, TypeError):
            return _scipy_shape(distribution)
        return _cached_shape(key)
    raise ValueError(f"unknown distribution {distribution!r}: use 'normal', 'uniform' or a "
                     "scipy.stats frozen distribution")


@dataclass(frozen=True)
class Moment:
    """A measured statistic, its standard error under the target, and the tolerance."""

    value: float
    stderr: float
    n: int
    sigmas: float = SIGMAS
    scale: float = 0.0  # the size of the numbers it was computed from (for rounding slack)

    def tolerance(self, target: float) -> float:
        """``sigmas`` standard errors plus rounding slack relative to the numbers' size."""
        return self.sigmas * self.stderr + ROUNDING * max(abs(target), abs(self.value),
                                                         self.scale, np.finfo(float).tiny)

    def agrees_with(self, target: float) -> bool:
        """True when ``|value - target|`` is within :meth:`tolerance`."""
        return math.isfinite(self.value) and abs(self.value - target) <= self.tolerance(target)

    def z(self, target: float) -> float:
        """(value - target) / SE (inf when the SE is 0 and they differ)."""
        diff = self.value - target
        if self.stderr > 0:
            return diff / self.stderr
        return 0.0 if abs(diff) <= self.tolerance(target) else math.copysign(math.inf, diff)


def _flat(sample: np.ndarray) -> np.ndarray:
    x = np.asarray(sample, dtype=np.float64).ravel()
    if x.size < 2:
        raise ValueError("a moment check needs at least 2 entries")
    return x


def sample_variance(sample: np.ndarray, target: float, distribution: Any = "normal",
                    sigmas: float = SIGMAS) -> Moment:
    """The unbiased sample variance s^2 with the SE of s^2 under the TARGET distribution.

    SE = target * sqrt((kappa - 1) / n + 2 / (n (n - 1))), kappa the declared shape's
    kurtosis; nothing about the tolerance comes from the sample.

    Example:
        >>> import numpy as np
        >>> m = sample_variance(np.random.default_rng(0).normal(0, 2, 100_000), 4.0)
        >>> m.agrees_with(4.0), round(m.stderr / 4.0 * np.sqrt(100_000 / 2), 3)
        (True, 1.0)
    """
    x = _flat(sample)
    n = x.size
    kappa = standard_shape(distribution).kurtosis
    value = float(np.var(x, ddof=1))
    stderr = abs(target) * math.sqrt((kappa - 1) / n + 2 / (n * (n - 1)))
    mean = float(x.mean())
    return Moment(value=value, stderr=stderr, n=n, sigmas=sigmas, scale=mean * mean + value)


def sample_mean(sample: np.ndarray, target_variance: float, sigmas: float = SIGMAS) -> Moment:
    """The sample mean with SE sqrt(target variance / n) (the target's, not the sample's)."""
    x = _flat(sample)
    mean = float(x.mean())
    return Moment(value=mean, stderr=math.sqrt(max(target_variance, 0.0) / x.size), n=x.size,
                  sigmas=sigmas, scale=abs(mean) + math.sqrt(max(target_variance, 0.0)))


def sample_kurtosis(sample: np.ndarray, distribution: Any = "normal",
                    sigmas: float = SIGMAS) -> Moment:
    """b_2 = m_4 / m_2^2 with its SE under the declared shape (24 / n for a normal).

    A constant sample has no kurtosis (nan), which agrees with nothing.
    """
    x = _flat(sample)
    d = x - x.mean()
    m2 = float(np.mean(d * d))
    constant = m2 <= 1e-24 * max(float(x.mean()) ** 2, np.finfo(float).tiny)  # rounding only
    value = math.nan if constant else float(np.mean((d * d) ** 2)) / (m2 * m2)
    shape = standard_shape(distribution)
    n = x.size
    # plus a second-order allowance 5 kappa / n: b_2's bias is -6/n for a normal, and for a
    # two-point distribution the first-order term is 0 while b_2 - 1 is chi^2_1 / n
    stderr = math.sqrt(shape.kurtosis_var() / n) + 5 * shape.kurtosis / n
    return Moment(value=value, stderr=stderr, n=n, sigmas=sigmas, scale=0.0)


@dataclass(frozen=True)
class RowSpread:
    """One-way ANOVA of a (rows, cols) weight's rows: F and its two-sided p-value."""

    f: float
    dfn: int
    dfd: int
    p: float

    def agrees(self, rate: float = FALSE_FAILURE_RATE) -> bool:
        """True unless F is in either tail beyond ``rate / 2`` (5 sigmas' worth)."""
        return self.p >= rate


def row_spread(sample: np.ndarray) -> RowSpread:
    """Do the rows of a (rows, cols) weight look like independent draws of one distribution?

    F = [cols sum_r (mean_r - mean)^2 / (rows - 1)] / [sum (w - mean_r)^2 / (rows (cols-1))]
    is F(rows - 1, rows (cols - 1)) distributed for independent normal entries whatever their
    variance (and close to it for any finite-variance shape, by the central limit theorem for
    the row means), so its tolerance is that known null distribution, not the sample's
    spread. Rows that share a sign (a sign-flipped half) or a scale put F far in the upper
    tail; rows with identical means in the lower one. ``p`` is two-sided.
    """
    from scipy import stats

    w = np.asarray(sample, dtype=np.float64)
    w = w.reshape(w.shape[0], -1)
    rows, cols = w.shape
    if rows < 2 or cols < 2:
        return RowSpread(1.0, 0, 0, 1.0)
    means = w.mean(axis=1)
    between = cols * float(np.sum((means - means.mean()) ** 2)) / (rows - 1)
    within = float(np.sum((w - means[:, None]) ** 2)) / (rows * (cols - 1))
    dfn, dfd = rows - 1, rows * (cols - 1)
    if within <= 0:
        return RowSpread(math.inf if between > 0 else 1.0, dfn, dfd,
                         0.0 if between > 0 else 1.0)
    f = between / within
    p = 2 * min(float(stats.f.sf(f, dfn, dfd)), float(stats.f.cdf(f, dfn, dfd)))
    return RowSpread(f, dfn, dfd, min(p, 1.0))


def mean_square(sample: np.ndarray, distribution: Any = "normal",
                sigmas: float = SIGMAS) -> Moment:
    """mean(x^2) with relative SE sqrt((kappa - 1) / n) of the declared shape (mean 0)."""
    x = _flat(sample)
    ms = float(np.mean(x * x))
    kappa = standard_shape(distribution).kurtosis
    return Moment(value=ms, stderr=ms * math.sqrt((kappa - 1) / x.size), n=x.size,
                  sigmas=sigmas, scale=ms)


def diagnose(sample: np.ndarray) -> str:
    """One phrase saying what is degenerate about a sample ("" when nothing obvious)."""
    x = _flat(sample)
    if np.ptp(x) == 0:
        return "every entry is the same number (a constant, not a draw)"
    sq = (x - np.median(x)) ** 2
    top = float(np.max(sq) / np.sum(sq)) if np.sum(sq) > 0 else 0.0
    if top > 0.01:
        return (f"one entry carries {top:.0%} of the sum of squares (a spike, not a spread "
                "of values)")
    values = np.unique(x)
    if values.size <= 2:
        return f"only {values.size} distinct values ({', '.join(f'{v:.3g}' for v in values)})"
    return ""

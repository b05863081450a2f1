"""Statistically sound tolerances for the conformance checks.

The variance check compares the sample variance ``v`` of ``n`` entries with the declared
variance. For iid entries the sampling error of ``v`` has standard error

    SE(v) = sqrt((mu_4 - sigma^4 (n - 3) / (n - 1)) / n)

(the textbook variance of the sample variance, e.g. Kendall & Stuart, "The Advanced Theory
of Statistics", vol. 1), where mu_4 is the fourth central moment of the distribution. It
depends on the distribution (a Gaussian has mu_4 = 3 sigma^4, a uniform 9/5 sigma^4, a
truncated normal less), so it is estimated from the sample's own second and fourth moments
rather than assumed Gaussian. A check passes when ``|v - target| <= sigmas * SE`` with
``sigmas = 5`` (a false alarm has probability about 6e-7 per comparison, and the checks use
fixed seeds, so a result never flips between runs). Entries of an orthogonal matrix are not
independent, but their sum of squares is fixed, so the iid SE over-states their error: the
tolerance is conservative there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: How many standard errors a measured moment may be from the declared one.
SIGMAS = 5.0

#: Relative slack for floating-point rounding (matters only when the SE is ~0,
#: e.g. for constant initializers whose declared variance is exactly 0).
ROUNDING = 1e-9


@dataclass(frozen=True)
class Moment:
    """A measured moment, its standard error and the tolerance it is checked with."""

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


def _flat(sample: np.ndarray) -> np.ndarray:
    x = np.asarray(sample, dtype=np.float64).ravel()
    if x.size < 2:
        raise ValueError("a moment check needs at least 2 entries")
    return x


def sample_variance(sample: np.ndarray, sigmas: float = SIGMAS) -> Moment:
    """The sample variance m_2 (ddof=0) with SE sqrt((m_4 - m_2^2 (n-3)/(n-1)) / n).

    Args:
        sample: the entries (any shape), treated as iid draws.
        sigmas: how many standard errors :meth:`Moment.tolerance` allows.

    Returns:
        A :class:`Moment` holding m_2, its standard error and n.

    Example:
        >>> import numpy as np
        >>> m = sample_variance(np.random.default_rng(0).normal(0, 2, 100_000))
        >>> m.agrees_with(4.0), round(float(m.stderr / 4.0 * np.sqrt(100_000 / 2)), 1)
        (True, 1.0)
    """
    x = _flat(sample)
    n = x.size
    d = x - x.mean()
    m2 = float(np.mean(d * d))
    m4 = float(np.mean((d * d) ** 2))
    var_of_var = max(m4 - m2 * m2 * (n - 3) / (n - 1), 0.0) / n
    mean = float(x.mean())
    return Moment(value=m2, stderr=math.sqrt(var_of_var), n=n, sigmas=sigmas,
                  scale=mean * mean + m2)


def sample_mean(sample: np.ndarray, sigmas: float = SIGMAS) -> Moment:
    """The sample mean with SE sqrt(m_2 / n) (central limit theorem)."""
    x = _flat(sample)
    mean = float(x.mean())
    m2 = float(np.mean((x - mean) ** 2))
    return Moment(value=mean, stderr=math.sqrt(m2 / x.size), n=x.size, sigmas=sigmas,
                  scale=abs(mean) + math.sqrt(m2))


def mean_square(sample: np.ndarray, sigmas: float = SIGMAS) -> Moment:
    """The raw second moment mean(x^2) with SE sqrt((mean(x^4) - mean(x^2)^2) / n)."""
    x = _flat(sample)
    sq = x * x
    ms = float(sq.mean())
    return Moment(value=ms, stderr=math.sqrt(max(float(np.var(sq)), 0.0) / x.size),
                  n=x.size, sigmas=sigmas, scale=ms)

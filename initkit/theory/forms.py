"""The five Gaussian expectations mean-field theory needs, per activation.

For u ~ N(0, q) and (u_1, u_2) ~ N(0, q [[1, c], [c, 1]]):

    phi2(q)     = E[phi(u)^2]                        (the length map)
    dphi2(q)    = E[phi'(u)^2]                       (chi_1)
    slope(q)    = E[u phi(u) phi'(u)] / q            (d/dq of the length map, over sigma_w^2)
    pair(q, c)  = E[phi(u_1) phi(u_2)]               (the correlation map)
    dpair(q, c) = E[phi'(u_1) phi'(u_2)]             (chi_c, the slope of the correlation map)

``slope`` is Schoenholz et al.'s (2017, eq. 5) E[phi'^2 + phi'' phi] rewritten by Stein's
lemma E[u g(u)] = q E[g'(u)] with g = phi phi': it needs no phi'', so a kink of phi' (a
delta in phi'') is counted exactly, where a finite difference of phi' adds a spurious
term when q is small. q = 0 means the limit q -> 0+ (e.g. E[relu'(u)^2] = 1/2).

Closed forms: ReLU, leaky ReLU and linear through the arc-cosine kernel of degree 0 and 1
(Cho & Saul 2009); SELU (Klambauer et al. 2017) through E[e^{k u} 1{u < 0}] =
e^{k^2 q / 2} Phi(-k sqrt(q)), and its pair expectations semi-closed (the inner expectation
given u_1 in closed form, the outer one by quadrature). Every other activation, built-in
or plugin, uses the kink-respecting quadrature of ``quadrature.py``.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.special import erfc, erfcx, ndtr

from .. import builtin_activations as builtin
from ..registry import Activation, get_activation
from .quadrature import centred_rule, pair_expectation, weighted_mean

#: q below this is evaluated as this (the q -> 0+ limit without dividing 0 by 0).
Q_FLOOR = 1e-200
#: q above this (inf: q grew without bound) is evaluated as this, the largest float: the
#: q -> inf limit (1 for tanh's phi2, inf for GELU's) instead of a rule of width inf.
Q_CEIL = sys.float_info.max


def _bounded(q: float) -> float:
    """q within [Q_FLOOR, Q_CEIL]: the expectations' limits at 0 and at infinity."""
    return min(max(q, Q_FLOOR), Q_CEIL)


class Numeric:
    """Every expectation by quadrature (any activation with phi and phi')."""

    #: E[phi'(u)^2] depends on q (see :class:`LeakyReLU` for the families where it does not).
    scale_free = False

    def __init__(self, phi: Callable[[np.ndarray], np.ndarray],
                 dphi: Callable[[np.ndarray], np.ndarray]):
        self.phi, self.dphi = phi, dphi

    def _mean(self, f: Callable[[np.ndarray], np.ndarray], q: float) -> float:
        if math.isnan(q):  # an undefined q (0 * inf upstream) has undefined moments
            return math.nan
        x, w = centred_rule(math.sqrt(_bounded(q)))
        return weighted_mean(w, f(x))

    def phi2(self, q: float) -> float:
        return self._mean(lambda x: self.phi(x) ** 2, q)

    def dphi2(self, q: float) -> float:
        return self._mean(lambda x: self.dphi(x) ** 2, q)

    def slope(self, q: float) -> float:
        q = _bounded(q)
        return self._mean(lambda x: x * self.phi(x) * self.dphi(x), q) / q

    def pair(self, q: float, c: float) -> float:
        if math.isnan(q):
            return math.nan
        return pair_expectation(self.phi, self.phi, _bounded(q), _clip(c))

    def dpair(self, q: float, c: float) -> float:
        if math.isnan(q):
            return math.nan
        return pair_expectation(self.dphi, self.dphi, _bounded(q), _clip(c))


def _clip(c: float) -> float:
    return min(1.0, max(-1.0, c))


class LeakyReLU:
    """phi = A x + B |x| with A = (1 + a) / 2, B = (1 - a) / 2 (a = 0: ReLU, a = 1: linear).

    E[|u_1| |u_2|] = (2 q / pi)(sqrt(1 - c^2) + c arcsin c) and E[sign u_1 sign u_2] =
    (2 / pi) arcsin c (Cho & Saul 2009), the odd cross terms vanish, so

        pair = q (A^2 c + B^2 (2/pi)(sqrt(1 - c^2) + c arcsin c)),
        dpair = A^2 + B^2 (2/pi) arcsin c,   phi2 = q (1 + a^2) / 2,
        dphi2 = slope = (1 + a^2) / 2.

    phi is positively homogeneous (phi(k x) = k phi(x) for k > 0), so phi' does not depend
    on the scale of its input: dphi2 and dpair hold for every q, q -> inf included.
    """

    scale_free = True

    def __init__(self, a: float):
        self.a = float(a)
        self.A, self.B = (1 + self.a) / 2, (1 - self.a) / 2
        self.half = (1 + self.a * self.a) / 2

    def phi2(self, q: float) -> float:
        return q * self.half

    def dphi2(self, q: float) -> float:
        return self.half

    def slope(self, q: float) -> float:
        return self.half

    def pair(self, q: float, c: float) -> float:
        c = _clip(c)
        kernel = (math.sqrt(1 - c * c) + c * math.asin(c)) * 2 / math.pi
        return q * (self.A**2 * c + self.B**2 * kernel)

    def dpair(self, q: float, c: float) -> float:
        return self.A**2 + self.B**2 * 2 / math.pi * math.asin(_clip(c))


def _neg_exp_mean(m: np.ndarray, s: float) -> np.ndarray:
    """E[e^X 1{X < 0}] = e^{m + s^2/2} Phi(-m/s - s) for X ~ N(m, s^2), without overflow."""
    t = m / s + s
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = 0.5 * erfcx(t / math.sqrt(2)) * np.exp(-0.5 * (m / s) ** 2)  # t >= 0
        direct = 0.5 * erfc(t / math.sqrt(2)) * np.exp(np.minimum(m + 0.5 * s * s, 0.0))
    return np.where(t >= 0, scaled, direct)


#: (n, (-1)^n (2^n - 2) / Gamma(n/2 + 1)) for n = 2 ... 45: the series of
#: erfcx(2t) - 2 erfcx(t) + 1 (terms below 1e-19 of the sum for t < 0.5).
_SERIES = tuple((n, (-1) ** n * (2.0**n - 2.0) / math.gamma(n / 2 + 1)) for n in range(2, 46))


class SELU:
    """SELU: phi = lambda x (x > 0), lambda alpha (e^x - 1) (x <= 0).

    With M(k) = E[e^{k u} 1{u < 0}] = e^{k^2 q/2} Phi(-k sqrt q) = erfcx(k sqrt(q/2)) / 2:

        phi2  = lambda^2 (q/2 + alpha^2 (M(2) - 2 M(1) + 1/2))
        dphi2 = lambda^2 (1/2 + alpha^2 M(2))
        slope = lambda^2 (1/2 + alpha^2 (2 M(2) - M(1)))   (from E[u e^{k u} 1{u<0}] = dM/dk)

    Pairs: E[phi(u_2) | u_1] and E[phi'(u_2) | u_1] are closed forms in the conditional
    mean m = c u_1 and sd s = sqrt(q (1 - c^2)); only the outer integral is quadrature.
    """

    lam, alpha = builtin.SELU_SCALE, builtin.SELU_ALPHA
    scale_free = False

    def _m(self, k: float, q: float) -> float:
        return 0.5 * float(erfcx(k * math.sqrt(q / 2)))

    def _negative_square(self, q: float) -> float:
        """E[(e^u - 1)^2 1{u < 0}] = M(2) - 2 M(1) + 1/2, a difference of numbers ~ 1/2 that is
        ~ q/2: for small q by the series erfcx(x) = sum_n (-x)^n / Gamma(n/2 + 1), whose
        n = 0 and n = 1 terms cancel exactly."""
        t = math.sqrt(q / 2)
        if t >= 0.5:
            return self._m(2, q) - 2 * self._m(1, q) + 0.5
        return 0.5 * sum(coefficient * t**n for n, coefficient in _SERIES)

    def phi2(self, q: float) -> float:
        return self.lam**2 * (q / 2 + self.alpha**2 * self._negative_square(q))

    def dphi2(self, q: float) -> float:
        return self.lam**2 * (0.5 + self.alpha**2 * self._m(2, q))

    def slope(self, q: float) -> float:
        return self.lam**2 * (0.5 + self.alpha**2 * (2 * self._m(2, q) - self._m(1, q)))

    def _phi_given(self, m: np.ndarray, s: float) -> np.ndarray:
        r = m / s
        positive = m * ndtr(r) + s * np.exp(-0.5 * r * r) / math.sqrt(2 * math.pi)
        return self.lam * (positive + self.alpha * (_neg_exp_mean(m, s) - ndtr(-r)))

    def _dphi_given(self, m: np.ndarray, s: float) -> np.ndarray:
        return self.lam * (ndtr(m / s) + self.alpha * _neg_exp_mean(m, s))

    def pair(self, q: float, c: float) -> float:
        return pair_expectation(builtin.selu, builtin.selu, _bounded(q), _clip(c),
                                inner=self._phi_given)

    def dpair(self, q: float, c: float) -> float:
        return pair_expectation(builtin.selu_grad, builtin.selu_grad, _bounded(q),
                                _clip(c), inner=self._dphi_given)


Forms = Numeric | LeakyReLU | SELU


def forms_for(activation: str | Activation, params: dict[str, Any]) -> Forms:
    """The expectations of a registered activation: closed forms for the built-ins that have
    them (recognised by their function, so a plugin never inherits them), else quadrature."""
    act = get_activation(activation)
    if act.fn is builtin.relu:
        return LeakyReLU(0.0)
    if act.fn is builtin.linear:
        return LeakyReLU(1.0)
    if act.fn is builtin.leaky_relu:
        return LeakyReLU({**act.params, **params}["slope"])
    if act.fn is builtin.selu:
        return SELU()
    return Numeric(lambda x: act(x, **params), lambda x: act.grad(x, **params))

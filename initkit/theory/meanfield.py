"""Length map, fixed points, chi_1, correlation map, edge of chaos and depth scales.

Each map has one definition (``length_step``, ``correlation_step``); the fixed points are
roots of map(x) - x found by bracketing (``scipy.optimize.brentq``), never by iterating to
a tolerance: near a critical point the iteration crawls (tanh at sigma_w^2 = 1 falls like
1/(2l)) and stops at max_iter far from the answer. Degenerate cases are explicit: q that
grows without bound gives ``inf`` (fixed point) or ``nan`` (what needs one) with a
``TheoryWarning`` saying so (chi_1 of ReLU-like activations needs none: their phi' does not
depend on q); a critical point gives an infinite depth scale with a warning;
an edge of chaos that does not exist raises ``TheoryError``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import TheoryError, TheoryWarning
from ..registry import Activation
from .forms import Q_FLOOR, Forms, forms_for


def brentq(f: Callable[..., float], a: float, b: float, **options: Any) -> float:
    """``scipy.optimize.brentq``, imported on the first root: scipy.optimize costs more to
    import than everything else ``import initkit`` loads together, and most runs never need a
    root (the simulator's theory column is a forward recursion)."""
    from scipy.optimize import brentq as scipy_brentq

    return scipy_brentq(f, a, b, **options)


#: q* above this counts as divergence (q grows without bound).
Q_MAX = 1e12
#: q* below this counts as 0 (the length map's only attracting point is q = 0).
Q_ZERO = 1e-150
_RTOL = 1e-14
#: steps of the length map itself before the geometric scan (solve_fixed_point).
_ITERATES = 32
#: brentq's smallest relative tolerance (4 machine epsilons).
_MIN_TOL = 4 * np.finfo(float).eps


def _name(activation: str | Activation) -> str:
    return activation if isinstance(activation, str) else activation.name


def length_step(forms: Forms, sigma_w2: float, sigma_b2: float, q: float) -> float:
    """One step of the length map: sigma_w^2 E[phi(sqrt(q) z)^2] + sigma_b^2."""
    return sigma_w2 * forms.phi2(q) + sigma_b2


def correlation_step(forms: Forms, sigma_w2: float, sigma_b2: float, q: float,
                     c: float) -> float:
    """One step of the correlation map: (sigma_w^2 E[phi(u_1) phi(u_2)] + sigma_b^2) / q."""
    return (sigma_w2 * forms.pair(q, c) + sigma_b2) / max(q, Q_FLOOR)


def solve_fixed_point(forms: Forms, sigma_w2: float, sigma_b2: float, q0: float = 1.0,
                      max_iter: int = 200, rtol: float = _RTOL) -> float:
    """The fixed point the length map reaches from q0, or inf if q grows without bound.

    The map F is increasing in q, so the iteration moves monotonically from q0 towards the
    nearest root r of F(q) - q on the side F(q0) - q0 points to, and never passes it. The
    search brackets r, then brentq finds it to machine precision:

    1. Up to ``_ITERATES`` steps of the map itself while it moves by less than a factor 2 a
       step. Converging geometrically to r at the rate F'(r), the steps add up to Aitken's
       estimate of r; a probe as far past that estimate as the iterate is before it brackets
       r when it lands beyond r but before r's unstable partner. This finds the r of a pair
       of fixed points close together (tanh^3 at sigma_w^2 = 5.3 from q0 = 1: 0.98 with an
       unstable 0.7 below), which a geometric scan jumps over.
    2. A scan from the last iterate, each step at least a factor 2 (doubling up, halving down
       to Q_ZERO) and further when the iterate F(q) goes further (it cannot pass r).

    A scan by a factor 8 alone (the former search) answered 0 for tanh^3 at 5.5 from q0 = 1.5
    (its unstable 0.58 and stable 1.25 lie within one step). F(q0) = q0 returns q0 (ReLU at
    sigma_w^2 = 2: every q is a fixed point). q* below Q_ZERO reads as 0 (tanh at
    sigma_w^2 <= 1). ``rtol`` is brentq's relative tolerance.
    """
    def excess(q: float) -> float:
        return length_step(forms, sigma_w2, sigma_b2, q) - q

    start = excess(q0)
    if start == 0.0:
        return float(q0)
    cap = max(Q_MAX, 1e6 * q0)
    q, value = float(q0), start
    bracket = None
    # an iterate that a rounding puts past r only turns the scan below around, onto r
    for _ in range(_ITERATES):
        following = q + value  # F(q): between q and r
        if not 0.5 * q <= following <= 2.0 * q:
            break
        after = excess(following)
        if after == 0.0:
            return following
        ratio = after / value
        q, value = following, after
        if 0.0 < ratio < 1.0:
            estimate = q + value * ratio / (1.0 - ratio)  # Aitken: q + the remaining steps
            probe = 2.0 * estimate - q
            if probe > 0.0 and np.sign(excess(probe)) == -np.sign(value):
                bracket = (min(q, probe), max(q, probe))
                break
    if bracket is not None:
        lo, hi = bracket
    elif value > 0.0:
        lo = q
        while True:
            hi = max(2.0 * lo, lo + value, Q_ZERO)  # lo + value = F(lo), below r
            if hi > cap:
                return math.inf
            high = excess(hi)
            if not math.isfinite(high):
                return math.inf
            if high <= 0.0:
                break
            lo, value = hi, high
    else:
        hi = q
        while True:
            lo = max(min(0.5 * hi, hi + value), sigma_b2)  # hi + value = F(hi), above r
            low = excess(lo)
            if low >= 0.0:  # always so at sigma_b^2: excess(sigma_b^2) = sigma_w^2 E[phi^2]
                break
            if lo <= Q_ZERO:
                return 0.0
            hi, value = lo, low
    try:  # brentq returns an end of the bracket that is a root itself
        return float(brentq(excess, lo, hi, xtol=1e-300, rtol=rtol, maxiter=max_iter))
    except RuntimeError:  # brentq's "failed to converge after max_iter iterations"
        raise TheoryError(f"q* did not converge to relative tolerance {rtol:.3g} within "
                          f"max_iter={max_iter} root-search steps (between q = {lo:.6g} and "
                          f"{hi:.6g}); raise max_iter or tol") from None


def _diverges(activation: str | Activation, sigma_w2: float, sigma_b2: float,
              what: str, stacklevel: int = 3) -> None:
    warnings.warn(TheoryWarning(
        f"{_name(activation)} at sigma_w^2 = {sigma_w2:g}, sigma_b^2 = {sigma_b2:g} has no "
        f"fixed point: q grows without bound, so {what}. Lower sigma_w^2 (e.g. below the "
        "edge of chaos) or pass q= to evaluate at a given q."), stacklevel=stacklevel)


def length_map(activation: str | Activation, sigma_w2: float, sigma_b2: float = 0.0,
               q0: float = 1.0, depth: int = 10, **act_params: Any) -> np.ndarray:
    """Predicted q per layer: ``q[0] = q0``, q[l+1] = sigma_w^2 E[phi(sqrt(q_l) z)^2] + sigma_b^2.

    Returns an array of ``depth + 1`` values (q_0 ... q_depth).

    Example:
        >>> round(float(length_map("tanh", 1.0, depth=20)[20]), 4)
        0.0259
    """
    forms = forms_for(activation, act_params)
    q = np.empty(depth + 1)
    q[0] = q0
    with np.errstate(over="ignore", invalid="ignore"):
        for layer in range(depth):
            q[layer + 1] = length_step(forms, sigma_w2, sigma_b2, q[layer])
    return q


def fixed_point(activation: str | Activation, sigma_w2: float, sigma_b2: float = 0.0,
                q0: float = 1.0, tol: float = _RTOL, max_iter: int = 10_000,
                **act_params: Any) -> float:
    """The q* that the length map converges to from ``q0`` (a root of F(q) - q by brentq).

    Returns ``0.0`` when q decays to 0 (tanh with sigma_w^2 <= 1, sigma_b^2 = 0) and ``inf``
    with a ``TheoryWarning`` when q grows without bound (linear with sigma_w^2 >= 1 and
    sigma_b^2 > 0, ReLU with sigma_w^2 > 2 or with sigma_w^2 = 2 and sigma_b^2 > 0).
    The root is found to relative tolerance ``tol`` (default: 1e-14, machine precision;
    at least 4 machine epsilons, brentq's floor) in at most ``max_iter`` brentq steps.
    """
    if not _MIN_TOL <= tol < 1.0:
        raise TheoryError(f"tol={tol!r}: the relative tolerance of q* must be in "
                          f"[{_MIN_TOL:.3g}, 1)")
    forms = forms_for(activation, act_params)
    q = solve_fixed_point(forms, sigma_w2, sigma_b2, q0, max_iter=min(max_iter, 500), rtol=tol)
    if math.isinf(q):
        _diverges(activation, sigma_w2, sigma_b2, "q* is inf")
    return q


def chi1(activation: str | Activation, sigma_w2: float, sigma_b2: float = 0.0,
         q: float | None = None, **act_params: Any) -> float:
    """chi_1 = sigma_w^2 E[phi'(sqrt(q) z)^2], at the fixed point q* unless ``q`` is given.

    The per-layer factor by which the backward gradient variance grows (> 1) or shrinks
    (< 1). Where q diverges (no fixed point): for ReLU, leaky ReLU and linear, whose phi' does
    not depend on q, chi_1 = sigma_w^2 (1 + a^2) / 2 still holds at every layer (He et al.
    2015: the gradient grows by sigma_w^2 / 2 per ReLU layer); for any other activation it is
    ``nan`` with a ``TheoryWarning``.
    """
    forms = forms_for(activation, act_params)
    if q is None:
        q = solve_fixed_point(forms, sigma_w2, sigma_b2)
        if math.isinf(q):
            if forms.scale_free:
                return sigma_w2 * forms.dphi2(1.0)
            _diverges(activation, sigma_w2, sigma_b2, "chi_1 at q* does not exist")
            return math.nan
    return sigma_w2 * forms.dphi2(q)


class _Undefined(Exception):
    """Raised inside a root search at a sigma_w^2 where q has no fixed point."""

    def __init__(self, sigma_w2: float):
        self.sigma_w2 = sigma_w2


def edge_of_chaos(activation: str | Activation, sigma_b2: float = 0.0, low: float = 0.05,
                  high: float = 20.0, **act_params: Any) -> float:
    """The sigma_w^2 at which chi_1 = 1 for this sigma_b^2 (a root of chi_1 - 1 by brentq).

    Raises ``TheoryError`` when chi_1 does not cross 1 in [low, high], and when it jumps
    past 1 where the stable fixed point q* disappears (GELU with small sigma_b^2: beyond
    that sigma_w^2 q grows without bound, so chi_1 at q* has no value there, and the order
    to chaos transition is not a chi_1 = 1 crossing). A crossing exactly where q* stops
    existing counts when chi_1 tends to 1 there (ReLU: sigma_w^2 = 2).

    Example:
        >>> round(edge_of_chaos("tanh", 0.05), 3)
        1.761
    """
    forms = forms_for(activation, act_params)

    def excess(sw2: float) -> float:
        q = solve_fixed_point(forms, sw2, sigma_b2)
        return math.nan if math.isinf(q) else sw2 * forms.dphi2(q) - 1.0

    def strict(sw2: float) -> float:
        value = excess(sw2)
        if math.isnan(value):
            raise _Undefined(sw2)
        return value

    where = f"{_name(activation)} and sigma_b^2 = {sigma_b2:g}"
    lo, hi = float(low), float(high)
    at_lo, at_hi = excess(lo), excess(hi)
    if math.isnan(at_lo):
        raise TheoryError(f"q has no fixed point at sigma_w^2 = {low:g} with {where}; "
                          "start the search lower (low=)")
    if at_lo == 0.0:
        return lo
    if at_lo > 0.0 or at_hi < 0.0:
        raise TheoryError(f"chi_1 does not cross 1 for sigma_w^2 in [{low:g}, {high:g}] "
                          f"with {where} (chi_1 - 1 is {at_lo:.3g} and {at_hi:.3g} at the "
                          "ends); widen the range (low=, high=)")
    defined = not math.isnan(at_hi)
    while True:
        if defined:
            try:
                root = float(brentq(strict, lo, hi, xtol=1e-300, rtol=_RTOL, maxiter=500))
            except _Undefined as gap:
                hi, defined = gap.sigma_w2, False
            else:
                if abs(excess(root)) > 1e-6:  # brentq closed in on a jump, not a crossing
                    raise _jump_error(forms, root, sigma_b2, where)
                return _snap_to_zero_fixed_point(forms, root, sigma_b2)
        while not defined and hi - lo > 8 * _RTOL * hi:
            mid = 0.5 * (lo + hi)
            value = excess(mid)
            if math.isnan(value):
                hi = mid
            elif value < 0.0:
                lo, at_lo = mid, value
            else:
                hi, defined = mid, True
        if not defined:
            break
    if abs(at_lo) <= 1e-8:  # chi_1 -> 1 as q* stops existing: the edge is that point
        return hi
    raise TheoryError(
        f"no edge of chaos for {where}: chi_1 rises only to {1 + at_lo:.6g} and then the "
        f"stable fixed point q* disappears (at sigma_w^2 = {hi:.10g}; beyond it q grows "
        "without bound), so chi_1 jumps past 1 without crossing it. The transition is "
        "ill-posed here; use a larger sigma_b^2.")


def _jump_error(forms: Forms, sigma_w2: float, sigma_b2: float, where: str) -> TheoryError:
    """chi_1 - 1 changes sign at sigma_w2 by a jump: the q* the map reaches from q0 = 1 jumps
    there (a saddle-node bifurcation, e.g. tanh^3 with phi'(0) = 0: q* = 0 with chi_1 = 0
    below, a positive q* with chi_1 > 1 above), so no sigma_w^2 has chi_1 = 1."""
    below, above = sigma_w2 * (1 - 1e-9), sigma_w2 * (1 + 1e-9)
    q_below = solve_fixed_point(forms, below, sigma_b2)
    q_above = solve_fixed_point(forms, above, sigma_b2)
    return TheoryError(
        f"no edge of chaos for {where}: at sigma_w^2 = {sigma_w2:.10g} the fixed point q* "
        f"jumps from {q_below:.6g} to {q_above:.6g} and chi_1 from "
        f"{below * forms.dphi2(q_below):.6g} to {above * forms.dphi2(q_above):.6g}, so chi_1 "
        "jumps past 1 without crossing it. The transition is discontinuous here, not a "
        "chi_1 = 1 crossing.")


def _snap_to_zero_fixed_point(forms: Forms, root: float, sigma_b2: float) -> float:
    """The exact edge when chi_1 = 1 is where q* = 0 loses its stability.

    With sigma_b^2 = 0 and phi(0) = 0, q* = 0 and chi_1 = sigma_w^2 E[phi'(0)^2] below
    sigma_w^2 = 1 / E[phi'(0)^2] (tanh: 1). Above it q* ~ sigma_w^2 - 1 and chi_1 - 1 is only
    of second order, so a root search stops ~1e-8 away; that point is the exact answer.
    """
    if sigma_b2 != 0.0 or forms.phi2(0.0) > 1e-100 or forms.dphi2(0.0) <= 0.0:
        return root
    critical = 1.0 / forms.dphi2(0.0)
    if abs(root - critical) <= 1e-6 * critical and \
            solve_fixed_point(forms, critical, 0.0) == 0.0:
        return critical
    return root


def correlation_map(activation: str | Activation, sigma_w2: float, sigma_b2: float = 0.0,
                    c0: float = 0.0, depth: int = 10, q: float | None = None,
                    **act_params: Any) -> np.ndarray:
    """Predicted correlation of two inputs' pre-activations per layer (``c[0] = c0``).

    Uses q* (or the given q) for both inputs, as Poole et al. do once q has converged.
    """
    forms = forms_for(activation, act_params)
    if q is None:
        q = _fixed_point_or_nan(forms, activation, sigma_w2, sigma_b2, "c has no map")
    c = np.empty(depth + 1)
    c[0] = c0
    if math.isnan(q):
        c[1:] = math.nan
        return c
    for layer in range(depth):
        c[layer + 1] = min(1.0, correlation_step(forms, sigma_w2, sigma_b2, q, c[layer]))
        if abs(c[layer + 1] - c[layer]) < 1e-12:  # converged: the rest is the fixed point
            c[layer + 2:] = c[layer + 1]
            break
    return c


def _fixed_point_or_nan(forms: Forms, activation: str | Activation, sigma_w2: float,
                        sigma_b2: float, what: str) -> float:
    q = solve_fixed_point(forms, sigma_w2, sigma_b2)
    if math.isinf(q):
        _diverges(activation, sigma_w2, sigma_b2, what, stacklevel=4)
        return math.nan
    return q


def solve_correlation(forms: Forms, sigma_w2: float, sigma_b2: float, q: float,
                      chi: float) -> float:
    """c* given q and chi_1 (see ``correlation_fixed_point``)."""
    if chi <= 1.0:
        return 1.0

    def excess(c: float) -> float:
        return correlation_step(forms, sigma_w2, sigma_b2, q, c) - c

    if excess(0.0) <= 0.0:
        return 0.0
    for gap in (1e-12, 1e-10, 1e-8, 1e-6, 1e-4, 1e-3, 1e-2):  # the first point below 1
        if excess(1.0 - gap) < 0.0:  # where the map is already under the diagonal
            return float(brentq(excess, 0.0, 1.0 - gap, xtol=1e-15, rtol=_RTOL, maxiter=500))
    return 1.0  # the map stays on the diagonal to within rounding up to 0.99: c* = 1


def correlation_fixed_point(activation: str | Activation, sigma_w2: float,
                            sigma_b2: float = 0.0, q: float | None = None,
                            **act_params: Any) -> float:
    """c*, the correlation two inputs converge to (Poole et al. 2016).

    In the ordered phase (chi_1 <= 1) c = 1 is stable, so c* = 1. In the chaotic phase it is
    unstable (the c-map's slope at 1 is chi_1 > 1) and c* is the root of c-map(c) - c in
    [0, 1): that difference is >= 0 at c = 0 and < 0 just below 1, so brentq brackets it.
    ``nan`` with a ``TheoryWarning`` when q has no fixed point.
    """
    forms = forms_for(activation, act_params)
    if q is None:
        q = _fixed_point_or_nan(forms, activation, sigma_w2, sigma_b2, "c* does not exist")
        if math.isnan(q):
            return math.nan
    return solve_correlation(forms, sigma_w2, sigma_b2, q, sigma_w2 * forms.dphi2(q))


def _depth(rate: float, name: str, where: Callable[[], str]) -> float:
    """-1 / log(rate): the layers over which a deviation shrinks by e."""
    if rate >= 1.0 - 1e-12:
        warnings.warn(TheoryWarning(
            f"{where()} is a critical point for {name}: the map's slope at its fixed point "
            f"is {rate:.12g} (1 to within rounding), so deviations decay like a power of the "
            f"depth, not exponentially; {name} is inf"), stacklevel=3)
        return math.inf
    return -1.0 / math.log(rate) if rate > 0.0 else 0.0


def depth_scales(activation: str | Activation, sigma_w2: float, sigma_b2: float = 0.0,
                 **act_params: Any) -> tuple[float, float]:
    """(xi_q, xi_c): how many layers q and c take to reach their fixed points.

    Schoenholz et al. 2017, eqs. 5 and 8: xi_q^-1 = -log(chi_1 + sigma_w^2 E[phi''(u) phi(u)])
    and xi_c^-1 = -log(sigma_w^2 E[phi'(u_1) phi'(u_2)]) at (q*, c*); at c* = 1 (ordered
    phase) the latter is chi_1 itself. The first rate is the slope of the length map at q*,
    computed as sigma_w^2 E[u phi(u) phi'(u)] / q* (Stein's lemma; exact at kinks). xi_c
    diverges at the edge of chaos, which is why only there can very deep networks be
    trained. A critical point gives ``inf`` and no fixed point ``(nan, nan)``, each with a
    ``TheoryWarning`` that says which.
    """
    forms = forms_for(activation, act_params)
    q = _fixed_point_or_nan(forms, activation, sigma_w2, sigma_b2,
                            "the depth scales do not exist")
    if math.isnan(q):
        return math.nan, math.nan

    def where() -> str:
        return f"{_name(activation)} at sigma_w^2 = {sigma_w2:g}, sigma_b^2 = {sigma_b2:g}"

    chi = sigma_w2 * forms.dphi2(q)
    xi_q = _depth(sigma_w2 * forms.slope(q), "xi_q", where)
    c_star = solve_correlation(forms, sigma_w2, sigma_b2, q, chi)
    chi_c = chi if c_star == 1.0 else sigma_w2 * forms.dpair(q, c_star)
    return xi_q, _depth(chi_c, "xi_c", where)

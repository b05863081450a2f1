"""Mean-field numbers against a reference computed here, independently of initkit.theory.

The reference integrates the definitions with ``scipy.integrate.quad`` split at the kink
x = 0 (nested for the two-dimensional expectations), uses the arc-cosine kernels (Cho & Saul
2009) for ReLU and leaky ReLU, writes every activation, derivative and second derivative
out by hand, finds q* by its own sign scan and brentq and refines c* by Newton steps on its
own correlation map. Targets (issue 14): 1e-6 relative for q*, chi_1, c* and the edge of
chaos, 1e-4 for the depth scales, over sigma_w^2 in [0.5, 4] and sigma_b^2 in [0, 0.3].
"""

from __future__ import annotations

import math
import warnings

import pytest
from scipy.integrate import quad
from scipy.optimize import brentq

from initkit import theory
from initkit.errors import TheoryWarning

SQRT_2PI = math.sqrt(2 * math.pi)
ALPHA, LAMBDA = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946  # SELU
GELU_K, GELU_A = math.sqrt(2 / math.pi), 0.044715
SLOPE = 0.01  # leaky ReLU's default


def _gelu_parts(x: float) -> tuple[float, float, float]:
    """tanh-form GELU, its first and second derivative."""
    t = math.tanh(GELU_K * (x + GELU_A * x**3))
    du = GELU_K * (1 + 3 * GELU_A * x * x)
    d2u = 6 * GELU_K * GELU_A * x
    first = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du
    second = (1 - t * t) * du + 0.5 * x * (1 - t * t) * (d2u - 2 * t * du * du)
    return 0.5 * x * (1 + t), first, second


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))


#: name -> (phi, phi', phi''), scalar functions written out here. phi'' is the a.e. second
#: derivative: every kink of these activations is at x = 0 where phi(0) = 0, so the delta
#: that phi'' carries there adds nothing to E[phi'' phi].
ACTIVATIONS = {
    "linear": (lambda x: x, lambda x: 1.0, lambda x: 0.0),
    "relu": (lambda x: max(x, 0.0), lambda x: float(x > 0), lambda x: 0.0),
    "leaky_relu": (lambda x: x if x > 0 else SLOPE * x, lambda x: 1.0 if x > 0 else SLOPE,
                   lambda x: 0.0),
    "tanh": (math.tanh, lambda x: 1 - math.tanh(x) ** 2,
             lambda x: -2 * math.tanh(x) * (1 - math.tanh(x) ** 2)),
    "sigmoid": (_sigmoid, lambda x: _sigmoid(x) * (1 - _sigmoid(x)),
                lambda x: _sigmoid(x) * (1 - _sigmoid(x)) * (1 - 2 * _sigmoid(x))),
    "selu": (lambda x: LAMBDA * x if x > 0 else LAMBDA * ALPHA * math.expm1(x),
             lambda x: LAMBDA if x > 0 else LAMBDA * ALPHA * math.exp(x),
             lambda x: 0.0 if x > 0 else LAMBDA * ALPHA * math.exp(x)),
    "gelu": (lambda x: _gelu_parts(x)[0], lambda x: _gelu_parts(x)[1],
             lambda x: _gelu_parts(x)[2]),
}


def ref_mean(f, m: float, s: float, rtol: float = 1e-12) -> float:
    """E[f(X)], X ~ N(m, s^2), by quad over m +- 11 s cut at 0 (and at +-1, the bends)."""
    lo, hi = m - 11 * s, m + 11 * s
    cuts = sorted({lo, hi, *(p for p in (-1.0, 0.0, 1.0) if lo < p < hi)})

    def density(x: float) -> float:
        return f(x) * math.exp(-0.5 * ((x - m) / s) ** 2) / (s * SQRT_2PI)

    return sum(quad(density, a, b, epsabs=0, epsrel=rtol, limit=200)[0]
               for a, b in zip(cuts[:-1], cuts[1:], strict=True))


def ref_single(f, q: float) -> float:
    """E[f(sqrt(q) z)]; q = 0 means the limit q -> 0+ (evaluated at q = 1e-30)."""
    return ref_mean(f, 0.0, math.sqrt(max(q, 1e-30)))


def _arccos_kernels(c: float) -> tuple[float, float]:
    """E[|z_1||z_2|] and E[sign z_1 sign z_2] for unit normals with correlation c."""
    return 2 / math.pi * (math.sqrt(1 - c * c) + c * math.asin(c)), 2 / math.pi * math.asin(c)


def ref_pair(name: str, q: float, c: float, derivative: bool = False) -> float:
    """E[phi(u_1) phi(u_2)] (or of phi'), (u_1, u_2) ~ N(0, q [[1, c], [c, 1]])."""
    if name in ("relu", "leaky_relu", "linear"):
        a = {"relu": 0.0, "leaky_relu": SLOPE, "linear": 1.0}[name]
        even, odd = (1 + a) / 2, (1 - a) / 2  # phi = even x + odd |x|
        absolute, sign = _arccos_kernels(c)
        return (even**2 + odd**2 * sign) if derivative else q * (even**2 * c + odd**2 * absolute)
    f = ACTIVATIONS[name][1 if derivative else 0]
    inner_sd = math.sqrt(q * (1 - c * c))
    return ref_mean(lambda x: f(x) * ref_mean(f, c * x, inner_sd, 1e-12), 0.0, math.sqrt(q),
                    1e-11)


def ref_fixed_point(name: str, sw2: float, sb2: float) -> float:
    """Where the length map goes from q_0 = 1: its own doubling / halving scan, then brentq."""
    phi = ACTIVATIONS[name][0]

    def excess(q: float) -> float:
        return sw2 * ref_single(lambda x: phi(x) ** 2, q) + sb2 - q

    start = excess(1.0)
    if abs(start) < 1e-13:
        return 1.0
    q = 1.0
    if start > 0:
        while q < 1e12:
            if excess(2 * q) <= 0:
                return brentq(excess, q, 2 * q, xtol=1e-300, rtol=1e-15)
            q *= 2
        return math.inf
    while q > 1e-14:
        if excess(q / 2) >= 1e-12 * q:
            return brentq(excess, q / 2, q, xtol=1e-300, rtol=1e-15)
        q /= 2
    return 0.0


def ref_chi1(name: str, sw2: float, q: float) -> float:
    return sw2 * ref_single(lambda x: ACTIVATIONS[name][1](x) ** 2, q)


def ref_chi_q(name: str, sw2: float, q: float) -> float:
    """Schoenholz et al. eq. 5 as written: sigma_w^2 E[phi'^2 + phi'' phi]."""
    phi, dphi, ddphi = ACTIVATIONS[name]
    return sw2 * ref_single(lambda x: dphi(x) ** 2 + ddphi(x) * phi(x), q)


def ref_c_star(name: str, sw2: float, sb2: float, q: float, guess: float) -> float:
    """c* by Newton steps on the reference c-map from ``guess`` (its slope is chi_c(c))."""
    if ref_chi1(name, sw2, q) <= 1:
        return 1.0

    def excess(c: float) -> float:
        return (sw2 * ref_pair(name, q, c) + sb2) / q - c

    if excess(0.0) <= 1e-13:
        return 0.0
    c = guess if guess < 1 else 0.5
    for _ in range(3):
        c -= excess(c) / (sw2 * ref_pair(name, q, c, derivative=True) - 1)
    return c


def ref_depth(rate: float) -> float:
    return math.inf if rate >= 1 - 1e-12 else -1 / math.log(rate)


def rel_err(got: float, want: float) -> float:
    if math.isinf(want) or math.isinf(got):
        return 0.0 if got == want else math.inf
    return abs(got - want) / max(abs(want), 1e-300) if want != 0 else abs(got)


GRID = [(name, sw2, sb2) for name in ACTIVATIONS for sw2 in (0.5, 1.0, 1.76, 2.5, 4.0)
        for sb2 in (0.0, 0.1, 0.3)]


@pytest.mark.parametrize("name,sw2,sb2", GRID)
def test_fixed_point_chi1_and_xi_q_match_the_reference(name, sw2, sb2):
    """q*, chi_1 (1e-6) and xi_q (1e-4) agree with quad of the definitions, or both say q
    diverges (then chi_1 exists only where phi' is scale-free: the same at q = 1 and 100)."""
    want_q = ref_fixed_point(name, sw2, sb2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TheoryWarning)
        got_q = theory.fixed_point(name, sw2, sb2)
        got_chi = theory.chi1(name, sw2, sb2)
        xi_q, _ = theory.depth_scales(name, sw2, sb2)
    assert rel_err(got_q, want_q) <= 1e-6, (got_q, want_q)
    if math.isinf(want_q):
        assert math.isnan(xi_q)
        at_1, at_100 = ref_chi1(name, sw2, 1.0), ref_chi1(name, sw2, 100.0)
        if rel_err(at_1, at_100) <= 1e-9:
            assert rel_err(got_chi, at_1) <= 1e-6, (got_chi, at_1)
        else:
            assert math.isnan(got_chi)
        return
    assert rel_err(got_chi, ref_chi1(name, sw2, want_q)) <= 1e-6
    assert rel_err(xi_q, ref_depth(ref_chi_q(name, sw2, want_q))) <= 1e-4


CHAOTIC = [(name, sw2, sb2) for name in ("tanh", "sigmoid", "selu", "gelu", "relu", "leaky_relu")
           for sw2, sb2 in ((1.0, 0.1), (1.76, 0.0), (2.5, 0.1), (4.0, 0.3), (1.76, 0.3))]


@pytest.mark.parametrize("name,sw2,sb2", CHAOTIC)
def test_correlation_fixed_point_and_xi_c_match_the_reference(name, sw2, sb2):
    """c* (1e-6) and xi_c (1e-4) agree with Newton on the nested-quad (or arc-cosine) c-map."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TheoryWarning)
        q = theory.fixed_point(name, sw2, sb2)
        got_c = theory.correlation_fixed_point(name, sw2, sb2)
        _, xi_c = theory.depth_scales(name, sw2, sb2)
    want_q = ref_fixed_point(name, sw2, sb2)
    if math.isinf(want_q):
        assert math.isinf(q) and math.isnan(got_c) and math.isnan(xi_c)
        return
    want_c = ref_c_star(name, sw2, sb2, want_q, got_c)
    assert rel_err(got_c, want_c) <= 1e-6, (got_c, want_c)
    chi_c = (ref_chi1(name, sw2, want_q) if want_c == 1.0
             else sw2 * ref_pair(name, want_q, want_c, derivative=True))
    assert rel_err(xi_c, ref_depth(chi_c)) <= 1e-4, (xi_c, ref_depth(chi_c))


def ref_edge(name: str, sb2: float, guess: float) -> float:
    """chi_1(sigma_w^2) = 1 by brentq on the reference chi_1 at the reference q*."""
    def excess(sw2: float) -> float:
        return ref_chi1(name, sw2, ref_fixed_point(name, sw2, sb2)) - 1

    return brentq(excess, guess * (1 - 1e-4), guess * (1 + 1e-4), xtol=1e-14, rtol=1e-14)


@pytest.mark.parametrize("name,sb2,high", [
    ("tanh", 0.05, 20.0), ("tanh", 0.3, 20.0), ("sigmoid", 0.1, 200.0),
    ("sigmoid", 0.0, 200.0), ("selu", 0.0, 20.0), ("selu", 0.1, 20.0), ("gelu", 0.3, 20.0),
])
def test_edge_of_chaos_matches_the_reference(name, sb2, high):
    """The edge of chaos is where the reference chi_1 crosses 1, to 1e-6 relative."""
    got = theory.edge_of_chaos(name, sb2, high=high)
    assert rel_err(got, ref_edge(name, sb2, got)) <= 1e-6


@pytest.mark.parametrize("name,slope", [("relu", 0.0), ("leaky_relu", SLOPE)])
@pytest.mark.parametrize("sb2", [0.0, 0.1, 0.3])
def test_piecewise_linear_edge_is_two_over_one_plus_slope_squared(name, slope, sb2):
    """chi_1 = sigma_w^2 (1 + a^2) / 2 at every q, so the edge is 2 / (1 + a^2) for any bias."""
    assert theory.edge_of_chaos(name, sb2) == pytest.approx(2 / (1 + slope**2), rel=1e-12)


def test_documented_edges():
    """The README's tanh edge (1.761 at sigma_b^2 = 0.05) and the sigmoid one (103.01 at 0)."""
    assert round(theory.edge_of_chaos("tanh", 0.05), 3) == 1.761
    assert round(theory.edge_of_chaos("sigmoid", 0.0, high=200.0), 2) == 103.01


def test_relu_correlation_map_is_the_arc_cosine_kernel_exactly():
    """The ReLU c-map equals the degree-1 arc-cosine kernel to rounding (it is the closed form)."""
    c = theory.correlation_map("relu", 2.0, c0=0.3, depth=4, q=1.0)
    for before, after in zip(c[:-1], c[1:], strict=True):
        assert after == pytest.approx(ref_pair("relu", 1.0, before) * 2.0, rel=1e-13)


def test_tanh_correlation_map_matches_nested_quadrature():
    """One step of the tanh c-map equals the nested-quad reference to 1e-9."""
    q = theory.fixed_point("tanh", 2.5, 0.1)
    c = theory.correlation_map("tanh", 2.5, 0.1, c0=0.4, depth=1, q=q)
    assert c[1] == pytest.approx((2.5 * ref_pair("tanh", q, 0.4) + 0.1) / q, rel=1e-9)


@pytest.fixture
def plugin_copies():
    """ReLU and SELU registered again by a plugin: no closed form, only quadrature."""
    import numpy as np

    import initkit
    from initkit import builtin_activations as builtin

    class Copies:
        @initkit.hookimpl
        def initkit_register_activations(self, register):
            register("plugin_relu", lambda x: np.maximum(x, 0.0),
                     lambda x: (x > 0).astype(float))
            register("plugin_selu", lambda x: builtin.selu(x), lambda x: builtin.selu_grad(x))

    name = initkit.register_plugin(Copies(), name="kinked-copies")
    yield
    initkit.unregister_plugin(name)


def test_a_plugins_kinked_activation_gets_kink_respecting_quadrature(plugin_copies):
    """A plugin ReLU (quadrature split at the kinks, outer and inner) reproduces the
    arc-cosine c-map to 1e-10, including c next to 1, and q* = sigma_b^2 / (1 - sigma_w^2 / 2)."""
    for c0 in (0.0, 0.5, 0.999, 1 - 1e-7):
        got = theory.correlation_map("plugin_relu", 2.0, c0=c0, depth=1, q=1.0)[1]
        assert got == pytest.approx(2.0 * ref_pair("relu", 1.0, c0), rel=1e-10)
    assert theory.fixed_point("plugin_relu", 1.5, 0.1) == pytest.approx(0.4, rel=1e-12)
    assert theory.chi1("plugin_relu", 1.5, 0.1) == pytest.approx(0.75, rel=1e-12)


@pytest.mark.parametrize("sw2,sb2", [(1.0, 0.1), (1.76, 0.3)])
def test_a_plugins_selu_matches_the_reference(plugin_copies, sw2, sb2):
    """A plugin SELU by quadrature alone: q*, chi_1 and c* to 1e-6 of the reference."""
    want_q = ref_fixed_point("selu", sw2, sb2)
    assert rel_err(theory.fixed_point("plugin_selu", sw2, sb2), want_q) <= 1e-6
    assert rel_err(theory.chi1("plugin_selu", sw2, sb2), ref_chi1("selu", sw2, want_q)) <= 1e-6
    got_c = theory.correlation_fixed_point("plugin_selu", sw2, sb2)
    assert rel_err(got_c, ref_c_star("selu", sw2, sb2, want_q, got_c)) <= 1e-6

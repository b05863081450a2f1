"""The maps' contracts at their edges: defaults, the fixed-point path, convergence,
overflow to inf, and the closed forms against independent references."""

from __future__ import annotations

import math
import warnings
from contextlib import contextmanager

import numpy as np
import pytest

from initkit import theory
from initkit.errors import TheoryError, TheoryWarning
from initkit.theory.forms import forms_for


@contextmanager
def scaled_tanh(name: str, scale: float):
    """``name`` registered (by a plugin) as ``scale * tanh`` while the block runs."""
    import initkit

    class Plugin:
        @initkit.hookimpl
        def initkit_register_activations(self, register):
            register(name, lambda x: scale * np.tanh(x),
                     lambda x: scale * (1 - np.tanh(x) ** 2))

    plugin = initkit.register_plugin(Plugin(), name=name.replace("_", "-"))
    try:
        yield
    finally:
        initkit.unregister_plugin(plugin)


@pytest.fixture
def no_runtime_warnings():
    """Any numpy RuntimeWarning (overflow, invalid value) fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        yield


def test_length_map_defaults_are_ten_layers_from_q0_one():
    """length_map(act, sigma_w2) is q_0 ... q_10 from q_0 = 1 (ReLU at 2 keeps it)."""
    np.testing.assert_array_equal(theory.length_map("relu", 2.0), np.ones(11))


@pytest.mark.parametrize("activation", ["gelu", "relu", "selu", "linear"])
def test_length_map_that_overflows_reaches_inf_quietly(activation, no_runtime_warnings):
    """q growing past the largest float is inf from there on, with no warning and no error
    (GELU's quadrature once divided by zero at q = inf, and 0 * inf made NaN)."""
    q = theory.length_map(activation, 1e10, depth=40)
    assert np.isinf(q[-1]) and np.all(np.diff(q[np.isfinite(q)]) > 0)


def test_bounded_activations_have_a_finite_limit_at_infinite_q(no_runtime_warnings):
    """At q = inf, E[tanh(u)^2] -> 1 and E[sigmoid(u)^2] -> 1/2 (half the mass where
    sigmoid -> 1), each as its limit, not NaN."""
    assert forms_for("tanh", {}).phi2(math.inf) == pytest.approx(1.0, abs=1e-12)
    assert forms_for("sigmoid", {}).phi2(math.inf) == pytest.approx(0.5, abs=1e-12)


def test_correlation_map_defaults_start_uncorrelated_at_the_fixed_point():
    """correlation_map(act, sigma_w2, sigma_b2) is c_0 ... c_10 from c_0 = 0 at q*: the
    same as passing q = fixed_point explicitly."""
    c = theory.correlation_map("tanh", 2.5, 0.1)
    q_star = theory.fixed_point("tanh", 2.5, 0.1)
    assert len(c) == 11 and c[0] == 0.0
    np.testing.assert_array_equal(c, theory.correlation_map("tanh", 2.5, 0.1, q=q_star))
    assert 0 < c[1] < c[-1] < 1


def test_correlation_map_iterates_the_correlation_step_and_stops_at_its_fixed_point():
    """Each c is min(1, step(previous c)); once a step moves c by under 1e-12 the rest of the
    layers hold that value exactly (ordered phase: c -> 1)."""
    from initkit.theory.meanfield import correlation_step

    forms = forms_for("tanh", {})
    q = theory.fixed_point("tanh", 1.2, 0.05)
    c = theory.correlation_map("tanh", 1.2, 0.05, c0=0.3, depth=400)
    want = [0.3]
    for _ in range(400):
        want.append(min(1.0, correlation_step(forms, 1.2, 0.05, q, want[-1])))
    stop = next(l for l in range(1, 401) if abs(want[l] - want[l - 1]) < 1e-12)
    np.testing.assert_array_equal(c[:stop + 1], want[:stop + 1])
    assert stop < 390 and np.all(c[stop:] == c[stop]) and c[stop] <= 1.0
    assert np.all(c <= 1.0) and c[-1] == pytest.approx(1.0, abs=1e-9)


def test_correlation_map_clips_at_one():
    """A step that rounds above 1 is clipped: from c_0 = 1 at tanh (0.6, 0.1) one step of the
    map gives 1 + 2^-52 (q* to rounding), and the map stays at 1 exactly."""
    from initkit.theory.meanfield import correlation_step

    q = theory.fixed_point("tanh", 0.6, 0.1)
    assert correlation_step(forms_for("tanh", {}), 0.6, 0.1, q, 1.0) > 1.0
    np.testing.assert_array_equal(theory.correlation_map("tanh", 0.6, 0.1, c0=1.0, depth=5),
                                  np.ones(6))


def test_correlation_map_without_a_fixed_point_is_nan_with_a_warning():
    """ReLU beyond sigma_w^2 = 2 has no q*: the map is c_0 then NaN, and the warning names
    the activation, the point and what is missing."""
    with pytest.warns(TheoryWarning, match=r"relu at sigma_w\^2 = 2.5, sigma_b\^2 = 0.1 has "
                                           r"no fixed point: .* so c has no map"):
        c = theory.correlation_map("relu", 2.5, 0.1, c0=0.2, depth=4)
    assert c[0] == 0.2 and np.isnan(c[1:]).all() and len(c) == 5


def test_gaussian_expectation():
    """E[f(sqrt(q) z)]: E[u^2] = q (q = 1 by default), E[relu(u)] = sqrt(q / (2 pi)), and at
    q <= 0 the point mass f(0)."""
    assert theory.gaussian_expectation(lambda x: x * x) == pytest.approx(1.0, rel=1e-12)
    assert theory.gaussian_expectation(lambda x: x * x, 0.5) == pytest.approx(0.5, rel=1e-12)
    assert theory.gaussian_expectation(lambda x: np.maximum(x, 0), 4.0) == pytest.approx(
        math.sqrt(4.0 / (2 * math.pi)), rel=1e-12)
    assert theory.gaussian_expectation(lambda x: x + 3.0, 0.0) == 3.0
    assert theory.gaussian_expectation(lambda x: np.cos(x), -1.0) == 1.0


def test_predict_passes_every_argument_on():
    """predict's q_in, gamma (1 by default), init and activation parameters all reach the
    prediction: He(a=0.2) with leaky ReLU(0.2) keeps q; a norm sets q to gamma^2."""
    he = theory.predict("he", "relu", [16] * 4, q_in=3.0)
    np.testing.assert_allclose(he.q, [6.0, 6.0, 6.0], rtol=1e-15)
    leaky = theory.predict("he", "leaky_relu", [16] * 4, init_params={"a": 0.2},
                           activation_params={"slope": 0.2})
    np.testing.assert_allclose(leaky.q, [2 / 1.04] * 3, rtol=1e-14)
    normed = theory.predict("he", "relu", [16] * 4, norm="layer")
    np.testing.assert_allclose(normed.q, 1.0, rtol=1e-15)
    scaled = theory.predict("he", "relu", [16] * 4, norm="layer", gamma=0.5)
    np.testing.assert_allclose(scaled.q, 0.25, rtol=1e-15)


@pytest.mark.parametrize("slope", [0.0, 0.2, 1.0])
@pytest.mark.parametrize("c", [-0.6, 0.3, 0.95])
def test_leaky_relu_dpair_against_the_bivariate_normal(slope, c):
    """E[phi'(u_1) phi'(u_2)] of leaky ReLU is a^2 P(both < 0) + 2 a P(one < 0 < other)
    + P(both > 0), the orthant probabilities from scipy's bivariate normal CDF."""
    from scipy.stats import multivariate_normal

    both_negative = multivariate_normal(mean=[0, 0], cov=[[1, c], [c, 1]]).cdf([0, 0])
    mixed = 0.5 - both_negative  # P(u_1 < 0 < u_2), the same for the other order
    want = slope**2 * both_negative + 2 * slope * mixed + both_negative
    name = "relu" if slope == 0.0 else "linear" if slope == 1.0 else "leaky_relu"
    params = {"slope": slope} if name == "leaky_relu" else {}
    assert forms_for(name, params).dpair(2.0, c) == pytest.approx(want, abs=1e-6)


def test_selu_pairs_near_c_one_are_quiet(no_runtime_warnings):
    """SELU's semi-closed pair expectations at c -> 1 (a conditional sd near 0) overflow
    nothing they return: finite values, no warning."""
    forms = forms_for("selu", {})
    for c in (0.999999, 0.9999999999):
        assert math.isfinite(forms.pair(1.0, c)) and math.isfinite(forms.dpair(1.0, c))


def _selu_mean(f, q: float) -> float:
    """E[f(u)], u ~ N(0, q), by scipy's adaptive quadrature split at the kink."""
    from scipy.integrate import quad

    from initkit import builtin_activations as builtin

    def integrand(u: float) -> float:
        value = float(f(builtin, np.array([u]))[0])
        return value * math.exp(-u * u / (2 * q)) / math.sqrt(2 * math.pi * q)

    return quad(integrand, -40, 40, points=[0.0], epsabs=0, epsrel=1e-13, limit=200)[0]


@pytest.mark.parametrize("q", [0.3, 2.0, 4.4])
def test_selu_second_moments_against_adaptive_quadrature(q):
    """SELU's E[phi^2] (series below sqrt(q/2) = 1/2, closed form above) and E[phi'^2] agree
    with scipy's quad to 1e-12 on both sides of the switch (q = 2: the series would be
    5e-9 off there)."""
    forms = forms_for("selu", {})
    assert forms.phi2(q) == pytest.approx(_selu_mean(lambda b, u: b.selu(u) ** 2, q),
                                          rel=1e-12)
    assert forms.dphi2(q) == pytest.approx(_selu_mean(lambda b, u: b.selu_grad(u) ** 2, q),
                                           rel=1e-12)


@pytest.mark.parametrize("activation", ["selu", "tanh", "relu"])
def test_pairs_at_full_correlation_are_the_second_moments(activation):
    """At c = 1 the two inputs coincide: pair = phi2 and dpair = dphi2."""
    forms = forms_for(activation, {})
    assert forms.pair(1.3, 1.0) == pytest.approx(forms.phi2(1.3), rel=1e-12)
    assert forms.dpair(1.3, 1.0) == pytest.approx(forms.dphi2(1.3), rel=1e-12)


def test_edge_of_chaos_without_bias_is_where_q_zero_loses_stability():
    """With sigma_b^2 = 0 and phi(0) = 0 the edge is exactly 1 / E[phi'(0)^2], where q* = 0
    loses its stability: tanh 1, and 1/4 for phi = 2 tanh (a plugin: E[phi'(0)^2] = 4),
    snapped from brentq's root, which stops ~1e-8 short there; with a bias the edge is
    brentq's root (chi_1 = 1 to 1e-9)."""
    assert theory.edge_of_chaos("tanh", 0.0) == 1.0
    edge = theory.edge_of_chaos("tanh", 0.05)
    assert edge != 1.0 and theory.chi1("tanh", edge, 0.05) == pytest.approx(1.0, abs=1e-9)
    with scaled_tanh("double_tanh", 2.0):
        assert theory.edge_of_chaos("double_tanh", 0.0) == 0.25


def test_predict_residual_gradient_doubles_per_block_down():
    """He/ReLU residual stream: the output gradient is r itself (variance 1) and each block
    down adds phi'^2 * 2 = 1 times it: 32, 16, 8, 4, 2, 1; through a norm there is no
    gradient prediction (NaN)."""
    pred = theory.predict("he", "relu", [64] * 7, residual=True)
    np.testing.assert_allclose(pred.grad_var, [32.0, 16.0, 8.0, 4.0, 2.0, 1.0], rtol=1e-15)
    normed = theory.predict("he", "relu", [64] * 4, norm="rms")
    assert normed.grad_var.shape == (3,) and np.isnan(normed.grad_var).all()


def test_predict_of_an_exploding_quadrature_activation_is_quiet(no_runtime_warnings):
    """GELU (by quadrature) under weights of std 10 at width 64: q overflows within 120
    layers, the prediction says inf, and numpy warns about nothing on the way."""
    pred = theory.predict("normal", "gelu", [64] * 120, init_params={"std": 10.0})
    assert np.isinf(pred.q[-1]) and np.isfinite(pred.q[0])


def test_edge_of_chaos_errors_name_the_range_and_what_to_do():
    """Defaults: sigma_b^2 = 0 and the range [0.05, 20]: an activation whose edge lies past
    20 (0.22 tanh: 1 / 0.22^2 = 20.7) is refused naming the range; a range starting where q
    has no fixed point is refused naming its low end."""
    assert theory.edge_of_chaos("tanh") == 1.0
    with scaled_tanh("small_tanh", 0.22):
        with pytest.raises(TheoryError, match=r"^chi_1 does not cross 1 for sigma_w\^2 in "
                                              r"\[0.05, 20\] with small_tanh and sigma_b\^2 = 0 "
                                              r"\(chi_1 - 1 is -0.998 and -0.032 at the ends\); "
                                              r"widen the range \(low=, high=\)$"):
            theory.edge_of_chaos("small_tanh")
        assert theory.edge_of_chaos("small_tanh", high=25.0) == pytest.approx(
            1 / 0.22**2, rel=1e-12)
    with pytest.raises(TheoryError, match=r"^q has no fixed point at sigma_w\^2 = 2.5 with "
                                          r"relu and sigma_b\^2 = 0.1; start the search lower "
                                          r"\(low=\)$"):
        theory.edge_of_chaos("relu", 0.1, low=2.5)


def test_an_ill_posed_edge_says_how_high_chi_1_rises():
    """GELU at sigma_b^2 = 0: chi_1 stays below 1 until q* vanishes; the message gives chi_1's
    highest value (below 1), where q* vanishes, and the fix."""
    with pytest.raises(TheoryError, match=(
            r"^no edge of chaos for gelu and sigma_b\^2 = 0: chi_1 rises only to 0\.\d+ and "
            r"then the stable fixed point q\* disappears \(at sigma_w\^2 = [\d.]+; beyond it q "
            r"grows without bound\), so chi_1 jumps past 1 without crossing it\. The "
            r"transition is ill-posed here; use a larger sigma_b\^2\.$")):
        theory.edge_of_chaos("gelu", 0.0)


def test_theory_warnings_say_what_is_missing():
    """The warnings name the activation, the point and the missing quantity. (Which line
    they are attributed to is not asserted: mutmut's trampolines add a frame.)"""
    with pytest.warns(TheoryWarning) as record:
        theory.fixed_point("linear", 1.5)
    assert str(record[0].message) == (
        "linear at sigma_w^2 = 1.5, sigma_b^2 = 0 has no fixed point: q grows without bound, "
        "so q* is inf. Lower sigma_w^2 (e.g. below the edge of chaos) or pass q= to evaluate "
        "at a given q.")
    with pytest.warns(TheoryWarning, match="so c\\* does not exist"):
        assert math.isnan(theory.correlation_fixed_point("relu", 2.5, 0.1))
    with pytest.warns(TheoryWarning, match="so the depth scales do not exist"):
        assert all(math.isnan(v) for v in theory.depth_scales("relu", 2.5, 0.1))
    with pytest.warns(TheoryWarning) as record:  # He/ReLU: both maps have slope 1 there
        theory.depth_scales("relu", 2.0)
    assert {scale for scale in ("xi_q", "xi_c") for r in record
            if f"critical point for {scale}:" in str(r.message)} == {"xi_q", "xi_c"}


def test_defaults_and_degenerate_depth_scales():
    """sigma_b^2 defaults to 0 for c* and the depth scales; with sigma_w^2 = 0 nothing
    propagates, so both depth scales are 0."""
    assert theory.correlation_fixed_point("tanh", 2.5) == theory.correlation_fixed_point(
        "tanh", 2.5, 0.0)
    assert theory.depth_scales("tanh", 2.5) == theory.depth_scales("tanh", 2.5, 0.0)
    assert theory.depth_scales("tanh", 0.0, 0.1) == (0.0, 0.0)

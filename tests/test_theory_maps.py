"""The maps' contracts at their edges: defaults, the fixed-point path, convergence,
overflow to inf, and the closed forms against independent references."""

from __future__ import annotations

import math
import os
import re
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


@contextmanager
def plugin_activation(name: str, phi, dphi):
    """``name`` registered by a plugin as (phi, phi') while the block runs (quadrature path)."""
    import initkit

    class Plugin:
        @initkit.hookimpl
        def initkit_register_activations(self, register):
            register(name, phi, dphi)

    plugin = initkit.register_plugin(Plugin(), name=name.replace("_", "-"))
    try:
        yield
    finally:
        initkit.unregister_plugin(plugin)


# Contracts that `make mutation MODULES=theory` found unguarded (issue 25); each docstring
# names the mutant it kills.


@pytest.mark.parametrize("value", [1 / 3, 0.1, math.pi])
def test_gaussian_expectation_at_q_zero_is_f_of_zero_exactly(value):
    """q = 0 is a point mass at 0, so E[f] = f(0) bit for bit, not a quadrature sum whose
    weights add up to 1 only to rounding (kills ``q <= 0`` -> ``q < 0``)."""
    assert theory.gaussian_expectation(lambda x: x + value, 0.0) == value


def test_an_edge_at_an_end_of_the_search_range_is_that_end_exactly():
    """ReLU's chi_1 is sigma_w^2 / 2 (He et al. 2015), so its edge is 2 exactly, also when 2 is
    the search's low end (chi_1 - 1 = 0 there: returned as is, not bisected towards) or its
    high end (brentq's root at a bracket end). Kills ``at_lo == 0`` -> ``== 1`` and
    ``at_hi < 0`` -> ``<= 0``."""
    assert theory.edge_of_chaos("relu", 0.0, low=2.0) == 2.0
    assert theory.edge_of_chaos("relu", 0.0, high=2.0) == 2.0


def test_a_range_that_starts_in_the_chaotic_phase_is_refused():
    """tanh at sigma_b^2 = 0.05 has its edge at 1.761, so from low = 2 chi_1 is above 1 at
    both ends (by less than 1 at the low end): no crossing, a TheoryError naming both
    values (kills ``at_lo > 0`` -> ``at_lo > 1``)."""
    at_low = theory.chi1("tanh", 2.0, 0.05) - 1.0
    assert 0.0 < at_low < 1.0
    with pytest.raises(TheoryError, match=rf"^chi_1 does not cross 1 for sigma_w\^2 in \[2, 20\] "
                                          rf"with tanh and sigma_b\^2 = 0.05 \(chi_1 - 1 is "
                                          rf"{at_low:.3g} and "):
        theory.edge_of_chaos("tanh", 0.05, low=2.0)


def test_the_edge_at_a_tiny_bias_is_the_small_q_series_not_one():
    """With sigma_b^2 > 0 the edge is not snapped to 1. Taylor series of tanh:
    E[tanh(u)^2] = q - 2 q^2 + 17/3 q^3 and E[tanh'(u)^2] = 1 - 2 q + 7 q^2, so chi_1 = 1 at
    sigma_w^2 = 1 + 2 q - 3 q^2 and the length map's fixed point there has 4/3 q^3 = sigma_b^2.
    At sigma_b^2 = 1e-19 the edge is 1 + 8.4e-7, within the snap's 1e-6 of 1 (kills
    ``sigma_b2 != 0 or ...`` -> ``sigma_b2 != 0 and ...``). Tolerance: q* balances terms of
    size sigma_b^2 = 1e-19 against E[tanh^2] ~ q = 4e-7, so the quadrature's ~1e-13 relative
    error moves sigma_w^2 - 1 by ~1% (measured 0.5%)."""
    sigma_b2 = 1e-19
    q = (0.75 * sigma_b2) ** (1 / 3)
    want = 2 * q - 3 * q * q
    assert want < 1e-6
    assert theory.edge_of_chaos("tanh", sigma_b2) - 1.0 == pytest.approx(want, rel=0.02)


def test_an_activation_flat_at_zero_has_no_critical_point_to_snap_to():
    """phi = tanh^3 has phi(0) = phi'(0) = 0: q* = 0 (chi_1 = 0) is stable for every
    sigma_w^2, and at sigma_w^2 = 5.328 a stable q* = 0.867 appears beside it (a saddle-node
    bifurcation): the q* reached from q0 = 1 jumps from 0 to 0.867 and chi_1 from 0 to 1.31. No
    sigma_w^2 has chi_1 = 1, so the search says so (a TheoryError naming the jump), not the
    jump's sigma_w^2 as an edge, and never a ZeroDivisionError (kills ``dphi2(0) <= 0`` ->
    ``dphi2(1) <= 0`` and -> ``dphi2(0) < 0``, and the jump check dropped). The reference
    is the length map itself, 20,000 steps at 0.1% on either side of the jump (closer, the
    passage past the saddle-node's ghost takes longer than that)."""
    def phi(x):
        return np.tanh(x) ** 3

    def dphi(x):
        return 3 * np.tanh(x) ** 2 * (1 - np.tanh(x) ** 2)

    with plugin_activation("tanh_cubed", phi, dphi):
        with pytest.raises(TheoryError) as error:
            theory.edge_of_chaos("tanh_cubed", 0.0)
        message = str(error.value)
        jump = float(re.search(r"at sigma_w\^2 = ([\d.]+) ", message).group(1))
        assert re.fullmatch(
            r"no edge of chaos for tanh_cubed and sigma_b\^2 = 0: at sigma_w\^2 = [\d.]+ the "
            r"fixed point q\* jumps from 0 to 0\.86\d* and chi_1 from 0 to 1\.3\d*, so chi_1 "
            r"jumps past 1 without crossing it\. The transition is discontinuous here, not a "
            r"chi_1 = 1 crossing\.", message), message
        below = theory.length_map("tanh_cubed", jump * (1 - 1e-3), depth=20_000)[-1]
        above = theory.length_map("tanh_cubed", jump * (1 + 1e-3), depth=20_000)[-1]
        assert below < 1e-3 and above > 0.8
        assert 5.32 < jump < 5.34


@pytest.mark.parametrize("sigma_w2,q0", [(5.5, 1.5), (5.5, 20.0), (5.34, 1.0)])
def test_a_pair_of_fixed_points_close_together_is_not_jumped_over(sigma_w2, q0):
    """tanh^3 at sigma_w^2 = 5.5 has fixed points 0 (stable), 0.58 (unstable) and 1.2505
    (stable); at 5.34, just past the saddle-node at 5.328, the pair is 0.79 and 0.95. From
    q0 the length map falls to the upper stable point (reference: 3000 steps of the map
    itself), and fixed_point finds it; the former scan down by a factor 8 per step jumped over
    the pair and answered 0. From 1.5 and 1.0 the map's own steps find it (5.34 kills skipping
    them, ``_ITERATES = 0``); from 20 the map's first step is over a factor 2, so the halving
    scan must (kills the scan's step 0.5 -> 0.125). Below the pair (q0 = 0.5) it falls to 0."""
    def phi(x):
        return np.tanh(x) ** 3

    def dphi(x):
        return 3 * np.tanh(x) ** 2 * (1 - np.tanh(x) ** 2)

    with plugin_activation("tanh_cubed", phi, dphi):
        want = theory.length_map("tanh_cubed", sigma_w2, q0=q0, depth=3000)[-1]
        assert want > 0.9
        assert theory.fixed_point("tanh_cubed", sigma_w2, q0=q0) == pytest.approx(want,
                                                                                 rel=1e-12)
        assert theory.fixed_point("tanh_cubed", sigma_w2, q0=0.5) == 0.0


@pytest.mark.parametrize("activation", ["relu", "selu", "linear", "gelu"])
def test_length_map_of_zero_times_infinity_is_a_quiet_nan(activation):
    """sigma_w^2 = 0 on an infinite q_0 is 0 * inf, which IEEE arithmetic leaves undefined:
    q_1 onwards are NaN, and numpy warns about nothing (kills dropping
    ``invalid="ignore"``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        q = theory.length_map(activation, 0.0, q0=math.inf, depth=3)
    assert q[0] == math.inf and np.isnan(q[1:]).all()


def test_quadrature_moments_of_an_undefined_q_are_nan():
    """A NaN q (0 * inf upstream) gives NaN moments by quadrature, never an exception."""
    forms = forms_for("gelu", {})
    values = [forms.phi2(math.nan), forms.dphi2(math.nan), forms.slope(math.nan),
              forms.pair(math.nan, 0.5), forms.dpair(math.nan, 0.5)]
    assert all(math.isnan(v) for v in values)


@pytest.mark.skipif("MUTANT_UNDER_TEST" in os.environ,
                    reason="mutmut's trampolines add frames between caller and warning")
def test_theory_warnings_point_at_the_callers_line():
    """A TheoryWarning is attributed to the line that called initkit.theory (this file), so a
    notebook shows the student's own cell, not meanfield.py (stacklevel 3 from fixed_point
    and _depth, 4 through _fixed_point_or_nan). Not run under mutmut: there the stacklevel
    mutants of ``_diverges`` and ``_depth`` are untestable, as its trampolines add frames."""
    with pytest.warns(TheoryWarning) as record:
        theory.fixed_point("linear", 1.5)
        theory.correlation_map("relu", 2.5, 0.1)
        theory.depth_scales("relu", 2.5, 0.1)
        theory.depth_scales("relu", 2.0)  # critical: xi_q and xi_c are inf
    assert [r.filename for r in record] == [__file__] * 5


@pytest.mark.parametrize("c", [1 - 1e-8, 1 - 1e-10])
def test_quadrature_pairs_near_full_correlation_resolve_the_smoothed_kink(c):
    """ReLU as a plugin (the quadrature path) against the arc-cosine kernels (Cho & Saul 2009):
    E[relu'(u_1) relu'(u_2)] = (pi - arccos c) / (2 pi) and E[relu(u_1) relu(u_2)] =
    q (sqrt(1 - c^2) + c (pi - arccos c)) / (2 pi). At c = 1 - 1e-8 and q = 100 the inner
    expectation is a step smoothed over sd 1.4e-3, which the outer rule must refine towards
    (kills the refinement of ``conditional_rule`` removed or weakened: errors 4e-7 to 1e-5)."""
    q = 100.0
    with plugin_activation("plugin_relu", lambda x: np.maximum(x, 0.0),
                           lambda x: (x > 0).astype(float)):
        forms = forms_for("plugin_relu", {})
        dpair, pair = forms.dpair(q, c), forms.pair(q, c)
    angle = math.pi - math.acos(c)
    assert dpair == pytest.approx(angle / (2 * math.pi), rel=1e-10)
    assert pair == pytest.approx(q * (math.sqrt(1 - c * c) + c * angle) / (2 * math.pi),
                                 rel=1e-10)


@pytest.mark.parametrize("q", [1e4, 1e6])
def test_narrow_derivative_bumps_at_large_q_are_resolved(q):
    """E[tanh'(u)^2] at q = 1e4 and 1e6: tanh'^2 = sech^4 is a bump of width ~1 where u's
    sd is 100 to 1000, so the rule must grade its panels towards x = 0 (halving) down to
    that width. Reference: scipy's quad of sech^4(x) N(x; 0, q) (agrees to ~4e-12; kills
    the halving offsets 10 * 2^-j mutated to 10 * 2^j, 10 * 3^-j or -20 j: errors 2e-9 to
    100%). The cache of standard rules is emptied first, so the rule is built here and not
    taken from an earlier test (or from mutmut's parent process)."""
    from scipy.integrate import quad

    from initkit.theory.quadrature import _standard

    def integrand(x: float) -> float:
        return math.cosh(x) ** -4 * math.exp(-x * x / (2 * q)) / math.sqrt(2 * math.pi * q)

    _standard.cache_clear()

    want = quad(integrand, -40, 40, points=[0.0], epsabs=0, epsrel=1e-13, limit=200)[0]
    assert forms_for("tanh", {}).dphi2(q) == pytest.approx(want, rel=1e-10)


def test_a_correlation_rounded_past_one_is_read_as_one():
    """A c that rounding puts just outside [-1, 1] is clipped: ReLU's arc-cosine kernel at
    c = +-1 is q / 2 (u_1 = u_2) and 0 (u_1 = -u_2), and its derivative kernel 1/2 and 0
    (kills the clip widened to [-2, 1] or [-1, 2]: sqrt(1 - c^2) of a negative)."""
    relu = forms_for("relu", {})
    above, below = 1.0 + 2.0**-52, -1.0 - 2.0**-52
    assert relu.pair(3.0, above) == 1.5 and relu.dpair(3.0, above) == 0.5
    assert relu.pair(3.0, below) == 0.0 and relu.dpair(3.0, below) == 0.0


@pytest.mark.parametrize("above", [4e-7, 1e-6, 1e-5])
def test_c_star_just_above_the_edge_is_the_second_order_expansion(above):
    """Just past tanh's edge (sigma_b^2 = 0.05, sigma_w^2 = edge (1 + 4e-7 ... 1e-5)) c* is near
    1, where the c-map's excess over the diagonal is lost in rounding at the first gaps below
    1. Taylor expansion of the c-map at c = 1 (its slope there is chi_1, its curvature
    sigma_w^2 q* E[phi''(u)^2]): 1 - c* = 2 (chi_1 - 1) / (sigma_w^2 q* E[phi''(u)^2]), with
    E[tanh''(u)^2] by scipy's quad. Tolerance 2e-2: c* carries the map's rounding (~1e-15)
    over the excess's slope chi_1 - 1 (1.5e-7 at 4e-7), about 1e-8 against 1 - c* = 9e-7
    (measured 0.4%); the expansion's own error is O(1 - c*). Kills the search probing above
    1 instead of below, and the gap 1e-8 dropped: at 4e-7 it is the one gap both past the
    rounding and short of 1 - c*."""
    from scipy.integrate import quad

    sigma_b2 = 0.05
    sigma_w2 = theory.edge_of_chaos("tanh", sigma_b2) * (1 + above)
    q = theory.fixed_point("tanh", sigma_w2, sigma_b2)
    chi = theory.chi1("tanh", sigma_w2, sigma_b2)

    def integrand(x: float) -> float:
        t = math.tanh(x)
        return (2 * t * (1 - t * t)) ** 2 * math.exp(-x * x / (2 * q)) / math.sqrt(2 * math.pi * q)

    curvature = sigma_w2 * q * quad(integrand, -40, 40, points=[0.0], epsabs=0, epsrel=1e-13,
                                    limit=200)[0]
    want = 2 * (chi - 1) / curvature
    assert 1 - theory.correlation_fixed_point("tanh", sigma_w2, sigma_b2) == pytest.approx(
        want, rel=2e-2)


def test_c_star_where_the_excess_is_lost_in_rounding_is_one():
    """At 1e-7 above tanh's edge (sigma_b^2 = 0.05) chi_1 - 1 = 4e-8 and the c-map's excess
    below 1 (~ -(chi_1 - 1) * gap) is rounding at every gap tried: c* is reported as 1, at
    most the expansion's 2.3e-7 from the true value, and never past 1 (kills the fallback
    ``return 1.0`` mutated to 2.0)."""
    sigma_w2 = theory.edge_of_chaos("tanh", 0.05) * (1 + 1e-7)
    assert theory.chi1("tanh", sigma_w2, 0.05) > 1.0
    c_star = theory.correlation_fixed_point("tanh", sigma_w2, 0.05)
    assert 1.0 - 3e-7 <= c_star <= 1.0


@pytest.mark.parametrize("name,sigma_w2,sigma_b2", [("tanh", 2.5, 0.1), ("selu", 1.76, 0.3)])
def test_c_star_is_the_c_maps_root_to_machine_precision(name, sigma_w2, sigma_b2):
    """c* in the chaotic phase is the c-map's stable fixed point, so 1,000 steps of the map
    from c = 0 reach it to a few ulp (the iterate stops moving after 600);
    correlation_fixed_point agrees within 8e-15 (measured: 2.2e-15 and 4.8e-15). brentq at
    its default xtol (2e-12) stops 1.6e-14 and 2.6e-14 away: kills the bracket search's
    xtol=1e-15 dropped."""
    from initkit.theory.meanfield import correlation_step

    forms = forms_for(name, {})
    q = theory.fixed_point(name, sigma_w2, sigma_b2)
    assert theory.chi1(name, sigma_w2, sigma_b2) > 1.0  # chaotic: c* < 1 is the root
    c = 0.0
    for _ in range(1_000):
        c = correlation_step(forms, sigma_w2, sigma_b2, q, c)
    assert 0.5 < c < 0.9
    assert theory.correlation_fixed_point(name, sigma_w2, sigma_b2) == pytest.approx(c, abs=8e-15)


def test_c_star_at_chi1_exactly_one_is_one():
    """tanh at sigma_w^2 = 1, sigma_b^2 = 0 is the critical point itself: q* = 0 and chi_1 = 1
    exactly, which counts as ordered (c = 1 is marginally stable), so c* = 1. Above it, the
    chaotic phase of an odd activation without bias has c* = 0, the c-map's other fixed
    point (at sigma_w^2 = 1.1, chi_1 = 1.003; much closer to 1, e.g. 1 + 1e-9 with
    chi_1 - 1 ~ 4e-15, the c-map leaves the diagonal by less than its rounding, and c* is
    whatever the rounding makes it). Kills ``chi <= 1`` made ``<`` (that reads the critical
    point as chaotic: 0)."""
    assert theory.chi1("tanh", 1.0) == 1.0
    assert theory.correlation_fixed_point("tanh", 1.0) == 1.0
    assert theory.correlation_fixed_point("tanh", 1.1) == pytest.approx(0.0, abs=1e-9)
    assert theory.correlation_fixed_point("tanh", 1.0 - 1e-9) == 1.0


@pytest.mark.parametrize("q", [0.0, 1e-300, 1e-30, 1e-8, 0.3, 1.0, 7.0, 1e4, 1e30])
def test_a_constant_integrand_is_its_own_expectation_exactly(q):
    """E[c] = c to the last bit for every q, whatever order the BLAS adds the weights in
    (OpenBLAS's AVX-512 dot gives 0.9999999999999998 for the sum of the weights; chi_1 of
    tanh at q* = 0, where tanh' is 1 at every node, then missed 1 by an ulp). Through the
    forms (tanh' at q* = 0 and a plugin-like constant) and the pair expectation at c = 1."""
    from initkit.theory.forms import Numeric
    from initkit.theory.quadrature import gaussian_expectation, pair_expectation

    for value in (1.0, 0.7, 1 / 3, 3e7):
        constant = lambda x, v=value: np.full_like(x, v)  # noqa: E731
        assert Numeric(np.tanh, constant).dphi2(q) == value * value
        assert gaussian_expectation(constant, q) == value
        if q > 0.0:
            assert pair_expectation(constant, constant, q, 1.0) == value * value


def test_chi1_defaults_to_no_bias():
    """sigma_b^2 defaults to 0: tanh at sigma_w^2 = 0.5 then has q* = 0, where tanh'(0) = 1, so
    chi_1 = 0.5 exactly (a bias would give q* > 0 and chi_1 < 0.5)."""
    assert theory.chi1("tanh", 0.5) == 0.5
    assert theory.chi1("tanh", 0.5, 0.1) < 0.5


def test_warnings_name_an_activation_object_by_its_name():
    """An Activation passed as an object is named in the warning as its registered name, and
    chi_1 without a fixed point (SELU at sigma_w^2 = 3: q grows without bound) says what is
    missing (kills _name returning the object, and the message mutated)."""
    import initkit

    with pytest.warns(TheoryWarning) as record:
        assert math.isnan(theory.chi1(initkit.get_activation("selu"), 3.0))
    assert str(record[0].message).startswith(
        "selu at sigma_w^2 = 3, sigma_b^2 = 0 has no fixed point: q grows without bound, so "
        "chi_1 at q* does not exist.")


def test_fixed_point_max_iter_bounds_the_root_search():
    """max_iter caps brentq's steps: one step cannot reach tanh's q* at (2.5, 0.1) to 1e-14,
    so the search stops with an error instead of running on (kills max_iter not passed on)."""
    with pytest.raises(TheoryError, match=r"^q\* did not converge to relative tolerance "
                                          r"1e-14 within max_iter=1 root-search steps "
                                          r"\(between q = [\d.e+-]+ and [\d.e+-]+\); raise "
                                          r"max_iter or tol$"):
        theory.fixed_point("tanh", 2.5, 0.1, max_iter=1)


def test_fixed_point_from_q0_is_where_the_iteration_from_q0_goes():
    """phi = tanh(x / sqrt 2)^3 at sigma_w^2 = 11 (tanh^3 at 5.5 with q doubled) has two
    stable fixed points, 0 and 2.5, with an unstable one at 1.2 between: from q_0 = 2 the
    length map climbs to 2.5, and fixed_point(q0=2) is that limit (reference: 3000 steps of
    the map itself; kills the upward bracket starting at 2 / q0 instead of 2 q0, which finds
    the unstable 1.2)."""
    def phi(x):
        return np.tanh(x / math.sqrt(2)) ** 3

    def dphi(x):
        t = np.tanh(x / math.sqrt(2))
        return 3 * t * t * (1 - t * t) / math.sqrt(2)

    with plugin_activation("soft_tanh_cubed", phi, dphi):
        want = theory.length_map("soft_tanh_cubed", 11.0, q0=2.0, depth=3000)[-1]
        assert want > 2.0
        assert theory.fixed_point("soft_tanh_cubed", 11.0, q0=2.0) == pytest.approx(want,
                                                                                 rel=1e-12)


def test_a_large_fixed_point_is_found_from_a_large_q0():
    """The search for q* gives up (inf) only past max(1e12, 1e6 q0): linear at sigma_w^2 = 0.5,
    sigma_b^2 = 5e12 has q* = sigma_b^2 / (1 - sigma_w^2) = 1e13 (closed form), found from
    q_0 = 1e8 (kills the cap 1e6 * q0 mutated to 1e6 / q0, which calls it divergence)."""
    assert theory.fixed_point("linear", 0.5, 5e12, q0=1e8) == pytest.approx(1e13, rel=1e-12)


def test_a_plugin_activations_parameters_reach_phi_and_its_derivative():
    """phi = scale * tanh as a plugin with a ``scale`` parameter (the quadrature path): with
    scale = 2, E[phi(u)^2] = 4 E[tanh(u)^2] and chi_1 = sigma_w^2 4 E[sech^4(u)], references
    by scipy's quad (kills the parameters dropped from phi or from phi')."""
    from scipy.integrate import quad

    def gaussian_mean(f) -> float:
        return quad(lambda x: f(x) * math.exp(-x * x / 2) / math.sqrt(2 * math.pi), -40, 40,
                    points=[0.0], epsabs=0, epsrel=1e-13, limit=200)[0]

    def phi(x, scale=1.0):
        return scale * np.tanh(x)

    def dphi(x, scale=1.0):
        return scale * (1 - np.tanh(x) ** 2)

    with plugin_activation("scaled_param_tanh", phi, dphi):
        q1 = theory.length_map("scaled_param_tanh", 1.5, depth=1, scale=2.0)[1]
        chi = theory.chi1("scaled_param_tanh", 1.5, q=1.0, scale=2.0)
    assert q1 == pytest.approx(1.5 * 4 * gaussian_mean(lambda x: math.tanh(x) ** 2), rel=1e-10)
    assert chi == pytest.approx(1.5 * 4 * gaussian_mean(lambda x: math.cosh(x) ** -4),
                                rel=1e-10)


def test_a_fixed_point_below_q_zero_reads_as_zero():
    """tanh at sigma_w^2 = 0.5 with sigma_b^2 = 1e-200 has q* = sigma_b^2 / (1 - 0.5) = 2e-200
    to first order, below Q_ZERO = 1e-150, which reads as 0 (kills returning sigma_b^2 there
    whatever its size)."""
    assert theory.fixed_point("tanh", 0.5, 1e-200) == 0.0
    assert theory.fixed_point("tanh", 0.5, 1e-100) == pytest.approx(2e-100, rel=1e-12)

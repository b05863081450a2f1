"""Degenerate mean-field cases are explicit: no fixed point, divergence, critical points."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import initkit
from initkit import theory
from initkit.errors import TheoryError, TheoryWarning


@pytest.mark.parametrize("activation,sigma_w2,sigma_b2", [
    ("relu", 2.0, 0.1),  # q_{l+1} = q_l + sigma_b^2: linear growth
    ("linear", 1.0, 0.1),
    ("relu", 2.5, 0.0),  # q_{l+1} = 1.25 q_l
    ("gelu", 2.0, 0.3),  # F(q) > q for every q
])
def test_divergence_is_inf_with_a_warning(activation, sigma_w2, sigma_b2):
    """Where q grows without bound fixed_point is inf and depth_scales (nan, nan), each warned."""
    q = theory.length_map(activation, sigma_w2, sigma_b2, depth=200)
    assert q[-1] > q[-2] > q[100]  # the map itself keeps growing
    with pytest.warns(TheoryWarning, match="no fixed point: q grows without bound"):
        assert theory.fixed_point(activation, sigma_w2, sigma_b2) == math.inf
    with pytest.warns(TheoryWarning, match="depth scales do not exist"):
        xi_q, xi_c = theory.depth_scales(activation, sigma_w2, sigma_b2)
    assert math.isnan(xi_q) and math.isnan(xi_c)
    if activation == "gelu":  # phi' depends on q: no q*, no chi_1
        with pytest.warns(TheoryWarning, match="chi_1 at q\\* does not exist"):
            assert math.isnan(theory.chi1(activation, sigma_w2, sigma_b2))
    else:  # relu and linear: phi' is scale-free, so chi_1 = sigma_w^2 E[phi'^2] at any q
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            expected = sigma_w2 * (0.5 if activation == "relu" else 1.0)
            assert theory.chi1(activation, sigma_w2, sigma_b2) == expected


def test_relu_keeps_every_q_at_sigma_w2_two():
    """ReLU at (2, 0) maps every q to itself: q* = q0, chi_1 = 1 and both depth scales are
    inf (a critical point, warned)."""
    assert theory.fixed_point("relu", 2.0, 0.0, q0=3.5) == 3.5
    with pytest.warns(TheoryWarning, match="critical point"):
        assert theory.depth_scales("relu", 2.0, 0.0) == (math.inf, math.inf)


def test_relu_xi_q_at_zero_bias_is_exact():
    """ReLU, sigma_b^2 = 0, sigma_w^2 = 1.76: q* = 0 and the length map's slope is 0.88, so
    xi_q = -1 / ln 0.88 = 7.8227 (a finite difference of phi' gave 8.52)."""
    assert theory.fixed_point("relu", 1.76, 0.0) == 0.0
    xi_q, xi_c = theory.depth_scales("relu", 1.76, 0.0)
    assert xi_q == pytest.approx(-1 / math.log(0.88), rel=1e-12)
    assert xi_c == pytest.approx(-1 / math.log(0.88), rel=1e-12)  # ordered: chi_c = chi_1


def test_tanh_at_unit_weights_is_the_critical_point():
    """tanh, sigma_b^2 = 0: q* = 0 for sigma_w^2 <= 1 (chi_1 = sigma_w^2), so the edge is 1."""
    assert theory.fixed_point("tanh", 1.0, 0.0) == 0.0
    assert theory.fixed_point("tanh", 0.8, 0.0) == 0.0
    assert theory.chi1("tanh", 0.8, 0.0) == pytest.approx(0.8, rel=1e-14)
    assert theory.edge_of_chaos("tanh", 0.0) == pytest.approx(1.0, rel=1e-14)
    with pytest.warns(TheoryWarning, match="critical point") as caught:
        assert theory.depth_scales("tanh", 1.0, 0.0) == (math.inf, math.inf)
    assert {str(w.message).split(" is inf")[0][-4:] for w in caught} == {"xi_q", "xi_c"}


@pytest.mark.parametrize("sigma_b2", [0.0, 0.05, 0.1])
def test_gelu_edge_is_ill_posed_at_small_bias(sigma_b2):
    """GELU at small sigma_b^2: chi_1 stays below 1 until q* disappears (then q diverges), so
    edge_of_chaos raises a TheoryError that says so, and the phase diagram shows no edge."""
    with pytest.raises(TheoryError, match="fixed point q\\* disappears") as info:
        theory.edge_of_chaos("gelu", sigma_b2)
    lo, hi = 1.5, 3.0  # where q* stops existing, by bisection on fixed_point alone
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TheoryWarning)
        for _ in range(40):
            mid = (lo + hi) / 2
            lo, hi = (lo, mid) if math.isinf(theory.fixed_point("gelu", mid, sigma_b2)) else (
                mid, hi)
    assert theory.chi1("gelu", lo, sigma_b2) < 0.95  # a jump, not a crossing of 1
    said = float(str(info.value).split("at sigma_w^2 = ")[1].split(";")[0])
    assert said == pytest.approx(hi, rel=1e-8)
    assert np.isnan(initkit.viz.phase.edge_curve("gelu", np.array([sigma_b2]), 20.0)).all()


def test_no_crossing_in_the_range_is_a_theory_error():
    """The sigmoid edge at sigma_b^2 = 0 lies above the default range: a TheoryError (a
    ValueError) that says to widen it."""
    with pytest.raises(TheoryError, match="widen the range"):
        theory.edge_of_chaos("sigmoid", 0.0)
    with pytest.raises(ValueError):
        theory.edge_of_chaos("tanh", 0.05, high=1.5)


def test_initializer_without_a_variance_is_a_theory_error():
    """predict() on an initializer that declares no variance raises a TheoryError saying so;
    simulate() still runs and leaves the theory columns NaN."""

    class NoVariance:
        @initkit.hookimpl
        def initkit_register_initializers(self, register):
            register("no_variance_init",
                     lambda shape, rng, dtype=float: 0.1 * rng.standard_normal(shape).astype(dtype),
                     activation="tanh")

    name = initkit.register_plugin(NoVariance(), name="no-variance")
    try:
        with pytest.raises(TheoryError, match="declares no variance, so mean-field theory "
                                              "does not apply"):
            theory.predict("no_variance_init", None, [8, 8, 8])
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            trace = initkit.simulate("no_variance_init", depth=2, width=8, batch=4)
    finally:
        initkit.unregister_plugin(name)
    assert np.isnan(trace.theory["q"]).all() and np.isnan(trace.theory["grad_var"]).all()
    assert np.isfinite(trace.q).all()

"""Mean-field theory: the facts from Poole et al. 2016 and Schoenholz et al. 2017."""

from __future__ import annotations

import math

import numpy as np
import pytest

from initkit import theory
from initkit.errors import TheoryWarning


def test_relu_he_keeps_q_exactly_constant_and_chi1_is_one():
    """ReLU with sigma_w^2 = 2: E[relu(sqrt(q) z)^2] = q/2, so q_l = q_0 and chi_1 = 1."""
    q = theory.length_map("relu", 2.0, q0=1.7, depth=50)
    np.testing.assert_allclose(q, 1.7, rtol=1e-13)
    assert theory.chi1("relu", 2.0) == pytest.approx(1.0, abs=1e-13)


def test_tanh_unit_weights_decay_like_one_over_two_l():
    """tanh with sigma_w = 1, sigma_b = 0 from q_0 = 1: q_20 = 0.0259 and l * q_l -> 1/2."""
    q = theory.length_map("tanh", 1.0, 0.0, q0=1.0, depth=2000)
    assert f"{q[20]:.4f}" == "0.0259"
    assert 2000 * q[2000] == pytest.approx(0.5, rel=0.02)


def test_tanh_edge_of_chaos():
    """The tanh edge of chaos at sigma_b^2 = 0.05 is sigma_w^2 = 1.761 (chi_1 = 1 there)."""
    sw2 = theory.edge_of_chaos("tanh", 0.05)
    assert sw2 == pytest.approx(1.761, abs=1e-3)
    assert theory.chi1("tanh", sw2, 0.05) == pytest.approx(1.0, abs=1e-9)


def test_relu_edge_of_chaos_is_two():
    """For ReLU chi_1 = sigma_w^2 / 2 at every q, so the edge is sigma_w^2 = 2."""
    assert theory.edge_of_chaos("relu", 0.0) == pytest.approx(2.0, rel=1e-9)


def test_fixed_point_satisfies_the_length_map():
    """q* is a fixed point: one more step of the map returns it (to rounding)."""
    q_star = theory.fixed_point("tanh", 2.5, 0.1)
    assert theory.length_map("tanh", 2.5, 0.1, q0=q_star, depth=1)[1] == pytest.approx(
        q_star, rel=1e-14)
    with pytest.warns(TheoryWarning, match="q grows without bound"):
        assert theory.fixed_point("linear", 1.5) == math.inf


def test_relu_correlation_map_matches_the_arc_cosine_kernel():
    """ReLU with sigma_w^2 = 2: c' = (sqrt(1 - c^2) + (pi - arccos c) c) / pi (Cho & Saul 2009)."""
    c = theory.correlation_map("relu", 2.0, c0=0.3, depth=3, q=1.0)
    for before, after in zip(c[:-1], c[1:], strict=True):
        expected = (math.sqrt(1 - before**2) + (math.pi - math.acos(before)) * before) / math.pi
        assert after == pytest.approx(expected, rel=1e-13)  # the closed form, not quadrature


def test_depth_scale_diverges_at_the_edge_of_chaos():
    """xi_c grows without bound as sigma_w^2 approaches the edge of chaos (Schoenholz Fig. 1)."""
    edge = theory.edge_of_chaos("tanh", 0.05)
    far = theory.depth_scales("tanh", edge * 0.6, 0.05)[1]
    near = theory.depth_scales("tanh", edge * 0.98, 0.05)[1]
    assert near > 5 * far > 0


def test_predict_residual_relu_doubles_and_zero_gamma_stays():
    """Residual ReLU with He: q doubles every block; with a zero-gamma norm the stream stays at q_in."""
    doubling = theory.predict("he", "relu", [64] * 6, residual=True)
    np.testing.assert_allclose(doubling.q, [2.0, 4.0, 8.0, 16.0, 32.0])
    flat = theory.predict("he", "relu", [64] * 6, residual=True, norm="layer", gamma=0.0)
    np.testing.assert_allclose(flat.q, 1.0)


def test_predict_he_relu_by_hand_with_unequal_widths():
    """He/ReLU, widths 64-32-128-32-128: q = 2 per layer; backward each layer multiplies by
    fan_out * (2 / fan_in) * 1/2 = n_{l+1} / n_l, from 1/2 at the top: [2, 1/2, 2, 1/2]."""
    pred = theory.predict("he", "relu", [64, 32, 128, 32, 128])
    np.testing.assert_allclose(pred.q, [2.0, 2.0, 2.0, 2.0], rtol=1e-15)
    np.testing.assert_allclose(pred.grad_var, [2.0, 0.5, 2.0, 0.5], rtol=1e-15)


def test_predict_xavier_linear_by_hand():
    """Xavier/linear, widths 10-30-20: Var W = 2 / (n_in + n_out), so q_1 = 10 * 2/40 = 1/2,
    q_2 = 30 * 2/50 * q_1 = 3/5; the gradient is 1 at the top and 20 * 2/50 = 4/5 below."""
    pred = theory.predict("xavier", "linear", [10, 30, 20])
    np.testing.assert_allclose(pred.q, [0.5, 0.6], rtol=1e-15)
    np.testing.assert_allclose(pred.grad_var, [0.8, 1.0], rtol=1e-15)


def test_predict_tanh_gradient_against_quadrature_by_hand():
    """Xavier/tanh at equal widths (sigma_w^2 = 1): q_1 = 1, q_{l+1} = E[tanh(sqrt(q_l) z)^2],
    and each layer down multiplies the gradient by E[tanh'(sqrt(q_l) z)^2], all by scipy quad."""
    from scipy.integrate import quad

    def mean(f, q: float) -> float:
        def g(x: float) -> float:
            return f(x) * math.exp(-x * x / (2 * q))

        return quad(g, -12 * math.sqrt(q), 12 * math.sqrt(q), points=[0.0],
                    epsabs=0, epsrel=1e-12)[0] / math.sqrt(2 * math.pi * q)

    want_q = [1.0]
    for _ in range(4):
        want_q.append(mean(lambda x: math.tanh(x) ** 2, want_q[-1]))
    want_grad = [mean(lambda x: (1 - math.tanh(x) ** 2) ** 2, want_q[-1])]
    for q in want_q[-2::-1]:
        want_grad.insert(0, want_grad[0] * mean(lambda x: (1 - math.tanh(x) ** 2) ** 2, q))
    pred = theory.predict("xavier", "tanh", [256] * 6)
    np.testing.assert_allclose(pred.q, want_q, rtol=1e-10)
    np.testing.assert_allclose(pred.grad_var, want_grad, rtol=1e-10)

"""Mean-field theory: the facts from Poole et al. 2016 and Schoenholz et al. 2017."""

from __future__ import annotations

import math

import numpy as np
import pytest

from initkit import theory


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
    """q* is a fixed point: one more step of the map returns it."""
    q_star = theory.fixed_point("tanh", 2.5, 0.1)
    assert theory.length_map("tanh", 2.5, 0.1, q0=q_star, depth=1)[1] == pytest.approx(q_star)
    assert theory.fixed_point("linear", 1.5) == math.inf


def test_relu_correlation_map_matches_the_arc_cosine_kernel():
    """ReLU with sigma_w^2 = 2: c' = (sqrt(1 - c^2) + (pi - arccos c) c) / pi (Cho & Saul 2009)."""
    c = theory.correlation_map("relu", 2.0, c0=0.3, depth=3, q=1.0)
    for before, after in zip(c[:-1], c[1:], strict=True):
        expected = (math.sqrt(1 - before**2) + (math.pi - math.acos(before)) * before) / math.pi
        assert after == pytest.approx(expected, abs=1e-3)  # the kink limits quadrature


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


def test_predict_plain_gradient_follows_chi1_per_layer():
    """Plain nets: each layer down multiplies the gradient variance by sigma_w^2 E[phi'(h_l)^2]."""
    pred = theory.predict("xavier", "tanh", [256] * 11)
    for layer in range(9):
        chi = theory.chi1("tanh", 1.0, q=pred.q[layer])
        assert pred.grad_var[layer] == pytest.approx(chi * pred.grad_var[layer + 1])

"""Backprop through time over 50 steps: how W_hh's initializer shapes the gradient norms.

Only the last step is read out, so dL/dh_t reaches step t through the product
prod_s W_hh^T diag(phi'(a_s)) (Pascanu, Mikolov & Bengio 2013). ``hidden_grad_norms[t]`` is
||dL/dh_t||; the tests compare the first step's norm with the last one's (49 products).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from initkit import nn, theory
from initkit.data import adding_problem

STEPS = 50
HIDDEN = 128
SEEDS = (0, 1, 2)


def _ratio(activation, init_hh, hh_params=None, dtype=np.float32, seed=0):
    data = adding_problem(n_train=64, n_test=1, steps=STEPS, seed=seed)
    model = nn.RNN(2, HIDDEN, 1, activation=activation, init_hh=init_hh, hh_params=hh_params,
                   dtype=dtype, seed=seed)
    loss = nn.MeanSquaredError()
    loss(model(data.x_train), data.y_train)
    model.backward(loss.backward())
    norms = model.hidden_grad_norms
    assert norms.shape == (STEPS,)
    return norms / norms[-1]


def _geometric_mean(values):
    return math.exp(np.mean(np.log(values)))


def test_linear_orthogonal_recurrence_preserves_gradient_norm_exactly():
    """Linear phi, orthogonal W_hh: ||g W_hh|| = ||g||, so every step's norm is equal (1e-6)."""
    for seed in SEEDS:
        ratios = _ratio("linear", "orthogonal", dtype=np.float64, seed=seed)
        np.testing.assert_allclose(ratios, 1.0, rtol=1e-6)


def test_tanh_orthogonal_recurrence_keeps_gradient_within_two_decades():
    """tanh with orthogonal W_hh: phi' <= 1 only shrinks it mildly, staying in [0.01, 100]."""
    for seed in SEEDS:
        ratios = _ratio("tanh", "orthogonal", seed=seed)
        assert 0.01 <= ratios[0] <= 100
        assert np.all((ratios >= 0.01) & (ratios <= 100))


def test_gaussian_recurrence_explodes_or_vanishes_as_mean_field_predicts():
    """Gaussian W_hh, std s/sqrt(n): the norm changes by about chi_1^(49/2) over 49 steps.

    chi_1 = s^2 E[tanh'(sqrt(q*) z)^2] (Poole 2016; Schoenholz 2017): s = 1.5 is chaotic
    (q* = 0.79, chi_1 = 1.14, predicted growth ~24x) and s = 0.5 ordered (q* = 0,
    chi_1 = 0.25, predicted decay 0.5^49 ~ 2e-15). Finite width (n = 128) fluctuates, so the
    geometric mean over three seeds is compared within a factor of 10, and the measured
    separation from the orthogonal case is asserted as well.
    """
    grow = [_ratio("tanh", "normal", {"std": 1.5 / math.sqrt(HIDDEN)}, seed=s)[0] for s in SEEDS]
    vanish = [_ratio("tanh", "normal", {"std": 0.5 / math.sqrt(HIDDEN)}, seed=s)[0]
              for s in SEEDS]
    ortho = [_ratio("tanh", "orthogonal", seed=s)[0] for s in SEEDS]
    predicted_grow = theory.chi1("tanh", 1.5**2) ** ((STEPS - 1) / 2)
    predicted_vanish = theory.chi1("tanh", 0.5**2) ** ((STEPS - 1) / 2)
    assert predicted_grow == pytest.approx(24, rel=0.1)
    assert 0.1 < _geometric_mean(grow) / predicted_grow < 10
    assert 0.1 < _geometric_mean(vanish) / predicted_vanish < 10
    assert min(grow) > 10  # grows by more than an order of magnitude ...
    assert max(vanish) < 1e-10  # ... or vanishes by ten
    assert min(grow) > 50 * max(ortho) and max(vanish) < 1e-8 * min(ortho)

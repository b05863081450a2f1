"""Tests of LSUV (Mishkin & Matas 2015) as a built-in, data-dependent initializer plugin."""

from __future__ import annotations

import numpy as np
import pytest

import initkit
from initkit import nn
from initkit.data import load_digits
from initkit.lsuv import lsuv
from initkit.train import build_model, fit


@pytest.fixture(scope="module")
def digits():
    return load_digits()


def _dense_output_variances(model, x):
    variances = []
    for layer in model.dense_layers():
        original = layer.forward
        seen = {}
        layer.forward = lambda inp, f=original, s=seen: s.setdefault("out", f(inp))
        model.forward(x)
        del layer.forward
        variances.append(float(np.var(seen["out"])))
    return variances


def test_lsuv_is_a_builtin_plugin_initializer():
    """'lsuv' is registered by the built-in plugin initkit.lsuv and gives an orthonormal W."""
    init = initkit.get_initializer("lsuv")
    assert init.plugin == "initkit.lsuv" and init.orthogonal
    w = init((32, 64), np.random.default_rng(0), dtype=np.float32)
    assert w.dtype == np.float32
    np.testing.assert_allclose(w @ w.T, np.eye(32), atol=1e-5)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_lsuv_gives_unit_output_variance_in_every_layer(digits, activation):
    """After LSUV every Dense layer's output variance on the batch is within 0.1 of 1."""
    model = build_model(digits, init="lsuv", activation=activation, depth=8, width=64)
    x = digits.x_train[:256]
    before = _dense_output_variances(model, x)
    report = lsuv(model, x)
    after = _dense_output_variances(model, x)
    assert report.converged and len(report.variances) == 9
    assert all(abs(v - 1) < 0.1 for v in after)
    assert max(abs(v - 1) for v in before) > 0.1  # there was something to fix
    assert all(t <= 10 for t in report.tries)


def test_lsuv_gives_up_after_ten_tries(digits):
    """Biases of variance 9 keep Var(output) >= ~9 whatever W is: LSUV stops after 10 tries."""
    model = nn.MLP([64, 256, 10], init="lsuv", bias_init="normal", bias_params={"std": 3.0})
    report = lsuv(model, digits.x_train[:64])
    assert report.tries[0] == 10 and not report.converged
    assert report.variances[0] > 5


def test_lsuv_leaves_zero_weights_alone(digits):
    """Zero output variance cannot be rescaled: no tries, no division by zero."""
    report = lsuv(nn.MLP([64, 16, 10], init="zeros"), digits.x_train[:64])
    assert report.tries == [0, 0] and report.variances == [0.0, 0.0]


def test_fit_runs_lsuv_on_the_first_batch(digits):
    """fit() rescales an 'lsuv' model before training, so a deep tanh net learns."""
    model = build_model(digits, init="lsuv", activation="tanh", depth=8, width=64)
    orthogonal_w = model.dense_layers()[0].W.data.copy()
    history = fit(model, digits, epochs=3, batch_size=64, lr=0.01)
    first = model.dense_layers()[0].W.data
    assert not np.allclose(first, orthogonal_w)
    assert history.final_test_accuracy > 0.85

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
    """Var of each Dense layer's output on ``x``, seen through the engine's forward hooks."""
    seen = {}
    handles = [layer.register_forward_hook(lambda m, inp, out: seen.setdefault(m.name, out))
               for layer in model.dense_layers()]
    model(x)
    for handle in handles:
        handle.remove()
    return [float(np.var(seen[layer.name])) for layer in model.dense_layers()]


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


def test_fit_reaches_lsuv_through_the_data_init_hook(digits):
    """'lsuv' carries its data-dependent step as data_init metadata; fit's History.data_init is its LSUVReport, one variance per Dense layer."""
    from initkit.lsuv import LSUVReport, lsuv_data_init

    assert initkit.get_initializer("lsuv").data_init is lsuv_data_init
    model = build_model(digits, init="lsuv", activation="relu", depth=3, width=32)
    history = fit(model, digits, epochs=1, batch_size=64, max_steps=1)
    report = history.data_init["lsuv"]
    assert isinstance(report, LSUVReport) and report.converged
    assert report.layers == [d.name for d in model.dense_layers()]


def test_an_rnn_keeps_the_orthonormal_pre_init():
    """LSUV's data_init leaves an RNN alone (None); lsuv() on an RNN is an EngineError saying what to use instead."""
    from initkit.lsuv import lsuv_data_init

    rnn = nn.RNN(2, 8, 1, init_hh="lsuv", init_out="lsuv", seed=0)
    w_hh = rnn.W_hh.data.copy()
    x = np.random.default_rng(0).standard_normal((4, 5, 2))
    assert lsuv_data_init(rnn, x) is None
    np.testing.assert_array_equal(rnn.W_hh.data, w_hh)
    with pytest.raises(nn.EngineError, match="init_hh='orthogonal'"):
        lsuv(rnn, x)


def test_lsuv_declares_the_orthogonal_variance_for_conv_shapes():
    """LSUV's pre-init declares orthogonal's gain^2 / max(out, fan_in): 1/288 for (64, 32, 3, 3), what a draw measures."""
    init = initkit.get_initializer("lsuv")
    weight = init((64, 32, 3, 3), np.random.default_rng(0))
    assert init.target_variance((64, 32, 3, 3)) == pytest.approx(1 / 288, rel=1e-15)
    assert float(np.mean(weight ** 2)) == pytest.approx(1 / 288, rel=1e-12)

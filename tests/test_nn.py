"""Tests of the numpy engine: exact gradients, losses, optimizers, dtypes, observation."""

from __future__ import annotations

import math

import numpy as np
import pytest

import initkit
from initkit import nn

BUILTIN_ACTIVATIONS = ["linear", "relu", "leaky_relu", "tanh", "sigmoid", "selu", "gelu"]
TOL = 1e-6


def _batch(n=6, d=5, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.integers(0, classes, n)


def test_builtin_activation_list_is_complete():
    """The gradient checks below cover every activation the kit registers itself."""
    builtin = {a.name for a in initkit.activations().values() if a.plugin.startswith("initkit.")}
    assert builtin == set(BUILTIN_ACTIVATIONS)


@pytest.mark.parametrize("activation", BUILTIN_ACTIVATIONS)
def test_dense_gradcheck_every_activation(activation):
    """Backprop through Dense + each built-in activation matches finite differences."""
    x, y = _batch()
    model = nn.MLP([5, 7, 3], activation=activation, init="xavier", dtype=np.float64, seed=1,
                   bias_init="normal", bias_params={"std": 0.3})
    check = nn.gradcheck(model, x, y, "cross_entropy")
    assert check.max_error < TOL, str(check)


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_gradcheck_both_losses(loss):
    """Both losses give exact gradients through a two-hidden-layer tanh MLP."""
    x, y = _batch(classes=3)
    target = y if loss == "cross_entropy" else np.random.default_rng(2).standard_normal((6, 3))
    model = nn.MLP([5, 8, 8, 3], activation="tanh", init="xavier", dtype=np.float64, seed=3)
    assert nn.gradcheck(model, x, target, loss).max_error < TOL


@pytest.mark.parametrize("norm", ["layer", "rms", "batch"])
def test_gradcheck_residual_with_norm(norm):
    """A residual MLP with a norm in every block has exact gradients (gamma, beta included)."""
    x, y = _batch(n=8)
    model = nn.MLP([5, 6, 6, 6, 3], activation="gelu", init="he", residual=True, norm=norm,
                   dtype=np.float64, seed=4, bias_init="normal", bias_params={"std": 0.2})
    for norm_layer in (m for m in model.modules() if isinstance(m, nn.Norm)):
        norm_layer.gamma.data[:] = np.random.default_rng(5).uniform(0.5, 1.5, 6)
    check = nn.gradcheck(model, x, y, "cross_entropy")
    assert check.max_error < TOL, str(check)
    assert any(name.endswith(".gamma") for name in check.errors)


@pytest.mark.parametrize("many_to_many", [False, True])
def test_rnn_bptt_gradcheck_over_25_steps(many_to_many):
    """BPTT over 25 steps matches finite differences for W_xh, W_hh, b and the read-out."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((4, 25, 3))
    model = nn.RNN(3, 8, 4, init_hh="normal", hh_params={"std": 0.5}, dtype=np.float64,
                   many_to_many=many_to_many, seed=7)
    target = rng.integers(0, 4, (4, 25) if many_to_many else 4)
    check = nn.gradcheck(model, x, target, "cross_entropy")
    assert set(check.errors) == {"rnn.W_xh", "rnn.W_hh", "rnn.b", "readout.W", "readout.b"}
    assert check.max_error < TOL, str(check)


def test_cross_entropy_is_stable_and_matches_log_sum_exp():
    """Logits around 1000 give the exact log-sum-exp loss, not nan or inf."""
    logits = np.array([[1000.0, 999.0, 990.0], [-1000.0, -1001.0, -1000.5]])
    labels = np.array([1, 2])
    loss = nn.SoftmaxCrossEntropy()
    value = loss(logits, labels)
    expected = np.mean([math.log(math.exp(1) + 1 + math.exp(-9)) - 0.0 + 0.0,
                        math.log(1 + math.exp(-1) + math.exp(-0.5)) + 0.5])
    assert value == pytest.approx(expected, rel=1e-12)
    assert np.isfinite(loss.backward()).all()


def test_cross_entropy_gradient_is_softmax_minus_onehot_over_batch():
    """dL/dz = (softmax(z) - onehot(y)) / B, the textbook result."""
    z = np.array([[0.0, np.log(3.0)], [0.0, 0.0]])
    loss = nn.SoftmaxCrossEntropy()
    loss(z, np.array([0, 1]))
    np.testing.assert_allclose(loss.backward(), [[(0.25 - 1) / 2, 0.75 / 2],
                                                 [0.5 / 2, (0.5 - 1) / 2]])


def test_mse_matches_torch_definition():
    """MSE is the mean over every entry and its gradient is 2 (y - t) / N."""
    y = np.array([[1.0, 2.0], [3.0, 5.0]])
    t = np.zeros((2, 2))
    loss = nn.MeanSquaredError()
    assert loss(y, t) == pytest.approx((1 + 4 + 9 + 25) / 4)
    np.testing.assert_allclose(loss.backward(), 2 * y / 4)


def test_sgd_momentum_follows_pytorch_update():
    """Two SGD momentum steps give p - lr g - lr (mu g + g), PyTorch's heavy ball."""
    p = nn.Parameter(np.array([1.0, -2.0], dtype=np.float32), "p")
    opt = nn.SGD([p], lr=0.1, momentum=0.9)
    g = np.array([0.5, 1.0], dtype=np.float32)
    for _ in range(2):
        p.grad = g.copy()
        opt.step()
    np.testing.assert_allclose(p.data, [1.0, -2.0] - 0.1 * g - 0.1 * 1.9 * g, rtol=1e-6)
    assert p.data.dtype == np.float32


def test_adam_first_step_is_lr_times_sign():
    """With bias correction Adam's first step is -lr * g / (|g| + eps) = -lr * sign(g)."""
    p = nn.Parameter(np.array([0.0, 0.0, 0.0]), "p")
    opt = nn.Adam([p], lr=0.01)
    p.grad = np.array([3.0, -1e-3, 0.2])
    opt.step()
    np.testing.assert_allclose(p.data, [-0.01, 0.01, -0.01], rtol=1e-4)


def test_float32_stays_float32_through_training_step():
    """Forward, backward and the optimizer keep float32 even for a float64 input batch."""
    model = nn.MLP([5, 8, 8, 3], activation="gelu", init="he", residual=True, norm="layer")
    x, y = _batch()
    loss = nn.SoftmaxCrossEntropy()
    out = model(x)  # float64 in: cast once at the model's entrance
    assert out.dtype == np.float32
    loss(out, y)
    grad = loss.backward()
    assert grad.dtype == np.float32
    model.backward(grad)
    nn.Adam(model.parameters()).step()
    assert {p.data.dtype for p in model.parameters()} == {np.dtype(np.float32)}
    assert {p.grad.dtype for p in model.parameters()} == {np.dtype(np.float32)}


def test_rnn_keeps_float32():
    """The unrolled RNN's output and every gradient stay float32."""
    model = nn.RNN(2, 6, 1)
    out = model(np.ones((3, 10, 2)))
    assert out.dtype == np.float32
    loss = nn.MeanSquaredError()
    loss(out, np.zeros((3, 1)))
    model.backward(loss.backward())
    assert {p.grad.dtype for p in model.parameters()} == {np.dtype(np.float32)}


def test_dense_weights_come_from_the_registry_in_pytorch_layout():
    """Dense(n_in, n_out, init) draws W of shape (out, in) with the initializer's variance."""
    layer = nn.Dense(400, 300, init="he", rng=0)
    assert layer.W.shape == (300, 400)
    assert layer.W.data.var() == pytest.approx(2 / 400, rel=0.02)
    np.testing.assert_array_equal(layer.b.data, 0)
    ortho = nn.Dense(50, 50, init="orthogonal", init_params={"gain": 2.0}, rng=0)
    np.testing.assert_allclose(ortho.W.data @ ortho.W.data.T, 4 * np.eye(50), atol=1e-5)


def test_unknown_initializer_is_a_clear_error():
    """A misspelt initializer raises UnknownNameError suggesting the right name."""
    with pytest.raises(initkit.UnknownNameError, match="'he'"):
        nn.MLP([4, 4, 2], init="hee")


def test_residual_mlp_needs_equal_widths():
    """A residual MLP with unequal hidden widths is refused with the widths in the message."""
    with pytest.raises(nn.EngineError, match=r"\[8, 6\]"):
        nn.MLP([4, 8, 6, 2], residual=True)


def test_symmetry_counts_distinct_units():
    """Constant init gives one distinct unit per hidden layer; He gives all of them."""
    const = nn.MLP([5, 16, 16, 3], init="constant", init_params={"value": 0.2})
    report = nn.symmetry(const)
    assert report.n_distinct == [1, 1] and report.collapsed
    assert report.layers[0].max_distance == 0.0
    he = nn.symmetry(nn.MLP([5, 16, 16, 3], init="he", seed=0))
    assert he.n_distinct == [16, 16] and not he.collapsed
    assert he.layers[0].relative_spread > 0.5


def test_recorder_hook_records_layer_statistics():
    """A Recorder keeps per-layer activation statistics and gradient norms of each step."""
    model = nn.MLP([5, 8, 8, 3], activation="relu", init="he", seed=0)
    x, y = _batch()
    loss = nn.SoftmaxCrossEntropy()
    rec = nn.Recorder()
    for step in range(3):
        loss(model(x), y)
        model.backward(loss.backward())
        rec(step, model, {})
    assert rec.array("act_std").shape == (3, 2)
    assert rec.array("grad_norm").shape == (3, 3)
    act = [m for m in model.modules() if isinstance(m, nn.ActivationLayer)][0]
    assert rec.array("dead_fraction")[-1, 0] == pytest.approx(np.mean(act.z <= 0))
    assert rec.array("grad_norm")[-1, 0] == pytest.approx(np.linalg.norm(model.weights()[0].grad))


def test_gradcheck_detects_a_wrong_backward():
    """The checker itself can fail: a backward off by 1% is reported far above tolerance."""

    class WrongTanh(nn.ActivationLayer):
        def backward(self, grad):
            return 1.01 * super().backward(grad)

    x, y = _batch()
    model = nn.MLP([5, 7, 3], activation="tanh", init="xavier", dtype=np.float64, seed=1)
    model.layers[1] = WrongTanh("tanh")
    assert nn.gradcheck(model, x, y, "cross_entropy").errors["dense0.W"] > 1e-3


def test_wrong_initializer_parameter_is_a_clear_error():
    """A parameter the initializer does not take is a ParameterError naming the initializer, the parameter and the valid ones."""
    with pytest.raises(initkit.ParameterError,
                       match="'he_normal'.*no parameter 'value'; it takes: a, mode"):
        nn.Dense(4, 4, init="he", init_params={"value": 1.0})


def test_a_type_error_inside_an_initializer_is_not_called_a_parameter_error():
    """A TypeError raised by a bug inside an initializer reaches the caller as itself, not as "rejected its parameters"."""
    from initkit.registry import Initializer

    def buggy(shape, rng, scale=1.0, dtype=np.float64):
        return np.ones(shape, dtype=dtype) * "oops"  # the bug: str times array

    init = Initializer(name="buggy", fn=buggy, plugin="test")
    with pytest.raises(TypeError) as caught:
        nn.Dense(4, 4, init=init, init_params={"scale": 2.0})
    assert not isinstance(caught.value, initkit.ParameterError)
    with pytest.raises(initkit.ParameterError, match="no parameter 'sclae'; it takes: scale"):
        nn.Dense(4, 4, init=init, init_params={"sclae": 2.0})


def test_forward_hooks_see_every_layer_output_and_can_be_removed():
    """A forward hook gets (module, input, output) of every call through a container, for nested Residual blocks too; remove() and the with-block stop it."""
    model = nn.MLP([6, 5, 5, 3], residual=True, dtype="float64", seed=1)
    x = np.random.default_rng(0).standard_normal((4, 6))
    dense = model.dense_layers()
    seen = []
    handles = [d.register_forward_hook(lambda m, inp, out: seen.append((m.name, inp, out)))
               for d in dense]
    out = model(x)
    assert [name for name, _, _ in seen] == ["dense0", "dense1", "dense2"]
    for layer, (_, inp, y) in zip(dense, seen, strict=True):
        np.testing.assert_allclose(y, inp @ layer.W.data.T + layer.b.data, rtol=1e-13)
    np.testing.assert_array_equal(seen[-1][2], out)
    handles[0].remove()
    handles[0].remove()  # harmless twice
    seen.clear()
    model(x)
    assert [name for name, _, _ in seen] == ["dense1", "dense2"]
    for handle in handles[1:]:
        handle.remove()
    seen.clear()
    with dense[0].register_forward_hook(lambda m, inp, out: seen.append(m.name)):
        model(x)
    model(x)
    assert seen == ["dense0"]


def _hidden_outputs(model, module_type, x):
    """Outputs of every ``module_type`` layer of ``model`` on ``x``, through forward hooks."""
    seen = []
    layers = [m for m in model.modules() if isinstance(m, module_type)]
    handles = [m.register_forward_hook(lambda m, inp, out: seen.append(out)) for m in layers]
    model(x)
    for handle in handles:
        handle.remove()
    return seen


@pytest.mark.parametrize("init,activation,norm", [("he", "relu", None), ("xavier", "tanh", None),
                                                  ("he", "relu", "layer")])
def test_plain_mlp_is_the_simulators_network(init, activation, norm):
    """With the generator simulate uses (x drawn first), a plain MLP's pre-activations give exactly simulate's q per layer: one network, two implementations."""
    depth, width, batch, seed = 4, 16, 8, 3
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, width))
    model = nn.MLP([width] * (depth + 1) + [2], activation=activation, init=init, norm=norm,
                   dtype="float64", seed=rng)
    # simulate's h_l is the (normalised) pre-activation: the Dense output, or the Norm's
    hidden = _hidden_outputs(model, nn.Norm if norm else nn.Dense, x)[:depth]
    trace = initkit.simulate(init, activation, depth=depth, width=width, batch=batch, seed=seed,
                             norm=norm)
    assert [float(np.mean(h**2)) for h in hidden] == pytest.approx(trace.q.tolist(), rel=1e-12)


def test_residual_mlp_differs_from_the_simulator_in_its_first_block_only():
    """With the same weights, simulate's stream is s_l = s_{l-1} + W_l phi(s_{l-1}) from s_0 = x; the MLP's starts at s_1 = W_1 x and then follows the same rule, as its docstring says."""
    depth, width, batch, seed = 4, 16, 8, 2
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, width))
    model = nn.MLP([width] * (depth + 1) + [2], activation="relu", init="he", residual=True,
                   dtype="float64", seed=rng)
    weights = [d.W.data for d in model.dense_layers()[:depth]]
    relu = lambda a: np.maximum(a, 0)  # noqa: E731
    stream, sim_q = x, []
    for w in weights:
        stream = stream + relu(stream) @ w.T
        sim_q.append(float(np.mean(stream**2)))
    trace = initkit.simulate("he", "relu", depth=depth, width=width, batch=batch, seed=seed,
                             residual=True)
    assert trace.q.tolist() == pytest.approx(sim_q, rel=1e-12)
    streams = [_hidden_outputs(model, nn.Dense, x)[0], *_hidden_outputs(model, nn.Residual, x)]
    np.testing.assert_allclose(streams[0], x @ weights[0].T, rtol=1e-13)  # no skip, no phi
    for prev, s, w in zip(streams, streams[1:], weights[1:], strict=False):
        np.testing.assert_allclose(s, prev + relu(prev) @ w.T, rtol=1e-12)
    assert float(np.mean(streams[0] ** 2)) != pytest.approx(trace.q[0], rel=0.01)

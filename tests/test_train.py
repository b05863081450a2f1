"""Tests of the training loop and History against the lesson's known results."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from initkit import nn
from initkit.data import circles, load_digits
from initkit.train import History, build_model, fit

HISTORY_FIELDS = ["label", "loss", "accuracy", "epoch_loss", "epoch_accuracy", "test_loss",
                  "test_accuracy", "grad_norms", "diverged", "wall_time"]


@pytest.fixture(scope="module")
def digits():
    return load_digits()


def test_digits_he_mlp_reaches_95_percent(digits):
    """A 64-64-10 ReLU MLP with He init reaches >= 95% test accuracy on the 8x8 digits."""
    model = nn.MLP([64, 64, 10], activation="relu", init="he", seed=0)
    history = fit(model, digits, epochs=20, batch_size=32, lr=0.1, momentum=0.9)
    assert history.final_test_accuracy >= 0.95
    assert history.time_to_accuracy(0.95) is not None
    assert not history.diverged


def test_constant_init_keeps_one_distinct_hidden_unit(digits):
    """Constant init: the units move but stay identical, and accuracy stays far below He's."""
    model = nn.MLP([64, 64, 10], activation="relu", init="constant",
                   init_params={"value": 0.05}, seed=0)
    before = model.dense_layers()[0].W.data.copy()
    history = fit(model, digits, epochs=20, batch_size=32, lr=0.1, momentum=0.9)
    after = model.dense_layers()[0].W.data
    assert np.abs(after - before).max() > 1e-3  # it trained ...
    assert nn.symmetry(model).n_distinct == [1]  # ... as one unit
    assert history.final_test_accuracy < 0.5


def test_circles_zero_init_stuck_at_ln2_and_he_separates():
    """The classic assignment: 2-10-5 ReLU, lr 0.01, 15,000 full-batch steps on circles.

    Zero init: every gradient but the output bias's is zero and the classes are balanced, so
    the cost stays ln 2 = 0.6931 with 50% accuracy. He init breaks the symmetry (> 95%).
    """
    data = circles()
    zeros = nn.MLP([2, 10, 5, 2], init="zeros")
    stuck = fit(zeros, data, epochs=2000, batch_size=None, lr=0.01, momentum=0.0)
    np.testing.assert_allclose(stuck.loss, math.log(2), rtol=1e-6)
    assert stuck.accuracy[-1] == 0.5
    he = nn.MLP([2, 10, 5, 2], init="he", seed=3)
    learned = fit(he, data, epochs=15000, batch_size=None, lr=0.01, momentum=0.0)
    assert learned.accuracy[-1] > 0.95
    assert learned.loss[-1] < 0.2


def test_divergence_stops_cleanly_and_is_flagged(digits):
    """An exploding run (the 'bad' init, lr 10) ends with diverged=True, not an exception."""
    model = build_model(digits, init="bad", depth=6, width=64)
    history = fit(model, digits, epochs=3, lr=10.0)
    assert history.diverged
    assert not math.isfinite(history.loss[-1])
    assert history.diverged_step == history.steps - 1
    assert np.isfinite(history.loss[:-1]).all()
    assert history.epochs < 3


def test_history_has_the_fields_the_plots_read(digits):
    """History exposes per-step and per-epoch arrays of the right shapes and JSON output."""
    model = build_model(digits, init="xavier", activation="tanh", depth=2, width=32)
    history = fit(model, digits, epochs=2, batch_size=100, label="xavier-tanh")
    assert isinstance(history, History)
    for name in HISTORY_FIELDS:
        assert hasattr(history, name)
    steps = 2 * math.ceil(len(digits.x_train) / 100)
    assert history.label == "xavier-tanh"
    assert history.loss.shape == history.accuracy.shape == (steps,)
    assert history.grad_norms.shape == (steps, 3)
    assert history.epoch_loss.shape == history.test_accuracy.shape == (2,)
    assert history.layer_names == ["dense0.W", "dense1.W", "dense2.W"]
    assert history.wall_time > 0 and not history.diverged
    data = json.loads(json.dumps(history.to_dict()))
    assert data["test_accuracy"] == pytest.approx(history.test_accuracy.tolist())
    assert len(data["grad_norms"]) == steps


def test_epoch_loss_is_mean_of_step_losses(digits):
    """epoch_loss is the mean of that epoch's batch losses; test_loss is evaluated separately."""
    model = build_model(digits, init="he", depth=1, width=16)
    history = fit(model, digits, epochs=2, batch_size=200)
    per_epoch = history.steps // 2
    assert history.epoch_loss[1] == pytest.approx(history.loss[per_epoch:].mean())
    assert history.epoch_accuracy[0] == pytest.approx(history.accuracy[:per_epoch].mean())


def test_hooks_see_every_step(digits):
    """fit calls every hook once per step with the model and the step's loss."""
    seen = []
    rec = nn.Recorder(every=2)
    model = build_model(digits, init="he", depth=2, width=16)
    history = fit(model, digits, epochs=1, batch_size=300,
                  hooks=[lambda step, m, info: seen.append((step, info["loss"])), rec])
    assert [s for s, _ in seen] == list(range(history.steps))
    assert [v for _, v in seen] == pytest.approx(history.loss.tolist())
    assert rec.steps == list(range(0, history.steps, 2))
    assert rec.array("act_std").shape == (len(rec.steps), 2)


def test_same_seed_same_history(digits):
    """Training is deterministic given the model seed and the batch seed."""
    runs = [fit(build_model(digits, init="he", seed=5), digits, epochs=1, seed=9).loss
            for _ in range(2)]
    np.testing.assert_array_equal(runs[0], runs[1])


def test_rnn_learns_the_adding_problem_below_baseline():
    """An orthogonal tanh RNN beats the adding problem's 1/6 MSE baseline by 3x (T = 10)."""
    from initkit.data import adding_problem

    data = adding_problem(n_train=2000, n_test=300, steps=10, seed=0)
    model = build_model(data, init="orthogonal", width=32)
    history = fit(model, data, epochs=12, batch_size=50, optimizer="adam", lr=1e-2)
    assert history.test_loss[-1] < data.info["baseline_mse"] / 3
    assert np.isnan(history.accuracy).all()  # regression: no accuracy


def test_progress_bar_is_quiet_under_pytest(digits, capsys):
    """With the automatic setting nothing is printed while tests run."""
    fit(build_model(digits, init="he"), digits, epochs=1)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_epoch_grad_norms_follow_the_real_epoch_boundaries():
    """History.epoch_grad_norms averages each weight's gradient norm over each epoch's own steps, also when the last epoch is cut short by max_steps."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((100, 3)), rng.integers(0, 2, 100)
    model = nn.MLP([3, 4, 2], seed=0, dtype="float64")
    history = fit(model, (x, y), epochs=2, batch_size=30, max_steps=6, lr=0.01)
    assert history.steps == 6 and list(history.epoch_end) == [4, 6]  # 4 batches, then 2
    g = history.grad_norms
    np.testing.assert_allclose(history.epoch_grad_norms(),
                               [g[0:4].mean(axis=0), g[4:6].mean(axis=0)], rtol=1e-13)
    np.testing.assert_allclose(history.mean_grad_norms(), g.mean(axis=0), rtol=1e-13)
    assert json.loads(json.dumps(history.to_dict()))["epoch_end"] == [4, 6]


def test_epoch_grad_norms_leave_out_a_diverged_step():
    """The NaN row of a diverged step is left out of its epoch's mean, and a History without epoch_end splits steps evenly."""
    grads = np.array([[1.0, 2.0], [3.0, 4.0], [np.nan, np.nan]])
    history = History("x", np.array([1.0, 1.0, np.inf]), np.full(3, np.nan), np.array([1.0]),
                      np.array([np.nan]), np.array([1.0]), np.array([np.nan]), grads,
                      epoch_end=np.array([3]))
    np.testing.assert_allclose(history.epoch_grad_norms(), [[2.0, 3.0]])
    even = History("x", np.ones(4), np.ones(4), np.ones(2), np.ones(2), np.ones(2), np.ones(2),
                   np.arange(8.0).reshape(4, 2))
    np.testing.assert_allclose(even.epoch_grad_norms(), [[1.0, 2.0], [5.0, 6.0]])


def test_fit_runs_a_data_dependent_initializers_step_once_before_training():
    """An initializer registered with data_init gets (model, first shuffled batch) once before the first step; its return value is History.data_init; fit knows no initializer by name."""
    import initkit.train
    from initkit.builtin_initializers import he_normal
    from initkit.registry import Initializer

    calls = []

    def data_init(model, batch):
        calls.append((model, batch.copy(), [w.grad for w in model.weights()]))
        for layer in model.dense_layers():
            layer.W.data *= 2.0
        return "rescaled"

    init = Initializer(name="doubling", fn=he_normal, plugin="test", data_init=data_init)
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((40, 3)), rng.integers(0, 2, 40)
    model = nn.MLP([3, 5, 2], init=init, seed=0, dtype="float64")
    start = [layer.W.data.copy() for layer in model.dense_layers()]
    history = fit(model, (x, y), epochs=2, batch_size=16, lr=1e-12, momentum=0.0)
    assert len(calls) == 1 and calls[0][0] is model
    assert all(g is None for g in calls[0][2])  # before any backward pass
    batch_order = np.random.default_rng(0).permutation(40)[:16]
    np.testing.assert_array_equal(calls[0][1], x[batch_order])
    for layer, w0 in zip(model.dense_layers(), start, strict=True):
        np.testing.assert_allclose(layer.W.data, 2.0 * w0, rtol=1e-9)  # lr ~ 0: as set
    assert history.data_init == {"doubling": "rescaled"}
    assert not any("lsuv" in word for word in _code_words(initkit.train))


def _code_words(module) -> list[str]:
    """Every name, attribute, import and string literal of a module's code (docstrings out)."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(module))
    docstrings = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr)
                  and isinstance(n.value, ast.Constant)}
    words = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            words.append(node.id)
        elif isinstance(node, ast.Attribute):
            words.append(node.attr)
        elif isinstance(node, ast.alias):
            words.append(node.name)
        elif isinstance(node, ast.ImportFrom):
            words.append(node.module or "")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and id(node) not in docstrings:
            words.append(node.value)
    return [w.lower() for w in words]


def test_batch_order_does_not_depend_on_a_data_dependent_init_elsewhere(digits):
    """A model without data-dependent initializers trains on the same batches as before (no extra draw from the shuffling generator)."""
    model = nn.MLP([64, 16, 10], init="he", seed=0)
    seen = []
    history = fit(model, digits, epochs=1, batch_size=64, max_steps=1,
                  hooks=[lambda step, m, info: seen.append(info["loss"])])
    order = np.random.default_rng(0).permutation(len(digits.x_train))[:64]
    fresh = nn.MLP([64, 16, 10], init="he", seed=0)
    loss = nn.SoftmaxCrossEntropy()(fresh(digits.x_train[order].astype(np.float32)),
                                    digits.y_train[order])
    assert history.loss[0] == pytest.approx(loss, rel=1e-6) and history.data_init == {}

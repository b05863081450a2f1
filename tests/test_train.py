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

"""initkit.viz.plot_training / plot_gradient_norms: curves from History-like objects."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from initkit import viz
from initkit.viz import VizError
from initkit.viz.training import histories_from_json


def history(label, loss, grad_norms=None, diverged=False, epochs=3):
    loss = np.asarray(loss, dtype=float)
    steps = len(loss)
    return SimpleNamespace(
        label=label, loss=loss, accuracy=np.linspace(0.1, 0.9, steps),
        epoch_loss=np.linspace(2.0, 1.0, epochs), epoch_accuracy=np.linspace(0.5, 0.8, epochs),
        test_loss=np.linspace(2.5, 1.5, epochs), test_accuracy=np.array([0.4, 0.6, 0.7][:epochs]),
        grad_norms=np.ones((steps, 3)) if grad_norms is None else np.asarray(grad_norms),
        diverged=diverged, wall_time=1.0)


def test_seeds_sharing_a_label_become_their_mean_and_a_std_band():
    """Two seeds of 'he' give one line at their mean and a band of mean +- std."""
    a, b = np.array([4.0, 2.0, 1.0, 0.5]), np.array([2.0, 1.0, 0.5, 0.25])
    c = np.array([3.0, 3.0, 3.0, 3.0])
    ax = viz.plot_training([history("he", a), history("xavier", c), history("he", b)]).axes[0]
    assert [line.get_label() for line in ax.lines] == ["he", "xavier"]
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [1, 2, 3, 4])
    np.testing.assert_allclose(ax.lines[0].get_ydata(), (a + b) / 2)
    np.testing.assert_allclose(ax.lines[1].get_ydata(), c)
    assert len(ax.collections) == 1  # 'xavier' has a single seed: no band
    vertices = ax.collections[0].get_paths()[0].vertices
    top = vertices[np.isclose(vertices[:, 0], 1.0)][:, 1].max()
    assert top == pytest.approx(3.0 + 1.0)  # mean 3, std 1 at step 1
    assert ax.get_yscale() == "log"
    assert ax.get_xlabel() == "step"


def test_epoch_metrics_use_epochs_and_accuracy_is_linear():
    """test_accuracy is plotted per epoch on a linear axis."""
    ax = viz.plot_training(history("he", [1.0, 0.5]), "test_accuracy").axes[0]
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [1, 2, 3])
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [0.4, 0.6, 0.7])
    assert ax.get_yscale() == "linear"
    assert ax.get_xlabel() == "epoch"


def test_a_diverged_seed_is_counted_and_its_inf_left_out_of_the_mean():
    """A diverged run (loss inf, stopped early) is named in the label and not averaged in."""
    ok = history("bad", [3.0, 2.0, 1.0])
    blown = history("bad", [3.0, np.inf], diverged=True)
    ax = viz.plot_training([ok, blown]).axes[0]
    assert ax.lines[0].get_label() == "bad (1/2 diverged)"
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [3.0, 2.0, 1.0])


def test_unknown_metric_and_missing_attribute_are_clear_errors():
    """A bad metric lists the known ones; an object without the metric is named."""
    with pytest.raises(VizError, match="unknown training metric 'acc'"):
        viz.plot_training(history("he", [1.0]), "acc")
    with pytest.raises(VizError, match="'he' has no 'test_loss'"):
        viz.plot_training(SimpleNamespace(label="he", loss=[1.0]), "test_loss")


def test_gradient_norms_show_one_step_per_layer_with_a_shared_range():
    """plot_gradient_norms draws grad_norms[step] per layer, seed-averaged, on a log axis."""
    g1 = np.array([[1.0, 10.0, 100.0], [2.0, 20.0, 200.0]])
    g2 = np.array([[3.0, 30.0, 300.0], [4.0, 40.0, 400.0]])
    ax = viz.plot_gradient_norms([history("he", [1, 1], g1), history("he", [1, 1], g2)],
                                 step=0).axes[0]
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [1, 2, 3])
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [2.0, 20.0, 200.0])
    assert ax.get_yscale() == "log"
    low, high = ax.get_ylim()
    assert low <= 1.5 and high >= 300.0  # covers every step, so animation frames share it


def test_histories_round_trip_through_train_json(tmp_path):
    """`initkit train --json` output (one run or {'runs': [...]}, None for NaN) loads back."""
    run = {"label": "he", "diverged": False, "loss": [1.0, None], "accuracy": [0.5, 0.6],
           "epoch_loss": [1.0], "epoch_accuracy": [0.5], "test_loss": [1.1],
           "test_accuracy": [0.4], "grad_norms": [[1.0, 2.0], [None, 3.0]]}
    path = tmp_path / "runs.json"
    path.write_text(json.dumps({"runs": [run, {**run, "label": "xavier"}]}))
    runs = histories_from_json(path)
    assert [r.label for r in runs] == ["he", "xavier"]
    assert np.isnan(runs[0].loss[1]) and runs[0].grad_norms.shape == (2, 2)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"label": "he", "loss": [1.0]}))
    with pytest.raises(VizError, match="run 1 has no accuracy"):
        histories_from_json(bad)

"""initkit.viz.plot_variance / plot_gradients / plot_lesson_variance: what the figures show."""

from __future__ import annotations

import numpy as np
import pytest

import initkit
from initkit import viz
from initkit.viz import VizError


@pytest.fixture(scope="module")
def traces():
    return [initkit.simulate("he", "relu", depth=6, width=64, batch=16, seeds=3),
            initkit.simulate("xavier", "tanh", depth=6, width=64, batch=16, seeds=3)]


def labelled(ax):
    return [line for line in ax.lines if not line.get_label().startswith("_")]


def test_variance_draws_one_solid_and_one_dashed_theory_line_per_run(traces):
    """Each run gives a solid simulated line and a dashed theory line, labelled by init."""
    ax = viz.plot_variance(traces).axes[0]
    lines = labelled(ax)
    assert [line.get_label() for line in lines] == [
        "he_normal + relu", "he_normal + relu (theory)",
        "xavier_normal + tanh", "xavier_normal + tanh (theory)"]
    assert [line.get_linestyle() for line in lines] == ["-", "--", "-", "--"]
    assert ax.get_yscale() == "log"
    assert ax.get_xlabel() == "layer"


def test_variance_lines_carry_the_traces_numbers_and_theory(traces):
    """The solid line is Trace.q and the dashed one exactly initkit.theory's prediction."""
    lines = labelled(viz.plot_variance(traces).axes[0])
    for trace, (solid, dashed) in zip(traces, zip(lines[::2], lines[1::2], strict=True),
                                      strict=True):
        np.testing.assert_array_equal(solid.get_xdata(), np.arange(1, 7))
        np.testing.assert_array_equal(solid.get_ydata(), trace.q)
        np.testing.assert_array_equal(dashed.get_ydata(), trace.theory["q"])
        expected = initkit.theory.predict(trace.init, trace.activation, trace.widths).q
        np.testing.assert_allclose(dashed.get_ydata(), expected, rtol=1e-12)


def test_variance_band_spans_the_middle_68_percent_of_seeds(traces):
    """The shaded band runs from the 16th to the 84th percentile of the seeds' q."""
    ax = viz.plot_variance(traces).axes[0]
    assert len(ax.collections) == 2
    for trace, band in zip(traces, ax.collections, strict=True):
        vertices = band.get_paths()[0].vertices
        samples = trace.samples["q"]
        for layer in range(trace.depth):
            at = vertices[np.isclose(vertices[:, 0], layer + 1)][:, 1]
            inside = np.mean((samples[:, layer] >= at.min()) & (samples[:, layer] <= at.max()))
            assert at.min() == pytest.approx(np.percentile(samples[:, layer], 15.865))
            assert at.max() == pytest.approx(np.percentile(samples[:, layer], 84.135))
            assert 0 < at.min() <= trace.q[layer] * 1.5 and inside >= 1 / 3


def test_variance_of_named_inits_simulates_them_with_the_given_settings():
    """Names are simulated with the keyword arguments; (name, params) pass init params."""
    ax = viz.plot_variance(["he", ("constant", {"value": 0.1})], quantity="act_var",
                           depth=4, width=32, batch=8, seeds=1).axes[0]
    labels = [line.get_label() for line in labelled(ax)]
    assert labels == ["he_normal + relu", "constant(value=0.1) + linear"]  # no act_var theory
    expected = initkit.simulate("constant", depth=4, width=32, batch=8,
                                init_params={"value": 0.1})
    np.testing.assert_allclose(labelled(ax)[1].get_ydata(), expected.act_var)
    assert not ax.collections  # a single seed has no band


def test_gradients_plot_grad_var_with_theory_and_drop_a_zero_theory(traces):
    """Gradients show Trace.grad_var beside theory; a constant (deterministic) init gets no theory line."""
    constant = initkit.simulate("constant", "tanh", depth=6, width=64, batch=16, seeds=2,
                                init_params={"value": 0.005})
    ax = viz.plot_gradients([constant, traces[1]]).axes[0]
    lines = labelled(ax)
    assert [line.get_label() for line in lines] == [
        "constant + tanh", "xavier_normal + tanh", "xavier_normal + tanh (theory)"]
    np.testing.assert_array_equal(lines[0].get_ydata(), constant.grad_var)
    np.testing.assert_array_equal(lines[2].get_ydata(), traces[1].theory["grad_var"])
    assert ax.get_yscale() == "log"
    # exercise 1: a small constant (64 * 0.005 < 1) kills the gradient towards the input
    assert constant.grad_var[0] < 1e-3 * traces[1].grad_var[0]


def test_weight_grad_norm_has_no_theory_line(traces):
    """|dL/dW| has no mean-field prediction, so only the simulated lines are drawn."""
    lines = labelled(viz.plot_gradients(traces, "weight_grad_norm").axes[0])
    assert len(lines) == 2
    np.testing.assert_array_equal(lines[0].get_ydata(), traces[0].weight_grad_norm)


def test_unknown_quantity_is_a_clear_error(traces):
    """Asking a figure for a quantity it cannot show names the allowed ones."""
    with pytest.raises(VizError, match="choose one of grad_var, weight_grad_norm"):
        viz.plot_gradients(traces, "q")


def test_plots_draw_into_a_given_axes():
    """With ax= the figure is the one the axes belongs to, and nothing new is made."""
    from matplotlib.figure import Figure

    fig = Figure()
    left, right = fig.subplots(1, 2)
    assert viz.plot_lesson_variance(layers=5, width=16, ax=right) is fig
    assert len(right.lines) == 3 and not left.lines


def test_lesson_figure_matches_the_lesson():
    """The lesson figure: VarianceSimulator per init, log y from 1e-4 to 1e4, lesson labels."""
    ax = viz.plot_lesson_variance(layers=20, width=128, seed=42).axes[0]
    assert [line.get_label() for line in ax.lines] == ["Xavier", "He", "Bad init"]
    assert [line.get_color() for line in ax.lines] == ["blue", "green", "red"]
    assert ax.get_yscale() == "log"
    assert ax.get_ylim() == pytest.approx((1e-4, 1e4))
    assert ax.get_title() == "Variance Across Layers"
    assert f"{ax.lines[1].get_ydata()[-1]:.4f}" == "0.2639"  # the lesson's printed number
    sim = initkit.VarianceSimulator(layers=20, width=128, seed=42)
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), sim.run("xavier"))

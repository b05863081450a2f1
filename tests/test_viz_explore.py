"""`viz.explore()`: the controls drive the simulation and the phase point, every registered
initializer is offered, and a static view gets the picture and a note."""

import math

import numpy as np
import pytest

import initkit
from initkit.viz.explorer import NOTE, Settings, explore, explorer_figure

SMALL = {"depth": 8, "width": 64, "seeds": 2, "batch": 16}


def point(fig) -> tuple[float, float]:
    """(sigma_w^2, sigma_b^2) of the phase panel's current-network marker."""
    (marker,) = [line for line in fig.axes[1].get_lines() if line.get_label() == "this network"]
    return float(marker.get_xdata()[0]), float(marker.get_ydata()[0])


def simulated_q(fig) -> np.ndarray:
    (line,) = [ln for ln in fig.axes[0].get_lines()
               if ln.get_label() == "forward variance q_l (simulated)"]
    return np.asarray(line.get_ydata())


def test_moving_sigma_w2_moves_the_point_and_changes_the_signal():
    """A new sigma_w^2 redraws: the marker sits at it, q_l follows the mean-field prediction
    (tanh, last layer within 15%), and the curve differs from before."""
    explorer = explore(activation="tanh", sigma_w2=1.0, sigma_b2=0.05, **SMALL)
    before = simulated_q(explorer.figure)
    explorer.controls["sigma_w2"].value = 2.5
    assert point(explorer.figure) == (2.5, 0.05)
    after = simulated_q(explorer.figure)
    assert not np.allclose(before, after)
    q_star = initkit.theory.length_map("tanh", sigma_w2=2.5, sigma_b2=0.05, depth=8)[8]
    assert abs(after[-1] / q_star - 1) < 0.15, (after[-1], q_star)
    assert explorer.last_redraw_seconds > 0


def test_an_initializer_keeps_its_own_scale_and_the_slider_is_disabled():
    """He on a square layer sits at sigma_w^2 = width * 2/width = 2, and the sigma_w^2 slider
    is disabled while an initializer other than `normal` is chosen."""
    explorer = explore(activation="relu", **SMALL)
    explorer.controls["init"].value = "he_normal"
    assert explorer.controls["sigma_w2"].disabled
    assert point(explorer.figure) == (pytest.approx(2.0), 0.05)


def test_every_registered_initializer_is_offered_plugins_included():
    """A plugin's initializer appears in the dropdown."""

    class Plugin:
        @initkit.hookimpl
        def initkit_register_initializers(self, register):
            register("explorer_test_init", lambda shape, rng, dtype=np.float64:
                     rng.normal(0.0, 0.1, size=shape).astype(dtype),
                     variance=lambda fan_in, fan_out: 0.01)

    initkit.register_plugin(Plugin(), name="explorer-test")
    try:
        options = explore(**SMALL).controls["init"].options
        assert "explorer_test_init" in options and "he_normal" in options
    finally:
        initkit.unregister_plugin("explorer-test")


def test_a_static_view_gets_the_picture_and_a_note():
    """The display bundle holds the widget view, a PNG of the current figure and the note."""
    bundle = explore(**SMALL)._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["image/png"][:8] == b"\x89PNG\r\n\x1a\n"
    assert bundle["text/plain"] == NOTE


def test_the_figure_without_widgets_draws_theory_where_it_exists():
    """Without a norm both theory curves are drawn; through a layer norm the gradient's
    theory is absent (NaN), so only q's dashed line remains."""
    plain = explorer_figure(Settings(**SMALL))
    labels = {ln.get_label() for ln in plain.axes[0].get_lines()}
    assert {"forward variance q_l (mean-field theory)",
            "gradient variance (mean-field theory)"} <= labels
    normed = explorer_figure(Settings(norm="layer", **SMALL))
    labels = {ln.get_label() for ln in normed.axes[0].get_lines()}
    assert "gradient variance (mean-field theory)" not in labels
    assert not math.isnan(point(normed)[0])


def test_rescaled_draws_are_normals_weights_bit_for_bit():
    """The explorer's memoized draws equal initkit's `normal` in float32 and leave the
    generator where drawing would, so a redraw at a new sigma_w^2 reuses exact weights."""
    from initkit.viz.explorer import _RescaledDraws

    draws = _RescaledDraws()
    for _ in range(2):  # the second round is served from the cache
        rng, fresh = np.random.default_rng(5), np.random.default_rng(5)
        got = draws((64, 32), rng, std=0.3)
        want = initkit.get_initializer("normal")((64, 32), fresh, std=0.3, dtype=np.float32)
        assert np.array_equal(got, want)
        assert rng.bit_generator.state == fresh.bit_generator.state
    assert len(draws.cache) == 1

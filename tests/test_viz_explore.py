"""`viz.explore()`: the controls drive the simulation and the phase point, every registered
initializer is offered, a static view gets the picture and a note, and the cheap redraw
(cached simulations and draws, artists updated in place, the phase panel blitted) shows
exactly what a full drawing shows."""

import io
import math

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.path import Path
from PIL import Image

import initkit
from initkit.errors import UnknownNameError
from initkit.viz.explorer import (
    NOTE,
    ExplorerFigure,
    Settings,
    _DrawStore,
    _MemoizedDraws,
    _RescaledDraws,
    band_polygons,
    explore,
    explorer_figure,
    log_limits,
    simulate_settings,
)

SMALL = {"depth": 8, "width": 64, "seeds": 2, "batch": 16}


def point(fig) -> tuple[float, float]:
    """(sigma_w^2, sigma_b^2) of the phase panel's current-network marker."""
    (marker,) = [line for line in fig.axes[1].get_lines() if line.get_label() == "this network"]
    return float(marker.get_xdata()[0]), float(marker.get_ydata()[0])


def simulated_q(fig) -> np.ndarray:
    (line,) = [ln for ln in fig.axes[0].get_lines()
               if ln.get_label() == "forward variance q_l (simulated)"]
    return np.asarray(line.get_ydata())


def rgb(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def full_render(fig: Figure) -> np.ndarray:
    """The figure drawn from scratch by matplotlib (savefig renders every artist)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi)
    return rgb(buf.getvalue())


def test_moving_sigma_w2_moves_the_point_and_changes_the_signal():
    """A new sigma_w^2 redraws: the marker sits at it, q_l follows the mean-field prediction
    (tanh, last layer within 15%), the curve and the widget's picture differ from before."""
    explorer = explore(activation="tanh", sigma_w2=1.0, sigma_b2=0.05, **SMALL)
    before, picture = simulated_q(explorer.figure), explorer.image.value
    explorer.controls["sigma_w2"].value = 2.5
    assert point(explorer.figure) == (2.5, 0.05)
    after = simulated_q(explorer.figure)
    assert not np.allclose(before, after)
    q_star = initkit.theory.length_map("tanh", sigma_w2=2.5, sigma_b2=0.05, depth=8)[8]
    assert abs(after[-1] / q_star - 1) < 0.15, (after[-1], q_star)
    assert explorer.image.value == explorer.view.png() != picture
    assert explorer.last_redraw_seconds > 0


def test_an_initializer_keeps_its_own_scale_and_the_slider_is_disabled():
    """He on a square layer sits at sigma_w^2 = width * 2/width = 2, and the sigma_w^2 slider
    is disabled while an initializer other than `normal` is chosen."""
    explorer = explore(activation="relu", **SMALL)
    explorer.controls["init"].value = "he_normal"
    assert explorer.controls["sigma_w2"].disabled
    assert point(explorer.figure) == (pytest.approx(2.0), 0.05)


def test_an_alias_is_shown_by_its_name_and_an_unknown_name_is_a_typed_error():
    """explore(init="he") selects he_normal in the dropdown; a misspelt name raises
    UnknownNameError before any widget is built."""
    explorer = explore(init="he", activation="relu", **SMALL)
    assert explorer.controls["init"].value == "he_normal"
    assert explorer.controls["sigma_w2"].disabled
    with pytest.raises(UnknownNameError, match="xavir"):
        explore(init="xavir", **SMALL)


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


def test_a_failing_plugin_initializer_says_why_and_keeps_the_last_figure():
    """Choosing an initializer that raises shows one line naming it under the controls, and
    the picture stays the last one drawn; a good choice clears the line."""

    class Plugin:
        @initkit.hookimpl
        def initkit_register_initializers(self, register):
            def broken(shape, rng, dtype=np.float64):
                raise ValueError("no weights today")

            register("explorer_broken", broken, variance=lambda fan_in, fan_out: 0.01)

    initkit.register_plugin(Plugin(), name="explorer-broken")
    try:
        explorer = explore(**SMALL)
        picture = explorer.image.value
        explorer.controls["init"].value = "explorer_broken"
        assert "explorer_broken" in explorer.message.value
        assert "no weights today" in explorer.message.value
        assert explorer.image.value == picture
        explorer.controls["init"].value = "xavier_normal"
        assert explorer.message.value == "" and explorer.image.value != picture
    finally:
        initkit.unregister_plugin("explorer-broken")


def test_a_static_view_gets_the_picture_and_a_note():
    """The display bundle holds the widget view, a PNG of the current figure and the note."""
    explorer = explore(**SMALL)
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["image/png"][:8] == b"\x89PNG\r\n\x1a\n"
    assert np.array_equal(rgb(bundle["image/png"]), full_render(explorer.figure))
    assert bundle["text/plain"] == NOTE


def test_the_figure_without_widgets_draws_theory_where_it_exists():
    """Without a norm both theory curves are shown and in the legend; through a layer norm
    the gradient's theory is absent (NaN), so only q's dashed line remains, and the legend
    says so."""

    def shown(fig) -> set[str]:
        lines = {ln.get_label() for ln in fig.axes[0].get_lines() if ln.get_visible()}
        legend = {t.get_text() for t in fig.legends[0].get_texts()}
        assert lines == legend
        return lines

    both = {"forward variance q_l (mean-field theory)", "gradient variance (mean-field theory)"}
    assert both <= shown(explorer_figure(Settings(**SMALL)))
    view = ExplorerFigure()  # one figure through the three states: the legend follows
    for norm in (None, "layer", None):
        fig = view.show(Settings(norm=norm, **SMALL)).figure
        if norm is None:
            assert both <= shown(fig)
        else:
            assert "forward variance q_l (mean-field theory)" in shown(fig)
            assert "gradient variance (mean-field theory)" not in shown(fig)
            assert not math.isnan(point(fig)[0])


def test_the_blitted_redraw_is_pixel_for_pixel_a_full_drawing():
    """After every kind of change (sigma_w^2, sigma_b^2, activation and back, a norm that
    changes the legend, depth, an initializer off the map, a state seen before) the cheap
    redraw's picture equals matplotlib's drawing of the whole figure from scratch."""
    view = ExplorerFigure()
    states = [Settings(**SMALL), Settings(sigma_w2=2.0, **SMALL),
              Settings(sigma_w2=2.0, sigma_b2=0.2, **SMALL),
              Settings(activation="relu", sigma_w2=2.0, **SMALL),
              Settings(activation="tanh", norm="layer", **SMALL),
              Settings(activation="tanh", **{**SMALL, "depth": 12}),
              Settings(init="bad", **SMALL), Settings(sigma_w2=2.0, **SMALL)]
    for s in states:
        picture = rgb(view.show(s).png())
        assert np.array_equal(picture, full_render(view.figure)), s


def test_zero_weights_draw_what_is_positive():
    """Zero weights give q_l = 0 at every layer (nothing on a log axis) and a gradient only
    at the last layer: the figure draws, its y range holds that gradient's variance."""
    view = ExplorerFigure().show(Settings(init="zeros", sigma_b2=0.0, **SMALL))
    q, grad = (view.medians[name].get_ydata() for name in ("q", "grad_var"))
    assert np.all(q == 0) and grad[-1] > 0 and np.all(grad[:-1] == 0)
    low, high = view.signal.get_ylim()
    assert low < grad[-1] < high


def test_simulations_are_cached_by_everything_they_depend_on():
    """The same settings return the same trace; sigma_b^2, depth and sigma_w^2 (for
    `normal`) make a new one; sigma_w^2 does not for an initializer with its own scale; a
    plugin registered again under the same name is not served the old trace."""
    base = Settings(**SMALL)
    trace = simulate_settings(base)
    assert simulate_settings(Settings(**SMALL)) is trace
    for changed in (Settings(sigma_b2=0.1, **SMALL), Settings(sigma_w2=1.5, **SMALL),
                    Settings(**{**SMALL, "depth": 9})):
        assert simulate_settings(changed) is not trace
    he = simulate_settings(Settings(init="he_normal", activation="relu", **SMALL))
    assert simulate_settings(Settings(init="he_normal", activation="relu", sigma_w2=3.0,
                                      **SMALL)) is he

    def plugin(std: float):
        class Plugin:
            @initkit.hookimpl
            def initkit_register_initializers(self, register):
                register("explorer_cached", lambda shape, rng, dtype=np.float64:
                         rng.normal(0.0, std, size=shape).astype(dtype),
                         variance=lambda fan_in, fan_out: std ** 2)
        return Plugin()

    traces = []
    for std in (0.1, 0.3):
        initkit.register_plugin(plugin(std), name="explorer-cached")
        try:
            traces.append(simulate_settings(Settings(init="explorer_cached", **SMALL)))
        finally:
            initkit.unregister_plugin("explorer-cached")
    assert traces[1].q[0] > 5 * traces[0].q[0]


def test_rescaled_draws_are_normals_weights_bit_for_bit():
    """The explorer's memoized draws equal initkit's `normal` in float32 and leave the
    generator where drawing would, so a redraw at a new sigma_w^2 reuses exact weights."""
    draws = _RescaledDraws()
    for _ in range(2):  # the second round is served from the cache
        rng, fresh = np.random.default_rng(5), np.random.default_rng(5)
        got = draws((64, 32), rng, std=0.3)
        want = initkit.get_initializer("normal")((64, 32), fresh, std=0.3, dtype=np.float32)
        assert np.array_equal(got, want)
        assert rng.bit_generator.state == fresh.bit_generator.state
    assert len(draws.cache) == 1


@pytest.mark.parametrize("name", ["xavier_uniform", "orthogonal", "he_normal"])
def test_memoized_draws_are_the_initializers_weights_bit_for_bit(name):
    """Any initializer's memoized weights equal its own for the same generator state, the
    generator ends where drawing leaves it, and a repeat does not call the initializer."""
    init = initkit.get_initializer(name)
    calls = []

    def counted(shape, rng, **params):
        calls.append(shape)
        return init.fn(shape, rng, **params)

    draws = _MemoizedDraws(counted, name, _DrawStore())
    for _ in range(2):
        rng, fresh = np.random.default_rng(9), np.random.default_rng(9)
        got = [draws((48, 32), rng, dtype=np.float32) for _ in range(2)]
        want = [init((48, 32), fresh, dtype=np.float32) for _ in range(2)]
        assert all(np.array_equal(g, w) for g, w in zip(got, want, strict=True))
        assert rng.bit_generator.state == fresh.bit_generator.state
    assert len(calls) == 2


def test_the_draw_store_keeps_to_its_budget():
    """The store drops the least recently used arrays once their bytes exceed the budget."""
    store = _DrawStore(budget=3 * 800)
    for key in "abcd":
        store.put(key, np.zeros(100), None)  # 800 bytes each
        if key == "b":
            store.get("a")  # a is used again: b is now the oldest
    assert set(store.entries) == {"a", "c", "d"} and store.size == 2400


def test_the_band_covers_what_fill_between_covers():
    """The band's polygons cover the same points as matplotlib's fill_between over the
    layers where the band is finite and positive (a NaN and a zero split it)."""
    x = np.arange(1.0, 11.0)
    low = np.array([1, 2, 1, np.nan, 2, 3, 0.0, 1, 2, 1])
    high = low * 3 + 1
    mine = [Path(p) for p in band_polygons(x, low, high)]
    ok = np.isfinite(low) & (low > 0)
    reference = Figure().subplots().fill_between(x, low, high, where=ok, interpolate=False)
    theirs = reference.get_paths()
    assert len(mine) == 3
    rng = np.random.default_rng(0)
    probes = np.column_stack([rng.uniform(0.5, 10.5, 4000), rng.uniform(0, 11, 4000)])
    inside_mine = np.any([p.contains_points(probes) for p in mine], axis=0)
    inside_theirs = np.any([p.contains_points(probes) for p in theirs], axis=0)
    assert inside_mine.sum() > 500
    assert np.array_equal(inside_mine, inside_theirs)


def test_log_limits_show_every_positive_value_with_a_margin():
    """The limits bracket the smallest and largest finite positive values (NaN, inf, 0 and
    negatives ignored) with a margin of at least 0.1 decade; nothing positive gives None."""
    low, high = log_limits(np.array([1e-3, np.nan, 0.0, -1.0]), np.array([10.0, np.inf]))
    assert 10 ** -3.6 < low < 1e-3 and 10.0 < high < 10 ** 1.6
    low, high = log_limits(np.array([2.0, 2.0]))
    assert low == pytest.approx(2 / 10 ** 0.1) and high == pytest.approx(2 * 10 ** 0.1)
    assert log_limits(np.array([0.0, np.nan, -np.inf])) is None

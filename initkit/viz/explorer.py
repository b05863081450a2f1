"""``viz.explore()``: move a knob, watch the signal and the gradient live (the lesson's explorer).

Controls (ipywidgets): the initializer (every registered one, plugins included; ``normal``
takes its scale from the sigma_w^2 slider as ``std = sqrt(sigma_w^2 / width)``, any other
keeps its own scale and shows its effective sigma_w^2 = width * Var(W)), the activation,
sigma_w^2, sigma_b^2 (``bias_std = sqrt(sigma_b^2)``), depth, width, a residual stream and a
normalisation. The figure (:func:`explorer_figure`): left, per layer, the forward variance
q_l and the backward gradient variance, simulated (median and a 16-84% band over seeds,
:func:`initkit.simulate`) with the mean-field prediction dashed (Poole et al. 2016,
Schoenholz et al. 2017); right, the phase diagram of the activation (xi_c over
(sigma_w^2, sigma_b^2), the edge of chaos chi_1 = 1) with the current point and its depth
scales xi_q, xi_c in the title.

What repeats is cached: the phase map and the edge curve are computed once per activation
(a second or two), so a control change costs one small simulation and one drawing
(``benchmarks/bench_explore.py`` measures a redraw at depth 50, width 256).

Where widgets cannot render (nbconvert, ``initkit check``, a static viewer) the explorer's
display carries the current figure as a PNG and a one-line note instead: frontends that
render widgets pick the widget, the others the picture.
"""

from __future__ import annotations

import io
import math
import time
import warnings
from collections import OrderedDict
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from .. import theory
from ..errors import TheoryWarning

#: the sigma_w^2 and sigma_b^2 ranges of the sliders and of the phase map
SIGMA_W2 = (0.5, 4.0)
SIGMA_B2 = (0.0, 0.3)
NOTE = ("A live explorer: open this notebook in JupyterLab (make lab) to move the sliders; "
        "this is a picture of its first state.")


@dataclass(frozen=True)
class Settings:
    """One state of the explorer's controls."""

    init: str = "normal"
    activation: str = "tanh"
    sigma_w2: float = 1.0
    sigma_b2: float = 0.05
    depth: int = 50
    width: int = 256
    residual: bool = False
    norm: str | None = None
    seeds: int = 3
    batch: int = 32


def effective_sigma_w2(s: Settings) -> float:
    """sigma_w^2 = width * Var(W) of the settings' initializer on a square layer."""
    if s.init == "normal":
        return s.sigma_w2
    from ..registry import get_initializer

    variance = get_initializer(s.init).target_variance((s.width, s.width))
    return math.nan if variance is None else float(variance) * s.width


class _RescaledDraws:
    """``normal``'s weights with its standard-normal draws memoized by the generator's state.

    Moving the sigma_w^2 slider changes only the scale of the same draws: the same seed,
    layer and shape find the same generator state, so the draw is looked up and the
    generator set to where drawing would have left it. The weights are bit for bit those of
    ``initkit.get_initializer("normal")`` in float32 (``std * standard_normal``).
    """

    def __init__(self, limit: int = 1024):
        self.cache: OrderedDict = OrderedDict()
        self.limit = limit

    def __call__(self, shape, rng, std: float = 1.0, mean: float = 0.0, dtype=np.float32):
        bit_generator = rng.bit_generator
        before = bit_generator.state
        key = (repr(before), tuple(shape), np.dtype(dtype).str)
        if key in self.cache:
            draw, after = self.cache[key]
            self.cache.move_to_end(key)
            bit_generator.state = after
        else:
            draw = rng.standard_normal(shape, dtype=np.float32).astype(dtype, copy=False)
            self.cache[key] = (draw, bit_generator.state)
            if len(self.cache) > self.limit:
                self.cache.popitem(last=False)
        out = draw * draw.dtype.type(std)
        if mean:
            out += draw.dtype.type(mean)
        return out


_DRAWS = _RescaledDraws()


def simulate_settings(s: Settings):
    """The simulation behind the figure (:func:`initkit.simulate`, forward and backward), in
    float32 (weights drawn natively in single precision: a picture needs no more digits)."""
    from ..registry import get_initializer
    from ..simulation import simulate

    init, params = s.init, None
    if s.init == "normal":  # the slider's own scale, the same draws rescaled
        init = replace(get_initializer("normal"), fn=_DRAWS)
        params = {"std": math.sqrt(s.sigma_w2 / s.width)}
    return simulate(init, s.activation, depth=s.depth, width=s.width, batch=s.batch,
                    seeds=s.seeds, bias_std=math.sqrt(s.sigma_b2), residual=s.residual,
                    norm=s.norm, init_params=params, dtype=np.float32)


@lru_cache(maxsize=16)
def phase_map(activation: str, resolution: tuple[int, int] = (15, 7)):
    """(sigma_w^2 grid, sigma_b^2 grid, xi_c map, edge sigma_b^2, edge sigma_w^2), once per
    activation."""
    from .phase import depth_scale_grid, edge_curve

    w = np.linspace(*SIGMA_W2, resolution[0])
    b = np.linspace(*SIGMA_B2, resolution[1])
    edge_b = np.linspace(*SIGMA_B2, 2 * resolution[1] - 1)
    return (w, b, np.ma.masked_invalid(depth_scale_grid(activation, w, b)), edge_b,
            edge_curve(activation, edge_b, high=20.0))


def _signal_panel(ax, trace, s: Settings) -> None:
    layers = np.arange(1, s.depth + 1)
    for name, color, label in (("q", "C0", "forward variance q_l"),
                               ("grad_var", "C1", "gradient variance")):
        samples = trace.samples[name]
        with warnings.catch_warnings(), np.errstate(invalid="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            low, mid, high = np.nanpercentile(samples, [16, 50, 84], axis=0)
        ax.fill_between(layers, low, high, color=color, alpha=0.25, linewidth=0)
        ax.plot(layers, mid, color=color, label=f"{label} (simulated)")
        predicted = trace.theory.get(name)
        if predicted is not None and np.isfinite(predicted).any():
            ax.plot(layers, predicted, "--", color=color, label=f"{label} (mean-field theory)")
    ax.set_yscale("log")
    ax.set_xlabel("layer l")
    # a fixed title height: matplotlib otherwise measures every tick label to place it
    ax.set_title(f"{s.init} + {s.activation}: σ_w² = {effective_sigma_w2(s):.3g}, "
                 f"σ_b² = {s.sigma_b2:.3g}, width {s.width}", y=1.01)
    ax.legend(loc="best", fontsize="x-small")


def _phase_map_panel(ax, activation: str) -> None:
    """The phase diagram of ``activation`` (cached map, edge of chaos); no current point."""
    w, b, xi, edge_b, edge_w = phase_map(activation)
    positive = xi.compressed()[xi.compressed() > 0]
    low = float(positive.min()) if positive.size else 1.0
    high = max(float(positive.max()) if positive.size else 1.0, 10 * low)
    dw, db = (w[1] - w[0]) / 2, (b[1] - b[0]) / 2
    extent = (w[0] - dw, w[-1] + dw, b[0] - db, b[-1] + db)
    ax.imshow(xi, origin="lower", aspect="auto", cmap="viridis", extent=extent,
              norm=LogNorm(vmin=low, vmax=high))
    ax.plot(edge_w, edge_b, color="white", linewidth=2, label="edge of chaos (χ₁ = 1)")
    ax.plot([], [], "o", color="red", markersize=8, label="this network")
    ax.set_xlim(*extent[:2])
    ax.set_ylim(*extent[2:])
    ax.set_xlabel("σ_w²")
    ax.set_ylabel("σ_b²")
    ax.legend(loc="lower right", fontsize="x-small")


def _place_point(ax, s: Settings) -> None:
    """Move the current-network marker and put its depth scales in the title."""
    sigma_w2 = effective_sigma_w2(s)
    (marker,) = [ln for ln in ax.get_lines() if ln.get_label() == "this network"]
    marker.set_data([sigma_w2], [s.sigma_b2])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TheoryWarning)
        try:
            xi_q, xi_c = theory.depth_scales(s.activation, sigma_w2, s.sigma_b2)
        except Exception:  # noqa: BLE001 - an activation theory cannot handle: no scales
            xi_q = xi_c = math.nan
    ax.set_title(f"ξ_q = {xi_q:.3g}, ξ_c = {xi_c:.3g} layers", y=1.01)


def explorer_figure(s: Settings, fig: Figure | None = None,
                    previous: Settings | None = None) -> Figure:
    """The explorer's figure for one state of its controls.

    Given the figure of the ``previous`` state, it is updated in place: the signal panel is
    redrawn, the phase map only when the activation changed, otherwise just its marker.
    """
    if fig is None:
        fig = Figure(figsize=(11.5, 4.2))
        fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.4, 1]})
        # fixed margins: tight_layout measures every tick label, most of a redraw's time
        fig.subplots_adjust(left=0.06, right=0.98, bottom=0.12, top=0.92, wspace=0.18)
        previous = None
    signal, phase = fig.axes[:2]
    signal.cla()
    _signal_panel(signal, simulate_settings(s), s)
    if previous is None or previous.activation != s.activation:
        phase.cla()
        _phase_map_panel(phase, s.activation)
    _place_point(phase, s)
    return fig


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    return buf.getvalue()


class Explorer:
    """The widget box, its figure's output, and the time the last redraw took."""

    def __init__(self, settings: Settings):
        import ipywidgets as w

        from ..registry import activations, initializers

        self.settings = settings
        self.last_redraw_seconds = math.nan
        style = {"description_width": "initial"}
        self.controls = {
            "init": w.Dropdown(options=sorted(initializers()), value=settings.init,
                               description="initializer", style=style),
            "activation": w.Dropdown(options=sorted(activations()),
                                     value=settings.activation, description="activation"),
            "sigma_w2": w.FloatSlider(value=settings.sigma_w2, min=SIGMA_W2[0],
                                      max=SIGMA_W2[1], step=0.01, description="σ_w²",
                                      continuous_update=False),
            "sigma_b2": w.FloatSlider(value=settings.sigma_b2, min=SIGMA_B2[0],
                                      max=SIGMA_B2[1], step=0.01, description="σ_b²",
                                      continuous_update=False),
            "depth": w.IntSlider(value=settings.depth, min=2, max=100, description="depth",
                                 continuous_update=False),
            "width": w.IntSlider(value=settings.width, min=16, max=512, step=16,
                                 description="width", continuous_update=False),
            "residual": w.Checkbox(value=settings.residual, description="residual stream"),
            "norm": w.Dropdown(options=[("none", None), ("layer", "layer"), ("rms", "rms"),
                                        ("batch", "batch")], value=settings.norm,
                               description="normalisation", style=style),
        }
        self.output = w.Output()
        for control in self.controls.values():
            control.observe(self._changed, names="value")
        self.box = w.VBox([w.HBox(list(self.controls.values())[:4]),
                           w.HBox(list(self.controls.values())[4:]), self.output])
        self.figure = self.redraw()

    def _changed(self, change) -> None:
        name = next(k for k, c in self.controls.items() if c is change["owner"])
        self.settings = replace(self.settings, **{name: change["new"]})
        self.controls["sigma_w2"].disabled = self.settings.init != "normal"
        self.figure = self.redraw()

    def redraw(self) -> Figure:
        """Draw the figure of the current settings into the output (and time it)."""
        start = time.perf_counter()
        fig = explorer_figure(self.settings, getattr(self, "figure", None),
                              getattr(self, "_drawn", None))
        self._drawn = self.settings
        png = _png(fig)
        self.last_redraw_seconds = time.perf_counter() - start
        from IPython.display import Image

        self.output.clear_output(wait=True)
        with self.output:
            from IPython.display import display

            display(Image(png))
        return fig

    def _repr_mimebundle_(self, include=None, exclude=None):
        """The widget where widgets render; the figure and a note where they do not."""
        bundle = self.box._repr_mimebundle_(include=include, exclude=exclude) or {}
        if isinstance(bundle, tuple):
            bundle = bundle[0]
        return {**bundle, "image/png": _png(self.figure), "text/plain": NOTE}


def explore(**settings) -> Explorer:
    """Show the explorer (in Jupyter: ``viz.explore()`` as a cell's last line).

    Keyword arguments set the controls' first state (:class:`Settings`), e.g.
    ``viz.explore(activation="relu", init="he", depth=30)``.
    """
    return Explorer(Settings(**settings))

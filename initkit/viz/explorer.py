"""``viz.explore()``: move a knob, watch the signal and the gradient live (the lesson's explorer).

Controls (ipywidgets): the initializer (every registered one, plugins included; ``normal``
takes its scale from the sigma_w^2 slider as ``std = sqrt(sigma_w^2 / width)``, any other
keeps its own scale and shows its effective sigma_w^2 = width * Var(W)), the activation,
sigma_w^2, sigma_b^2 (``bias_std = sqrt(sigma_b^2)``), depth, width, a residual stream and a
normalisation. The figure (:class:`ExplorerFigure`): left, per layer, the forward variance
q_l and the backward gradient variance, simulated (median and a 16-84% band over seeds,
:func:`initkit.simulate`) with the mean-field prediction dashed (Poole et al. 2016,
Schoenholz et al. 2017); right, the phase diagram of the activation (xi_c over
(sigma_w^2, sigma_b^2), the edge of chaos chi_1 = 1) with the current point and its depth
scales xi_q, xi_c in the title.

A redraw does only what changed (``benchmarks/bench_explore.py`` measures one at depth 50,
width 256): simulations are cached by their settings (:func:`simulate_settings`), and every
initializer's weights by the generator's state (``normal``'s standard draws rescaled, so the
sigma_w^2 slider reuses the same matrices at a new scale, and a change of sigma_b^2 or of
the depth draws none again); the phase map and the edge curve are computed once per
activation (:func:`phase_map`); the figure's artists are built once and updated in place,
and the phase panel is rendered once per activation and kept as a bitmap, over which only
the signal panel, the current point and its title are drawn (matplotlib's blitting). The
drawing is pixel for pixel what matplotlib draws from scratch (``tests/test_viz_explore.py``).

Where widgets cannot render (nbconvert, ``initkit check``, a static viewer) the explorer's
display carries the current figure as a PNG and a one-line note instead: frontends that
render widgets pick the widget, the others the picture.
"""

from __future__ import annotations

import html
import io
import math
import time
import warnings
from collections import OrderedDict
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.patheffects import withStroke
from matplotlib.ticker import LogFormatter

from .. import theory
from ..errors import InitkitError, TheoryWarning

#: the sigma_w^2 and sigma_b^2 ranges of the sliders and of the phase map
SIGMA_W2 = (0.5, 4.0)
SIGMA_B2 = (0.0, 0.3)
NOTE = ("A live explorer: open this notebook in JupyterLab (make lab) to move the sliders; "
        "this is a picture of its first state.")
#: the figure's size in inches and its resolution (945 x 396 pixels: a notebook's width;
#: the resolution costs little, a redraw's rendering is mostly text and lines)
FIGSIZE = (10.5, 4.4)
DPI = 90
#: the two simulated quantities: Trace key, colour, legend label
QUANTITIES = (("q", "C0", "forward variance q_l"), ("grad_var", "C1", "gradient variance"))


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


class _DrawStore:
    """Arrays by key, least recently used first out, within a budget of bytes."""

    def __init__(self, budget: int = 96 * 2**20):
        self.entries: OrderedDict = OrderedDict()
        self.budget = budget
        self.size = 0

    def get(self, key):
        if key in self.entries:
            self.entries.move_to_end(key)
            return self.entries[key]
        return None

    def put(self, key, array: np.ndarray, state) -> None:
        self.entries[key] = (array, state)
        self.size += array.nbytes
        while self.size > self.budget and len(self.entries) > 1:
            _, (old, _) = self.entries.popitem(last=False)
            self.size -= old.nbytes


class _RescaledDraws:
    """``normal``'s weights with its standard-normal draws memoized by the generator's state.

    Moving the sigma_w^2 slider changes only the scale of the same draws: the same seed,
    layer and shape find the same generator state, so the draw is looked up and the
    generator set to where drawing would have left it. The weights are bit for bit those of
    ``initkit.get_initializer("normal")`` in float32 (``std * standard_normal``).
    """

    def __init__(self, store: _DrawStore | None = None):
        self.store = store if store is not None else _DrawStore()

    @property
    def cache(self) -> OrderedDict:
        return self.store.entries

    def __call__(self, shape, rng, std: float = 1.0, mean: float = 0.0, dtype=np.float32):
        bit_generator = rng.bit_generator
        key = ("normal", repr(bit_generator.state), tuple(shape), np.dtype(dtype).str)
        found = self.store.get(key)
        if found is not None:
            draw, bit_generator.state = found
        else:
            draw = rng.standard_normal(shape, dtype=np.float32).astype(dtype, copy=False)
            self.store.put(key, draw, bit_generator.state)
        out = draw * draw.dtype.type(std)
        if mean:
            out += draw.dtype.type(mean)
        return out


class _MemoizedDraws:
    """Any initializer's weights memoized by the generator's state (and shape, parameters).

    An initializer is a function of the shape, the generator and its parameters, so the
    same generator state gives the same weights: a change of sigma_b^2 or of the depth draws
    the same matrices again (the biases are drawn after every weight), and they are looked
    up with the generator set to where drawing would have left it. The array is returned
    as the initializer made it (callers only read weights).
    """

    def __init__(self, fn, name: str, store: _DrawStore):
        self.fn, self.name, self.store = fn, name, store

    def __call__(self, shape, rng, **params):
        bit_generator = rng.bit_generator
        key = (self.name, self.fn, repr(bit_generator.state), tuple(shape),
               repr(sorted(params.items(), key=lambda item: item[0])))
        found = self.store.get(key)
        if found is not None:
            weights, bit_generator.state = found
            return weights
        weights = self.fn(shape, rng, **params)
        if isinstance(weights, np.ndarray):
            self.store.put(key, weights, bit_generator.state)
        return weights


_STORE = _DrawStore()
_DRAWS = _RescaledDraws(_STORE)


class _SimulationCache:
    """The last simulations by their settings (an LRU of ``limit`` traces).

    The key is everything the simulation depends on: the initializer and activation (the
    registered objects themselves, so a plugin registered again under the same name is a
    new key), sigma_w^2 (only for ``normal``, the one initializer it scales), sigma_b^2,
    depth, width, residual, norm, seeds and batch.
    """

    def __init__(self, limit: int = 64):
        self.entries: OrderedDict = OrderedDict()
        self.limit = limit

    def get(self, s: Settings, compute) -> Any:
        from ..registry import get_activation, get_initializer

        init, act = get_initializer(s.init), get_activation(s.activation)
        scale = s.sigma_w2 if s.init == "normal" else None
        key = (id(init), id(act), replace(s, sigma_w2=scale))
        if key in self.entries:
            self.entries.move_to_end(key)
            return self.entries[key][2]
        trace = compute(s)
        self.entries[key] = (init, act, trace)  # holding the objects keeps their ids unique
        if len(self.entries) > self.limit:
            self.entries.popitem(last=False)
        return trace


_SIMULATIONS = _SimulationCache()


def _simulate(s: Settings):
    from ..registry import get_initializer
    from ..simulation import simulate

    init, params = get_initializer(s.init), None
    if init.name == "normal":  # the slider's own scale, the same draws rescaled
        init = replace(init, fn=_DRAWS)
        params = {"std": math.sqrt(s.sigma_w2 / s.width)}
    else:  # its own scale: the same generator state, the same weights
        init = replace(init, fn=_MemoizedDraws(init.fn, init.name, _STORE))
    return simulate(init, s.activation, depth=s.depth, width=s.width, batch=s.batch,
                    seeds=s.seeds, bias_std=math.sqrt(s.sigma_b2), residual=s.residual,
                    norm=s.norm, init_params=params, dtype=np.float32)


def simulate_settings(s: Settings):
    """The simulation behind the figure (:func:`initkit.simulate`, forward and backward), in
    float32 (weights drawn natively in single precision: a picture needs no more digits);
    the same settings again return the cached trace."""
    return _SIMULATIONS.get(s, _simulate)


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


def band_polygons(x: np.ndarray, low: np.ndarray, high: np.ndarray) -> list[np.ndarray]:
    """The polygons of a band between ``low`` and ``high`` (what ``fill_between`` draws), one
    per run of layers where both are finite and positive (a log axis shows nothing else)."""
    ok = np.isfinite(low) & np.isfinite(high) & (low > 0) & (high > 0)
    polygons = []
    edges = np.flatnonzero(np.diff(np.concatenate(([0], ok.astype(np.int8), [0]))))
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        xs = x[start:stop]
        polygons.append(np.column_stack((np.concatenate((xs, xs[::-1])),
                                         np.concatenate((low[start:stop],
                                                         high[start:stop][::-1])))))
    return polygons


def log_limits(*series: np.ndarray) -> tuple[float, float] | None:
    """y limits of a log axis showing every finite positive value of ``series`` with a 5%
    margin (in decades) each side; None when there is none."""
    values = np.concatenate([np.ravel(v) for v in series])
    values = values[np.isfinite(values) & (values > 0)]
    if not values.size:
        return None
    low, high = math.log10(values.min()), math.log10(values.max())
    margin = max(0.05 * (high - low), 0.1)
    return 10 ** (low - margin), 10 ** (high + margin)


def _percentiles(samples: np.ndarray) -> np.ndarray:
    """The 16th, 50th and 84th percentiles over seeds (axis 0) of each layer, NaN seeds left
    out (a layer whose every seed is NaN stays NaN)."""
    if not np.isnan(samples).any():  # numpy's vectorised rule; nanpercentile loops
        return np.percentile(samples, [16, 50, 84], axis=0)
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanpercentile(samples, [16, 50, 84], axis=0)


class ExplorerFigure:
    """The explorer's figure: artists built once, updated in place, the phase map blitted.

    :meth:`show` draws one state of the controls into the canvas's pixel buffer:

    * the signal panel's median lines and theory lines take new data
      (``Line2D.set_data``), its bands new polygons (``PolyCollection.set_verts``), its
      limits and title are set, and the panel is drawn over the cached background;
    * the phase panel (the xi_c map, its colour bar, the edge of chaos, labels and legend)
      and the signal panel's legend are rendered once per activation and legend, and the
      bitmap is reused; only the current point and its title (the depth scales) are drawn
      on it each time.

    :meth:`png` encodes the buffer; ``figure`` stays an ordinary matplotlib Figure (its
    ``savefig`` renders everything, current point included).
    """

    def __init__(self, dpi: float = DPI):
        self.figure = Figure(figsize=FIGSIZE, dpi=dpi)
        self.canvas = FigureCanvasAgg(self.figure)
        self.signal, self.phase = self.figure.subplots(
            1, 2, gridspec_kw={"width_ratios": [1.35, 1]})
        # fixed margins: tight_layout measures every tick label, most of a redraw's time
        self.figure.subplots_adjust(left=0.07, right=0.94, bottom=0.25, top=0.92, wspace=0.17)
        self._build_signal()
        self._build_phase()
        self.settings: Settings | None = None
        self.timings: dict[str, float] = {}
        #: rendered backgrounds by (activation, legend entries): back to a state seen before
        #: costs no full render
        self._backgrounds: OrderedDict = OrderedDict()
        self._legend_key: tuple | None = None
        self.legend = None

    def _build_signal(self) -> None:
        ax = self.signal
        self.bands, self.medians, self.predictions = {}, {}, {}
        for name, color, label in QUANTITIES:
            band = PolyCollection([], facecolors=color, alpha=0.25, linewidths=0,
                                  label=f"{label} (16-84% of seeds)")
            self.bands[name] = ax.add_collection(band, autolim=False)
            (self.medians[name],) = ax.plot([], [], color=color, label=f"{label} (simulated)")
            (self.predictions[name],) = ax.plot([], [], "--", color=color,
                                                label=f"{label} (mean-field theory)")
        ax.set_yscale("log")
        ax.set_xlabel("layer l")
        ax.set_ylabel("variance", labelpad=2)

    def _build_phase(self) -> None:
        ax = self.phase
        # grey where xi_c does not exist (no fixed point q*) or is infinite (critical)
        self.image = ax.imshow(np.ones((2, 2)), origin="lower", aspect="auto",
                               cmap=colormaps["viridis"].with_extremes(bad="0.85"),
                               norm=LogNorm(vmin=1.0, vmax=10.0))
        self.colorbar = self.figure.colorbar(self.image, ax=ax, pad=0.02, fraction=0.06)
        self.colorbar.set_label("ξ_c (layers)")
        (self.edge,) = ax.plot([], [], color="white", linewidth=2,  # dark-edged: visible
                               label="edge of chaos (χ₁ = 1)",      # on grey cells too
                               path_effects=[withStroke(linewidth=3.5, foreground="0.25")])
        (self.marker,) = ax.plot([], [], "o", color="red", markersize=8,
                                 markeredgecolor="white", label="this network",
                                 animated=True)
        ax.title.set_animated(True)
        ax.set_xlabel("σ_w²")
        ax.set_ylabel("σ_b²", labelpad=2)

    def show(self, s: Settings) -> ExplorerFigure:
        """Draw the state ``s`` (simulated or cached) into the canvas; return self.

        ``timings`` then holds the seconds this took: ``simulate`` (the simulation with its
        mean-field column, 0 when cached), ``phase map`` (0 unless the activation changed)
        and ``draw`` (updating the artists and rendering).
        """
        start = time.perf_counter()
        trace = simulate_settings(s)
        simulated = time.perf_counter()
        if self.settings is None or self.settings.activation != s.activation:
            self._update_phase_map(s.activation)
        mapped = time.perf_counter()
        self._update_signal(trace, s)
        self._update_point(s)
        self.settings = s
        self._blit()
        self.timings = {"simulate": simulated - start, "phase map": mapped - simulated,
                        "draw": time.perf_counter() - mapped}
        return self

    def _update_signal(self, trace, s: Settings) -> None:
        layers = np.arange(1, s.depth + 1, dtype=float)
        shown, visible = [], []
        for name, _color, _label in QUANTITIES:
            low, mid, high = _percentiles(trace.samples[name])
            self.bands[name].set_verts(band_polygons(layers, low, high))
            self.medians[name].set_data(layers, mid)
            predicted = trace.theory.get(name)
            has_theory = predicted is not None and bool(np.isfinite(predicted).any())
            self.predictions[name].set_data(layers, predicted if has_theory else [])
            self.predictions[name].set_visible(has_theory)
            shown += [low, mid, high] + ([predicted] if has_theory else [])
            visible += [self.medians[name]] + ([self.predictions[name]] if has_theory else [])
        ax = self.signal
        ax.set_xlim(0.5, s.depth + 0.5)
        ax.set_ylim(*(log_limits(*shown) or (0.1, 10.0)))  # nothing positive: any decade
        ax.set_title(f"{s.init} + {s.activation}: σ_w² = {effective_sigma_w2(s):.3g}, "
                     f"σ_b² = {s.sigma_b2:.3g}, width {s.width}"
                     + (", residual" if s.residual else "")
                     + (f", {s.norm} norm" if s.norm else ""), y=1.01)
        key = tuple(line.get_label() for line in visible)
        if key != self._legend_key:  # the legend is part of the background: redrawn only
            if self.legend is not None:  # when its entries change
                self.legend.remove()
            box = ax.get_position()
            self.legend = self.figure.legend(
                handles=visible, loc="upper center", ncol=2, frameon=False, fontsize="small",
                bbox_to_anchor=((box.x0 + box.x1) / 2, box.y0 - 0.1))
            self._legend_key = key

    def _update_phase_map(self, activation: str) -> None:
        w, b, xi, edge_b, edge_w = phase_map(activation)
        positive = xi.compressed()[xi.compressed() > 0]
        low = float(positive.min()) if positive.size else 1.0
        high = max(float(positive.max()) if positive.size else 1.0, 10 * low)
        dw, db = (w[1] - w[0]) / 2, (b[1] - b[0]) / 2
        extent = (w[0] - dw, w[-1] + dw, b[0] - db, b[-1] + db)
        self.image.set_data(xi)
        self.image.set_extent(extent)
        self.image.set_norm(LogNorm(vmin=low, vmax=high))  # resets the colour bar's ticks
        for set_formatter in (self.colorbar.ax.yaxis.set_major_formatter,
                              self.colorbar.ax.yaxis.set_minor_formatter):
            set_formatter(LogFormatter(labelOnlyBase=False))  # plain numbers: 2, 5, 100
        self.edge.set_data(edge_w, edge_b)
        self.phase.set_xlim(*extent[:2])
        self.phase.set_ylim(*extent[2:])
        # the edge of chaos is in the legend where the map has one (ReLU's has none)
        handles = ([self.edge] if np.isfinite(edge_w).any() else []) + [self.marker]
        self.phase.legend(handles=handles, loc="lower right", fontsize="x-small")

    def _update_point(self, s: Settings) -> None:
        """Move the current-network marker and put its depth scales in the title."""
        sigma_w2 = effective_sigma_w2(s)
        self.marker.set_data([sigma_w2], [s.sigma_b2])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", TheoryWarning)
            try:
                xi_q, xi_c = theory.depth_scales(s.activation, sigma_w2, s.sigma_b2)
            except Exception:  # noqa: BLE001 - an activation theory cannot handle: no scales
                xi_q = xi_c = math.nan
        x0, x1 = self.phase.get_xlim()
        off = "" if x0 <= sigma_w2 <= x1 or math.isnan(sigma_w2) else \
            f" (σ_w² = {sigma_w2:.3g}: off the map)"
        scales = "no fixed point q*, no depth scales" if math.isnan(xi_q) \
            else f"ξ_q = {xi_q:.3g}, ξ_c = {xi_c:.3g} layers"
        self.phase.set_title(f"{s.activation}: {scales}{off}", y=1.01)

    def _blit(self) -> None:
        """Render what changed: the background (phase panel, legend) once per activation
        and legend, then the signal panel, the point and its title over it."""
        key = (self.settings.activation, self._legend_key)
        background = self._backgrounds.get(key)
        if background is None:
            self.signal.set_visible(False)
            try:
                self.canvas.draw()
            finally:
                self.signal.set_visible(True)
            background = self._backgrounds[key] = self.canvas.copy_from_bbox(self.figure.bbox)
            if len(self._backgrounds) > 8:
                self._backgrounds.popitem(last=False)
        self._backgrounds.move_to_end(key)
        renderer = self.canvas.get_renderer()
        self.canvas.restore_region(background)
        self.signal.draw(renderer)
        self.phase.draw_artist(self.marker)
        self.phase.draw_artist(self.phase.title)

    def png(self) -> bytes:
        """The canvas's current pixels as PNG (fast zlib level: the bytes stay local)."""
        from PIL import Image

        width, height = self.canvas.get_width_height()
        rgba = Image.frombuffer("RGBA", (width, height), self.canvas.buffer_rgba(), "raw",
                                "RGBA", 0, 1)
        buf = io.BytesIO()
        rgba.convert("RGB").save(buf, format="png", compress_level=1)
        return buf.getvalue()


def explorer_figure(s: Settings) -> Figure:
    """The explorer's figure for one state of its controls (a matplotlib Figure)."""
    return ExplorerFigure().show(s).figure


class Explorer:
    """The widget box, its figure, and the time the last redraw took."""

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
        self.controls["sigma_w2"].disabled = settings.init != "normal"
        self.view = ExplorerFigure()
        # shown at its own size (a flex column would stretch it), narrower where it must be
        self.image = w.Image(format="png", layout=w.Layout(align_self="flex-start",
                                                            max_width="100%"))
        self.message = w.HTML()
        for control in self.controls.values():
            control.observe(self._changed, names="value")
        self.box = w.VBox([w.HBox(list(self.controls.values())[:4]),
                           w.HBox(list(self.controls.values())[4:]), self.message,
                           self.image])
        self.redraw()

    @property
    def figure(self) -> Figure:
        """The matplotlib Figure the widget shows."""
        return self.view.figure

    def _changed(self, change) -> None:
        name = next(k for k, c in self.controls.items() if c is change["owner"])
        self.settings = replace(self.settings, **{name: change["new"]})
        self.controls["sigma_w2"].disabled = self.settings.init != "normal"
        self.redraw()

    def redraw(self) -> None:
        """Draw the current settings into the image (and time it); a setting the kit
        cannot simulate keeps the last figure and says why in one line."""
        start = time.perf_counter()
        try:
            self.view.show(self.settings)
        except InitkitError as exc:
            self.message.value = f"<b>cannot draw these settings:</b> {html.escape(str(exc))}"
            return
        self.message.value = ""
        self.image.value = self.view.png()
        self.last_redraw_seconds = time.perf_counter() - start

    def _repr_mimebundle_(self, include=None, exclude=None):
        """The widget where widgets render; the figure and a note where they do not."""
        bundle = self.box._repr_mimebundle_(include=include, exclude=exclude) or {}
        if isinstance(bundle, tuple):
            bundle = bundle[0]
        return {**bundle, "image/png": self.view.png(), "text/plain": NOTE}


def explore(**settings) -> Explorer:
    """Show the explorer (in Jupyter: ``viz.explore()`` as a cell's last line).

    Keyword arguments set the controls' first state (:class:`Settings`), e.g.
    ``viz.explore(activation="relu", init="he", depth=30)``; an alias (``"he"``) is shown by
    its registered name (``"he_normal"``), an unknown name is an ``UnknownNameError``.
    """
    from ..registry import get_activation, get_initializer

    s = Settings(**settings)
    s = replace(s, init=get_initializer(s.init).name,
                activation=get_activation(s.activation).name)
    return Explorer(s)

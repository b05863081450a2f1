"""One per-layer quantity of several simulations on a log axis, beside mean-field theory.

Shared by ``plot_variance`` (forward) and ``plot_gradients`` (backward): each run is a
``Trace`` from ``initkit.simulate`` (or an initializer, a name or ``(name, params)``,
simulated here with the given keyword arguments). Per run: the seed-mean as a solid line;
the middle 68% of the seeds (16th to 84th percentile of ``Trace.samples[quantity]``, the
+-1 sigma range of a normal) as a band; ``Trace.theory[quantity]`` as a dashed line of the
same colour. A percentile band, unlike mean +- std, stays positive on the log axis:
finite-width ReLU nets fluctuate log-normally (Var log q ~ 5 L / n), so their std soon
exceeds their mean. All numbers are the Trace's; nothing is recomputed here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..registry import Initializer
from ..simulation import Trace, simulate
from ._common import InitSpec, VizError, as_init, as_list, color, new_axes

#: Defaults for runs given by name: deep enough to see the trend, small enough to be quick.
SIMULATE_DEFAULTS = {"depth": 20, "width": 256, "batch": 64, "seeds": 5}

#: The band: this percentile range of the seeds (the +-1 sigma range of a normal).
BAND_PERCENTILES = (15.865, 84.135)


Runs = Trace | InitSpec | Iterable[Trace | InitSpec]


def as_traces(runs: Runs, **simulate_kwargs: Any) -> list[Trace]:
    """Normalise ``runs`` to a list of Traces, simulating the ones given as initializers.

    An initializer is a name or ``(name, params)``; it is simulated with
    ``SIMULATE_DEFAULTS`` updated by ``simulate_kwargs`` (``params`` become ``init_params``).
    """
    return [trace for trace, _ in labelled_traces(runs, **simulate_kwargs)]


def labelled_traces(runs: Runs, **simulate_kwargs: Any) -> list[tuple[Trace, str]]:
    """:func:`as_traces` with each run's legend entry (:func:`run_label`), which keeps the
    initializer's parameters when the run was given as ``(name, params)``."""
    kwargs = {**SIMULATE_DEFAULTS, **simulate_kwargs}
    shared = kwargs.pop("init_params", None) or {}
    out = []
    for run in as_list(runs, (Trace, str, Initializer)):
        if isinstance(run, Trace):
            out.append((run, run_label(run)))
        else:
            init, params = as_init(run, **shared)
            trace = simulate(init, **kwargs, init_params=params)
            out.append((trace, run_label(trace, params)))
    if not out:
        raise VizError("nothing to plot: give at least one Trace or initializer name")
    return out


def _deterministic(name: str) -> bool:
    """A deterministic initializer (constant, identity, ZerO): the mean-field theory is about
    iid random weights, so no theory line is drawn beside it."""
    from ..registry import get_initializer

    try:
        return get_initializer(name).deterministic
    except Exception:  # a name no longer registered: nothing to say about it
        return False


def run_label(trace: Trace, params: dict[str, Any] | None = None) -> str:
    """``"<init>(<params>) + <activation>"``, the legend entry of a simulated curve:
    ``orthogonal(gain=1.1) + tanh`` (two runs of one initializer with different parameters
    must not share a legend entry)."""
    pairs = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                      for k, v in (params or {}).items())
    return f"{trace.init}{f'({pairs})' if pairs else ''} + {trace.activation}"


def plot_layer_quantity(runs: Runs, quantity: str,
                        allowed: dict[str, str], *, theory: bool, band: bool,
                        ax: Axes | None, title: str,
                        simulate_kwargs: dict[str, Any]) -> Figure:
    """Draw ``quantity`` per layer for every run; see the module docstring.

    The dashed theory line is drawn when every layer's prediction is finite and positive
    (a log axis cannot show zeros, and NaN means theory makes no prediction there, e.g.
    the gradient through a norm layer), and never for a deterministic initializer (constant,
    identity: the theory is about iid random weights).
    """
    if quantity not in allowed:
        raise VizError(f"cannot plot {quantity!r} here; choose one of {', '.join(allowed)}")
    traces = labelled_traces(runs, **simulate_kwargs)
    fig, ax = new_axes(ax)
    for index, (trace, label) in enumerate(traces):
        layers = np.arange(1, trace.depth + 1)
        mean = trace.mean(quantity)
        ax.plot(layers, mean, color=color(index), marker="o", markersize=3, label=label)
        if band and len(trace.seeds) > 1:
            low, high = np.percentile(trace.samples[quantity], BAND_PERCENTILES, axis=0)
            ax.fill_between(layers, low, high, color=color(index), alpha=0.2, linewidth=0)
        predicted = trace.theory.get(quantity)
        if (theory and predicted is not None and not _deterministic(trace.init)
                and np.all(np.isfinite(predicted) & (predicted > 0))):
            ax.plot(layers, predicted, color=color(index), linestyle="--",
                    label=f"{label} (theory)")
    ax.set_yscale("log")
    ax.set_xlabel("layer")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(allowed[quantity])
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize="small")
    return fig

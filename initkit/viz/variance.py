"""Forward signal across layers: simulation vs mean-field theory, and the lesson's figure.

``plot_variance`` shows q_l (mean squared pre-activation) or the activation variance per
layer for several inits, with the mean-field length map q_{l+1} = sigma_w^2
E[phi(sqrt(q_l) z)^2] + sigma_b^2 (Poole et al. 2016) dashed beside each simulated curve.
``plot_lesson_variance`` is the lesson's own picture: ``VarianceSimulator`` per init, log y
from 1e-4 to 1e4 (the last frame of ``anim_variance_evolution``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..lesson import LESSON_INITS, VarianceSimulator
from ._common import LESSON_STYLE, color, new_axes
from ._layers import Runs, plot_layer_quantity

FORWARD_QUANTITIES = {
    "q": "q  (mean squared pre-activation)",
    "act_var": "activation variance",
}

#: The lesson figure's y range.
LESSON_YLIM = (1e-4, 1e4)


def plot_variance(runs: Runs = ("he", "xavier"),
                  quantity: str = "q", *, theory: bool = True, band: bool = True,
                  ax: Axes | None = None, **simulate_kwargs: Any) -> Figure:
    """Forward variance per layer for several runs, with theory dashed and a seed band.

    Args:
        runs: Traces from ``initkit.simulate``, or initializers (a name or
            ``(name, params)``) to simulate with ``simulate_kwargs`` (defaults: depth 20,
            width 256, batch 64, 5 seeds; each init with the activation it is meant for
            unless ``activation=`` is given).
        quantity: ``"q"`` (predicted by theory) or ``"act_var"``.
        theory: draw ``Trace.theory[quantity]`` as a dashed line of the run's colour.
        band: shade the middle 68% of the seeds (16th to 84th percentile).
        ax: draw into these axes instead of a new figure.

    Returns:
        The Figure (log y axis; one solid line per run, one dashed per theory curve).

    Example:
        >>> fig = plot_variance(["he", "xavier"], depth=10, width=64, seeds=2)
        >>> [line.get_label() for line in fig.axes[0].lines][:2]
        ['he_normal + relu', 'he_normal + relu (theory)']
    """
    return plot_layer_quantity(runs, quantity, FORWARD_QUANTITIES, theory=theory, band=band,
                               ax=ax, title="Signal across layers: simulation vs theory",
                               simulate_kwargs=simulate_kwargs)


def lesson_label_color(init: str, index: int) -> tuple[str, str]:
    """The lesson's label and colour for ``init`` (its own name and cycle colour otherwise)."""
    return LESSON_STYLE.get(init, (init, color(index)))


def style_lesson_axes(ax: Axes, layers: int) -> None:
    """Title, labels, log y from 1e-4 to 1e4 and grid, as in the lesson's figure."""
    ax.set_title("Variance Across Layers")
    ax.set_xlim(0, layers)
    ax.set_yscale("log")
    ax.set_ylim(*LESSON_YLIM)
    ax.set_xlabel("Layer")
    ax.set_ylabel("Variance")
    ax.grid(True)


def lesson_lines(ax: Axes, inits: Sequence[str], layers: int, width: int, seed: int
                 ) -> dict[str, tuple[Line2D, np.ndarray]]:
    """Empty lines on a lesson-styled ``ax``, one per init, with each init's variances.

    The variances are ``VarianceSimulator(layers, width, seed).run(init)``.
    """
    sim = VarianceSimulator(layers=layers, width=width, seed=seed)
    style_lesson_axes(ax, layers)
    lines = {}
    for index, init in enumerate(inits):
        label, colour = lesson_label_color(init, index)
        (line,) = ax.plot([], [], color=colour, label=label)
        lines[init] = (line, np.asarray(sim.run(init)))
    ax.legend()
    return lines


def plot_lesson_variance(inits: Sequence[str] = LESSON_INITS, layers: int = 50,
                         width: int = 200, seed: int = 0, ax: Axes | None = None) -> Figure:
    """The lesson's figure: ``VarianceSimulator`` variances per layer, log y 1e-4 ... 1e4.

    Args:
        inits: registered initializers (each with the activation it is meant for).
        layers, width, seed: the ``VarianceSimulator`` settings (the lesson's are 50, 200, 0).
        ax: draw into these axes instead of a new figure.

    Returns:
        The Figure: one line per init, x = layer 1 ... ``layers``, y = np.var after it.
    """
    fig, ax = new_axes(ax)
    for line, values in lesson_lines(ax, inits, layers, width, seed).values():
        line.set_data(np.arange(1, layers + 1), values)
    return fig

"""Backward gradient across layers: simulation vs mean-field theory (exercise 1).

The gradient at layer l obeys E[delta_l^2] = E[delta_{l+1}^2] * fan_out Var(W)
E[phi'(h_l)^2] (Schoenholz et al. 2017, gradient-independence assumption): with chi_1 < 1
it vanishes towards the input, with chi_1 > 1 it explodes. ``plot_gradients`` draws the
simulated E[delta^2] (or |dL/dW|) per layer for several runs, theory dashed beside it. The
"constant vs Xavier" picture of exercise 1 is
``plot_gradients([("constant", {"value": 0.002}), "xavier"], activation="tanh")``.
"""

from __future__ import annotations

from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ._layers import Runs, plot_layer_quantity

BACKWARD_QUANTITIES = {
    "grad_var": "E[δ²]  (backward gradient at the pre-activation)",
    "weight_grad_norm": "|dL/dW|  (Frobenius norm, per example)",
}


def plot_gradients(runs: Runs = ("he", "xavier"),
                   quantity: str = "grad_var", *, theory: bool = True, band: bool = True,
                   ax: Axes | None = None, **simulate_kwargs: Any) -> Figure:
    """Backward gradient per layer for several runs, with theory dashed and a seed band.

    Args:
        runs: Traces from ``initkit.simulate`` (run with ``backward=True``), or
            initializers (a name or ``(name, params)``) simulated with ``simulate_kwargs``
            (defaults: depth 20, width 256, batch 64, 5 seeds).
        quantity: ``"grad_var"`` (predicted by theory) or ``"weight_grad_norm"``.
        theory: draw ``Trace.theory[quantity]`` as a dashed line of the run's colour.
        band: shade the middle 68% of the seeds (16th to 84th percentile).
        ax: draw into these axes instead of a new figure.

    Returns:
        The Figure (log y axis; one solid line per run, one dashed per theory curve).
    """
    return plot_layer_quantity(runs, quantity, BACKWARD_QUANTITIES, theory=theory, band=band,
                               ax=ax, title="Gradient across layers: simulation vs theory",
                               simulate_kwargs=simulate_kwargs)

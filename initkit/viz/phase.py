"""The order-to-chaos phase diagram (Schoenholz et al. 2017, Fig. 1).

Over the (sigma_w^2, sigma_b^2) plane, a heat map of the correlation depth scale
xi_c = -1 / log(sigma_w^2 E[phi'(u_1) phi'(u_2)]) (how many layers two inputs stay
distinguishable) with the edge of chaos chi_1 = sigma_w^2 E[phi'(sqrt(q*) z)^2] = 1 drawn
on top: left of it the ordered phase (gradients vanish), right of it the chaotic phase (they
explode); xi_c diverges on the edge, which is why only there can very deep networks train.
Every number comes from ``initkit.theory.depth_scales`` and ``initkit.theory.edge_of_chaos``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from .. import theory
from ..errors import TheoryWarning
from ._common import VizError, new_axes


def depth_scale_grid(activation: str, sigma_w2: np.ndarray, sigma_b2: np.ndarray
                     ) -> np.ndarray:
    """xi_c from ``theory.depth_scales`` at every (sigma_b^2, sigma_w^2): shape (len b, len w).

    Cost: one ``depth_scales`` call per cell (a few to tens of ms each). Cells on a
    critical point (inf) or without a fixed point (nan) are what the map masks, so their
    ``TheoryWarning``s are not repeated here.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TheoryWarning)
        return np.array([[theory.depth_scales(activation, w, b)[1] for w in sigma_w2]
                         for b in sigma_b2])


def edge_curve(activation: str, sigma_b2: np.ndarray, high: float) -> np.ndarray:
    """sigma_w^2 on the edge of chaos for each sigma_b^2 (NaN where chi_1 never crosses 1)."""
    edges = []
    for b in sigma_b2:
        try:
            edges.append(theory.edge_of_chaos(activation, b, high=high))
        except ValueError:
            edges.append(math.nan)
    return np.array(edges)


def plot_phase_diagram(activation: str = "tanh", sigma_w2: tuple[float, float] = (1.0, 4.0),
                       sigma_b2: tuple[float, float] = (0.0, 0.3),
                       resolution: tuple[int, int] = (21, 11),
                       ax: Axes | None = None) -> Figure:
    """Heat map of xi_c over (sigma_w^2, sigma_b^2) with the chi_1 = 1 curve.

    Args:
        activation: a registered activation (tanh in the paper).
        sigma_w2: (low, high) of the x axis.
        sigma_b2: (low, high) of the y axis.
        resolution: grid points along (sigma_w^2, sigma_b^2); the cost is one
            ``theory.depth_scales`` call per point (a few to tens of ms each: 21 x 11 takes
            about 5 s). The edge curve has 2 * resolution[1] - 1 points.
        ax: draw into these axes instead of a new figure.

    Returns:
        The Figure: ``ax.images[0]`` holds xi_c (rows = sigma_b^2, log colour scale, infinite
        values masked), ``ax.lines[0]`` the edge of chaos (x = sigma_w^2, y = sigma_b^2).
    """
    if min(resolution) < 2:
        raise VizError(f"resolution must be at least 2 x 2, got {resolution}")
    w_grid = np.linspace(*sigma_w2, resolution[0])
    b_grid = np.linspace(*sigma_b2, resolution[1])
    xi = np.ma.masked_invalid(depth_scale_grid(activation, w_grid, b_grid))
    fig, ax = new_axes(ax, figsize=(7.0, 4.5))
    dw, db = (w_grid[1] - w_grid[0]) / 2, (b_grid[1] - b_grid[0]) / 2
    extent = (w_grid[0] - dw, w_grid[-1] + dw, b_grid[0] - db, b_grid[-1] + db)
    positive = xi.compressed()[xi.compressed() > 0]
    low = float(positive.min()) if positive.size else 1.0
    high = max(float(positive.max()) if positive.size else 1.0, low * 10)
    image = ax.imshow(xi, origin="lower", aspect="auto", cmap="viridis",
                      norm=LogNorm(vmin=low, vmax=high),
                      extent=extent)
    fig.colorbar(image, ax=ax, label="ξ_c  (correlation depth scale, layers)")
    edge_b = np.linspace(*sigma_b2, 2 * resolution[1] - 1)  # the curve, twice as finely
    ax.plot(edge_curve(activation, edge_b, high=max(20.0, 2 * sigma_w2[1])), edge_b,
            color="white", linewidth=2, label="χ₁ = 1  (edge of chaos)")
    ax.text(0.03, 0.92, "ordered\n(χ₁ < 1)", transform=ax.transAxes, color="white",
            va="top")
    ax.text(0.97, 0.92, "chaotic\n(χ₁ > 1)", transform=ax.transAxes, color="white",
            va="top", ha="right")
    ax.set_xlim(*extent[:2])  # the edge curve must not widen the map
    ax.set_ylim(*extent[2:])
    ax.set_xlabel("σ_w²")
    ax.set_ylabel("σ_b²")
    ax.set_title(f"Order to chaos: {activation}")
    ax.legend(loc="lower right", fontsize="small")
    return fig

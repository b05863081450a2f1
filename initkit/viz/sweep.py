"""A sweep's measured correlation depth scale over the theory's phase diagram.

``initkit sweep`` measures xi_c = -1 / log(chi_c) in finite random networks at each
(sigma_w^2, sigma_b^2) of a grid (:mod:`initkit.sweep`); this draws those measurements as
markers, coloured on the same log scale, over the mean-field heat map of
:func:`initkit.viz.phase.plot_phase_diagram` (Schoenholz et al. 2017, Fig. 1): where the
markers vanish into the map, the finite networks follow the theory; near the edge of chaos the
measured xi_c stays finite (a network of L layers cannot show a depth scale beyond about L).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ._common import VizError
from .phase import plot_phase_diagram

#: Columns a sweep table must have to be drawn.
NEEDED = ("activation", "sigma_w2", "sigma_b2", "depth", "width", "xi_c")


def select_rows(table: Sequence[dict[str, Any]], depth: int | None = None,
                width: int | None = None) -> list[dict[str, Any]]:
    """The rows of one (depth, width): the given ones, else the deepest, then the widest."""
    rows = list(table)
    if not rows:
        raise VizError("the sweep table has no rows: run `initkit sweep -o sweep.csv` first")
    missing = [c for c in NEEDED if c not in rows[0]]
    if missing:
        raise VizError(f"the sweep table lacks column(s) {', '.join(missing)}: write it with "
                       "`initkit sweep -o sweep.csv`")
    activations = sorted({r["activation"] for r in rows})
    if len(activations) != 1:
        raise VizError(f"the sweep table mixes activations {activations}: draw one at a time")
    depth = max(r["depth"] for r in rows) if depth is None else depth
    rows = [r for r in rows if r["depth"] == depth]
    width = max((r["width"] for r in rows), default=0) if width is None else width
    rows = [r for r in rows if r["width"] == width]
    if not rows:
        raise VizError(f"no rows with depth {depth} and width {width} in the sweep table")
    return rows


def _span(values: list[float]) -> tuple[tuple[float, float], int]:
    """(low, high) and resolution of the heat map under these grid values (>= 2 cells)."""
    low, high = min(values), max(values)
    if high == low:
        pad = max(abs(low) * 0.1, 0.05)
        return (max(low - pad, 0.0), low + pad), 2
    return (low, high), max(2, len(set(values)))


def plot_sweep_overlay(table: Sequence[dict[str, Any]], depth: int | None = None,
                       width: int | None = None, ax: Axes | None = None) -> Figure:
    """Measured xi_c (markers) over the theory's xi_c heat map and edge of chaos.

    Args:
        table: rows of :func:`initkit.sweep.read_table` (or ``SweepResult.table``).
        depth / width: which networks to show [default: the deepest, then the widest].
        ax: draw into these axes.

    Returns:
        The Figure of :func:`~initkit.viz.phase.plot_phase_diagram` over the table's range,
        with ``ax.collections[0]`` the measured points (x = sigma_w^2, y = sigma_b^2, colour
        = measured xi_c on the heat map's norm); measured xi_c that is infinite (chi_c >= 1)
        is drawn as an open marker.
    """
    rows = select_rows(table, depth, width)
    activation = rows[0]["activation"]
    w_range, nw = _span([float(r["sigma_w2"]) for r in rows])
    b_range, nb = _span([float(r["sigma_b2"]) for r in rows])
    fig = plot_phase_diagram(activation, w_range, b_range, (nw, nb), ax=ax)
    ax = fig.axes[0]
    norm = ax.images[0].norm
    w = np.array([float(r["sigma_w2"]) for r in rows])
    b = np.array([float(r["sigma_b2"]) for r in rows])
    xi = np.array([float(r["xi_c"]) for r in rows])
    finite = np.isfinite(xi) & (xi > 0)
    ax.scatter(w[finite], b[finite], c=xi[finite],
               cmap=ax.images[0].get_cmap(), norm=norm, s=60, edgecolors="white",
               linewidths=1.2, zorder=3,
               label=f"measured ξ_c (L = {rows[0]['depth']}, N = {rows[0]['width']})")
    unbounded = np.isinf(xi)
    if unbounded.any():
        ax.scatter(w[unbounded], b[unbounded], s=60, facecolors="none", edgecolors="white",
                   linewidths=1.2, zorder=3, label="measured ξ_c = ∞ (χ_c ≥ 1)")
    seeds = sorted({int(r["seeds"]) for r in rows if "seeds" in r})
    seeds_text = f", {seeds[0]} seed(s)" if len(seeds) == 1 else ""
    ax.set_title(f"Order to chaos: {activation}, measured over theory{seeds_text}")
    ax.legend(loc="lower right", fontsize="small")
    if not finite.any() and not unbounded.any():
        raise VizError("no measured xi_c in the table is a number (every point failed?)")
    return fig


"""Spectra of weight matrices and of deep Jacobians (exercise 5).

- ``plot_eigenvalues``: eigenvalues in the complex plane with the circular-law disc of
  radius sigma * sqrt(n) (Gaussian entries of variance sigma^2 fill it uniformly; an
  orthogonal matrix puts every eigenvalue on the unit circle).
- ``plot_singular_values``: singular-value histogram with the quarter-circle (square) or
  Marchenko-Pastur (rectangular) density.
- ``plot_jacobian_spectrum``: squared singular values of the input-output Jacobian
  J = W_L ... W_1 of a deep linear network, against the Fuss-Catalan edge
  (L + 1)^(L + 1) / L^L for Gaussian layers and exactly 1 for orthogonal ones
  (Saxe et al. 2014; Pennington, Schoenholz & Ganguli 2017).

The laws themselves are in ``initkit.viz._rmt``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Circle

from ..registry import Initializer
from ._common import InitSpec, VizError, as_init, as_list, as_weight, color, new_axes
from ._rmt import (
    circular_law_radius,
    fuss_catalan_edge,
    singular_value_density,
    singular_value_edges,
)

Weights = np.ndarray | InitSpec | Sequence[np.ndarray | InitSpec]


def _as_list(weights: Weights) -> list[Any]:
    """One matrix or init spec, or a sequence of them, as a list."""
    return as_list(weights, (np.ndarray, str, Initializer))


def _variance(matrix: np.ndarray, declared: float | None, sigma2: float | None) -> float:
    """sigma^2 given, else the initializer's declared variance, else mean(W^2)."""
    if sigma2 is not None:
        return float(sigma2)
    return float(declared) if declared is not None else float(np.mean(matrix**2))


def plot_eigenvalues(weights: Weights = ("he", "orthogonal"), n: int = 256, seed: int = 0,
                     sigma2: float | None = None, ax: Axes | None = None,
                     **init_params: Any) -> Figure:
    """Eigenvalues of square weight matrices and each one's circular-law circle.

    Args:
        weights: square matrices, or initializers (a name, or ``(name, params)``) drawn
            as (n, n) from ``default_rng(seed)``; or a list of them, overlaid.
        n: size of the drawn matrices.
        seed: seed of each drawn matrix.
        sigma2: per-entry variance for the circle; default: the initializer's declared
            variance (``Initializer.target_variance``), for a bare matrix mean(W^2).
        ax: draw into these axes instead of a new figure.
        **init_params: passed to the initializers.

    Returns:
        The Figure: per matrix, a scatter of its eigenvalues and a dashed circle of radius
        sigma * sqrt(n); equal aspect.
    """
    fig, ax = new_axes(ax, figsize=(5.5, 6.0))
    for index, weight in enumerate(_as_list(weights)):
        matrix, declared, label = as_weight(weight, (n, n), seed, **init_params)
        if matrix.shape[0] != matrix.shape[1]:
            raise VizError(f"eigenvalues need a square matrix, got shape {matrix.shape}; "
                           "use plot_singular_values for a rectangular one")
        eig = np.linalg.eigvals(matrix)
        radius = circular_law_radius(_variance(matrix, declared, sigma2), matrix.shape[0])
        ax.scatter(eig.real, eig.imag, s=6, color=color(index), alpha=0.7,
                   label=f"{label} eigenvalues")
        ax.add_patch(Circle((0.0, 0.0), radius, fill=False, linestyle="--", linewidth=1.5,
                            color=color(index), label=f"{label}: σ√n = {radius:.3g}"))
    ax.set_aspect("equal", adjustable="datalim")  # limits follow the circles and points
    ax.axhline(0, color="0.7", linewidth=0.5)
    ax.axvline(0, color="0.7", linewidth=0.5)
    ax.set_xlabel("Re λ")
    ax.set_ylabel("Im λ")
    ax.set_title("Eigenvalues and the circular law")
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.12), ncols=2)
    return fig


def plot_singular_values(weights: Weights = "he", n: int = 256, m: int | None = None,
                         seed: int = 0, sigma2: float | None = None, bins: int = 40,
                         ax: Axes | None = None, **init_params: Any) -> Figure:
    """Singular-value histogram(s) with the quarter-circle / Marchenko-Pastur density.

    Args:
        weights: matrices, or initializers (a name, or ``(name, params)``) drawn as
            (m, n) = (out, in); or a list of them.
        n, m: shape of drawn matrices (m defaults to n: square, the quarter circle).
        seed: seed of each drawn matrix.
        sigma2: per-entry variance for the law (default as in ``plot_eigenvalues``).
        bins: histogram bins over [0, the largest edge or singular value].
        ax: draw into these axes instead of a new figure.
        **init_params: passed to the initializers.

    Returns:
        The Figure: per matrix a density histogram and the law as a dashed line.
    """
    fig, ax = new_axes(ax)
    items = []
    for weight in _as_list(weights):
        matrix, declared, label = as_weight(weight, (m or n, n), seed, **init_params)
        items.append((label, matrix.shape, _variance(matrix, declared, sigma2),
                      np.linalg.svd(matrix, compute_uv=False)))
    top = 1.05 * max(max(sv.max(), singular_value_edges(*shape, s2)[1])
                     for _, shape, s2, sv in items)
    grid = np.linspace(0.0, top, 400)
    for index, (label, (rows, cols), s2, sv) in enumerate(items):
        law = "quarter-circle law" if rows == cols else "Marchenko-Pastur law"
        ax.hist(sv, bins=np.linspace(0.0, top, bins + 1), density=True, color=color(index),
                alpha=0.4, label=f"{label} singular values")
        ax.plot(grid, singular_value_density(grid, rows, cols, s2), color=color(index),
                linestyle="--", label=f"{label}: {law}")
    ax.set_xlabel("singular value s")
    ax.set_ylabel("density")
    ax.set_title("Singular values and the Gaussian law")
    ax.legend(fontsize="small")
    return fig


def product_singular_values(init: InitSpec, depth: int, width: int, seed: int = 0,
                            **init_params: Any) -> np.ndarray:
    """Squared singular values of J = W_L ... W_1, each W_l (width, width) from ``init``.

    J is the input-output Jacobian of a deep linear network; the matrices are drawn one after
    another from ``default_rng(seed)``.
    """
    initializer, params = as_init(init, **init_params)
    rng = np.random.default_rng(seed)
    jacobian = np.eye(width)
    for _ in range(depth):
        jacobian = initializer((width, width), rng, **params) @ jacobian
    return np.linalg.svd(jacobian, compute_uv=False) ** 2


def predicted_edge(init: InitSpec, depth: int, width: int, **init_params: Any) -> float | None:
    """The largest squared singular value of J that theory predicts, or None.

    Orthogonal layers with n Var(W) = g^2: exactly g^(2L). Gaussian ones: the Fuss-Catalan
    edge (L + 1)^(L + 1) / L^L times (n Var(W))^L. None when the init declares no variance.
    """
    initializer, params = as_init(init, **init_params)
    var = initializer.target_variance((width, width), **params)
    if var is None:
        return None
    scale = (width * var) ** depth
    return scale if initializer.orthogonal else fuss_catalan_edge(depth) * scale


#: Squared singular values below largest * DYNAMIC_RANGE are float round-off; they are
#: counted in the lowest bin.
DYNAMIC_RANGE = 1e-10


def plot_jacobian_spectrum(inits: Sequence[InitSpec] = ("lecun_normal", "orthogonal"),
                           depth: int = 10, width: int = 200, seed: int = 0, bins: int = 50,
                           ax: Axes | None = None, **init_params: Any) -> Figure:
    """Histogram of the squared singular values of a product of ``depth`` layers per init.

    Args:
        inits: initializers (names or ``(name, params)``); Gaussian ones get the
            Fuss-Catalan edge, orthogonal ones 1.
        depth: L, the number of layers multiplied.
        width: n, each layer is (n, n).
        seed: seed of ``default_rng`` for the product.
        bins: log-spaced bins.
        ax: draw into these axes instead of a new figure.
        **init_params: passed to the initializers.

    Returns:
        The Figure: log x axis; per init a step histogram and a dotted vertical line at the
        predicted edge (labelled with its value).
    """
    fig, ax = new_axes(ax)
    spectra = [(init, product_singular_values(init, depth, width, seed, **init_params))
               for init in _as_list(inits)]
    top = max(s.max() for _, s in spectra)
    low = top * DYNAMIC_RANGE
    edges = np.geomspace(low, top * 1.5, bins + 1)
    for index, (init, values) in enumerate(spectra):
        initializer, _ = as_init(init)
        ax.hist(np.clip(values, low, None), bins=edges, histtype="step", linewidth=1.5,
                color=color(index), label=f"{initializer.name}: s² of J")
        edge = predicted_edge(init, depth, width, **init_params)
        if edge is not None:
            kind = "exactly" if initializer.orthogonal else "Fuss-Catalan edge"
            ax.axvline(edge, color=color(index), linestyle=":", linewidth=2,
                       label=f"{initializer.name}: {kind} {edge:.4g}")
    ax.set_xscale("log")
    ax.set_xlabel("squared singular value s² of J = W_L ⋯ W_1")
    ax.set_ylabel("count")
    ax.set_title(f"Jacobian of {depth} linear layers of width {width}")
    ax.legend(fontsize="small", loc="upper left")
    return fig

"""Hidden-unit symmetry: do the hidden units' weight vectors differ? (exercise 2)

For a weight matrix W (hidden units x inputs), unit i's incoming weights are row w_i and
the heat map shows cos(w_i, w_j) = w_i . w_j / (|w_i| |w_j|). Under a constant init every
row is the same vector, every unit gets the same gradient, and training never breaks the
tie: the map stays all ones (the symmetry problem). Random inits give near-zero off-diagonal
similarity (about 1 / sqrt(inputs)).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ._common import InitSpec, as_weight, new_axes


def cosine_similarity(weight: np.ndarray) -> np.ndarray:
    """Pairwise cosine similarity of the rows of ``weight`` (hidden units x inputs).

    A zero row has no direction: it counts as identical (1) to another zero row, and as
    unrelated (0) to a non-zero one, so an all-zeros init shows as fully symmetric.
    """
    matrix = np.asarray(weight, dtype=float)
    norms = np.linalg.norm(matrix, axis=1)
    zero = norms == 0
    unit = matrix / np.where(zero, 1.0, norms)[:, None]
    similarity = np.clip(unit @ unit.T, -1.0, 1.0)
    both_zero = zero[:, None] & zero[None, :]
    return np.where(both_zero, 1.0, similarity)


def plot_symmetry(weight: np.ndarray | InitSpec = "constant", hidden: int = 32,
                  inputs: int = 64, seed: int = 0, ax: Axes | None = None,
                  **init_params: Any) -> Figure:
    """Heat map of the hidden units' pairwise cosine similarity, from -1 to 1.

    Args:
        weight: a (hidden, inputs) matrix, e.g. a trained layer's; or an initializer (a
            name, or ``(name, params)``) drawn as (hidden, inputs) from ``default_rng(seed)``.
        hidden, inputs: the drawn matrix's shape.
        seed: seed of the drawn matrix.
        ax: draw into these axes instead of a new figure.
        **init_params: passed to the initializer (e.g. ``value=0.5`` for ``constant``).

    Returns:
        The Figure: ``ax.images[0]`` holds ``cosine_similarity(weight)``; the title gives the
        mean |cos| over distinct pairs (1 when all units are one, ~0.8 / sqrt(inputs) random).
    """
    matrix, _, label = as_weight(weight, (hidden, inputs), seed, **init_params)
    similarity = cosine_similarity(matrix)
    fig, ax = new_axes(ax, figsize=(5.5, 4.5))
    image = ax.imshow(similarity, vmin=-1.0, vmax=1.0, cmap="RdBu_r", interpolation="nearest")
    fig.colorbar(image, ax=ax, label="cosine similarity")
    units = similarity.shape[0]
    off = np.abs(similarity[~np.eye(units, dtype=bool)])
    mean = float(off.mean()) if off.size else 1.0
    # two lines: on one, the title is wider than the default figure and gets clipped
    ax.set_title(f"{label}: hidden-unit similarity\n(off-diagonal mean |cos| {mean:.2f})")
    ax.set_xlabel("hidden unit")
    ax.set_ylabel("hidden unit")
    return fig

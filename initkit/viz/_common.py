"""Shared plumbing of the figures: axes, colours, saving, weight matrices, the viz error.

Every plot function builds on a ``matplotlib.figure.Figure`` it creates itself (or on the
``ax`` it is given), never on pyplot's global state, so the library works headless (Agg)
and in notebooks alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..errors import VizError  # noqa: F401 (defined in initkit.errors, re-exported here)
from ..registry import Initializer, get_initializer

#: The file types a figure can be written as, by suffix (``initkit plot -o``).
FIGURE_SUFFIXES = (".png", ".svg")

#: The lesson's colours and labels (its figure: Xavier blue, He green, bad init red).
LESSON_STYLE = {"xavier": ("Xavier", "blue"), "he": ("He", "green"), "bad": ("Bad init", "red")}


def new_axes(ax: Axes | None = None, figsize: tuple[float, float] = (7.0, 4.0)
             ) -> tuple[Figure, Axes]:
    """Return ``(figure, axes)``: the given axes and its figure, or a fresh figure's axes."""
    if ax is not None:
        return ax.get_figure(), ax
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def color(index: int) -> str:
    """The ``index``-th colour of matplotlib's default cycle (``C0``, ``C1``, ...)."""
    return f"C{index % 10}"


def save_figure(fig: Figure, path: str | Path, dpi: int = 100) -> Path:
    """Write ``fig`` as PNG or SVG (by the suffix of ``path``), creating parent folders.

    SVGs carry no date, so regenerating an unchanged figure gives the same file.

    Raises:
        VizError: the suffix is neither ``.png`` nor ``.svg``.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FIGURE_SUFFIXES:
        raise VizError(f"cannot write a figure as {path.name!r}: give the file a "
                       f"{' or '.join(FIGURE_SUFFIXES)} suffix")
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {"Date": None} if suffix == ".svg" else None
    fig.savefig(path, dpi=dpi, metadata=metadata)
    return path


#: An initializer as a figure takes it: a name, an Initializer, or (either, {params}).
InitSpec = str | Initializer | tuple[str | Initializer, dict[str, Any]]


def as_init(spec: InitSpec, **init_params: Any) -> tuple[Initializer, dict[str, Any]]:
    """``(Initializer, params)`` from a name, an Initializer or a ``(name, params)`` pair.

    A pair's own params override ``init_params`` (the ones shared by every spec).
    """
    name, own = spec if isinstance(spec, tuple) else (spec, {})
    return get_initializer(name), {**init_params, **own}


def as_list(items: Any, single: tuple[type, ...]) -> list[Any]:
    """``items`` as a list; a single item stays one item.

    A single item is an instance of ``single``, an ``(init, params)`` pair or anything that
    is not a sequence; every other sequence becomes its list.
    """
    pair = isinstance(items, tuple) and len(items) == 2 and isinstance(items[1], dict)
    if pair or isinstance(items, single) or not isinstance(items, Sequence):
        return [items]
    return list(items)


def as_weight(weight: np.ndarray | InitSpec, shape: tuple[int, int], seed: int = 0,
              **init_params: Any) -> tuple[np.ndarray, float | None, str]:
    """A 2-D weight matrix, its declared per-entry variance, and a label for it.

    ``weight`` is a matrix (its variance is then ``None``: not declared) or an initializer
    (``as_init``), which draws a matrix of ``shape`` = (out, in) from ``default_rng(seed)``
    and declares ``Initializer.target_variance``.

    Raises:
        VizError: the matrix is not 2-D.
    """
    if isinstance(weight, str | Initializer | tuple):
        init, params = as_init(weight, **init_params)
        matrix = init(shape, np.random.default_rng(seed), **params)
        return matrix, init.target_variance(shape, **params), init.name
    matrix = np.asarray(weight, dtype=float)
    if matrix.ndim != 2:
        raise VizError(f"expected a 2-D weight matrix (out, in), got shape {matrix.shape}; "
                       "reshape a conv kernel to (out, in * kh * kw) first")
    return matrix, None, "W"

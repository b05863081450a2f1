"""Looking inside a model: per-layer statistics, a step recorder, and the symmetry diagnostic.

Everything here reads the caches the last forward/backward pass left in the layers, so it
costs nothing unless someone asks: ``fit`` calls its hooks only when there are hooks.

Symmetry (the point of exercise 2): hidden unit j of a Dense layer is the row
u_j = [W_j, b_j] of its incoming weights and bias. With a constant initializer all rows are
equal and, because every unit then receives the same gradient (the rows of dL/dW are equal
when the outgoing weight columns are), they stay equal forever: the layer behaves like one
unit, however wide it is. ``symmetry(model)`` counts the distinct rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..simulation import SATURATION  # one threshold for simulator and engine
from .core import Module
from .layers import ActivationLayer, Dense
from .rnn import RNN


def activation_layers(model: Module) -> list[ActivationLayer]:
    return [m for m in model.modules() if isinstance(m, ActivationLayer)]


def layer_stats(model: Module) -> dict[str, np.ndarray]:
    """Statistics of the last forward/backward pass, one entry per layer.

    Returns:
        ``act_mean``, ``act_std``, ``dead_fraction`` (phi'(z) == 0), ``saturated_fraction``
        (0 < |phi'(z)| < 0.01) per activation layer, and ``grad_norm`` (Frobenius norm of
        dL/dW) per weight matrix (``model.weights()``; nan before the first backward).
    """
    acts = [a for a in activation_layers(model) if a.out is not None]
    stats: dict[str, Any] = {"act_mean": [], "act_std": [], "dead_fraction": [],
                             "saturated_fraction": []}
    for a in acts:
        stats["act_mean"].append(float(np.mean(a.out, dtype=np.float64)))
        stats["act_std"].append(float(np.std(a.out, dtype=np.float64)))
        slope = np.abs(a.activation.grad(a.z, **a.params))
        stats["dead_fraction"].append(float(np.mean(slope == 0)))
        stats["saturated_fraction"].append(float(np.mean((slope > 0) & (slope < SATURATION))))
    out = {k: np.asarray(v, dtype=np.float64) for k, v in stats.items()}
    out["grad_norm"] = weight_grad_norms(model)
    return out


def weight_grad_norms(model: Module, weights: Sequence[Any] | None = None) -> np.ndarray:
    """||dL/dW||_F of each weight matrix (nan where no gradient has been computed yet)."""
    params = model.weights() if weights is None else weights
    return np.array([np.nan if p.grad is None else float(np.linalg.norm(p.grad))
                     for p in params])


class Recorder:
    """A ``fit`` hook that keeps ``layer_stats`` every ``every`` steps.

    Example:
        >>> rec = Recorder()                                    # doctest: +SKIP
        >>> fit(model, "digits", hooks=[rec]); rec.array("act_std").shape   # doctest: +SKIP
        (steps, n_activation_layers)
    """

    def __init__(self, every: int = 1):
        self.every = max(1, int(every))
        self.steps: list[int] = []
        self.records: list[dict[str, np.ndarray]] = []

    def __call__(self, step: int, model: Module, info: dict[str, Any]) -> None:
        if step % self.every == 0:
            self.steps.append(step)
            self.records.append(layer_stats(model))

    def array(self, key: str) -> np.ndarray:
        """One statistic over the recorded steps, shape (n_records, n_layers)."""
        return np.stack([r[key] for r in self.records]) if self.records else np.zeros((0, 0))


@dataclass
class LayerSymmetry:
    """How collapsed the hidden units of one layer are.

    Attributes:
        layer: the layer's name.
        n_units: number of hidden units (rows of W).
        n_distinct: number of distinct units (rows [W_j, b_j] that differ by more than
            ``rtol`` times the mean row norm).
        max_distance: the largest Euclidean distance between two units' weight vectors.
        relative_spread: ``max_distance`` / mean row norm (0 for fully collapsed units).
    """

    layer: str
    n_units: int
    n_distinct: int
    max_distance: float
    relative_spread: float


@dataclass
class SymmetryReport:
    """``symmetry(model)``: one LayerSymmetry per hidden layer."""

    layers: list[LayerSymmetry] = field(default_factory=list)

    @property
    def n_distinct(self) -> list[int]:
        return [layer.n_distinct for layer in self.layers]

    @property
    def collapsed(self) -> bool:
        """True when every hidden layer has a single distinct unit."""
        return all(layer.n_distinct == 1 for layer in self.layers)

    def __str__(self) -> str:
        return "\n".join(f"{s.layer}: {s.n_distinct} distinct of {s.n_units} units, "
                         f"max distance {s.max_distance:.3g}" for s in self.layers)


def _unit_rows(w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    rows = w.reshape(w.shape[0], -1).astype(np.float64)
    return rows if b is None else np.concatenate([rows, b.astype(np.float64)[:, None]], axis=1)


def _count_distinct(rows: np.ndarray, tol: float) -> int:
    remaining = np.arange(len(rows))
    count = 0
    while remaining.size:
        dist = np.linalg.norm(rows[remaining] - rows[remaining[0]], axis=1)
        remaining = remaining[dist > tol]
        count += 1
    return count


def unit_symmetry(w: np.ndarray, b: np.ndarray | None = None, name: str = "layer",
                  rtol: float = 1e-4) -> LayerSymmetry:
    """The symmetry of the units whose incoming weights are the rows of ``w`` (and ``b``)."""
    rows = _unit_rows(w, b)
    norms = np.linalg.norm(rows, axis=1)
    scale = float(norms.mean()) if norms.size else 0.0
    tol = rtol * scale if scale > 0 else rtol
    gram = rows @ rows.T
    sq = np.maximum(norms[:, None] ** 2 + norms[None, :] ** 2 - 2 * gram, 0.0)
    max_distance = float(np.sqrt(sq.max())) if sq.size else 0.0
    n_distinct = _count_distinct(rows, tol)
    if n_distinct == 1:  # the Gram formula is inexact for nearly equal rows
        max_distance = float(np.linalg.norm(rows - rows[0], axis=1).max())
    return LayerSymmetry(name, len(rows), n_distinct, max_distance,
                         max_distance / scale if scale > 0 else 0.0)


def symmetry(model: Module, rtol: float = 1e-4) -> SymmetryReport:
    """How collapsed the hidden units are, for every hidden layer of ``model``.

    For an MLP the hidden layers are all Dense layers but the output layer; for an RNN the
    hidden unit j is the row [W_xh_j, W_hh_j, b_j].

    Args:
        model: an MLP, an RNN, or any Module made of Dense layers.
        rtol: two units are the same when their weight vectors differ by less than ``rtol``
            times the mean norm of a unit's weight vector (float32 round-off is ~1e-7).

    Returns:
        a SymmetryReport; ``report.n_distinct`` lists the distinct units per layer.
    """
    report = SymmetryReport()
    if isinstance(model, RNN):
        w = np.concatenate([model.W_xh.data, model.W_hh.data], axis=1)
        report.layers.append(unit_symmetry(w, model.b.data, "rnn", rtol))
        return report
    dense = [m for m in model.modules() if isinstance(m, Dense)]
    for layer in dense[:-1]:
        report.layers.append(unit_symmetry(layer.W.data, None if layer.b is None
                                           else layer.b.data, layer.name, rtol))
    return report

"""Training curves: loss and accuracy against steps or epochs, mean and band over seeds.

Works with any object that has the attributes of ``initkit.train``'s ``History`` (duck
typing, so this module never imports the engine): ``label``, per step ``loss`` and
``accuracy``, per epoch ``epoch_loss``, ``epoch_accuracy``, ``test_loss``,
``test_accuracy``, ``grad_norms`` (steps x layers) and ``diverged``. Histories that share a
label are seeds of one setting: their mean is the line and mean +- one standard deviation
the band. A diverged run's non-finite values are left out of the mean, and its label says
how many of its seeds diverged (exercises 2 and 4).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from ._common import VizError, color, new_axes

#: On a log axis a band's lower edge never goes below mean * BAND_FLOOR (it cannot show <= 0).
BAND_FLOOR = 1e-2

#: metric -> (x axis, y label)
METRICS = {
    "loss": ("step", "training loss"),
    "accuracy": ("step", "training accuracy"),
    "epoch_loss": ("epoch", "training loss (epoch mean)"),
    "epoch_accuracy": ("epoch", "training accuracy (epoch mean)"),
    "test_loss": ("epoch", "test loss"),
    "test_accuracy": ("epoch", "test accuracy"),
}


def stack_padded(rows: Sequence[Any]) -> np.ndarray:
    """Stack 1-D or 2-D arrays of unequal length along a new first axis, padding with NaN.

    Non-finite values (a diverged run's inf) become NaN, so ``np.nanmean`` leaves them out.
    """
    arrays = [np.asarray(row, dtype=float) for row in rows]
    length = max(len(a) for a in arrays)
    out = np.full((len(arrays), length, *arrays[0].shape[1:]), np.nan)
    for index, array in enumerate(arrays):
        out[index, : len(array)] = np.where(np.isfinite(array), array, np.nan)
    return out


def group_by_label(histories: Iterable[Any] | Any) -> dict[str, list[Any]]:
    """Histories grouped by ``label``, in order of first appearance."""
    if hasattr(histories, "label"):
        histories = [histories]
    groups: dict[str, list[Any]] = {}
    for history in histories:
        groups.setdefault(str(history.label), []).append(history)
    if not groups:
        raise VizError("nothing to plot: give at least one training History")
    return groups


def history_values(history: Any, name: str) -> Any:
    """``getattr(history, name)`` with an error that names the missing attribute."""
    try:
        return getattr(history, name)
    except AttributeError:
        raise VizError(f"training history {getattr(history, 'label', history)!r} has no "
                       f"{name!r}; pass initkit.train History objects (or anything with "
                       f"their attributes)") from None


def group_label(label: str, group: list[Any]) -> str:
    """The legend entry: the label, plus how many of its seeds diverged if any did."""
    diverged = sum(bool(getattr(h, "diverged", False)) for h in group)
    return f"{label} ({diverged}/{len(group)} diverged)" if diverged else label


def nan_mean_std(stack: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std over axis 0, ignoring NaN (an all-NaN column gives NaN, silently)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "mean of empty slice"
        return np.nanmean(stack, axis=0), np.nanstd(stack, axis=0)


def plot_training(histories: Iterable[Any] | Any, metric: str = "loss", *,
                  band: bool = True, logy: bool | None = None,
                  ax: Axes | None = None) -> Figure:
    """One curve per label: the mean over its seeds of ``metric``, and a +-1 std band.

    Args:
        histories: History objects (or one); those sharing a ``label`` are seeds.
        metric: ``loss`` / ``accuracy`` (per step) or ``epoch_loss``, ``epoch_accuracy``,
            ``test_loss``, ``test_accuracy`` (per epoch).
        band: shade mean +- one std over seeds (when a label has more than one).
        logy: log y axis; default: yes for losses, no for accuracies.
        ax: draw into these axes instead of a new figure.

    Returns:
        The Figure: x = step (or epoch) 1 ... n, one solid line per label.
    """
    if metric not in METRICS:
        raise VizError(f"unknown training metric {metric!r}; choose one of "
                       f"{', '.join(METRICS)}")
    xname, ylabel = METRICS[metric]
    log = logy if logy is not None else "loss" in metric
    fig, ax = new_axes(ax)
    for index, (label, group) in enumerate(group_by_label(histories).items()):
        stack = stack_padded([history_values(h, metric) for h in group])
        mean, std = nan_mean_std(stack)
        x = np.arange(1, stack.shape[1] + 1)
        ax.plot(x, mean, color=color(index), label=group_label(label, group))
        if band and len(group) > 1:
            lower = np.maximum(mean - std, mean * BAND_FLOOR) if log else mean - std
            ax.fill_between(x, lower, mean + std, color=color(index), alpha=0.2, linewidth=0)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(xname)
    ax.set_ylabel(ylabel)
    ax.set_title(f"{ylabel} by init")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return fig


def gradient_norm_means(histories: Iterable[Any] | Any) -> dict[str, np.ndarray]:
    """Per legend label, the seed-mean of ``grad_norms``: an array (steps, layers)."""
    means = {}
    for label, group in group_by_label(histories).items():
        stack = stack_padded([np.atleast_2d(history_values(h, "grad_norms")) for h in group])
        means[group_label(label, group)] = nan_mean_std(stack)[0]
    return means


def plot_gradient_norms(histories: Iterable[Any] | Any, step: int = -1,
                        ax: Axes | None = None) -> Figure:
    """Per-layer gradient norms at one training step, one line per label (seed mean).

    Args:
        histories: History objects with ``grad_norms`` of shape (steps, layers).
        step: the step to show (Python indexing: -1 is the last).
        ax: draw into these axes instead of a new figure.

    Returns:
        The Figure: x = layer 1 ... L, y = |dL/dW_l| on a log axis; the y range covers every
        step, so frames of ``anim_gradient_norms`` share it.
    """
    fig, ax = new_axes(ax)
    draw_gradient_norms(ax, gradient_norm_means(histories), step)
    return fig


def draw_gradient_norms(ax: Axes, means: dict[str, np.ndarray], step: int) -> list[Line2D]:
    """Draw ``plot_gradient_norms``'s lines for ``means`` at ``step``; return the lines."""
    steps = max(len(m) for m in means.values())
    lines = []
    for number, (label, mean) in enumerate(means.items()):
        (line,) = ax.plot(np.arange(1, mean.shape[1] + 1), gradient_norm_row(mean, step, steps),
                          color=color(number), marker="o", markersize=3, label=label)
        lines.append(line)
    values = np.concatenate([m.ravel() for m in means.values()])
    values = values[np.isfinite(values) & (values > 0)]
    ax.set_yscale("log")
    if values.size:
        ax.set_ylim(values.min() / 1.5, values.max() * 1.5)
    ax.set_xlabel("layer")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("gradient norm |dL/dW|")
    ax.set_title(f"Gradient norms per layer, step {range(steps)[step] + 1}")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return lines


def gradient_norm_row(mean: np.ndarray, step: int, steps: int) -> np.ndarray:
    """Row ``step`` of one label's (steps, layers) means; NaN once a shorter run has ended."""
    index = range(steps)[step]
    return mean[index] if index < len(mean) else np.full(mean.shape[1], np.nan)


def histories_from_json(path: str | Path) -> list[SimpleNamespace]:
    """Training runs saved by ``initkit train --json`` (one run, or ``{"runs": [...]}``).

    Each run becomes an object with the History attributes this module reads (``None``,
    JSON's NaN, becomes NaN), so ``plot_training`` and the gradient figures accept it.

    Raises:
        VizError: the file is not JSON, or a run lacks a key the figures need.
    """
    path = Path(path)
    try:
        payload = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise VizError(f"cannot read training runs from {str(path)!r}: {exc}; write them "
                       "with `initkit train --json > FILE`") from None
    runs = payload.get("runs", [payload]) if isinstance(payload, dict) else payload
    histories = []
    for number, run in enumerate(runs if isinstance(runs, list) else [runs], start=1):
        missing = [k for k in ("label", *METRICS, "grad_norms")
                   if not isinstance(run, dict) or k not in run]
        if missing:
            raise VizError(f"{str(path)!r}: run {number} has no {', '.join(missing)}; write "
                           "training runs with `initkit train --json > FILE`")
        arrays = {k: np.array(run[k], dtype=float) for k in (*METRICS, "grad_norms")}
        histories.append(SimpleNamespace(label=str(run["label"]),
                                         diverged=bool(run.get("diverged", False)), **arrays))
    return histories

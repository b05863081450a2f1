"""``fit``: the training loop, and ``History``: what happened at every step and epoch.

One step: forward a mini-batch, loss, backward (every parameter's ``.grad``), optimizer
step. ``fit`` records the loss and accuracy of every step's batch, the Frobenius norm of
each weight matrix's gradient, and at the end of every epoch the mean train loss/accuracy
and the test loss/accuracy. A loss that becomes NaN or inf (a diverging run, e.g. the
lesson's ``bad`` init with a large learning rate) stops the run cleanly with
``History.diverged = True``; it never raises.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from .data import Dataset, load_dataset
from .nn import (
    MLP,
    RNN,
    EngineError,
    Loss,
    Module,
    Optimizer,
    get_loss,
    make_optimizer,
)
from .progress import ProgressBar
from .registry import Initializer

Hook = Callable[[int, Module, dict[str, Any]], None]


@dataclass
class History:
    """A training run, step by step and epoch by epoch (read by the plotting helper).

    Attributes:
        label: a name for the run (e.g. the initializer).
        loss, accuracy: per step, on that step's training batch (accuracy is nan for a
            regression task).
        epoch_loss, epoch_accuracy: per epoch, the mean over that epoch's batches.
        test_loss, test_accuracy: per epoch, on the whole test set.
        grad_norms: shape (steps, n_layers), ||dL/dW||_F of each weight matrix per step.
        layer_names: the weight matrices ``grad_norms``' columns are about.
        epoch_time: seconds since the start at the end of each epoch.
        epoch_end: per epoch, the number of steps done when it ended (epoch e is steps
            ``epoch_end[e-1]:epoch_end[e]``).
        data_init: what each data-dependent initializer's ``data_init`` step returned
            before the first step, by initializer name (e.g. LSUV's ``LSUVReport``).
        diverged: the loss became NaN or inf; the run stopped at ``diverged_step``.
        wall_time: seconds the whole run took.
        config: the settings of the run (model, optimizer, data).
    """

    label: str
    loss: np.ndarray
    accuracy: np.ndarray
    epoch_loss: np.ndarray
    epoch_accuracy: np.ndarray
    test_loss: np.ndarray
    test_accuracy: np.ndarray
    grad_norms: np.ndarray
    layer_names: list[str] = field(default_factory=list)
    epoch_time: np.ndarray = field(default_factory=lambda: np.zeros(0))
    epoch_end: np.ndarray | None = None
    data_init: dict[str, Any] = field(default_factory=dict)
    diverged: bool = False
    diverged_step: int | None = None
    wall_time: float = 0.0
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def steps(self) -> int:
        return len(self.loss)

    @property
    def epochs(self) -> int:
        return len(self.epoch_loss)

    @property
    def final_test_accuracy(self) -> float:
        return float(self.test_accuracy[-1]) if len(self.test_accuracy) else math.nan

    def epoch_steps(self) -> list[slice]:
        """The steps of each epoch, as slices into the per-step arrays.

        From ``epoch_end``; a History made without it (an older JSON) splits the steps into
        ``epochs`` equal blocks.
        """
        if self.epoch_end is None:
            per_epoch = max(1, self.steps // max(1, self.epochs))
            return [slice(e * per_epoch, (e + 1) * per_epoch) for e in range(self.epochs)]
        ends = [int(e) for e in self.epoch_end]
        return [slice(start, end) for start, end in zip([0, *ends[:-1]], ends, strict=True)]

    def epoch_grad_norms(self) -> np.ndarray:
        """Shape (epochs, n_layers): each weight's ||dL/dW||_F averaged over each epoch's
        steps (NaN steps, e.g. a diverged one, are left out; NaN if no finite step)."""
        return np.array([_nanmean_rows(self.grad_norms[steps], self.grad_norms.shape[1])
                         for steps in self.epoch_steps()]).reshape(-1, self.grad_norms.shape[1])

    def mean_grad_norms(self) -> np.ndarray:
        """Shape (n_layers,): each weight's ||dL/dW||_F averaged over every finite step."""
        return _nanmean_rows(self.grad_norms, self.grad_norms.shape[1])

    def time_to_accuracy(self, threshold: float) -> float | None:
        """Seconds until the test accuracy first reached ``threshold`` (None if never)."""
        hits = np.flatnonzero(self.test_accuracy >= threshold)
        return float(self.epoch_time[hits[0]]) if hits.size else None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (NaN and inf become None)."""
        def clean(values: np.ndarray) -> list[Any]:
            arr = np.asarray(values, dtype=np.float64)
            if arr.ndim == 2:
                return [clean(row) for row in arr]
            return [v if math.isfinite(v) else None for v in arr.tolist()]

        return {
            "label": self.label, "steps": self.steps, "epochs": self.epochs,
            "diverged": self.diverged, "diverged_step": self.diverged_step,
            "wall_time": self.wall_time, "config": self.config,
            "layer_names": list(self.layer_names),
            "loss": clean(self.loss), "accuracy": clean(self.accuracy),
            "epoch_loss": clean(self.epoch_loss), "epoch_accuracy": clean(self.epoch_accuracy),
            "test_loss": clean(self.test_loss), "test_accuracy": clean(self.test_accuracy),
            "epoch_time": clean(self.epoch_time), "grad_norms": clean(self.grad_norms),
            "epoch_end": None if self.epoch_end is None else [int(e) for e in self.epoch_end],
        }


def _nanmean_rows(values: np.ndarray, width: int) -> np.ndarray:
    """Column means over the finite rows' entries; NaN where a column has none."""
    values = np.asarray(values, dtype=np.float64).reshape(-1, width)
    finite = np.isfinite(values)
    count = finite.sum(axis=0)
    total = np.where(finite, values, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def as_dataset(data: Dataset | str | Sequence[np.ndarray]) -> Dataset:
    """A Dataset from a Dataset, a name (``"digits"``) or arrays (x, y[, x_test, y_test])."""
    if isinstance(data, Dataset):
        return data
    if isinstance(data, str):
        return load_dataset(data)
    arrays = list(data)
    if len(arrays) not in (2, 4):
        raise EngineError("data must be a Dataset, a dataset name, or (x, y) or "
                          "(x_train, y_train, x_test, y_test)")
    x, y = np.asarray(arrays[0]), np.asarray(arrays[1])
    x_test, y_test = (np.asarray(arrays[2]), np.asarray(arrays[3])) if len(arrays) == 4 \
        else (x[:0], y[:0])
    classification = np.issubdtype(y.dtype, np.integer)
    return Dataset("arrays", x, y, x_test, y_test,
                   task="classification" if classification else "regression",
                   n_classes=int(y.max()) + 1 if classification and y.size else None)


def _accuracy(output: np.ndarray, target: np.ndarray) -> float:
    return float(np.mean(output.argmax(axis=-1) == target))


def evaluate(model: Module, x: np.ndarray, y: np.ndarray, loss: Loss,
             batch_size: int = 1024) -> tuple[float, float]:
    """Mean loss and accuracy of ``model`` on (x, y), in chunks (accuracy nan if regression)."""
    if len(x) == 0:
        return math.nan, math.nan
    total_loss = total_acc = 0.0
    for start in range(0, len(x), batch_size):
        xb, yb = x[start:start + batch_size], y[start:start + batch_size]
        out = model(xb)
        total_loss += loss(out, yb) * len(xb)
        if loss.classification:
            total_acc += _accuracy(out, yb) * len(xb)
    n = len(x)
    return total_loss / n, (total_acc / n if loss.classification else math.nan)


def data_dependent_initializers(model: Module) -> list[Initializer]:
    """The initializers of ``model``'s layers that have a ``data_init`` step (e.g. LSUV),
    once each, in forward order."""
    found: dict[str, Initializer] = {}
    for module in model.modules():
        init = getattr(module, "initializer", None)
        if isinstance(init, Initializer) and init.data_init is not None:
            found.setdefault(init.name, init)
    return list(found.values())


def run_data_init(model: Module, x: np.ndarray) -> dict[str, Any]:
    """Run every ``data_init`` step of ``model``'s initializers on the batch ``x``.

    Returns what each returned, by initializer name ({} when none is data-dependent).
    """
    return {init.name: init.data_init(model, x) for init in data_dependent_initializers(model)}


@dataclass
class _Log:
    """What ``fit`` records while it runs (becomes the History)."""

    losses: np.ndarray
    accs: np.ndarray
    grad_norms: np.ndarray
    step: int = 0
    diverged_step: int | None = None
    epochs: dict[str, list[float]] = field(default_factory=lambda: {
        "loss": [], "accuracy": [], "test_loss": [], "test_accuracy": [], "time": [],
        "end": []})

    @classmethod
    def empty(cls, total: int, n_weights: int) -> _Log:
        return cls(np.full(total, np.nan), np.full(total, np.nan),
                   np.full((total, n_weights), np.nan))


def _config(model: Module, dataset: Dataset, opt: Optimizer, loss_fn: Loss, epochs: int,
            batch_size: int | None, momentum: float, seed: int) -> dict[str, Any]:
    """History.config: the model's own config plus the run's settings."""
    sgd = type(opt).__name__ == "SGD"
    return {**getattr(model, "config", {}), "dataset": dataset.name, "epochs": epochs,
            "batch_size": batch_size, "optimizer": type(opt).__name__.lower(),
            "lr": opt.lr, "momentum": momentum if sgd else None, "loss": loss_fn.name,
            "seed": seed}


def _step(model: Module, loss_fn: Loss, opt: Optimizer, weights: Sequence[Any],
          xb: np.ndarray, yb: np.ndarray, log: _Log) -> float:
    """One forward / backward / update on a batch, recorded at ``log.step``; returns the
    loss. A non-finite loss is recorded and the update skipped (the caller stops)."""
    out = model(xb)
    value = loss_fn(out, yb)
    log.losses[log.step] = value
    if not math.isfinite(value):
        log.diverged_step = log.step
        return value
    model.backward(loss_fn.backward())
    for j, w in enumerate(weights):
        log.grad_norms[log.step, j] = np.linalg.norm(w.grad)
    opt.step()
    if loss_fn.classification:
        log.accs[log.step] = _accuracy(out, yb)
    return value


def _epoch(model: Module, dataset: Dataset, x_train: np.ndarray, order: np.ndarray,
           size: int, loss_fn: Loss, opt: Optimizer, weights: Sequence[Any], log: _Log,
           total: int, epoch: int, hooks: Sequence[Hook], bar: ProgressBar) -> None:
    """The steps of one epoch, in ``order``, ``size`` examples each (until ``total``)."""
    for begin in range(0, len(order), size):
        if log.step >= total:
            return
        idx = order[begin:begin + size]
        value = _step(model, loss_fn, opt, weights, x_train[idx], dataset.y_train[idx], log)
        if log.diverged_step is not None:
            return
        if hooks:
            info = {"epoch": epoch, "loss": value, "accuracy": log.accs[log.step]}
            for hook in hooks:
                hook(log.step, model, info)
        log.step += 1
        bar.update(status=f"loss {value:.4f}")


def _end_epoch(model: Module, dataset: Dataset, x_test: np.ndarray, loss_fn: Loss,
               log: _Log, first: int, start: float, eval_batch_size: int) -> str:
    """Record the epoch's means and the test set's loss and accuracy; return a status."""
    log.epochs["loss"].append(float(np.mean(log.losses[first:log.step])))
    log.epochs["accuracy"].append(float(np.mean(log.accs[first:log.step])))
    t_loss, t_acc = evaluate(model, x_test, dataset.y_test, loss_fn, eval_batch_size)
    log.epochs["test_loss"].append(t_loss)
    log.epochs["test_accuracy"].append(t_acc)
    log.epochs["time"].append(time.perf_counter() - start)
    log.epochs["end"].append(log.step)
    return (f"epoch {len(log.epochs['end'])}: loss {log.epochs['loss'][-1]:.4f}"
            + (f" test acc {t_acc:.3f}" if math.isfinite(t_acc) else ""))


def fit(model: Module, data: Dataset | str | Sequence[np.ndarray], epochs: int = 5,
        batch_size: int | None = 64, lr: float | None = None,
        optimizer: str | Optimizer = "sgd", momentum: float = 0.9,
        loss: str | Loss | None = None, seed: int = 0, hooks: Sequence[Hook] = (),
        progress: bool | None = None, label: str | None = None,
        max_steps: int | None = None, eval_batch_size: int = 1024) -> History:
    """Train ``model`` on ``data``; return its History. Never raises on divergence.

    Args:
        model: an ``initkit.nn`` model (MLP, RNN, Sequential ...).
        data: a Dataset, a name for ``initkit.data.load_dataset``, or arrays.
        epochs: passes over the training set.
        batch_size: mini-batch size; None for full-batch gradient descent.
        lr: learning rate (default: SGD 0.01, Adam 1e-3).
        optimizer: ``"sgd"`` (with ``momentum``), ``"adam"``, or an Optimizer instance.
        momentum: SGD momentum (0 for plain gradient descent).
        loss: ``"cross_entropy"`` / ``"mse"`` / a Loss; default from the data's task.
        seed: seed of the batch shuffling (the model's own seed sets its weights).
        hooks: ``hook(step, model, info)`` called after every step, ``info`` holding
            ``epoch``, ``loss`` and ``accuracy``; e.g. ``initkit.nn.Recorder()``. With no
            hooks nothing extra is computed.
        progress: show a progress bar (None: automatic, see ``initkit.progress``).
        label: the History's label (default: the model's initializer).
        max_steps: stop after this many steps.
        eval_batch_size: chunk size of the test-set evaluation.

    Returns:
        the History. If a layer's initializer is data-dependent (it has a ``data_init``
        step, as ``"lsuv"``), that step first runs on one shuffled training batch
        (:func:`run_data_init`); what it returned is ``History.data_init``.
    """
    dataset = as_dataset(data)
    loss_fn = get_loss(loss or ("cross_entropy" if dataset.task == "classification" else "mse"))
    opt = optimizer if isinstance(optimizer, Optimizer) else make_optimizer(
        optimizer, model.parameters(), lr=lr, momentum=momentum)
    x_train = np.asarray(dataset.x_train, dtype=model.dtype)
    x_test = np.asarray(dataset.x_test, dtype=model.dtype)
    n = len(x_train)
    size = n if batch_size is None else batch_size
    per_epoch = 1 if batch_size is None else math.ceil(n / batch_size)
    total = epochs * per_epoch if max_steps is None else min(max_steps, epochs * per_epoch)
    weights = model.weights()
    config = _config(model, dataset, opt, loss_fn, epochs, batch_size, momentum, seed)
    label = label or str(config.get("init") or config.get("init_hh") or type(model).__name__)
    log = _Log.empty(total, len(weights))
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    data_init = {}
    if n and data_dependent_initializers(model):  # only then: the batch order stays the same
        data_init = run_data_init(model, x_train[rng.permutation(n)[:max(size, 2)]])
    with ProgressBar(total, label, enabled=progress) as bar, \
            np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        for epoch in range(epochs):
            first = log.step
            _epoch(model, dataset, x_train, rng.permutation(n), size, loss_fn, opt, weights,
                   log, total, epoch, hooks, bar)
            if log.diverged_step is not None or log.step == first:
                break
            status = _end_epoch(model, dataset, x_test, loss_fn, log, first, start,
                                eval_batch_size)
            bar.update(0, status=status, force=True)
    end = log.step + (1 if log.diverged_step is not None else 0)
    return History(
        label=label, loss=log.losses[:end], accuracy=log.accs[:end],
        epoch_loss=np.array(log.epochs["loss"]), epoch_accuracy=np.array(log.epochs["accuracy"]),
        test_loss=np.array(log.epochs["test_loss"]),
        test_accuracy=np.array(log.epochs["test_accuracy"]),
        grad_norms=log.grad_norms[:end], layer_names=[w.name for w in weights],
        epoch_time=np.array(log.epochs["time"]),
        epoch_end=np.array(log.epochs["end"], dtype=int), data_init=data_init,
        diverged=log.diverged_step is not None, diverged_step=log.diverged_step,
        wall_time=time.perf_counter() - start, config=config)


def build_model(data: Dataset, init: str = "he", activation: str | None = None,
                depth: int = 1, width: int = 64, residual: bool = False,
                norm: str | None = None, zero_gamma: bool = False,
                init_params: Mapping[str, Any] | None = None,
                dtype: DTypeLike = np.float32, seed: int = 0) -> Module:
    """The model the CLI and the exercises train on ``data``.

    An MLP with ``depth`` hidden layers of ``width`` units for flat inputs; for sequences
    (adding, copy) an RNN with ``width`` hidden units whose recurrent weight W_hh comes from
    ``init`` (W_xh and the read-out from xavier), reading out every step for ``copy``.
    ``activation`` defaults, for an MLP, to the one ``init`` is registered as meant for
    (:func:`initkit.registry.default_activation`, the rule of every command) and to tanh for
    an RNN (its recurrence is what the exercises study).
    """
    if depth < 1 or width < 1:
        raise EngineError(f"depth and width must be >= 1, got depth={depth}, width={width}")
    if data.is_sequence:
        return RNN(data.n_features, width, data.n_outputs, activation=activation or "tanh",
                   init_hh=init, hh_params=init_params, many_to_many=data.y_train.ndim == 2
                   and data.task == "classification", dtype=dtype, seed=seed)
    widths = [data.n_features, *([width] * depth), data.n_outputs]
    from .registry import default_activation

    return MLP(widths, activation=activation or default_activation(init), init=init,
               init_params=init_params,
               residual=residual, norm=norm, zero_gamma=zero_gamma, dtype=dtype, seed=seed)

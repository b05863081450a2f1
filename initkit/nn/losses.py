"""Losses: value and gradient with respect to the model's output, averaged over the batch.

    softmax cross-entropy   L = -1/B sum_i log softmax(z_i)[y_i]      dL/dz = (p - onehot(y)) / B
    mean squared error      L = 1/N sum (y - t)^2  (N = number of entries, torch's MSELoss)
                                                                       dL/dy = 2 (y - t) / N

log-softmax is computed as z - max(z) - log(sum(exp(z - max(z)))): the shift by the row max
makes exp never overflow (and cancels exactly in the ratio); the naive log(exp(z)/sum exp(z))
gives inf - inf = nan for logits around 1000. Labels of a many-to-many model, shape
(batch, T), are flattened with the logits (batch, T, C) -> (batch * T, C).
"""

from __future__ import annotations

import numpy as np

from .core import EngineError


class Loss:
    """``loss(output, target) -> float`` caches what ``backward()`` needs for dL/d(output)."""

    name = "loss"
    classification = False

    def __call__(self, output: np.ndarray, target: np.ndarray) -> float:
        raise NotImplementedError

    def backward(self) -> np.ndarray:
        raise NotImplementedError


class SoftmaxCrossEntropy(Loss):
    """Cross-entropy of integer class labels under softmax(logits), numerically stable."""

    name = "cross_entropy"
    classification = True

    def __init__(self) -> None:
        self._probs: np.ndarray | None = None
        self._labels: np.ndarray | None = None
        self._shape: tuple[int, ...] = ()

    def __call__(self, logits: np.ndarray, labels: np.ndarray) -> float:
        labels = np.asarray(labels)
        if logits.shape[:-1] != labels.shape:
            raise EngineError(f"cross-entropy needs labels of shape {logits.shape[:-1]} for "
                              f"logits of shape {logits.shape}, got {labels.shape}")
        if not np.issubdtype(labels.dtype, np.integer):
            raise EngineError(f"cross-entropy needs integer class labels, got {labels.dtype}")
        self._shape = logits.shape
        z = logits.reshape(-1, logits.shape[-1])
        y = labels.reshape(-1)
        shifted = z - z.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        total = exp.sum(axis=1, keepdims=True)
        log_probs = shifted - np.log(total)
        self._probs = exp / total
        self._labels = y
        return float(-np.mean(log_probs[np.arange(len(y)), y], dtype=np.float64))

    def backward(self) -> np.ndarray:
        grad = self._probs.copy()
        n = len(self._labels)
        grad[np.arange(n), self._labels] -= 1
        grad /= n
        return grad.reshape(self._shape)


class MeanSquaredError(Loss):
    """Mean of the squared error over every entry (``torch.nn.MSELoss()``)."""

    name = "mse"

    def __init__(self) -> None:
        self._diff: np.ndarray | None = None

    def __call__(self, output: np.ndarray, target: np.ndarray) -> float:
        target = np.asarray(target, dtype=output.dtype)
        if target.shape != output.shape:
            if target.size != output.size:
                raise EngineError(f"mse needs a target of shape {output.shape}, "
                                  f"got {target.shape}")
            target = target.reshape(output.shape)
        self._diff = output - target
        return float(np.mean(self._diff * self._diff, dtype=np.float64))

    def backward(self) -> np.ndarray:
        return self._diff * self._diff.dtype.type(2.0 / self._diff.size)


LOSSES = {"cross_entropy": SoftmaxCrossEntropy, "mse": MeanSquaredError}
_ALIASES = {"ce": "cross_entropy", "softmax_cross_entropy": "cross_entropy",
            "crossentropy": "cross_entropy", "mean_squared_error": "mse"}


def get_loss(loss: str | Loss) -> Loss:
    """A fresh loss by name (``"cross_entropy"``, ``"mse"``) or the Loss given."""
    if isinstance(loss, Loss):
        return loss
    key = _ALIASES.get(str(loss).lower(), str(loss).lower())
    if key not in LOSSES:
        raise EngineError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")
    return LOSSES[key]()

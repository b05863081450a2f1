"""The ``Dataset`` container every loader returns, and the data errors."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import (  # noqa: F401 (defined in initkit.errors, re-exported here)
    DataError,
    DataFallbackWarning,
    FetchError,
)


@dataclass
class Dataset:
    """Train and test arrays with what a training loop needs to know about them.

    Attributes:
        name: ``"mnist"``, ``"digits"``, ``"circles"``, ``"adding"``, ``"copy"``, ...
        x_train, y_train, x_test, y_test: float32 inputs; integer labels (classification)
            or float32 targets (regression).
        task: ``"classification"`` or ``"regression"``.
        n_classes: number of classes (None for regression).
        source: where the data came from (a path, ``"sklearn.datasets.load_digits"``, ...).
        info: extra facts (e.g. the chance-level loss of a synthetic task).
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    task: str = "classification"
    n_classes: int | None = None
    source: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def n_features(self) -> int:
        """Features per input (per time step for a sequence task)."""
        return int(self.x_train.shape[-1])

    @property
    def n_outputs(self) -> int:
        """Outputs a model needs: classes, or target size per sample (per step)."""
        if self.task == "classification":
            return int(self.n_classes or 0)
        return int(np.prod(self.y_train.shape[1 if self.y_train.ndim < 3 else 2:]) or 1)

    @property
    def is_sequence(self) -> bool:
        return self.x_train.ndim == 3

    def batches(self, batch_size: int | None, rng: np.random.Generator | None = None
                ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Mini-batches of the training set, shuffled by ``rng`` (in order when None).

        ``batch_size=None`` gives the whole set as one batch (full-batch gradient descent).
        """
        n = len(self.x_train)
        size = n if batch_size is None else int(batch_size)
        order = rng.permutation(n) if rng is not None else np.arange(n)
        for start in range(0, n, size):
            idx = order[start:start + size]
            yield self.x_train[idx], self.y_train[idx]

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}, train={self.x_train.shape}, test={self.x_test.shape}, "
                f"task={self.task!r}, n_classes={self.n_classes}, source={self.source!r})")

"""Synthetic data sets, deterministic by seed: circles, the adding problem, copy memory.

circles: two concentric noisy circles (as ``sklearn.datasets.make_circles``: equally spaced
    angles, Gaussian noise), the data of the classic "Initialization" assignment (300 train
    points, noise 0.05), where zero init is stuck at cost ln 2 and He init separates them.
adding problem (Hochreiter & Schmidhuber 1997; Le, Jaitly & Hinton 2015): a sequence of
    (value ~ U[0, 1], marker) pairs with exactly two markers, one in each half; the target
    is the sum of the two marked values. Predicting 1 always gives MSE 1/6 (var of a sum of
    two U[0, 1]), the baseline to beat.
copy memory (Hochreiter & Schmidhuber 1997; Arjovsky, Shah & Bengio 2016): ``length``
    symbols from 1 ... n_symbols, ``delay - 1`` blanks, a delimiter, ``length`` blanks; the
    model must output blanks and then the symbols it saw. Guessing blanks and then random
    symbols gives cross-entropy length * ln(n_symbols) / T, the baseline.
"""

from __future__ import annotations

import math

import numpy as np

from .dataset import Dataset


def _circles(n: int, noise: float, factor: float, rng: np.random.Generator
             ) -> tuple[np.ndarray, np.ndarray]:
    n_out = n // 2
    n_in = n - n_out
    angle_out = np.linspace(0, 2 * np.pi, n_out, endpoint=False)
    angle_in = np.linspace(0, 2 * np.pi, n_in, endpoint=False)
    x = np.concatenate([np.c_[np.cos(angle_out), np.sin(angle_out)],
                        factor * np.c_[np.cos(angle_in), np.sin(angle_in)]])
    y = np.concatenate([np.zeros(n_out, np.int64), np.ones(n_in, np.int64)])
    order = rng.permutation(n)
    x = x[order] + rng.normal(0.0, noise, size=(n, 2))
    return x.astype(np.float32), y[order]


def circles(n_train: int = 300, n_test: int = 100, noise: float = 0.05, factor: float = 0.8,
            seed: int = 1) -> Dataset:
    """Two concentric circles, outer radius 1 (class 0), inner ``factor`` (class 1).

    The defaults are the classic assignment's ``make_circles(n_samples=300, noise=.05)``
    (factor 0.8), with 100 test points drawn the same way.
    """
    rng = np.random.default_rng(seed)
    x_train, y_train = _circles(n_train, noise, factor, rng)
    x_test, y_test = _circles(n_test, noise, factor, rng)
    return Dataset("circles", x_train, y_train, x_test, y_test, task="classification",
                   n_classes=2, source="initkit.data.circles",
                   info={"noise": noise, "factor": factor, "chance_loss": math.log(2)})


def _adding(n: int, steps: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    values = rng.uniform(0.0, 1.0, size=(n, steps))
    half = steps // 2
    first = rng.integers(0, half, size=n)
    second = rng.integers(half, steps, size=n)
    markers = np.zeros((n, steps))
    rows = np.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    x = np.stack([values, markers], axis=2).astype(np.float32)
    y = (values[rows, first] + values[rows, second])[:, None].astype(np.float32)
    return x, y


def adding_problem(n_train: int = 2000, n_test: int = 500, steps: int = 50,
                   seed: int = 0) -> Dataset:
    """The adding problem: inputs (n, steps, 2), targets (n, 1) the sum of the marked values."""
    if steps < 2:
        raise ValueError(f"the adding problem needs steps >= 2, got {steps}")
    rng = np.random.default_rng(seed)
    x_train, y_train = _adding(n_train, steps, rng)
    x_test, y_test = _adding(n_test, steps, rng)
    return Dataset("adding", x_train, y_train, x_test, y_test, task="regression",
                   source="initkit.data.adding_problem",
                   info={"steps": steps, "baseline_mse": 1.0 / 6.0})


def _copy(n: int, delay: int, n_symbols: int, length: int, rng: np.random.Generator
          ) -> tuple[np.ndarray, np.ndarray]:
    steps = delay + 2 * length
    symbols = rng.integers(1, n_symbols + 1, size=(n, length))
    seq = np.zeros((n, steps), dtype=np.int64)
    seq[:, :length] = symbols
    seq[:, length + delay - 1] = n_symbols + 1  # the delimiter: "now repeat"
    target = np.zeros((n, steps), dtype=np.int64)
    target[:, -length:] = symbols
    x = np.eye(n_symbols + 2, dtype=np.float32)[seq]
    return x, target


def copy_memory(n_train: int = 2000, n_test: int = 500, delay: int = 20, n_symbols: int = 8,
                length: int = 10, seed: int = 0) -> Dataset:
    """The copy-memory task: one-hot inputs (n, T, n_symbols + 2), labels (n, T).

    T = delay + 2 * length; label 0 is "blank", 1 ... n_symbols the symbols to repeat.
    """
    if delay < 1 or length < 1 or n_symbols < 1:
        raise ValueError("copy_memory needs delay, length and n_symbols >= 1")
    rng = np.random.default_rng(seed)
    x_train, y_train = _copy(n_train, delay, n_symbols, length, rng)
    x_test, y_test = _copy(n_test, delay, n_symbols, length, rng)
    steps = delay + 2 * length
    return Dataset("copy", x_train, y_train, x_test, y_test, task="classification",
                   n_classes=n_symbols + 1, source="initkit.data.copy_memory",
                   info={"delay": delay, "steps": steps,
                         "baseline_loss": length * math.log(n_symbols) / steps,
                         # always predicting "blank" is right on every step but the recall
                         "baseline_accuracy": (steps - length) / steps})

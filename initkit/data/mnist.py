"""MNIST from disk (IDX files or ``mnist.npz``), or the 8x8 digits scikit-learn ships.

Where to look, first match wins: the ``path`` argument, the ``INITKIT_DATA_DIR`` environment
variable, ``~/.cache/initkit``; in each, the directory itself and its ``mnist/`` subfolder.
Nothing is downloaded here (``initkit data fetch mnist`` does that, on request).
"""

from __future__ import annotations

import os
import warnings
import zipfile
from pathlib import Path

import numpy as np

from .dataset import DataError, DataFallbackWarning, Dataset
from .idx import read_idx

ENV_DATA_DIR = "INITKIT_DATA_DIR"

#: The four standard files: (images, labels) for train and test.
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
NPZ_NAME = "mnist.npz"
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


def data_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """The data directory: ``path``, else ``$INITKIT_DATA_DIR``, else ``~/.cache/initkit``."""
    if path is not None:
        return Path(path).expanduser()
    env = os.environ.get(ENV_DATA_DIR)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "initkit"


def _find(directory: Path, stem: str) -> Path | None:
    for folder in (directory, directory / "mnist"):
        for name in (stem, stem + ".gz"):
            if (folder / name).is_file():
                return folder / name
    return None


def find_mnist(path: str | os.PathLike[str] | None = None) -> tuple[str, Path] | None:
    """Where MNIST is: ``("idx", folder)`` or ``("npz", file)``, or None if not found.

    Raises:
        DataError: some but not all four IDX files are present (names the missing ones).
    """
    directory = data_dir(path)
    found = {stem: _find(directory, stem) for pair in MNIST_FILES.values() for stem in pair}
    present = [s for s, p in found.items() if p is not None]
    if len(present) == 4:
        return "idx", next(iter(found.values())).parent
    if present:
        missing = sorted(set(found) - set(present))
        raise DataError(f"MNIST in {directory} is incomplete: missing {', '.join(missing)} "
                        "(.gz or not). Run `initkit data fetch mnist --dir "
                        f"{directory}` to download all four files.")
    for folder in (directory, directory / "mnist"):
        if (folder / NPZ_NAME).is_file():
            return "npz", folder / NPZ_NAME
    return None


def _read_split(folder: Path, images: str, labels: str) -> tuple[np.ndarray, np.ndarray]:
    image_path, label_path = _find(folder, images), _find(folder, labels)
    x = read_idx(image_path, ndim=3)
    y = read_idx(label_path, ndim=1)
    if len(x) != len(y):
        raise DataError(f"{image_path} has {len(x)} images but {label_path} has {len(y)} "
                        "labels; one of them is from another release or truncated")
    return x, y


def _read_npz(path: Path) -> tuple[np.ndarray, ...]:
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in NPZ_KEYS if k not in data.files]
            if missing:
                raise DataError(f"{path}: missing arrays {missing}; an mnist.npz holds "
                                f"{', '.join(NPZ_KEYS)} (the Keras layout)")
            arrays = tuple(np.asarray(data[k]) for k in NPZ_KEYS)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"{path}: cannot read it as .npz ({exc}); delete or replace it") from None
    x_train, y_train, x_test, y_test = arrays
    for name, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise DataError(f"{path}: {name} arrays have shapes {x.shape} and {y.shape}; "
                            "expected (n, rows, cols) images and (n,) labels")
    return arrays


def _prepare(x: np.ndarray, flatten: bool) -> np.ndarray:
    x = x.astype(np.float32) / np.float32(255.0)
    return x.reshape(len(x), -1) if flatten else x


def load_digits(seed: int = 0, test_fraction: float = 0.2) -> Dataset:
    """The 1,797 real 8x8 handwritten digits scikit-learn ships (no download).

    Pixels (0 ... 16) are scaled to [0, 1], float32, flattened to 64 features; the split is
    a seeded shuffle with ``test_fraction`` of the images held out (360 at 0.2).
    """
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    x = (bunch.data / 16.0).astype(np.float32)
    y = bunch.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = int(round(test_fraction * len(x)))
    test, train = order[:n_test], order[n_test:]
    return Dataset("digits", x[train], y[train], x[test], y[test], task="classification",
                   n_classes=10, source="sklearn.datasets.load_digits",
                   info={"image_shape": (8, 8)})


def load_mnist(path: str | os.PathLike[str] | None = None, fallback: bool = True,
               flatten: bool = True, seed: int = 0) -> Dataset:
    """Load MNIST from IDX files or ``mnist.npz``; fall back to the 8x8 digits if absent.

    Args:
        path: directory with the files (else ``$INITKIT_DATA_DIR``, else ``~/.cache/initkit``).
        fallback: when MNIST is not on disk, warn once (DataFallbackWarning) and return
            ``load_digits(seed)``; with False, raise DataError instead.
        flatten: images as (n, 784) rows (else (n, 28, 28)); pixels scaled to [0, 1].
        seed: only used by the digits fallback's split.

    Returns:
        a Dataset named ``"mnist"`` (60,000 / 10,000 for the real files) or ``"digits"``.

    Raises:
        DataError: a file is present but truncated, of the wrong kind, or incomplete.
    """
    location = find_mnist(path)
    if location is None:
        where = data_dir(path)
        message = (f"MNIST not found in {where}; using the 8x8 digits scikit-learn ships "
                   "(1,797 images). Run `initkit data fetch mnist` to get MNIST.")
        if not fallback:
            raise DataError(message.split(";")[0] + ". Run `initkit data fetch mnist` "
                            f"(or put the four IDX files or mnist.npz in {where}).")
        warnings.warn(message, DataFallbackWarning, stacklevel=2)
        return load_digits(seed)
    kind, where = location
    if kind == "npz":
        x_train, y_train, x_test, y_test = _read_npz(where)
    else:
        x_train, y_train = _read_split(where, *MNIST_FILES["train"])
        x_test, y_test = _read_split(where, *MNIST_FILES["test"])
    for labels, name in ((y_train, "train"), (y_test, "test")):
        if labels.size and labels.max() > 9:
            raise DataError(f"{where}: {name} labels go up to {labels.max()}; MNIST labels "
                            "are 0 ... 9")
    return Dataset("mnist", _prepare(x_train, flatten), y_train.astype(np.int64),
                   _prepare(x_test, flatten), y_test.astype(np.int64), task="classification",
                   n_classes=10, source=str(where),
                   info={"image_shape": tuple(x_train.shape[1:])})

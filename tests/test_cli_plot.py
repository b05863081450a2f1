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

import initkit
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


def shown(tmp_path, *args):
    """Run a plot command with --data and return what its figure shows (the first axes)."""
    data = tmp_path / "shown.json"
    result = run(*args, "--data", str(data), "-o", str(tmp_path / "fig.png"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "fig.png").read_bytes()[:8] == PNG_MAGIC
    return json.loads(data.read_text())["axes"][0]


SMALL = {"depth": 4, "width": 16, "batch": 8, "seeds": 2, "seed": 3}


def small_args(**overrides):
    options = {**SMALL, **overrides}
    return [a for k, v in options.items() for a in (f"--{k.replace('_', '-')}", str(v))]


def test_plot_variance_shows_the_simulation_its_options_describe(tmp_path):
    """`plot variance` draws, per init, initkit.simulate's seed-mean q and its theory for exactly the given --activation, --depth, --width, --batch, --seeds, --seed and --bias-std."""
    axes = shown(tmp_path, "plot", "variance", "--inits", "he,xavier", "--activation", "tanh",
                 *small_args(bias_std=0.5))
    for index, name in enumerate(("he", "xavier")):
        trace = initkit.simulate(name, "tanh", bias_std=0.5, **SMALL)
        solid, dashed = axes["lines"][2 * index], axes["lines"][2 * index + 1]
        assert solid["label"] == f"{trace.init} + tanh" and solid["linestyle"] == "-"
        assert solid["x"] == [1, 2, 3, 4]
        assert solid["y"] == pytest.approx(trace.q.tolist(), rel=1e-12)
        assert dashed["label"] == f"{trace.init} + tanh (theory)" and dashed["linestyle"] == "--"
        assert dashed["y"] == pytest.approx(trace.theory["q"].tolist(), rel=1e-12)
    # the bias is really in it: with sigma_b^2 = 0.25 the tanh fixed point is not the bias-free one
    no_bias = initkit.simulate("he", "tanh", **SMALL)
    assert axes["lines"][1]["y"] != pytest.approx(no_bias.theory["q"].tolist(), rel=1e-3)


def test_plot_variance_quantity_and_no_theory(tmp_path):
    """--quantity act_var draws Trace.act_var, and --no-theory leaves out the dashed line."""
    axes = shown(tmp_path, "plot", "variance", "--inits", "he", "--no-theory", *small_args())
    assert [line["label"] for line in axes["lines"]] == ["he_normal + relu"]
    axes = shown(tmp_path, "plot", "variance", "--inits", "lecun", "--quantity", "act_var",
                 *small_args())
    trace = initkit.simulate("lecun", **SMALL)
    assert axes["lines"][0]["label"] == "lecun_normal + selu"
    assert axes["lines"][0]["y"] == pytest.approx(trace.act_var.tolist(), rel=1e-12)
    assert axes["yscale"] == "log" and axes["ylabel"].startswith("activation variance")


def test_plot_gradients_shows_the_backward_pass_with_init_parameters(tmp_path):
    """`plot gradients --inits constant:value=0.002,xavier` draws the gradient variance of exactly those simulations (the constant's value reaches it)."""
    axes = shown(tmp_path, "plot", "gradients", "--inits", "constant:value=0.002,xavier",
                 "--activation", "tanh", "--quantity", "weight_grad_norm", *small_args())
    constant = initkit.simulate("constant", "tanh", init_params={"value": 0.002}, **SMALL)
    xavier = initkit.simulate("xavier", "tanh", **SMALL)
    solid = [line for line in axes["lines"] if line["linestyle"] == "-"]
    assert [line["label"] for line in solid] == ["constant(value=0.002) + tanh", "xavier_normal + tanh"]  # legends keep parameters (ec8e6ae)
    assert solid[0]["y"] == pytest.approx(constant.weight_grad_norm.tolist(), rel=1e-12)
    assert solid[1]["y"] == pytest.approx(xavier.weight_grad_norm.tolist(), rel=1e-12)
    other = initkit.simulate("constant", "tanh", init_params={"value": 0.004}, **SMALL)
    assert solid[0]["y"] != pytest.approx(other.weight_grad_norm.tolist(), rel=1e-3)


def test_plot_spectrum_shows_the_eigenvalues_of_the_drawn_matrix(tmp_path):
    """`plot spectrum --n 16 --seed 4 --inits he` scatters the eigenvalues of he((16, 16), default_rng(4)) and a circle of radius sqrt(2/16 * 16)."""
    axes = shown(tmp_path, "plot", "spectrum", "--inits", "he", "--n", "16", "--seed", "4")
    weight = initkit.get_initializer("he")((16, 16), np.random.default_rng(4))
    eig = np.linalg.eigvals(weight)
    points = np.array(axes["scatter"][0]["points"])
    expected = sorted(zip(eig.real.round(10), eig.imag.round(10), strict=True))
    assert sorted(map(tuple, points.round(10))) == expected
    assert axes["circles"][0]["radius"] == pytest.approx(np.sqrt(2 / 16 * 16), rel=1e-12)


def test_plot_symmetry_shows_the_cosine_similarity_of_the_drawn_matrix(tmp_path):
    """`plot symmetry --init normal:std=2 --hidden 3 --inputs 5` shows the cosine similarity of normal((3, 5), default_rng(seed), std=2); constant shows all ones."""
    axes = shown(tmp_path, "plot", "symmetry", "--init", "normal:std=2", "--hidden", "3",
                 "--inputs", "5", "--seed", "2")
    w = np.random.default_rng(2).normal(0.0, 2.0, (3, 5))
    unit = w / np.linalg.norm(w, axis=1, keepdims=True)
    np.testing.assert_allclose(axes["images"][0], unit @ unit.T, rtol=1e-12, atol=1e-15)
    axes = shown(tmp_path, "plot", "symmetry", "--init", "constant:value=0.5", "--hidden", "3",
                 "--inputs", "5")
    np.testing.assert_allclose(axes["images"][0], np.ones((3, 3)), rtol=1e-12)


def test_plot_training_shows_the_saved_runs(tmp_path):
    """`plot training --metric accuracy` draws the saved runs' per-step accuracy."""
    runs = {"runs": [{"label": "he", "loss": [2.0, 1.0], "accuracy": [0.3, 0.7],
                      "epoch_loss": [1.5], "epoch_accuracy": [0.5], "test_loss": [1.0],
                      "test_accuracy": [0.6], "grad_norms": [[1.0], [2.0]]}]}
    history = tmp_path / "runs.json"
    history.write_text(json.dumps(runs))
    axes = shown(tmp_path, "plot", "training", "--history", str(history), "--metric",
                 "accuracy")
    assert [0.3, 0.7] in [line["y"] for line in axes["lines"]]

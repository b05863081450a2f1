"""Issue 22 item 6 for sweeps: the default activation is the initializer's own, and the
Gaussian theory columns are left empty (with a note) where that theory does not apply."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

from initkit.sweep import make_grid, read_table, run_sweep, theory_note

INITKIT = Path(sys.executable).parent / "initkit"


def _row(init: str, activation: str) -> dict:
    points = make_grid(activation, [1.0], [0.0], [3], [8], 1, init=init, batch=4)
    return run_sweep(points).table[0]


def test_theory_columns_are_empty_with_a_note_for_orthogonal_and_deterministic():
    """orthogonal and identity rows have nan theory and a note; he_normal's are filled and the note is empty."""
    for init, kind in (("orthogonal", "orthogonal"), ("identity", "deterministic")):
        row = _row(init, "tanh")
        assert all(math.isnan(row[f"{c}_theory"]) for c in ("q_star", "chi_1", "xi_c")), init
        assert row["theory_note"] == (f"the Gaussian mean-field theory does not apply to "
                                      f"{init}'s {kind} weights: its columns are left empty")
    he = _row("he_normal", "relu")
    assert math.isfinite(he["chi_1_theory"]) and he["theory_note"] == ""
    assert theory_note("") == ""


def test_the_sweep_command_defaults_to_the_initializers_activation(tmp_path):
    """`initkit sweep --init lecun` sweeps selu (lecun's registered activation) and prints the note for orthogonal."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INITKIT_")}
    env["OPENBLAS_NUM_THREADS"] = "1"
    common = ["--sigma-w2", "1:1:1", "--sigma-b2", "0:0:1", "--depth", "3", "--width", "8",
              "--seeds", "1", "--batch", "4", "--no-progress"]
    out = tmp_path / "lecun.csv"
    run = subprocess.run([str(INITKIT), "sweep", "--init", "lecun", *common, "-o", str(out)],
                         capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    assert read_table(out)[0]["activation"] == "selu"
    out = tmp_path / "orth.csv"
    run = subprocess.run([str(INITKIT), "sweep", "--init", "orthogonal", *common, "-o", str(out)],
                         capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    assert read_table(out)[0]["activation"] == "linear"
    assert ("note: the Gaussian mean-field theory does not apply to orthogonal's orthogonal "
            "weights: its columns are left empty") in run.stdout


def test_train_takes_the_same_default_activation():
    """An MLP built for xavier gets tanh and for he relu (the registry's rule); `train
    --compare` uses the first initializer's for every run, so runs differ only in init."""
    from click.testing import CliRunner

    from initkit.cli.main import cli
    from initkit.data import load_digits
    from initkit.train import build_model

    data = load_digits(seed=0)
    for init, activation in (("xavier", "tanh"), ("he", "relu")):
        model = build_model(data, init=init, depth=1, width=8)
        assert f"Activation('{activation}')" in repr(model), (init, repr(model))
    result = CliRunner().invoke(cli, ["train", "--dataset", "digits", "--compare",
                                      "xavier,he", "--depth", "1", "--width", "8",
                                      "--epochs", "1", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert " tanh" in result.output and " relu" not in result.output

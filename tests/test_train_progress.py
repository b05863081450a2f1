"""The training progress bar: one updating output in Jupyter, one line on a pipe, else quiet."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from initkit.progress import ProgressBar, choose_backend

CELL = """
from initkit.data import circles
from initkit.nn import MLP
from initkit.train import fit
from initkit.progress import choose_backend
print(choose_backend())
h = fit(MLP([2, 8, 2], seed=0), circles(), epochs=40, batch_size=50)
"""


def test_notebook_progress_is_one_updating_output(monkeypatch):
    """In a real Jupyter kernel the bar is a single display output, updated in place."""
    monkeypatch.delenv("PYTEST_CURRENT_TEST", raising=False)  # the kernel inherits the env
    monkeypatch.setenv("INITKIT_DISABLE_PLUGIN_AUTOLOAD", "1")
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell(CELL))
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    outputs = nb.cells[0].outputs
    texts = [o.get("text", "") for o in outputs if o.output_type == "stream"]
    displays = [o for o in outputs if o.output_type == "display_data"]
    assert texts == ["notebook\n"]
    assert len(displays) == 1  # 240 steps, yet one output: no flood of lines
    final = displays[0]["data"]["text/plain"]
    assert "240/240" in final and "epoch 40" in final


def test_quiet_under_pytest_and_when_disabled(monkeypatch):
    """Automatic mode is off in tests and with INITKIT_PROGRESS=0; False always wins."""
    assert choose_backend() == "none"
    monkeypatch.delenv("PYTEST_CURRENT_TEST", raising=False)
    monkeypatch.setenv("INITKIT_PROGRESS", "0")
    assert choose_backend() == "none"
    assert choose_backend(False) == "none"
    with ProgressBar(10, enabled=False) as bar:
        bar.update(10)
    assert bar.done == 10


def test_cli_progress_on_a_pipe_is_one_final_line(tmp_path):
    """`initkit train --progress` with stderr on a pipe prints the bar once, at the end."""
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    env["INITKIT_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # other packages' plugins may print warnings
    initkit = str(Path(sys.executable).with_name("initkit"))
    result = subprocess.run([initkit, "train", "--dataset", "circles", "--epochs", "3",
                             "--batch-size", "100", "--progress"], capture_output=True,
                            text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "9/9" in lines[0] and "epoch 3" in lines[0]
    quiet = subprocess.run([initkit, "train", "--dataset", "circles", "--epochs", "1"],
                           capture_output=True, text=True, env=env, timeout=120)
    assert quiet.stderr == ""

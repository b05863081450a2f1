"""`initkit sweep --dask local`: a real LocalCluster of 2 workers writes the local table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

INITKIT = Path(sys.executable).with_name("initkit")
GRID = ["--sigma-w2", "1:3:0.5", "--sigma-b2", "0:0.2:0.1", "--depth", "8", "--width", "32",
        "--seeds", "2", "--batch", "8", "--no-progress"]


def test_local_cluster_sweep_equals_local_processes_bit_for_bit(tmp_path):
    """The same grid on 2 Dask workers and on this process gives the same CSV, byte for byte."""
    local = subprocess.run([str(INITKIT), "sweep", *GRID, "--jobs", "1",
                            "-o", str(tmp_path / "local.csv")],
                           capture_output=True, text=True, timeout=120)
    assert local.returncode == 0, local.stderr
    dask = subprocess.run([str(INITKIT), "sweep", *GRID, "--dask", "local", "--jobs", "2",
                           "-o", str(tmp_path / "dask.csv")],
                          capture_output=True, text=True, timeout=180)
    assert dask.returncode == 0, dask.stderr
    assert "on a local Dask cluster of 2 worker(s)" in dask.stderr
    lines = (tmp_path / "local.csv").read_text().splitlines()
    assert len(lines) == 1 + 5 * 3  # header + one row per (sigma_w^2, sigma_b^2)
    assert (tmp_path / "dask.csv").read_bytes() == (tmp_path / "local.csv").read_bytes()

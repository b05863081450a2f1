"""`initkit demo` (what `make demo` runs): the tables, then the lesson GIF and variance plot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from PIL import Image

INITKIT = str(Path(sys.executable).with_name("initkit"))


def test_demo_prints_the_lesson_and_writes_its_figures(tmp_path):
    """The demo keeps its printout and writes a 50-frame GIF (< 2 MB) and a PNG, naming both."""
    out = tmp_path / "figures"
    result = subprocess.run([INITKIT, "demo", "--out", str(out)], capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "he final variance = 0.2639" in lines
    assert "xavier final variance = 0.0231" in lines
    assert any(line.startswith("He init + ReLU, 20 layers") for line in lines)
    gif, png = out / "variance_evolution.gif", out / "variance.png"
    assert lines[-2].endswith(str(gif)) and lines[-1].endswith(str(png))
    with Image.open(gif) as image:
        assert image.n_frames == 50
        assert image.size == (560, 320)
    assert gif.stat().st_size < 2_000_000
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_help_names_the_out_option():
    """`initkit demo --help` documents --out."""
    result = subprocess.run([INITKIT, "demo", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "--out" in result.stdout

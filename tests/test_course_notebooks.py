"""The lesson notebook in a real Jupyter kernel (nbclient), `make lab` serving the exercises,
and no hidden check code in a built wheel.

The solution notebooks are not run here again: `nbgrader autograde` runs each one's answers
with every hidden block in a kernel and must give every cell its points (no error, nothing on
stderr, each block returning its cell's points), in
test_course.py::test_nbgrader_autograde_agrees_with_initkit_grade (the reference) and in
test_course_honest.py (the reference and ten other honest styles per exercise).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

KIT = Path(__file__).resolve().parents[1]


def execute(path: Path, env: dict[str, str] | None = None) -> nbformat.NotebookNode:
    """Run a notebook top to bottom in a fresh python3 kernel; return it with outputs."""
    nb = nbformat.read(str(path), as_version=4)
    old = dict(os.environ)
    os.environ.update(env or {})
    try:
        NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    return nb


def outputs(nb, kind: str) -> list:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
            if o.output_type == kind]


def test_lesson_prints_the_seed_table_and_the_measured_architecture_table():
    """00_lesson runs without errors, prints the lesson's three lines and five measured rows."""
    nb = execute(KIT / "exercises" / "00_lesson.ipynb")
    assert not outputs(nb, "error"), [(o.ename, o.evalue) for o in outputs(nb, "error")]
    text = "".join(o.text for o in outputs(nb, "stream") if o.name == "stdout")
    assert "xavier final variance = 0.0231\nhe final variance = 0.2639\nbad final variance = " \
           "1100063550125093781839691019976704.0000\n" in text
    table = [[cell.strip() for cell in line.strip("|").split("|")]
             for line in text.splitlines() if line.startswith("| ")]
    assert table[0][:4] == ["Architecture", "Initialization", "measured", "value"]
    rows = {r[0]: r for r in table[1:]}
    assert len(rows) == 5, text

    def value(row: str) -> float:
        return float(rows[row][3])

    def contrast(row: str) -> float:
        return float(rows[row][4].rsplit(": ", 1)[1])

    assert 0.3 < value("ReLU CNNs / ResNets") < 3 and contrast("ReLU CNNs / ResNets") < 1e-3
    assert contrast("tanh/sigmoid MLPs") > 1e6 * value("tanh/sigmoid MLPs")
    assert value("Transformers") < 100 < contrast("Transformers")
    assert value("RNNs") == 1.0 and contrast("RNNs") != 1.0
    assert value("ResNets final BN") == 1.0 and contrast("ResNets final BN") > 2
    assert any("image/png" in o.data for o in outputs(nb, "execute_result")
               + outputs(nb, "display_data")), "the variance plot is not shown"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_make_lab_serves_the_exercises_over_the_contents_api():
    """`make lab` starts JupyterLab on exercises/; its contents API returns a notebook."""
    port, token = _free_port(), "initkit-test-token"
    proc = subprocess.Popen(
        ["make", "-s", "lab", f"VENV={Path(sys.executable).parent.parent}",
         f"LAB_ARGS=--no-browser --ip=127.0.0.1 --port={port} "
         f"--IdentityProvider.token={token} --ServerApp.port_retries=0"],
        cwd=KIT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/api/contents/ex01_gradient_norms.ipynb?token={token}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as reply:
                    import json

                    data = json.loads(reply.read())
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read().decode()[-2000:]
                assert time.monotonic() < deadline, "JupyterLab did not answer in 120 s"
                time.sleep(1)
        assert data["type"] == "notebook"
        assert data["content"]["metadata"]["initkit"]["exercise"] == "ex01_gradient_norms"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def test_wheel_ships_no_grader_and_no_solution(tmp_path):
    """A built initkit wheel holds no graders/, no solutions and no hidden-check code."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path), str(KIT)], check=True, capture_output=True,
                   timeout=300)
    wheel = next(tmp_path.glob("initkit-*.whl"))
    secrets = []  # every test's signature and assertion of the hidden graders
    for grader in (KIT / "graders").glob("*/test_*.py"):
        secrets += [line.strip() for line in grader.read_text().splitlines()
                    if line.strip().startswith(("def test_", "assert "))]
    assert secrets
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        assert not [n for n in names if n.startswith(("graders/", "solutions/", "exercises/"))]
        for name in names:
            text = zf.read(name).decode("utf-8", "replace")
            for secret in secrets:
                assert secret not in text, f"{name} holds {secret!r}"

"""How long each course notebook takes top to bottom in a real kernel (target: < 10 s on
2 cores with the solutions filled in, hidden checks included). Prints, never asserts.

    .venv/bin/python benchmarks/bench_notebooks.py [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

KIT = Path(__file__).resolve().parents[1]


def run_once(path: Path) -> tuple[float, float]:
    """(seconds for the cells, seconds including the kernel's start) of one execution."""
    nb = nbformat.read(str(path), as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    with client.setup_kernel():
        cells_start = time.perf_counter()
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
        end = time.perf_counter()
    return end - cells_start, end - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ["INITKIT_GRADERS"] = str(KIT / "graders")
    notebooks = [KIT / "exercises" / "00_lesson.ipynb",
                 *sorted((KIT / "solutions").glob("ex*.ipynb"))]
    print(f"{'notebook':<28} {'cells (median s)':>17} {'with kernel start':>18}   target 10 s")
    for path in notebooks:
        runs = [run_once(path) for _ in range(args.repeat)]
        cells = statistics.median(r[0] for r in runs)
        total = statistics.median(r[1] for r in runs)
        print(f"{path.stem:<28} {cells:>17.2f} {total:>18.2f}   ratio {cells / 10:.2f}")


if __name__ == "__main__":
    main()

"""Benchmark: start-up time of ``import initkit`` and ``initkit --help`` (issue 26).

Each is timed as a fresh process, best of N (the best is the run least disturbed by other
load on the machine), with a bare ``python -c pass`` beside them for the interpreter's own
start. Targets: ``import initkit`` <= 0.3 s, ``initkit --help`` <= 0.5 s.

    python benchmarks/bench_startup.py [--runs N]

``python -X importtime -c "import initkit"`` shows which imports remain.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path


def best_of(command: list[str], runs: int) -> float:
    """The shortest wall time of ``runs`` fresh processes of ``command``."""
    env = {**os.environ, "INITKIT_DISABLE_PLUGIN_AUTOLOAD": "1"}
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    script = shutil.which("initkit", path=str(Path(sys.executable).parent)) or "initkit"
    rows = [
        ("python -c pass", [sys.executable, "-c", "pass"], None),
        ("import initkit", [sys.executable, "-c", "import initkit"], 0.3),
        ("initkit --help", [script, "--help"], 0.5),
    ]
    print(f"start-up, best of {args.runs} fresh processes")
    for label, command, target in rows:
        seconds = best_of(command, args.runs)
        goal = f"(target <= {target:.1f} s)" if target else "(the interpreter alone)"
        print(f"  {label:16s} {seconds:6.3f} s  {goal}")


if __name__ == "__main__":
    main()

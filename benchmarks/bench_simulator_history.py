"""Benchmark: initkit.simulate of earlier commits against the working tree's, side by side.

Issue 26 measured the simulator at 1.03x the bare numpy chain on 2026-12-02 and at 1.13x the
day it was filed, blaming the theory rebuild (759a429). A ratio printed on another day may
come from another machine: this script measures the versions themselves, in one run, here.

Each version's ``initkit`` package (``git archive COMMIT initkit`` unpacked into a temporary
folder, or for ``.`` the working tree's own) is timed in fresh Python processes, each
contender run once untimed (the process's memory warmed up), then once timed:

    beside   initkit.simulate and ``bench_simulator.bare_numpy_chain`` in one process, in an
             order that alternates by round (what ``bench_simulator.py`` measures)
    alone    initkit.simulate in a process of its own, against the bare chain timed alone
             in another process in the same round

The two differ because the memory a process gets back from the C allocator depends on what
it freed before: a freed array may be handed out again or returned to the kernel, and
memory returned to the kernel costs a page fault per 4 KiB when it is touched again.

The processes alternate, version after version, round after round, so a slow minute on a
shared machine hits every version alike. Printed per version and context: the median
seconds of initkit.simulate and of the bare chain, and the median of their per-round ratio
(depth 50, width 1024, batch 1024, float32, He + ReLU, forward and backward, as
``bench_simulator.py``).

Run: ``python benchmarks/bench_simulator_history.py [--rounds N] [COMMIT ...]``; the default
commits are 1584540 (the code of 2026-12-02, before the theory rebuild), 759a429 (the
rebuild) and ``.`` (the working tree).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_COMMITS = ("1584540", "759a429", ".")
SHAPE = dict(depth=50, width=1024, batch=1024)


def child(names: list[str]) -> None:
    """Run each named contender once untimed, then once timed, in this process; print the
    times and the initkit imported as JSON."""
    import numpy as np
    from bench_simulator import bare_numpy_chain, timed  # this folder is on PYTHONPATH

    import initkit

    contenders = {
        "initkit": lambda: initkit.simulate("he", "relu", dtype=np.float32, seed=0, **SHAPE),
        "bare": lambda: bare_numpy_chain(seed=0, **SHAPE),
    }
    for name in names:  # warm-up: the first run of a process pays its page faults
        contenders[name]()
    times = {name: timed(contenders[name]) for name in names}
    print(json.dumps({"file": initkit.__file__, **times}))


def timed_in_child(names: list[str], path: Path) -> dict[str, float]:
    """``child(names)`` in a fresh process whose ``initkit`` is the one in ``path``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(path), str(HERE)])}
    proc = subprocess.run([sys.executable, __file__, "--child", *names], env=env,
                          capture_output=True, text=True, cwd=tempfile.gettempdir())
    if proc.returncode != 0:
        sys.exit(f"{path}: the timing process failed:\n{proc.stderr[-2000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if not result.pop("file").startswith(str(path)):
        sys.exit(f"{path}: the timing process imported another initkit")
    return result


def unpack(commit: str, into: Path) -> Path:
    """The folder whose ``initkit`` is ``commit``'s (``.``: the working tree's own)."""
    if commit == ".":
        return ROOT
    folder = into / commit
    folder.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "initkit"],
                             capture_output=True)
    if archive.returncode != 0:  # not a commit of this clone (a shallow one lacks history)
        sys.exit(f"{commit}: git archive failed: {archive.stderr.decode().strip()}")
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    return folder


def describe(commit: str) -> str:
    if commit == ".":
        return "working tree"
    return subprocess.run(["git", "-C", str(ROOT), "show", "-s", "--format=%h %ad", "--date=short",
                           commit], capture_output=True, text=True, check=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("commits", nargs="*", default=list(DEFAULT_COMMITS))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--child", nargs="+", choices=["initkit", "bare"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    beside = {commit: {"initkit": [], "bare": []} for commit in args.commits}
    alone = {commit: {"initkit": [], "bare": []} for commit in args.commits}
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        paths = {commit: unpack(commit, Path(tmp)) for commit in args.commits}
        for round_ in range(args.rounds):
            pair = ["initkit", "bare"][:: 1 if round_ % 2 == 0 else -1]
            bare_alone = timed_in_child(["bare"], ROOT)["bare"]
            for commit, path in paths.items():
                for name, seconds in timed_in_child(pair, path).items():
                    beside[commit][name].append(seconds)
                alone[commit]["initkit"].append(timed_in_child(["initkit"], path)["initkit"])
                alone[commit]["bare"].append(bare_alone)
    load = [max(a, b) for a, b in zip(load, os.getloadavg(), strict=True)]
    print(f"initkit.simulate of each version against the same bare numpy chain, depth "
          f"{SHAPE['depth']}, width {SHAPE['width']}, batch {SHAPE['batch']}, float32; "
          f"{args.rounds} rounds; load average (1, 5, 15 min, the larger of before and after) "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    for title, times in (("beside the bare chain, in one process", beside),
                         ("alone in a process (the bare chain in another)", alone)):
        print(title)
        for commit, got in times.items():
            ratios = [a / b for a, b in zip(got["initkit"], got["bare"], strict=True)]
            print(f"  {describe(commit):24s} initkit {statistics.median(got['initkit']):6.3f} s"
                  f"   bare {statistics.median(got['bare']):6.3f} s   median ratio "
                  f"{statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()

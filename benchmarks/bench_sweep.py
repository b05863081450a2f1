"""Benchmark: one phase-diagram sweep on the local executor and on Dask, 1 and 2 workers.

The same grid (:func:`initkit.sweep.make_grid`, tanh, depth 30, width 256, batch 64) is
measured by

    local, 1 process       :class:`~initkit.executors.LocalExecutor` (this process)
    local, 2 processes     a pool of 2 forked processes
    dask, 1 worker         a LocalCluster of 1 worker process (one thread)
    dask, 2 workers        a LocalCluster of 2 worker processes

and printed side by side, with every table checked equal to the first (bit-identical).
Targets: speed-up >= 1.7x of 2 Dask workers over 1 on 2 cores; Dask's overhead per grid
point < 5 ms, measured as (dask 1 worker - local 1 process) / points on a grid of tiny
points (seeds of one depth-1, width-2 network) whose simulation costs next to nothing, both
as the sweep runs them (:func:`~initkit.executors.chunksize_for` points a task) and one point
a task (the scheduler's round trip per task, for comparison). Each timing is the best of
``--rounds`` runs, the executors taking turns (one alive at a time), so a load spike from
another process hits all of them alike; each round shifts sigma_w^2 a little, so no process
meets a theory cell already in its caches. Cluster start-up is excluded (it is paid once per
run of the command, not per point). Run: ``python benchmarks/bench_sweep.py``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from initkit.executors import DaskExecutor, Executor, LocalExecutor, chunksize_for
from initkit.sweep import make_grid, parse_range, run_sweep


def timed(executor: Executor, points: list, chunksize: int | None = None
          ) -> tuple[float, str]:
    start = time.perf_counter()
    result = run_sweep(points, executor, chunksize=chunksize)
    return time.perf_counter() - start, repr(result.table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sigma-w2", default="1:4:0.25")
    parser.add_argument("--sigma-b2", default="0:0.3:0.1")
    parser.add_argument("--depth", type=int, default=30)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--tiny-points", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    def grid(shift: float) -> list:
        """The sweep, its sigma_w^2 shifted a little each round: no process (and no forked
        pool) meets a theory cell that an earlier run left in its caches."""
        return make_grid("tanh", [w + shift for w in parse_range(args.sigma_w2)],
                         parse_range(args.sigma_b2), [args.depth], [args.width], args.seeds)

    points = grid(0.0)
    tiny = make_grid("tanh", [1.5], [0.1], [1], [2], args.tiny_points, batch=2)
    # the forked pool first: forked after the in-process run it would inherit its caches
    executors: dict[str, Callable[[], Executor]] = {
        "local, 2 processes": lambda: LocalExecutor(2),
        "local, 1 process": lambda: LocalExecutor(1),
        "dask, 1 worker": lambda: DaskExecutor(local_workers=1),
        "dask, 2 workers": lambda: DaskExecutor(local_workers=2)}
    best = dict.fromkeys(executors, float("inf"))
    # tiny points as the sweep runs them (chunked: chunksize_for) and one point per task
    best_tiny = {(name, chunked): float("inf") for name in ("local, 1 process", "dask, 1 worker")
                 for chunked in (True, False)}
    for r in range(args.rounds):
        reference = None
        points = grid(1e-3 * (r + 1))
        for name, start in executors.items():
            # one executor alive at a time: an idle cluster's heartbeats and monitors would
            # tax the one being measured
            with start() as ex:
                run_sweep(grid(-0.5)[:4], ex)  # warm: imports in every worker
                seconds, table = timed(ex, points)
                reference = reference or table
                if table != reference:
                    raise SystemExit(f"{name} gave a different table: not bit-identical")
                best[name] = min(best[name], seconds)
                for chunked in (True, False):
                    if (name, chunked) in best_tiny:
                        seconds = timed(ex, tiny, None if chunked else 1)[0]
                        best_tiny[name, chunked] = min(best_tiny[name, chunked], seconds)
    n = len(points)
    print(f"sweep of {n} grid points (+ {len(set((p.sigma_w2, p.sigma_b2) for p in points))} "
          f"theory cells), depth {args.depth}, width {args.width}; best of {args.rounds}")
    base = best["local, 1 process"]
    for name in ("local, 1 process", "local, 2 processes", "dask, 1 worker", "dask, 2 workers"):
        seconds = best[name]
        print(f"  {name:<20} {seconds:7.2f} s  {1000 * seconds / n:7.1f} ms/point  "
              f"x{base / seconds:4.2f} vs local, 1 process")
    speedup = best["dask, 1 worker"] / best["dask, 2 workers"]
    def overhead(chunked: bool) -> float:
        return (best_tiny["dask, 1 worker", chunked] - best_tiny["local, 1 process", chunked]) \
            / len(tiny) * 1000

    print(f"dask speed-up, 2 workers over 1: x{speedup:.2f} (target >= 1.7 on 2 cores)")
    print(f"dask overhead per grid point: {overhead(True):.2f} ms as the sweep runs them, "
          f"{chunksize_for(len(tiny) + 1, 1)} points a task (target < 5 ms; {len(tiny)} tiny "
          "points: seeds of depth 1, width 2)")
    print(f"  one point per task: {overhead(False):.2f} ms per point (a task's round trip "
          "through the scheduler)")
    print("tables: bit-identical on every executor")


if __name__ == "__main__":
    main()

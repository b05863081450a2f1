"""Benchmark: one redraw of the lesson's explorer (``initkit.viz.explore``) after a control change.

Depth 50, width 256 (the issue's target: a redraw in under 0.2 s). Printed side by side, per
redraw, median over rounds: the whole redraw (simulation, figure, PNG), its simulation alone
(``initkit.simulate`` over the explorer's seeds), and the drawing alone. The phase map is
computed once per activation before the rounds (it is cached), and the figure is reused as
the widget reuses it. Each round moves sigma_w^2 to a new value, so no simulation is reused. Run:
``python benchmarks/bench_explore.py [--rounds N]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

from threadpoolctl import threadpool_limits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    from initkit.viz.explorer import Settings, _png, explorer_figure, phase_map, simulate_settings

    threadpool_limits(1)  # as in a kernel on a shared machine: one BLAS thread
    phase_map("tanh")
    whole, sim, draw = [], [], []
    fig = previous = None
    for i in range(args.rounds + 1):
        settings = Settings(depth=50, width=256, sigma_w2=1.0 + 0.1 * i)
        start = time.perf_counter()
        fig = explorer_figure(settings, fig, previous)  # as the widget does: figure reused
        _png(fig)
        previous = settings
        if i == 0:
            continue  # the first drawing builds the figure
        whole.append(time.perf_counter() - start)
        start = time.perf_counter()
        simulate_settings(settings)
        sim.append(time.perf_counter() - start)
        draw.append(max(whole[-1] - sim[-1], 0.0))
    print(f"explorer redraw at depth 50, width 256 (median of {args.rounds}; target < 0.2 s)")
    print(f"  whole redraw   {statistics.median(whole):.3f} s")
    print(f"  simulation     {statistics.median(sim):.3f} s")
    print(f"  drawing + PNG  {statistics.median(draw):.3f} s")


if __name__ == "__main__":
    main()

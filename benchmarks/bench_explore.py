"""Benchmark: one redraw of the lesson's explorer (``initkit.viz.explore``) after a control change.

Depth 50, width 256 (the issue's target: a redraw in under 0.2 s). The live widget's figure
(:class:`initkit.viz.explorer.ExplorerFigure`) is built once, as the widget builds it; then
each control is moved ``--rounds`` times to values not seen before (so no simulation is
served from the cache) and back to the lesson's start, and every change is timed as the
widget does it: the whole redraw (simulation, figure update, PNG), and its parts side by
side, median over the changes: the simulation (``initkit.simulate`` with its mean-field
column), the theory alone (``initkit.theory.predict`` and the depth scales, part of the
simulation's time, measured again on its own), the drawing with the PNG encoding, and the
whole redraw's CPU time (its cost where the machine's cores are shared). The
phase map is computed before the rounds for the activations used (once per activation,
cached); the first change to a new activation pays it (printed once). A last row moves
sigma_w^2 back to values already shown (the cache's case). One BLAS thread, as a kernel on
a shared machine. Run: ``python benchmarks/bench_explore.py [--rounds N]``.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
import warnings

from threadpoolctl import threadpool_limits

#: the initializers the "init" row moves through (each a first visit: fresh draws)
INITS = ("xavier_normal", "he_normal", "lecun_normal", "orthogonal", "xavier_uniform",
         "he_uniform", "lecun_uniform", "truncated_normal")


def theory_seconds(s) -> float:
    """The mean-field part of a redraw on its own: the prediction and the depth scales."""
    from initkit import get_activation, get_initializer, theory
    from initkit.errors import TheoryWarning
    from initkit.viz.explorer import effective_sigma_w2

    start = time.perf_counter()
    params = {"std": math.sqrt(s.sigma_w2 / s.width)} if s.init == "normal" else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TheoryWarning)
        try:
            theory.predict(get_initializer(s.init), get_activation(s.activation),
                           [s.width] * (s.depth + 1), bias_std=math.sqrt(s.sigma_b2),
                           residual=s.residual, norm=s.norm, init_params=params)
        except Exception:  # noqa: BLE001 - no prediction is a cheap prediction
            pass
        try:
            theory.depth_scales(s.activation, effective_sigma_w2(s), s.sigma_b2)
        except Exception:  # noqa: BLE001
            pass
    return time.perf_counter() - start


def changes(rounds: int):
    """(control, [settings after each change]) for each control, from the lesson's start."""
    from dataclasses import replace

    from initkit.viz.explorer import Settings

    start = Settings(activation="tanh", sigma_w2=1.0, sigma_b2=0.05, depth=50, width=256)
    rows = [
        ("sigma_w2", [replace(start, sigma_w2=1.05 + 0.13 * i) for i in range(rounds)]),
        ("sigma_b2", [replace(start, sigma_b2=0.01 + 0.02 * (i + 1)) for i in range(rounds)]),
        ("depth", [replace(start, depth=45 + i) for i in range(rounds)]),
        ("width", [replace(start, width=224 + 16 * (i % 2), sigma_w2=1.0 + 0.01 * i)
                   for i in range(rounds)]),
        ("init", [replace(start, init=INITS[i % len(INITS)], sigma_b2=0.05 + 0.001 * i)
                  for i in range(rounds)]),
        ("activation", [replace(start, activation=("relu", "tanh")[i % 2],
                                sigma_w2=1.0 + 0.01 * (i + 1)) for i in range(rounds)]),
        ("residual/norm", [replace(start, residual=bool(i % 2), norm=(None, "rms")[i % 2],
                                   sigma_w2=1.0 + 0.01 * (i + 1)) for i in range(rounds)]),
    ]
    return start, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    from initkit.viz.explorer import ExplorerFigure, phase_map

    threadpool_limits(1)  # as in a kernel on a shared machine: one BLAS thread
    start, rows = changes(args.rounds)
    load = os.getloadavg()[0]
    first = time.perf_counter()
    phase_map("tanh")
    view = ExplorerFigure()
    view.show(start).png()
    print(f"explorer at depth 50, width 256: first drawing (tanh's phase map, the figure) "
          f"{time.perf_counter() - first:.2f} s")
    began = time.perf_counter()
    phase_map("relu")
    print(f"  a new activation's phase map, once: {time.perf_counter() - began:.2f} s")
    print(f"redraw per control change, median of {args.rounds} changes (target < 0.2 s):")
    print(f"  {'control':<14} {'whole':>7} {'simulate':>9} {'(theory)':>9} {'draw+PNG':>9} "
          f"{'whole CPU':>10}")
    for control, states in rows:
        whole, sim, theory, draw, cpu = [], [], [], [], []
        for s in states:
            began, began_cpu = time.perf_counter(), time.process_time()
            view.show(s)
            view.png()
            whole.append(time.perf_counter() - began)
            cpu.append(time.process_time() - began_cpu)
            sim.append(view.timings["simulate"])
            draw.append(whole[-1] - sim[-1])
            theory.append(theory_seconds(s))
        view.show(start)
        print(f"  {control:<14} {statistics.median(whole):7.3f} {statistics.median(sim):9.3f} "
              f"{statistics.median(theory):9.3f} {statistics.median(draw):9.3f} "
              f"{statistics.median(cpu):10.3f}")
    again = []
    for s in rows[0][1]:  # sigma_w^2 values already shown: the simulation cache's case
        began = time.perf_counter()
        view.show(s)
        view.png()
        again.append(time.perf_counter() - began)
    print(f"  {'sigma_w2 again':<14} {statistics.median(again):7.3f} {'(cached)':>9}")
    print(f"load average {load:.2f} before, {os.getloadavg()[0]:.2f} after (2 cores)")


if __name__ == "__main__":
    main()

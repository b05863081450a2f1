"""Benchmark: initkit.simulate forward+backward against a bare numpy chain and PyTorch.

Depth 50, width 1024, batch 1024, float32, He init + ReLU. Printed side by side in one run:

    bare numpy chain   the same matmuls and activations, weights drawn the same way
                       (float32 natively; the BLAS limit for this computation); target
                       ratio <= 1.05
    PyTorch (CPU)      the same network forward and backward with autograd, when torch is
                       installed; target ratio <= 1.25

The implementations run in alternation, round after round, each round starting with the
next one (none is always the first after another's arrays were freed), so a load spike from
another process hits all of them alike; each round gives a ratio, and the median over rounds is
reported beside the best times, with the load average. On a shared machine ``--cpu-time``
times each contender's CPU seconds with BLAS (and torch) on one thread instead: the work
each one does, whatever else runs. Run: ``python benchmarks/bench_simulator.py``.

What separates the simulator from the bare chain is memory, not arithmetic: an array the
process has not touched costs a page fault per 4 KiB, more than a pass over it, so the
simulator keeps one array per layer (the bare chain two: its input and a boolean mask)
and recomputes phi and phi' in the backward pass (``initkit.simulation.run_network``), phi'
a row block at a time, so that its multiply, counts and sums read the cache. Both use relu as
``maximum`` against a row of zeros: numpy's SIMD loop, twice as fast as against the scalar 0.

``bench_simulator_history.py`` times earlier commits' simulators against the same bare chain,
side by side (a ratio printed on another day may come from another machine).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import statistics
import time

import numpy as np

import initkit


def bare_numpy_chain(depth: int, width: int, batch: int, seed: int) -> float:
    """Forward and backward of the same ReLU chain with nothing but the necessary numpy calls."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, width)).astype(np.float32)
    std = math.sqrt(2.0) / math.sqrt(width)
    weights = [rng.standard_normal((width, width), dtype=np.float32) * np.float32(std)
               for _ in range(depth)]
    inputs, masks = [], []
    zeros = np.zeros(width, np.float32)  # maximum against a row runs numpy's SIMD loop
    a = x
    for w in weights:
        h = a @ w.T
        inputs.append(a)
        masks.append(h > 0)
        a = np.maximum(h, zeros)
    r = rng.standard_normal(a.shape).astype(np.float32)
    delta = r * masks[-1]
    total = 0.0
    for layer in range(depth - 1, -1, -1):
        total += float(np.linalg.norm(delta.T @ inputs[layer]))
        if layer:
            delta = (delta @ weights[layer]) * masks[layer - 1]
    return total


def torch_chain(depth: int, width: int, batch: int, seed: int) -> float:
    import torch

    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, width, generator=gen)
    weights = []
    for _ in range(depth):
        w = torch.empty(width, width)
        torch.nn.init.kaiming_normal_(w, generator=gen)
        weights.append(w.requires_grad_())
    a = x
    for w in weights:
        a = torch.relu(a @ w.T)
    r = torch.randn(a.shape, generator=gen)
    (a * r).sum().backward()
    return float(sum(w.grad.norm() for w in weights))


def timed(fn, clock=time.perf_counter) -> float:
    start = clock()
    fn()
    return clock() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=50)
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cpu-time", action="store_true",
                        help="time CPU seconds with BLAS and torch on one thread")
    args = parser.parse_args()
    shape = dict(depth=args.depth, width=args.width, batch=args.batch)
    contenders = {
        "initkit.simulate": lambda: initkit.simulate("he", "relu", dtype=np.float32, seed=0,
                                                     **shape),
        "bare numpy chain": lambda: bare_numpy_chain(seed=0, **shape),
    }
    try:
        import torch  # noqa: F401

        contenders["pytorch (cpu)"] = lambda: torch_chain(seed=0, **shape)
    except ImportError:
        print("torch not installed: skipping the PyTorch column (pip install torch==2.13.0)")
    times: dict[str, list[float]] = {name: [] for name in contenders}
    clock, threads = time.perf_counter, contextlib.nullcontext()
    if args.cpu_time:
        from threadpoolctl import threadpool_limits

        clock, threads = time.process_time, threadpool_limits(limits=1)
        if "pytorch (cpu)" in contenders:
            import torch

            torch.set_num_threads(1)
    load = os.getloadavg()
    order = list(contenders)
    with threads:
        for round_ in range(args.rounds):
            # each round starts with the next contender, so that none is always the one
            # that runs right after another's large arrays were freed
            shift = round_ % len(order)
            for name in order[shift:] + order[:shift]:
                times[name].append(timed(contenders[name], clock))
    load = [max(a, b) for a, b in zip(load, os.getloadavg(), strict=True)]
    what = "CPU seconds, one BLAS thread" if args.cpu_time else "wall-clock seconds"
    print(f"forward+backward, depth {args.depth}, width {args.width}, batch {args.batch}, "
          f"float32, {args.rounds} alternating rounds, {what}; load average (1, 5, 15 min, "
          f"the larger of before and after) {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on "
          f"{os.cpu_count()} cores")
    for name, values in times.items():
        print(f"  {name:18s} best {min(values):7.3f} s   median {statistics.median(values):7.3f} s")
    ours = np.array(times["initkit.simulate"])
    for name, target in (("bare numpy chain", 1.05), ("pytorch (cpu)", 1.25)):
        if name in times:
            ratio = statistics.median(ours / np.array(times[name]))
            print(f"median ratio initkit / {name} = {ratio:.3f} (target <= {target:.2f})")


if __name__ == "__main__":
    main()

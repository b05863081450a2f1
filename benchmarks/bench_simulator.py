"""Benchmark: initkit.simulate forward+backward against a bare numpy chain and PyTorch.

Depth 50, width 1024, batch 1024, float32, He init + ReLU. Printed side by side in one run:

    bare numpy chain   the same matmuls and activations, weights drawn the same way
                       (the BLAS limit for this computation); target ratio <= 1.10
    PyTorch (CPU)      the same network forward and backward with autograd, when torch is
                       installed; target ratio <= 1.25

Each timing is the best of ``--repeats`` runs. Run: ``python benchmarks/bench_simulator.py``.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

import initkit


def bare_numpy_chain(depth: int, width: int, batch: int, seed: int) -> float:
    """Forward and backward of the same ReLU chain with nothing but the necessary numpy calls."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, width)).astype(np.float32)
    std = math.sqrt(2.0) / math.sqrt(width)
    weights = [rng.normal(0.0, std, (width, width)).astype(np.float32) for _ in range(depth)]
    inputs, masks = [], []
    a = x
    for w in weights:
        h = a @ w.T
        inputs.append(a)
        masks.append(h > 0)
        a = np.maximum(h, 0)
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


def best_of(fn, repeats: int) -> float:
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=50)
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    shape = dict(depth=args.depth, width=args.width, batch=args.batch)

    def ours():
        return initkit.simulate("he", "relu", dtype=np.float32, seed=0, **shape)

    timings = {
        "initkit.simulate": best_of(ours, args.repeats),
        "bare numpy chain": best_of(lambda: bare_numpy_chain(seed=0, **shape), args.repeats),
    }
    try:
        import torch

        torch.set_num_threads(max(1, torch.get_num_threads()))
        timings["pytorch (cpu)"] = best_of(lambda: torch_chain(seed=0, **shape), args.repeats)
    except ImportError:
        print("torch not installed: skipping the PyTorch column (pip install torch==2.13.0)")
    print(f"forward+backward, depth {args.depth}, width {args.width}, batch {args.batch}, "
          f"float32, best of {args.repeats}")
    for name, seconds in timings.items():
        print(f"  {name:18s} {seconds:8.3f} s")
    sim = timings["initkit.simulate"]
    print(f"ratio initkit / bare numpy = {sim / timings['bare numpy chain']:.3f} (target <= 1.10)")
    if "pytorch (cpu)" in timings:
        print(f"ratio initkit / pytorch    = {sim / timings['pytorch (cpu)']:.3f} (target <= 1.25)")


if __name__ == "__main__":
    main()

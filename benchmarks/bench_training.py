"""Benchmark: one epoch of a 784-256-256-10 ReLU MLP, initkit vs PyTorch, in the same run.

60,000 synthetic MNIST-shaped samples (uniform pixels in [0, 1], random labels), batch 128,
float32, SGD with momentum 0.9, He init. Reports seconds per epoch for

* initkit ``fit`` (what users run: also records per-step accuracy and gradient norms),
* the bare initkit loop (forward, loss, backward, optimizer step),
* PyTorch on the CPU (when installed; skipped otherwise),

and the ratio initkit / torch (target <= 1.5). Then the digits time-to-95%-test-accuracy of a
64-64-10 ReLU MLP with He init. The three contenders run in turn within each of
``--repeats`` rounds (so a load spike on a shared machine hits all of them) and each keeps
its best time. ``--threads N`` limits both numpy's BLAS (threadpoolctl) and torch to N threads.

    .venv/bin/python benchmarks/bench_training.py [--repeats 3] [--threads N]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from initkit import nn
from initkit.data import Dataset, load_digits
from initkit.train import fit

WIDTHS = [784, 256, 256, 10]
N_SAMPLES = 60_000
BATCH = 128
LR = 0.01


def synthetic_mnist(seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    x = rng.random((N_SAMPLES, 784), dtype=np.float32)
    y = rng.integers(0, 10, N_SAMPLES)
    return Dataset("synthetic-mnist", x, y, x[:0], y[:0], n_classes=10)


def timed(run) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def initkit_fit(data: Dataset) -> None:
    model = nn.MLP(WIDTHS, activation="relu", init="he", seed=0)
    fit(model, data, epochs=1, batch_size=BATCH, lr=LR, optimizer="sgd", momentum=0.9,
        progress=False)


def initkit_bare(data: Dataset) -> None:
    model = nn.MLP(WIDTHS, activation="relu", init="he", seed=0)
    loss = nn.SoftmaxCrossEntropy()
    opt = nn.SGD(model.parameters(), lr=LR, momentum=0.9)
    order = np.random.default_rng(0).permutation(len(data.x_train))
    for start in range(0, len(order), BATCH):
        idx = order[start:start + BATCH]
        loss(model.forward(data.x_train[idx]), data.y_train[idx])
        model.backward(loss.backward())
        opt.step()


def torch_epoch(torch, data: Dataset) -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(784, 256), torch.nn.ReLU(),
        torch.nn.Linear(256, 256), torch.nn.ReLU(),
        torch.nn.Linear(256, 10))
    for layer in model:
        if isinstance(layer, torch.nn.Linear):
            torch.nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            torch.nn.init.zeros_(layer.bias)
    loss_fn = torch.nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9)
    x = torch.from_numpy(data.x_train)
    y = torch.from_numpy(data.y_train)
    order = torch.from_numpy(np.random.default_rng(0).permutation(len(x)))
    for start in range(0, len(order), BATCH):
        idx = order[start:start + BATCH]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x[idx]), y[idx])
        loss.backward()
        opt.step()


def digits_time_to_95() -> tuple[float | None, float, float]:
    data = load_digits()
    model = nn.MLP([64, 64, 10], activation="relu", init="he", seed=0)
    history = fit(model, data, epochs=30, batch_size=32, lr=0.1, optimizer="sgd",
                  momentum=0.9, progress=False)
    return history.time_to_accuracy(0.95), history.final_test_accuracy, history.wall_time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None,
                        help="threads of numpy's BLAS and of torch (default: their own choice)")
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        torch = None
    limits = None
    if args.threads:
        from threadpoolctl import threadpool_limits

        limits = threadpool_limits(args.threads)
        if torch is not None:
            torch.set_num_threads(args.threads)
    data = synthetic_mnist()
    print(f"one epoch, {N_SAMPLES} samples, MLP {'-'.join(map(str, WIDTHS))} ReLU, batch {BATCH}, "
          f"float32, SGD momentum 0.9; best of {args.repeats} interleaved rounds"
          + (f", {args.threads} thread(s)" if args.threads else ""))
    runs = {"fit": lambda: initkit_fit(data), "bare": lambda: initkit_bare(data)}
    if torch is not None:
        runs["torch"] = lambda: torch_epoch(torch, data)
    best = {name: float("inf") for name in runs}
    for _ in range(args.repeats):
        for name, run in runs.items():
            best[name] = min(best[name], timed(run))
    print(f"  initkit fit()        {best['fit']:7.3f} s")
    print(f"  initkit bare loop    {best['bare']:7.3f} s")
    if torch is None:
        print("  torch                not installed: skipped "
              "(.venv/bin/pip install torch==2.13.0 installs a CPU build from disk)")
    else:
        print(f"  torch {torch.__version__:<14} {best['torch']:7.3f} s  "
              f"({torch.get_num_threads()} threads)")
        print(f"  ratio initkit fit / torch   {best['fit'] / best['torch']:.2f}  "
              "(target <= 1.5)")
        print(f"  ratio initkit bare / torch  {best['bare'] / best['torch']:.2f}")
    reached, final, wall = digits_time_to_95()
    when = "never" if reached is None else f"{reached:.2f} s"
    print(f"digits 64-64-10 ReLU, He init, SGD lr 0.1 momentum 0.9, batch 32: 95% test "
          f"accuracy after {when}; {final:.3f} after 30 epochs ({wall:.2f} s)")
    if limits is not None:
        limits.restore_original_limits()


if __name__ == "__main__":
    main()

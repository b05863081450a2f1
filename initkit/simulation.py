"""``simulate``: forward signal and backward gradient through a deep random network.

The network (widths n_0 ... n_L, weights W_l of shape (n_l, n_{l-1}) from any registered
initializer, biases b_l ~ N(0, bias_std^2)) is one of

    plain     h_1 = N(W_1 x + b_1),   h_l = N(W_l phi(h_{l-1}) + b_l),   output phi(h_L)
    residual  s_0 = x,                s_l = s_{l-1} + N(W_l phi(s_{l-1}) + b_l), output s_L

where N is an optional norm (``"layer"``, ``"rms"``, ``"batch"``) times gamma (gamma = 0 with
``zero_gamma``: the block starts as the identity, Goyal et al. 2017). A batch of inputs
x ~ N(0, I) goes forward; the loss sum(r * output), r ~ N(0, I), goes backward, so the
output gradient has unit variance and each layer's gradient variance is what mean-field
theory predicts (``initkit.theory.predict``). All of it is vectorised over the batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from .errors import SimulationError, TheoryError
from .norms import check_norm, norm_backward, norm_forward
from .registry import Activation, Initializer, get_activation, get_initializer
from .theory import predict

#: Per-layer quantities a Trace records, with what each means.
QUANTITIES = {
    "q": "mean squared pre-activation (what mean-field theory predicts)",
    "act_var": "variance of the layer's output",
    "grad_var": "mean squared backward gradient dL/dh at the pre-activation",
    "weight_grad_norm": "Frobenius norm of dL/dW (averaged over the batch)",
    "dead_fraction": "fraction of units with phi'(h) = 0 (dead ReLUs)",
    "saturated_fraction": "fraction of units with 0 < |phi'(h)| < 0.01 (saturated tanh)",
    "correlation": "cosine between the pre-activations of inputs 0 and 1",
}

SATURATION = 0.01


@dataclass
class Trace:
    """Per-layer statistics of one simulation (mean over seeds; ``spread`` gives the std).

    Layer index 0 is the first layer. ``samples[name]`` has shape (n_seeds, depth);
    ``theory`` holds the mean-field prediction of ``q`` and ``grad_var`` where it exists.
    """

    init: str
    activation: str
    widths: list[int]
    batch: int
    seeds: list[int]
    bias_std: float
    residual: bool
    norm: str | None
    zero_gamma: bool
    dtype: str
    samples: dict[str, np.ndarray]
    theory: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def depth(self) -> int:
        return len(self.widths) - 1

    def mean(self, name: str) -> np.ndarray:
        return self.samples[name].mean(axis=0)

    def spread(self, name: str) -> np.ndarray:
        """Standard deviation over seeds (zeros for a single seed)."""
        with np.errstate(invalid="ignore"):  # inf - inf in a diverged run is NaN, say so
            return self.samples[name].std(axis=0)

    q = property(lambda self: self.mean("q"), doc=QUANTITIES["q"])
    act_var = property(lambda self: self.mean("act_var"), doc=QUANTITIES["act_var"])
    grad_var = property(lambda self: self.mean("grad_var"), doc=QUANTITIES["grad_var"])
    weight_grad_norm = property(lambda self: self.mean("weight_grad_norm"))
    dead_fraction = property(lambda self: self.mean("dead_fraction"))
    saturated_fraction = property(lambda self: self.mean("saturated_fraction"))
    correlation = property(lambda self: self.mean("correlation"))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: settings, then per-layer lists (mean, std, theory)."""
        layers: dict[str, Any] = {}
        for name in QUANTITIES:
            layers[name] = _json_list(self.mean(name))
            layers[f"{name}_std"] = _json_list(self.spread(name))
        for name, values in self.theory.items():
            layers[f"theory_{name}"] = _json_list(values)
        return {
            "init": self.init, "activation": self.activation, "widths": list(self.widths),
            "depth": self.depth, "batch": self.batch, "seeds": list(self.seeds),
            "bias_std": self.bias_std, "residual": self.residual, "norm": self.norm,
            "zero_gamma": self.zero_gamma, "dtype": self.dtype,
            "layer": list(range(1, self.depth + 1)), **layers,
        }


def _json_list(values: np.ndarray) -> list[float | None]:
    """Floats for JSON: NaN and +-inf (a diverged 'bad' run) become null, as JSON has none."""
    return [float(v) if np.isfinite(v) else None for v in values]


def _widths(width: int | Sequence[int], depth: int) -> list[int]:
    if isinstance(width, int | np.integer):
        widths = [int(width)] * (depth + 1)
    else:
        if not isinstance(width, Sequence) or not all(
                isinstance(w, int | np.integer) for w in width):
            raise SimulationError(f"width must be an int or a list of ints, got {width!r}")
        widths = [int(w) for w in width]
        if len(widths) == depth:  # per-layer widths; the input has the first layer's width
            widths = [widths[0], *widths]
        if len(widths) != depth + 1:
            raise SimulationError(f"width list has {len(widths)} entries for depth {depth}: "
                                  f"give one per layer ({depth}) or input + one per layer")
    if any(w < 1 for w in widths):
        raise SimulationError(f"every width must be >= 1, got {widths}")
    return widths


def _mean_square(a: np.ndarray) -> float:
    """mean(a^2) as one BLAS dot product (no temporary array, no upcast)."""
    flat = a.reshape(-1)
    return float(np.dot(flat, flat)) / flat.size


def _run_one(init: Initializer, act: Activation, widths: list[int], batch: int, seed: int,
             bias_std: float, residual: bool, norm: str | None, gamma: float,
             dtype: np.dtype, backward: bool, init_params: dict[str, Any],
             act_params: dict[str, Any]) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    depth = len(widths) - 1
    x = rng.standard_normal((batch, widths[0])).astype(dtype, copy=False)
    weights = [init((widths[l + 1], widths[l]), rng, dtype=dtype, **init_params)
               for l in range(depth)]
    biases = [rng.normal(0.0, bias_std, widths[l + 1]).astype(dtype, copy=False)
              if bias_std > 0 else None for l in range(depth)]
    stats = {name: np.full(depth, np.nan) for name in QUANTITIES}
    inputs, slopes, caches = [], [], []
    stream = out = x
    for l, weight in enumerate(weights):
        # plain: the input is the previous layer's output phi(h) (the raw x for layer 1);
        # residual: the branch reads phi of the stream
        inp = act(stream, **act_params) if residual else out
        z = inp @ weight.T
        if biases[l] is not None:
            z += biases[l]
        cache = None
        if norm:
            z, cache = norm_forward(z, norm)
            z = z * gamma if gamma != 1.0 else z
        h = stream + z if residual else z
        slope = act.grad(h, **act_params)
        out = h if residual else act(h, **act_params)
        # reductions stay in the array's dtype (a BLAS dot; relative error ~1e-6 in float32
        # at these sizes); an upcast to float64 would copy every layer, as dear as a matmul
        stats["q"][l] = _mean_square(h)
        stats["act_var"][l] = np.var(out)
        abs_slope = np.abs(slope)
        dead = np.count_nonzero(abs_slope == 0)
        stats["dead_fraction"][l] = dead / slope.size
        saturated = np.count_nonzero(abs_slope < SATURATION) - dead
        stats["saturated_fraction"][l] = saturated / slope.size
        if batch > 1:
            a, b = h[0].astype(np.float64), h[1].astype(np.float64)
            norms = np.sqrt((a @ a) * (b @ b))
            stats["correlation"][l] = a @ b / norms if norms > 0 else np.nan
        inputs.append(inp)
        slopes.append(slope)
        caches.append(cache)
        stream = h
    if not backward:
        return stats
    r = rng.standard_normal(stream.shape).astype(dtype, copy=False)
    delta = r if residual else r * slopes[-1]  # dL/dh_L
    for l in range(depth - 1, -1, -1):
        stats["grad_var"][l] = _mean_square(delta)
        dz = delta
        if norm:
            dz = norm_backward(dz * gamma, caches[l]) if gamma != 0.0 else np.zeros_like(dz)
        weight_grad = dz.T @ inputs[l]
        stats["weight_grad_norm"][l] = np.linalg.norm(weight_grad) / batch
        if l > 0:
            upstream = dz @ weights[l]  # dL/d phi(h_{l-1})
            delta = delta + upstream * slopes[l - 1] if residual else upstream * slopes[l - 1]
    return stats


def simulate(init: str | Initializer, activation: str | Activation | None = None,
             depth: int = 10, width: int | Sequence[int] = 256, batch: int = 256,
             seed: int = 0, seeds: int | Sequence[int] | None = None, bias_std: float = 0.0,
             residual: bool = False, norm: str | None = None, zero_gamma: bool = False,
             dtype: DTypeLike = np.float64, backward: bool = True,
             init_params: dict[str, Any] | None = None,
             activation_params: dict[str, Any] | None = None) -> Trace:
    """Simulate a deep random network forward and backward; return its per-layer Trace.

    Args:
        init: a registered initializer name (or alias) or an ``Initializer``.
        activation: a registered activation; defaults to the one ``init`` is meant for.
        depth: number of layers.
        width: units per layer, or a list (one per layer, or input + one per layer).
        batch: number of inputs, x ~ N(0, I).
        seed: seed of the single run; ``seeds`` overrides it with an ensemble, either a
            count (seeds ``seed ... seed + count - 1``) or an explicit list.
        bias_std: biases ~ N(0, bias_std^2) (sigma_b^2 = bias_std^2 in mean-field terms).
        residual: add each layer's branch to a residual stream (equal widths needed).
        norm: ``"layer"``, ``"rms"`` or ``"batch"`` normalisation of each pre-activation.
        zero_gamma: start each norm's gamma at 0 (residual blocks start as the identity).
        dtype: float32 or float64.
        backward: also run the backward pass (gradient variance, weight-gradient norm).
        init_params / activation_params: keyword parameters passed through.

    ``Trace.theory`` is NaN where theory makes no prediction: through a norm (gradient) and
    for an initializer that declares no variance (``predict`` raises ``TheoryError``).

    Example:
        >>> t = simulate("he", "relu", depth=5, width=512, batch=64)
        >>> bool(abs(t.q[-1] / t.theory["q"][-1] - 1) < 0.1)
        True
    """
    initializer = get_initializer(init)
    act = get_activation(activation or initializer.activation)
    for label, value in (("depth", depth), ("batch", batch)):
        if not isinstance(value, int | np.integer) or value < 1:
            raise SimulationError(f"{label} must be a whole number >= 1, got {value!r}")
    if not (isinstance(bias_std, int | float) and bias_std >= 0):
        raise SimulationError(f"bias_std must be a number >= 0, got {bias_std!r}")
    widths = _widths(width, depth)
    norm = check_norm(norm)
    if residual and len(set(widths)) != 1:
        raise SimulationError(f"a residual stream needs equal widths, got {widths}")
    if zero_gamma and not norm:
        raise SimulationError("zero_gamma sets a norm's gamma: pass norm='layer', 'rms' or "
                              "'batch' with it")
    if norm == "batch" and batch < 2:
        raise SimulationError("batch norm needs batch >= 2")
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise SimulationError(f"dtype must be float32 or float64, got {dtype}")
    if seeds is None:
        seed_list = [int(seed)]
    elif isinstance(seeds, int | np.integer):
        seed_list = list(range(int(seed), int(seed) + int(seeds)))
    else:
        seed_list = [int(s) for s in seeds]
    if not seed_list:
        raise SimulationError("seeds is empty")
    init_params = dict(init_params or {})
    act_params = dict(activation_params or {})
    gamma = 0.0 if zero_gamma else 1.0
    # the 'bad' init overflows to inf on purpose: the Trace shows it, no warning floods
    with np.errstate(over="ignore", invalid="ignore"):
        runs = [_run_one(initializer, act, widths, batch, s, bias_std, residual, norm, gamma,
                         dtype, backward, init_params, act_params) for s in seed_list]
    samples = {name: np.stack([run[name] for run in runs]) for name in QUANTITIES}
    try:
        prediction = predict(initializer, act, widths, bias_std=bias_std, residual=residual,
                             norm=norm, gamma=gamma, init_params=init_params,
                             activation_params=act_params)
        theory = {"q": prediction.q, "grad_var": prediction.grad_var}
    except TheoryError:  # no declared variance: no prediction, the columns say so (NaN)
        theory = {"q": np.full(depth, np.nan), "grad_var": np.full(depth, np.nan)}
    return Trace(init=initializer.name, activation=act.name, widths=widths, batch=batch,
                 seeds=seed_list, bias_std=float(bias_std), residual=residual, norm=norm,
                 zero_gamma=zero_gamma, dtype=dtype.name, samples=samples,
                 theory=theory)

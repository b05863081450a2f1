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

``simulate`` checks its keyword arguments and builds the network's
:class:`~initkit.theory.NetworkSpec` once; :func:`run_network` draws and runs one seed of
it (``initkit.sweep`` measures its grid points with the same pass) and
``initkit.theory.predict_network`` gives its mean-field column.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from .errors import SimulationError, TheoryError
from .norms import norm_backward, norm_forward
from .registry import Activation, Initializer
from .theory import NetworkSpec, predict_network

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


def _sum_square(a: np.ndarray) -> float:
    """sum(a^2) as one BLAS dot product (no temporary array, no upcast)."""
    flat = a.ravel()
    return float(np.dot(flat, flat))


def _mean_square(a: np.ndarray) -> float:
    """mean(a^2) (``_sum_square`` over the size)."""
    return _sum_square(a) / a.size


def _mean(a: np.ndarray) -> float:
    """mean(a) of an array with at least one axis as one BLAS matrix-vector product: a row of
    ones times ``a`` as a matrix of its last axis (one reading pass; ``a.sum()``'s pairwise
    float32 sum is three times as slow), then the sum of that row."""
    rows = a.reshape(-1, a.shape[-1])
    return float((np.ones(rows.shape[0], rows.dtype) @ rows).sum()) / a.size


def _variance(a: np.ndarray) -> float:
    """Var(a) = mean(a^2) - mean(a)^2: two reading passes (BLAS) where ``np.var`` makes four
    and a temporary. Where the mean dominates (mean(a^2) over 4x the variance, a float32 sum
    then loses digits to cancellation) it is ``np.var``."""
    mean = _mean(a)
    mean_square = _mean_square(a)
    variance = mean_square - mean * mean
    if variance >= 0.25 * mean_square:
        return variance
    return float(np.var(a))


class _Buffers:
    """Reusable arrays by role and shape, so the layer loop writes what it overwrites every
    layer (a residual or normalised branch's matmul, the backward gradients) in place."""

    def __init__(self, dtype: np.dtype):
        self.dtype = dtype
        self.free: dict[tuple[Any, ...], list[np.ndarray]] = {}

    def take(self, role: str, shape: tuple[int, ...], *in_use: np.ndarray,
             dtype: DTypeLike | None = None) -> np.ndarray:
        """A ``role`` array of ``shape`` that shares no memory with ``in_use``."""
        dtype = np.dtype(dtype or self.dtype)
        pool = self.free.setdefault((role, shape, dtype.str), [])
        for array in pool:
            if not any(np.may_share_memory(array, a) for a in in_use):
                return array
        pool.append(np.empty(shape, dtype))
        return pool[-1]


#: Bytes of a row block where the backward pass makes several passes over phi'(h): a
#: quarter of a core's 1 MiB L2 cache on the CI machine, so the passes after the first
#: read the cache, not memory (a 1024 x 1024 float32 phi'(h) is 4 MiB).
BLOCK_BYTES = 1 << 18


def _row_blocks(a: np.ndarray) -> list[slice]:
    """Slices of ``a``'s first axis (rows of at least one element), each of BLOCK_BYTES or
    less, or of one row where a row is larger."""
    step = max(1, BLOCK_BYTES // a[0].nbytes)
    return [slice(start, start + step) for start in range(0, a.shape[0], step)]


def _unit_counts(slope: np.ndarray, buffers: _Buffers) -> tuple[int, int]:
    """(dead, saturated): the counts of phi'(h) == 0 and of 0 < |phi'(h)| < SATURATION (NaN
    counts as neither). Both are counted on a boolean array (``count_nonzero`` of a float
    array is eight times as slow); |phi'| and the comparisons are written into reused
    buffers (a fresh temporary costs its page faults every layer)."""
    flags = buffers.take("flags", slope.shape, dtype=bool)
    dead = np.count_nonzero(np.equal(slope, 0, out=flags))
    magnitude = np.abs(slope, out=buffers.take("abs", slope.shape, slope, dtype=slope.dtype))
    small = np.count_nonzero(np.less(magnitude, SATURATION, out=flags))
    return dead, small - dead


def _through_slope(spec: NetworkSpec, h: np.ndarray, upstream: np.ndarray,
                   stream_grad: np.ndarray | None, buffers: _Buffers,
                   count: bool) -> tuple[float, int, int]:
    """The chain rule through phi, in place: ``upstream`` = dL/dphi(h) becomes dL/dh =
    upstream * phi'(h), and is added into ``stream_grad`` (a residual stream's gradient)
    when one is given. Returns sum(g^2) of the gradient g this leaves (``stream_grad``, or
    else ``upstream``), then the dead and saturated counts of phi'(h) when ``count`` (else
    0, 0).

    Row block by row block (``_row_blocks``): phi'(h) exists one block at a time, and the
    multiply, the counts and the sum of squares read it from the cache; on the whole array
    each would be a pass over memory (the activation is elementwise, so the values are
    those of the whole array)."""
    gradient = upstream if stream_grad is None else stream_grad
    square, dead, saturated = 0.0, 0, 0
    for rows in _row_blocks(h):
        slope = spec.dphi(h[rows])
        if count:
            counts = _unit_counts(slope, buffers)
            dead, saturated = dead + counts[0], saturated + counts[1]
        block = upstream[rows]
        block *= slope
        if stream_grad is not None:
            stream_grad[rows] += block
        square += _sum_square(gradient[rows])
    return square, dead, saturated


def _correlation(h: np.ndarray) -> float:
    """Cosine between the pre-activations of inputs 0 and 1 (in float64)."""
    a, b = h[0].astype(np.float64), h[1].astype(np.float64)
    norms = np.sqrt((a @ a) * (b @ b))
    return a @ b / norms if norms > 0 else np.nan


LayerObserver = Callable[[int, np.ndarray, np.ndarray], None]


def run_network(spec: NetworkSpec, batch: int, seed: int, dtype: DTypeLike = np.float64,
                backward: bool = True, weight_grads: bool = True,
                observe: LayerObserver | None = None) -> dict[str, np.ndarray]:
    """One simulation of ``spec``: per-layer ``QUANTITIES`` (NaN where not computed).

    From ``numpy.random.default_rng(seed)``, in this order: the inputs x ~ N(0, I) of shape
    (batch, n_0), every weight, every bias, then r ~ N(0, I) of the loss sum(r * output);
    everything stays in ``dtype``. ``observe(layer, h, slope)`` sees each layer's
    pre-activation h and phi'(h) (read-only, while they exist); ``weight_grads=False`` skips
    dL/dW (a matmul per layer) in the backward pass.

    Memory is the cost beyond the matmuls: an array the process has not touched before costs
    a page fault per 4 KiB, more than an elementwise pass over it. So the forward pass keeps
    one array per layer, the pre-activation h_l (the stream, residual), and the backward pass
    recomputes phi(h_l) and phi'(h_l) from it (bit for bit what the forward pass saw), in
    memory freed a layer earlier; what is overwritten every layer is written into reused
    buffers. phi'(h_l) is computed once per layer: in the backward pass, which needs it and
    counts the dead and saturated units there, one row block at a time (``_through_slope``),
    unless there is no backward pass or an observer needs it in the forward pass.
    """
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    depth, residual, norm, gamma = spec.depth, spec.residual, spec.norm, spec.gamma
    x = rng.standard_normal((batch, spec.widths[0]), dtype=dtype)
    weights = [spec.draw_weight(l, rng, dtype) for l in range(depth)]
    biases = spec.draw_biases(rng, dtype)
    stats = {name: np.full(depth, np.nan) for name in QUANTITIES}
    buffers = _Buffers(dtype)
    slopes_forward = observe is not None or not backward

    def record_units(layer: int, dead: int, saturated: int, size: int) -> None:
        stats["dead_fraction"][layer] = dead / size
        stats["saturated_fraction"][layer] = saturated / size

    pre: list[np.ndarray | None] = []  # h_l, kept for the backward pass
    caches = []
    stream = out = x
    for l, weight in enumerate(weights):
        # plain: the input is the previous layer's output phi(h) (the raw x for layer 1);
        # residual: the branch reads phi of the stream
        inp = spec.phi(stream) if residual else out
        if residual or norm:  # z is overwritten every layer: h is a new array below
            z = np.matmul(inp, weight.T, out=buffers.take("z", (batch, spec.widths[l + 1]), inp))
        else:
            z = np.matmul(inp, weight.T)
        if biases[l] is not None:
            z += biases[l]
        cache = None
        if norm:
            z, cache = norm_forward(z, norm)
            z = z * gamma if gamma != 1.0 else z
        h = stream + z if residual else z
        out = h if residual else spec.phi(h)
        # reductions stay in the array's dtype (a BLAS dot; relative error ~1e-6 in float32
        # at these sizes); an upcast to float64 would copy every layer, as dear as a matmul
        stats["q"][l] = _mean_square(h)
        stats["act_var"][l] = _variance(out)
        if batch > 1:
            stats["correlation"][l] = _correlation(h)
        if slopes_forward:
            slope = spec.dphi(h)
            record_units(l, *_unit_counts(slope, buffers), slope.size)
            if observe is not None:
                observe(l, h, slope)
            del slope
        pre.append(h)
        caches.append(cache)
        stream = h
    if not backward:
        return stats
    r = rng.standard_normal(stream.shape, dtype=dtype)
    count = not slopes_forward
    delta = r  # dL/dh_L: the loss sum(r * output) has output phi(h_L), or s_L (residual)
    if residual:
        if count:
            record_units(depth - 1, *_unit_counts(spec.dphi(stream), buffers), stream.size)
        square = _sum_square(delta)
    else:
        square, dead, saturated = _through_slope(spec, stream, delta, None, buffers, count)
        if count:
            record_units(depth - 1, dead, saturated, stream.size)
    del inp, out, z, h, stream
    for l in range(depth - 1, -1, -1):
        stats["grad_var"][l] = square / delta.size
        dz = delta
        if norm:
            dz = norm_backward(dz * gamma, caches[l]) if gamma != 0.0 else np.zeros_like(dz)
        below = pre[l - 1] if l > 0 else x  # h_{l-1}, or the raw input
        if weight_grads:  # dL/dW_l = dz^T (the layer's input)
            inp = spec.phi(below) if residual or l > 0 else x
            weight_grad = np.matmul(dz.T, inp, out=buffers.take("dW", spec.shape(l)))
            stats["weight_grad_norm"][l] = np.linalg.norm(weight_grad) / batch
            del inp
        if l > 0:  # dL/d phi(h_{l-1}), times phi'(h_{l-1}): dL/dh_{l-1}
            upstream = np.matmul(dz, weights[l], out=buffers.take(
                "delta", (batch, spec.widths[l]), dz, delta))
            square, dead, saturated = _through_slope(
                spec, below, upstream, delta if residual else None, buffers, count)
            if count:
                record_units(l - 1, dead, saturated, below.size)
            if not residual:
                delta = upstream
        pre[l] = caches[l] = None  # freed: the next layer's recomputation reuses the memory
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
    if not isinstance(batch, int | np.integer) or batch < 1:
        raise SimulationError(f"batch must be a whole number >= 1, got {batch!r}")
    if zero_gamma and not norm:
        raise SimulationError("zero_gamma sets a norm's gamma: pass norm='layer', 'rms' or "
                              "'batch' with it")
    spec = NetworkSpec.build(init, activation, depth=depth, width=width, bias_std=bias_std,
                             residual=residual, norm=norm, gamma=0.0 if zero_gamma else 1.0,
                             init_params=init_params, activation_params=activation_params)
    if spec.norm == "batch" and batch < 2:
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
    # the 'bad' init overflows to inf on purpose: the Trace shows it, no warning floods
    with np.errstate(over="ignore", invalid="ignore"):
        runs = [run_network(spec, batch, s, dtype, backward) for s in seed_list]
    samples = {name: np.stack([run[name] for run in runs]) for name in QUANTITIES}
    try:
        prediction = predict_network(spec)
        theory = {"q": prediction.q, "grad_var": prediction.grad_var}
    except TheoryError:  # no declared variance: no prediction, the columns say so (NaN)
        theory = {"q": np.full(spec.depth, np.nan), "grad_var": np.full(spec.depth, np.nan)}
    return Trace(init=spec.init.name, activation=spec.activation.name,
                 widths=list(spec.widths), batch=batch, seeds=seed_list,
                 bias_std=float(bias_std), residual=residual, norm=spec.norm,
                 zero_gamma=zero_gamma, dtype=dtype.name, samples=samples, theory=theory)

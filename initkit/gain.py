"""``calculate_gain``: the recommended scale factor for a nonlinearity.

The numbers are PyTorch's ``torch.nn.init.calculate_gain`` table. Linear-like layers are
listed here; every other name is looked up among the registered activations, whose
built-ins carry PyTorch's gains, so a plugin activation gets a gain too.
"""

from __future__ import annotations

import math
from numbers import Real

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

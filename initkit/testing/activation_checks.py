"""The contract checks a registered activation must pass (used by ``initkit check-plugin``).

An activation is ``phi(x)`` with its derivative ``phi'(x)`` (backprop multiplies by it) and a
gain. The derivative is checked against the central difference
(phi(x + h) - phi(x - h)) / (2h), whose error is O(h^2 phi''') (plus rounding ~eps/h), at
fixed random points; points closer than 1e-3 to 0 are left out, where ReLU-like
activations have their kink.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ..gain import PYTORCH_GAINS, fixed_point_gain, leaky_relu_gain
from ..registry import Activation

ActivationCheck = Callable[[Activation], None]

STEP = 1e-5
SEED = 20240611


def _points() -> np.ndarray:
    x = np.random.default_rng(SEED).normal(0.0, 3.0, 2000)
    return x[np.abs(x) > 1e-3]


def check_activation_shape_dtype(act: Activation) -> None:
    """phi and phi' keep the input's shape and dtype (float32 stays float32)."""
    for dtype in (np.float32, np.float64):
        x = np.linspace(-3, 3, 24, dtype=dtype).reshape(4, 6)
        for label, fn in (("phi", act.fn), ("derivative", act.derivative)):
            out = np.asarray(fn(x))
            if out.shape != x.shape or out.dtype != x.dtype:
                raise AssertionError(f"{label} of a {dtype.__name__} array of shape {x.shape}: "
                                     f"expected the same shape and dtype, got {out.shape} "
                                     f"{out.dtype}")


def check_activation_finite(act: Activation) -> None:
    """phi and phi' are finite for large inputs too (|x| up to 1e3, no overflow to inf/NaN)."""
    x = np.array([-1e3, -80.0, -30.0, -1.0, 0.0, 1.0, 30.0, 80.0, 1e3])
    with np.errstate(all="ignore"):
        for label, fn in (("phi", act.fn), ("derivative", act.derivative)):
            out = np.asarray(fn(x), dtype=np.float64)
            bad = x[~np.isfinite(out)]
            if bad.size:
                raise AssertionError(f"{label}: expected finite values, measured NaN or inf "
                                     f"at x = {bad.tolist()}")


def check_activation_derivative(act: Activation) -> None:
    """The registered derivative matches the central finite difference of phi."""
    x = _points()
    numeric = (act.fn(x + STEP) - act.fn(x - STEP)) / (2 * STEP)
    analytic = np.asarray(act.derivative(x), dtype=np.float64)
    err = np.abs(numeric - analytic) / (1.0 + np.abs(numeric))
    worst = int(np.argmax(err))
    if not err[worst] <= 1e-5:
        raise AssertionError(
            f"expected derivative(x) = (phi(x+h) - phi(x-h)) / 2h (h = {STEP:g}), measured "
            f"derivative({x[worst]:.4g}) = {analytic[worst]:.6g} against the finite difference "
            f"{numeric[worst]:.6g}")


def check_activation_gain(act: Activation) -> None:
    """The gain follows the one rule (``initkit.gain``): PyTorch's value where PyTorch's
    calculate_gain defines one, otherwise the fixed-point gain 1 / sqrt(E[phi(z)^2]),
    z ~ N(0, 1), within relative 1e-6 (the integral is good to ~1e-10)."""
    gain = act.gain_for()
    if not (math.isfinite(gain) and gain > 0):
        raise AssertionError(f"expected a finite gain > 0, measured {gain!r}")
    name = act.name.lower()
    if name in PYTORCH_GAINS or name == "leaky_relu":
        param = next(iter(act.params.values()), 0.01)
        expected = leaky_relu_gain(param) if name == "leaky_relu" else float(PYTORCH_GAINS[name])
        rule = "PyTorch's calculate_gain value"
    else:
        expected = fixed_point_gain(act.fn, **dict(act.params))
        rule = "the fixed-point gain 1 / sqrt(E[phi(z)^2]), z ~ N(0, 1)"
    if not abs(gain - expected) <= 1e-6 * expected:
        raise AssertionError(f"expected gain {expected:.10g} ({rule}), measured {gain:.10g}; "
                             f"register it with gain={expected:.16g}")


ACTIVATION_CHECKS: tuple[ActivationCheck, ...] = (
    check_activation_shape_dtype, check_activation_finite, check_activation_derivative,
    check_activation_gain,
)


def activation_checks(act: Activation) -> list[ActivationCheck]:
    """The checks that apply to ``act`` (all of them)."""
    return list(ACTIVATION_CHECKS)

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
    """The gain is a finite positive number (what ``calculate_gain`` returns for it)."""
    gain = act.gain_for()
    if not (math.isfinite(gain) and gain > 0):
        raise AssertionError(f"expected a finite gain > 0, measured {gain!r}")


ACTIVATION_CHECKS: tuple[ActivationCheck, ...] = (
    check_activation_shape_dtype, check_activation_finite, check_activation_derivative,
    check_activation_gain,
)


def activation_checks(act: Activation) -> list[ActivationCheck]:
    """The checks that apply to ``act`` (all of them)."""
    return list(ACTIVATION_CHECKS)

"""Checks a student can read: each failure is one sentence that says what is wrong.

The visible tests of the exercise notebooks call these; the hidden graders use
:func:`diagnose` too, so feedback names the usual mistake it recognises ("did you use
fan_in alone?") the way a teaching assistant would, instead of a bare ``AssertionError``.

Statistical checks take their tolerance from the sample itself: the sample variance
``v`` of ``n`` draws has standard error ``sqrt((m4 - v^2) / n)`` (``m4`` the sample's
fourth central moment), and a check passes within :data:`N_SE` of them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

#: Standard errors a statistical check allows (a false alarm about once in 1.7 million).
N_SE = 5.0


class CheckFailed(AssertionError):
    """A check failed; the message is one sentence for the student."""


def diagnose(measured: float, mistakes: Mapping[str, float] | None,
             tolerance: float) -> str | None:
    """The named mistake whose predicted value explains ``measured``, if one does.

    Args:
        measured: what the student's code gave.
        mistakes: phrase that completes "did you ...?" -> the value that mistake gives.
        tolerance: how far from a prediction still counts as that mistake.

    Returns:
        The phrase of the closest prediction within ``tolerance``, else None.

    Example:
        >>> diagnose(0.01, {"use fan_in alone": 0.01, "use fan_out alone": 0.02}, 1e-3)
        'use fan_in alone'
    """
    best, best_gap = None, math.inf
    for phrase, predicted in (mistakes or {}).items():
        gap = abs(float(measured) - float(predicted))
        if gap <= tolerance and gap < best_gap:
            best, best_gap = phrase, gap
    return best


def _hint(phrase: str | None) -> str:
    return f" - did you {phrase}?" if phrase else ""


def check_shape(value: Any, shape: tuple[int, ...], what: str) -> np.ndarray:
    """``value`` is a numpy array of exactly ``shape`` (a transposed shape is named)."""
    if not isinstance(value, np.ndarray):
        raise CheckFailed(f"{what} should return a numpy array, got {type(value).__name__}")
    if tuple(value.shape) != tuple(shape):
        hint = " - the (in, out) layout? PyTorch's is (out, in)" \
            if tuple(value.shape) == tuple(shape)[::-1] else ""
        raise CheckFailed(f"{what} has shape {tuple(value.shape)}; it should be "
                          f"{tuple(shape)}{hint}")
    return value


def check_close(got: Any, want: float | np.ndarray, what: str, *, rtol: float = 1e-6,
                atol: float = 0.0, formula: str = "",
                mistakes: Mapping[str, float] | None = None) -> None:
    """``got`` equals ``want`` within ``rtol``/``atol``; else a sentence with both numbers.

    Args:
        got: the student's value (a number or an array).
        want: the right value.
        what: how to name the value ("constant_init((3, 4), 0.5)[0, 0]").
        rtol, atol: tolerances, as :func:`numpy.allclose`.
        formula: the rule ``want`` comes from, quoted in the sentence.
        mistakes: "did you ...?" phrase -> the (scalar) value that mistake gives.
    """
    g = np.asarray(got, dtype=float)
    w = np.asarray(want, dtype=float)
    if g.shape != w.shape:
        raise CheckFailed(f"{what} has shape {g.shape}; it should be {w.shape}")
    if not np.all(np.isfinite(g)):
        raise CheckFailed(f"{what} contains NaN or infinity")
    if np.allclose(g, w, rtol=rtol, atol=atol):
        return
    rule = f"; {formula}" if formula else ""
    if g.ndim == 0:
        phrase = diagnose(float(g), mistakes, max(atol, rtol * abs(float(g)), 1e-12) * 10)
        raise CheckFailed(f"{what} is {float(g):.6g}, expected {float(w):.6g}{rule}"
                          f"{_hint(phrase)}")
    worst = int(np.argmax(np.abs(g - w).ravel()))
    index = np.unravel_index(worst, g.shape)
    raise CheckFailed(f"{what} differs at index {tuple(int(i) for i in index)}: "
                      f"{g[index]:.6g} instead of {w[index]:.6g}{rule}")


def sample_variance(sample: Any) -> tuple[float, float]:
    """``(variance, standard error of it)`` of a sample (all entries)."""
    x = np.asarray(sample, dtype=float).ravel()
    if x.size < 2:
        raise CheckFailed("a sample of fewer than 2 numbers has no variance")
    centred = x - x.mean()
    var = float(np.mean(centred**2))
    m4 = float(np.mean(centred**4))
    return var, math.sqrt(max(m4 - var**2, 0.0) / x.size)


def check_normal(sample: Any, what: str) -> None:
    """The sample looks like zero-mean normal draws: mean 0 within :data:`N_SE` standard
    errors (``sqrt(v / n)``) and kurtosis 3 within :data:`N_SE` of a normal sample's
    ``sqrt(24 / n)``; uniform draws (kurtosis 1.8) are named."""
    x = np.asarray(sample, dtype=float).ravel()
    var, _ = sample_variance(x)
    mean = float(x.mean())
    if abs(mean) > N_SE * math.sqrt(var / x.size):
        raise CheckFailed(f"{what} has mean {mean:.4f}; the weights should have mean 0")
    kurtosis = float(np.mean((x - mean) ** 4) / var**2)
    kurtosis_se = math.sqrt(24.0 / x.size)
    if abs(kurtosis - 3.0) > N_SE * kurtosis_se:
        phrase = diagnose(kurtosis, {"draw from a uniform distribution instead of a normal "
                                     "one": 1.8}, N_SE * kurtosis_se)
        raise CheckFailed(f"{what}'s draws have kurtosis {kurtosis:.2f}; a normal "
                          f"distribution's is 3{_hint(phrase)}")


def check_variance(sample: Any, variance: float, what: str, *, formula: str = "",
                   mistakes: Mapping[str, float] | None = None) -> None:
    """The sample's variance equals ``variance`` within :data:`N_SE` standard errors.

    The failure names the mistake whose predicted variance explains the sample, e.g.
    ``xavier_normal((300, 100)) has variance 0.0100; Glorot's is 2/(fan_in + fan_out) =
    0.0050 - did you use fan_in alone?``.
    """
    var, se = sample_variance(sample)
    if not math.isfinite(var):
        raise CheckFailed(f"{what} contains NaN or infinity")
    if abs(var - variance) <= N_SE * se:
        return
    rule = f"{formula} = {variance:.4g}" if formula else f"it should be {variance:.4g}"
    phrase = diagnose(var, mistakes, N_SE * se)
    raise CheckFailed(f"{what} has variance {var:.4g}; {rule}{_hint(phrase)}")

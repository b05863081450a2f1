"""The contract checks an initializer must pass, one function each (as scikit-learn's
``sklearn/utils/estimator_checks.py``).

Each check takes an :class:`initkit.Initializer` and returns ``None`` when it passes. It
raises ``AssertionError`` with a message that says what was expected and what was measured
when it fails, and :class:`CheckSkipped` (pytest's skip exception, which pytest reports as
a skip with its reason) when the initializer lacks the metadata the check needs. Checks call
the plugin's function directly (not ``Initializer.__call__``, which would turn a wrong shape
into a ``PluginError`` before the shape check could describe it), always with a fresh
``numpy.random.default_rng(seed)`` and fixed seeds, so every result is reproducible.

Which checks apply (:func:`initializer_checks`): the core contract (shape, dtype, finite,
seeds, global random state, undefined fans, variance, mean) applies to every initializer;
a check of an optional property runs only when the initializer has it: ``gain`` and
``mode`` when its function takes those parameters, orthogonality when it is registered with
``orthogonal=True``.
"""

from __future__ import annotations

import functools
import inspect
import math
import random
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

from ..errors import InitkitError
from ..fans import as_shape, compute_fans
from ..registry import Initializer, get_activation
from .stats import SIGMAS, mean_square, sample_mean, sample_variance

Check = Callable[[Initializer], None]

#: Shapes every initializer must return exactly: dense (square, wide, tall, 1x1) and
#: conv 1-D / 2-D / 3-D in PyTorch's layout (out, in, *kernel).
SHAPES: tuple[tuple[int, ...], ...] = (
    (32, 16), (16, 32), (7, 7), (1, 1), (8, 4, 3), (8, 4, 3, 3), (4, 2, 3, 3, 3),
)
#: Shapes on which the declared variance and mean are measured (about 1e5 entries each:
#: the 5-sigma tolerance is then ~2% of the variance for a Gaussian).
DENSE = (200, 600)
CONV = (64, 32, 5, 5)
#: An orthogonal weight is flattened to (out, in * k * k) = (out, fan_in), so the variance of
#: its entries is gain^2 / max(out, fan_in): for a conv shape that is neither 1 / fan_in nor
#: 1 / max(fan_in, fan_out). Measured on wide and tall dense and conv shapes, so a declared
#: variance that holds for dense layers only is caught.
ORTHOGONAL_SHAPES = ((200, 600), (600, 200), CONV, (800, 8, 3, 3))
SEED = 20240611


#: Raised by a check that cannot run for this initializer; the message says why. It is
#: pytest's own skip exception, so under pytest the check shows as skipped with that reason
#: (``pytest -rs``), and :func:`initkit.testing.check_initializer` reports it as skipped.
CheckSkipped = pytest.skip.Exception


def _global_states() -> tuple[Any, Any]:
    return np.random.get_state(), random.getstate()


def contract_check(check: Check) -> Check:
    """Mark a check: it leaves numpy's and Python's global random states as it found them.

    (A plugin that draws from the global RNG would otherwise shift every later test's
    numbers; check_global_rng_untouched reports it, the other checks must not spread it.)
    """

    @functools.wraps(check)
    def run(init: Initializer) -> None:
        __tracebackhide__ = True
        saved = _global_states()
        try:
            check(init)
        finally:
            np.random.set_state(saved[0])
            random.setstate(saved[1])

    return run


def _name(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(int(d)) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _draw(init: Initializer, shape: Sequence[int], seed: int = SEED,
          **params: Any) -> np.ndarray:
    """Call the plugin's function with a fresh Generator; insist on an ndarray."""
    __tracebackhide__ = True
    out = init.fn(as_shape(shape), np.random.default_rng(seed), **params)
    if not isinstance(out, np.ndarray):
        raise AssertionError(f"shape {_name(shape)}: expected a numpy array, "
                             f"got {type(out).__name__}")
    return out


def _params_of(init: Initializer) -> dict[str, inspect.Parameter]:
    try:
        return dict(inspect.signature(init.fn).parameters)
    except (TypeError, ValueError):  # builtins without a signature
        return {}


def accepts(init: Initializer, param: str) -> bool:
    """True when the initializer's function has a parameter named ``param``."""
    return param in _params_of(init)


def _declared(init: Initializer, what: str, shape: Sequence[int],
              **params: Any) -> float | None:
    """The declared variance or mean for ``shape``; a crash in the metadata is a failure."""
    __tracebackhide__ = True
    try:
        if what == "variance":
            return init.target_variance(shape, **params)
        return init.target_mean(shape, **params)
    except Exception as exc:
        args = "".join(f", {k}={v!r}" for k, v in params.items())
        raise AssertionError(f"its declared {what}(fan_in, fan_out{args}) raised "
                             f"{type(exc).__name__}: {exc} for shape {_name(shape)}") from exc


def _require_variance(init: Initializer) -> float:
    target = _declared(init, "variance", DENSE)
    if target is None:
        raise CheckSkipped(
            f"{init.name!r} declares no variance, so its scale cannot be compared with a "
            "target; register it with variance=lambda fan_in, fan_out: ... to enable this check")
    return target


def _compare(what: str, label: str, measured: Any, target: float) -> None:
    __tracebackhide__ = True
    if not measured.agrees_with(target):
        ratio = (f" (measured / expected = {measured.value / target:.4g})"
                 if target and math.isfinite(measured.value) else "")
        raise AssertionError(
            f"{label}: expected {what} {target:.6g}, measured {measured.value:.6g} over "
            f"{measured.n} entries{ratio}; allowed |difference| <= "
            f"{measured.tolerance(target):.3g} ({measured.sigmas:g} standard errors)")


# --- the core contract: every initializer ----------------------------------------------


@contract_check
def check_metadata(init: Initializer) -> None:
    """The activation it is meant for is registered; a declared variance is a finite number >= 0."""
    try:
        get_activation(init.activation)
    except InitkitError as exc:
        raise AssertionError(f"expected activation={init.activation!r} to be a registered "
                             f"activation (simulate uses it by default): {exc}") from None
    target = _declared(init, "variance", DENSE)
    if target is not None and not (math.isfinite(target) and target >= 0):
        raise AssertionError(f"expected its declared variance for shape {_name(DENSE)} to be "
                             f"a finite number >= 0, got {target!r}")


@contract_check
def check_returns_requested_shape(init: Initializer) -> None:
    """Dense ``(out, in)`` and conv ``(out, in, *kernel)`` shapes come back exactly."""
    wrong = []
    for shape in SHAPES:
        out = _draw(init, shape)
        if out.shape != shape:
            wrong.append(f"shape {_name(shape)} gave {_name(out.shape)}")
    if wrong:
        raise AssertionError("expected an array of exactly the requested shape (layout "
                             "(out, in, *kernel)), measured: " + "; ".join(wrong))


@contract_check
def check_dtype(init: Initializer) -> None:
    """``dtype=float32`` and ``dtype=float64`` are honoured."""
    for dtype in (np.float32, np.float64):
        for shape in ((16, 8), (8, 4, 3, 3)):
            out = _draw(init, shape, dtype=dtype)
            if out.dtype != np.dtype(dtype):
                raise AssertionError(f"shape {_name(shape)}, dtype={np.dtype(dtype).name}: "
                                     f"expected an array of dtype {np.dtype(dtype).name}, "
                                     f"got {out.dtype}")


@contract_check
def check_finite(init: Initializer) -> None:
    """No NaN or inf, also for 1x1, very wide and conv shapes."""
    for shape in ((1, 1), (3, 500), (500, 3), DENSE, (64, 32, 3, 3)):
        out = _draw(init, shape)
        bad = int(np.size(out) - np.count_nonzero(np.isfinite(out)))
        if bad:
            raise AssertionError(f"shape {_name(shape)}: expected only finite entries, "
                                 f"measured {bad} of {out.size} NaN or inf")


@contract_check
def check_seed_reproducible(init: Initializer) -> None:
    """Two calls with ``default_rng(seed)`` of the same seed give the same array."""
    for shape in ((32, 16), (8, 4, 3, 3)):
        a, b = _draw(init, shape, seed=7), _draw(init, shape, seed=7)
        if a.shape != b.shape or not np.array_equal(a, b, equal_nan=True):
            diff = (f"max |difference| {np.nanmax(np.abs(a - b)):.3g}" if a.shape == b.shape
                    else f"shapes {a.shape} and {b.shape}")
            raise AssertionError(
                f"shape {_name(shape)}: expected the same array from two calls with "
                f"numpy.random.default_rng(7), measured different arrays ({diff}); draw all "
                "randomness from the rng argument")


@contract_check
def check_seeds_differ(init: Initializer) -> None:
    """Different seeds give different arrays when the declared variance is > 0 (equal when 0).

    With no declared variance the array's own spread decides: a non-constant array that is
    the same for two seeds was not drawn from ``rng`` (a constant one may be deterministic).
    """
    shape = (32, 16)
    target = _declared(init, "variance", shape)
    a, b = _draw(init, shape, seed=0), _draw(init, shape, seed=1)
    same = a.shape == b.shape and np.array_equal(a, b)
    if target is None:
        if same and a.size and np.ptp(a) > 0 and not _is_deterministic_pattern(a):
            raise AssertionError(
                f"shape {_name(shape)}: expected different arrays from default_rng(0) and "
                "default_rng(1) (the array is not constant, so it looks random), measured "
                "identical arrays; the initializer ignores its rng argument (draw from rng, "
                "not from a generator of your own), or declare variance=0 if it is meant to "
                "be deterministic")
        return
    if target > 0 and same:
        raise AssertionError(
            f"shape {_name(shape)}: expected different arrays from default_rng(0) and "
            f"default_rng(1) (declared variance {target:.3g} > 0), measured identical arrays; "
            "the initializer ignores its rng argument (draw from rng, not from a generator "
            "of your own)")
    if target == 0 and not same:
        raise AssertionError(
            f"shape {_name(shape)}: declared variance 0 (deterministic), so expected the "
            "same array for default_rng(0) and default_rng(1), measured different arrays")


def _is_deterministic_pattern(a: np.ndarray) -> bool:
    """Only zeros and one repeated value (identity, Dirac): a deterministic structure."""
    return np.unique(a).size <= 2


def _same_numpy_state(a: Any, b: Any) -> bool:
    return (a[0] == b[0] and np.array_equal(a[1], b[1]) and a[2:] == b[2:])


@contract_check
def check_global_rng_untouched(init: Initializer) -> None:
    """The call leaves numpy's global random state (and Python's ``random``) unchanged."""
    saved = _global_states()
    try:
        np.random.seed(SEED)
        random.seed(SEED)
        before = _global_states()
        for shape in ((32, 16), (8, 4, 3, 3)):
            _draw(init, shape)
        after = _global_states()
    finally:
        np.random.set_state(saved[0])
        random.setstate(saved[1])
    if not _same_numpy_state(before[0], after[0]):
        raise AssertionError("expected numpy's global random state to be unchanged by the "
                             "call, measured a changed state (np.random.seed / np.random.* "
                             "was used); draw every number from the rng argument")
    if before[1] != after[1]:
        raise AssertionError("expected Python's random module state to be unchanged by the "
                             "call, measured a changed state; draw from the rng argument")


@contract_check
def check_undefined_fans(init: Initializer) -> None:
    """A 1-D shape raises a typed initkit error (``FanError``) if the scale depends on the fans.

    An initializer whose declared variance does not depend on the fans (``normal``,
    ``zeros``, ...) or that declares none may instead return the 1-D array (a bias vector);
    any other exception (an ``IndexError`` from ``shape[1]``) fails.
    """
    shape = (10,)
    fan_based = False  # without a declared variance there is no telling: accept both
    if init.variance is not None:
        try:
            fan_based = init.variance(100, 100) != init.variance(400, 50)
        except Exception:  # metadata errors are check_metadata's to report
            fan_based = True
    try:
        out = _draw(init, shape)
    except InitkitError:
        return
    except Exception as exc:
        raise AssertionError(
            f"shape {_name(shape)}: expected initkit.FanError (call initkit.compute_fans("
            "shape), which raises it with a message that says what to do)"
            + ("" if fan_based else " or an array of that shape")
            + f", measured {type(exc).__name__}: {exc}") from None
    if fan_based:
        raise AssertionError(
            f"shape {_name(shape)}: fans are undefined for a 1-D shape and the declared scale "
            f"depends on them, so expected initkit.FanError, measured a returned array of "
            f"shape {_name(out.shape)}")
    if out.shape != shape or not np.all(np.isfinite(out)):
        raise AssertionError(f"shape {_name(shape)}: expected initkit.FanError or a finite "
                             f"array of that shape, measured shape {_name(out.shape)}")


def _moment_shapes(init: Initializer) -> tuple[tuple[int, ...], ...]:
    return ORTHOGONAL_SHAPES if init.orthogonal else (DENSE, CONV)


@contract_check
def check_variance(init: Initializer) -> None:
    """The empirical variance is within 5 standard errors of the declared variance.

    Measured on a dense and a conv shape of ~1e5 entries (wide and tall dense and conv
    shapes for orthogonal initializers); the standard error uses the sample's own fourth moment
    (``initkit.testing.stats``).
    """
    _require_variance(init)
    for shape in _moment_shapes(init):
        target = _declared(init, "variance", shape)
        fan_in, fan_out = compute_fans(shape)
        _compare("variance", f"shape {_name(shape)} (fan_in={fan_in}, fan_out={fan_out})",
                 sample_variance(_draw(init, shape)), target)


@contract_check
def check_mean(init: Initializer) -> None:
    """The empirical mean is within 5 standard errors of the declared mean (0 by default)."""
    if _declared(init, "mean", DENSE) is None:
        raise CheckSkipped(f"{init.name!r} declares neither a mean nor a variance, so there "
                           "is no target to compare with; register it with variance=... "
                           "(and mean=... if it is not zero)")
    for shape in _moment_shapes(init):
        _compare("mean", f"shape {_name(shape)}", sample_mean(_draw(init, shape)),
                 _declared(init, "mean", shape))


# --- optional properties: only when the initializer has them ----------------------------


def _default(init: Initializer, param: str, fallback: Any) -> Any:
    value = _params_of(init)[param].default
    return fallback if value is inspect.Parameter.empty else value


def _scale_ratio(label: str, low: np.ndarray, high: np.ndarray, expected: float) -> None:
    """mean(high^2) / mean(low^2) must be ``expected`` within 5 standard errors."""
    __tracebackhide__ = True
    a, b = mean_square(low), mean_square(high)
    ratio = b.value / a.value if a.value else math.inf
    rel_se = math.hypot(a.stderr / a.value if a.value else math.inf,
                        b.stderr / b.value if b.value else math.inf)
    if not abs(ratio - expected) <= SIGMAS * rel_se * expected + 1e-9 * expected:
        raise AssertionError(f"{label}: expected mean(w^2) to scale by {expected:.6g}, "
                             f"measured {ratio:.6g} (allowed |difference| <= "
                             f"{SIGMAS * rel_se * expected:.3g}, {SIGMAS:g} standard errors)")


@contract_check
def check_gain_scales(init: Initializer) -> None:
    """``gain`` multiplies the weights' scale: variance x gain^2, and as declared."""
    base = _default(init, "gain", 1.0)
    base = base if isinstance(base, int | float) and base > 0 else 1.0
    shape = DENSE
    reference = _draw(init, shape, gain=base)
    for gain in (0.5, 3.0):
        weights = _draw(init, shape, gain=gain)
        _scale_ratio(f"gain={gain} vs gain={base} on shape {_name(shape)}", reference,
                     weights, (gain / base) ** 2)
        target = _declared(init, "variance", shape, gain=gain)
        if target is not None:
            _compare("variance", f"gain={gain}, shape {_name(shape)}",
                     sample_variance(weights), target)


@contract_check
def check_mode_fan(init: Initializer) -> None:
    """``mode="fan_out"`` scales the variance by fan_in / fan_out relative to ``"fan_in"``."""
    shape = (128, 1024)
    fan_in, fan_out = compute_fans(shape)
    by_mode = {mode: _draw(init, shape, mode=mode) for mode in ("fan_in", "fan_out")}
    _scale_ratio(f"mode='fan_out' vs mode='fan_in' on shape {_name(shape)} (fan_in={fan_in}, "
                 f"fan_out={fan_out})", by_mode["fan_in"], by_mode["fan_out"], fan_in / fan_out)
    for mode, weights in by_mode.items():
        target = _declared(init, "variance", shape, mode=mode)
        if target is not None:
            _compare("variance", f"mode={mode!r}, shape {_name(shape)}",
                     sample_variance(weights), target)


@contract_check
def check_orthogonal(init: Initializer) -> None:
    """Declared orthogonal: W W^T = gain^2 I (square or wide), W^T W = gain^2 I (tall)."""
    gains = [_default(init, "gain", 1.0) if accepts(init, "gain") else 1.0]
    if accepts(init, "gain"):
        gains.append(2.0)
    for shape in ((64, 64), (32, 96), (96, 32)):
        for gain in gains:
            params = {"gain": gain} if accepts(init, "gain") else {}
            w = _draw(init, shape, dtype=np.float64, **params).reshape(shape[0], -1)
            wide = w.shape[0] <= w.shape[1]
            gram = w @ w.T if wide else w.T @ w
            err = float(np.max(np.abs(gram - gain * gain * np.eye(len(gram)))))
            if not err <= 1e-8 * gain * gain * max(w.shape):
                product = "W @ W.T" if wide else "W.T @ W"
                raise AssertionError(
                    f"shape {_name(shape)}, gain={gain}: expected {product} = {gain * gain:g} "
                    f"* I ({'wide or square' if wide else 'tall'}), measured max |{product} - "
                    f"{gain * gain:g} I| = {err:.3g}")


CORE_CHECKS: tuple[Check, ...] = (
    check_metadata, check_returns_requested_shape, check_dtype, check_finite,
    check_seed_reproducible, check_seeds_differ, check_global_rng_untouched,
    check_undefined_fans, check_variance, check_mean,
)


def initializer_checks(init: Initializer) -> list[Check]:
    """The checks that apply to ``init``: the core contract plus its optional properties."""
    checks = list(CORE_CHECKS)
    if accepts(init, "gain"):
        checks.append(check_gain_scales)
    if accepts(init, "mode"):
        checks.append(check_mode_fan)
    if init.orthogonal:
        checks.append(check_orthogonal)
    return checks

"""The contract checks an initializer must pass, one function each (as scikit-learn's
``sklearn/utils/estimator_checks.py``).

Each check takes an :class:`initkit.Initializer` and returns ``None`` when it passes. It
raises ``AssertionError`` with a message that says what was expected and what was measured
when it fails, and :class:`CheckSkipped` (pytest's skip exception, which pytest reports as
a skip with its reason) when the initializer lacks the metadata the check needs. Checks call
the plugin's function directly (not ``Initializer.__call__``, which would turn a wrong shape
into a ``PluginError`` before the shape check could describe it), always with a fresh
``numpy.random.default_rng(seed)`` and fixed seeds, so every result is reproducible.

Which checks apply (:func:`initializer_checks`): the core contract (signature, shape,
dtype, finite, global random state, undefined fans) applies to every initializer; a random
one (the default) adds the randomness checks (same seed same array, other seeds other
arrays, the rng advanced) and the statistical ones (variance with the kurtosis of the same
sample, mean with the spread of its row means), a ``deterministic=True`` one its own (the
same array for every rng, the rng untouched, the declared E[W^2] exactly). A check of an
optional property runs only when the initializer has it: ``gain`` and ``mode`` when its
function takes those parameters, orthogonality when it is registered with
``orthogonal=True``.

Statistical checks take their tolerance from the declared (target) distribution, never from
the sample (``initkit.testing.stats``); each states its false-failure rate, measured by
``tests/test_testing.py::test_false_failure_rates`` over 200 seeds on correct built-ins.
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

from ..errors import InitkitError, PluginCallError
from ..fans import as_shape, compute_fans
from ..plugin_calls import plugin_frame
from ..registry import Initializer, get_activation
from .stats import (
    FALSE_FAILURE_RATE,
    SIGMAS,
    diagnose,
    mean_square,
    row_spread,
    sample_kurtosis,
    sample_mean,
    sample_variance,
    standard_shape,
)

Check = Callable[[Initializer], None]

#: Shapes every initializer must return exactly: dense (square, wide, tall, 1x1) and
#: conv 1-D / 2-D / 3-D in PyTorch's layout (out, in, *kernel), odd and even kernel sizes
#: (an even kernel has no centre tap: a plugin that assumes one breaks there).
SHAPES: tuple[tuple[int, ...], ...] = (
    (32, 16), (16, 32), (7, 7), (1, 1), (8, 4, 3), (8, 4, 3, 3), (4, 2, 3, 3, 3),
    (8, 4, 2), (8, 4, 2, 2), (8, 4, 4, 4), (4, 2, 2, 2, 2),
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
    def run(init: Initializer, **kwargs: Any) -> None:
        __tracebackhide__ = True
        saved = _global_states()
        try:
            check(init, **kwargs)
        finally:
            np.random.set_state(saved[0])
            random.setstate(saved[1])

    return run


def _name(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(int(d)) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _draw(init: Initializer, shape: Sequence[int], seed: int | np.random.Generator = SEED,
          **params: Any) -> np.ndarray:
    """Call the plugin's function with a fresh Generator; insist on an ndarray.

    An exception inside the plugin becomes a PluginCallError whose message names the
    requested shape, the parameters and the plugin's own frame (file:line).
    """
    __tracebackhide__ = True
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    try:
        out = init.fn(as_shape(shape), rng, **params)
    except InitkitError:
        raise
    except Exception as exc:
        raise init.failure(exc, as_shape(shape), params) from exc
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


def _compare(what: str, label: str, measured: Any, target: float, sample: Any = None,
             why: str = "") -> None:
    __tracebackhide__ = True
    if not measured.agrees_with(target):
        ratio = (f" (measured / expected = {measured.value / target:.4g})"
                 if target and math.isfinite(measured.value) else "")
        found = diagnose(sample) if sample is not None else ""
        raise AssertionError(
            f"{label}: expected {what} {target:.6g}, measured {measured.value:.6g} over "
            f"{measured.n} entries{ratio}; allowed |difference| <= "
            f"{measured.tolerance(target):.3g} ({measured.sigmas:g} standard errors of the "
            f"declared distribution)" + (f"; {found}" if found else "") + why)


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
    """The weights come from ``rng``: other seeds give other arrays, and the rng advances.

    With check_seed_reproducible (the same seed gives the same array) this is the
    randomness check: an initializer that ignores ``rng`` and draws from a generator of its
    own (seeded: the same array for every seed; unseeded: a different array for the same
    seed) fails one of the two, and one that draws nothing leaves the rng's
    ``bit_generator.state`` as it was. A deterministic initializer registers
    ``deterministic=True`` and gets :func:`check_deterministic` instead.
    """
    shape = (32, 16)
    rng = np.random.default_rng(0)
    before = rng.bit_generator.state
    a = _draw(init, shape, seed=rng)
    advanced = rng.bit_generator.state != before
    b = _draw(init, shape, seed=1)
    if a.shape == b.shape and np.array_equal(a, b):
        raise AssertionError(
            f"shape {_name(shape)}: expected different arrays from default_rng(0) and "
            "default_rng(1), measured identical arrays; the initializer ignores its rng "
            "argument (draw from rng, not from a generator of your own), or, if it is meant "
            "to draw nothing, register it with deterministic=True")
    if not advanced:
        raise AssertionError(
            f"shape {_name(shape)}: expected the rng's state to advance (every random number "
            "comes from rng), measured rng.bit_generator.state unchanged by the call; the "
            "initializer draws from a generator of its own")


@contract_check
def check_deterministic(init: Initializer) -> None:
    """``deterministic=True``: the same array for every rng, and the rng left untouched."""
    for shape in ((32, 16), (16, 32), (8, 4, 3, 3), (8, 4, 2, 2)):
        rng = np.random.default_rng(12345)
        before = rng.bit_generator.state
        reference = _draw(init, shape, seed=rng)
        if rng.bit_generator.state != before:
            raise AssertionError(
                f"shape {_name(shape)}: declared deterministic=True, so expected the rng "
                "untouched, measured a changed rng.bit_generator.state (it drew from rng); "
                "a random initializer must not declare deterministic=True")
        for seed in (0, 1, 2**63):
            other = _draw(init, shape, seed=seed)
            if other.shape != reference.shape or not np.array_equal(other, reference,
                                                                    equal_nan=True):
                raise AssertionError(
                    f"shape {_name(shape)}: declared deterministic=True, so expected the same "
                    f"array for every rng, measured a different one for default_rng({seed}) "
                    "than for default_rng(12345)")


@contract_check
def check_second_moment(init: Initializer) -> None:
    """``deterministic=True``: mean(W^2) equals the declared ``variance`` (E[W^2]) exactly.

    A deterministic initializer's ``variance`` declares the second moment per fan, the mean
    of its squared entries (what the theory uses as sigma_w^2 / fan_in); it is a property of
    the one array, so it is compared to rounding (relative 1e-9), and so is a declared mean.
    """
    if init.variance is None:
        raise CheckSkipped(
            f"{init.name!r} declares no second moment, so its scale cannot be compared; "
            "register it with variance=lambda fan_in, fan_out: <mean of W**2>")
    for shape in ((32, 16), (16, 32), (7, 7), DENSE, (8, 4, 3, 3), (8, 4, 2, 2), CONV):
        w = _draw(init, shape).astype(np.float64)
        fan_in, fan_out = compute_fans(shape)
        label = f"shape {_name(shape)} (fan_in={fan_in}, fan_out={fan_out})"
        target = _declared(init, "variance", shape)
        measured = float(np.mean(w * w))
        if not abs(measured - target) <= 1e-9 * max(abs(target), abs(measured), 1e-300):
            raise AssertionError(f"{label}: expected mean(W^2) = the declared second moment "
                                 f"{target:.6g}, measured {measured:.6g}")
        if init.mean is not None:
            mean_target = _declared(init, "mean", shape)
            mean = float(np.mean(w))
            if not abs(mean - mean_target) <= 1e-9 * max(abs(mean_target), abs(mean), 1e-300):
                raise AssertionError(f"{label}: expected mean(W) = the declared mean "
                                     f"{mean_target:.6g}, measured {mean:.6g}")


@contract_check
def check_signature(init: Initializer) -> None:
    """``fn(shape, rng, ..., dtype=...)``, and ``variance`` / ``mean`` take every parameter
    ``fn`` takes (the CLI passes ``--init NAME:KEY=VALUE`` to all three)."""
    params = _params_of(init)
    if not params:
        return  # a builtin without a readable signature: nothing to check
    kinds = list(params.values())
    positional = [p for p in kinds if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    var_positional = any(p.kind is p.VAR_POSITIONAL for p in kinds)
    if len(positional) < 2 and not var_positional:
        raise AssertionError(f"expected the function to take (shape, rng, ..., dtype), measured "
                             f"the signature {init.name}{inspect.signature(init.fn)}")
    var_keyword = any(p.kind is p.VAR_KEYWORD for p in kinds)
    if "dtype" not in params and not var_keyword:
        raise AssertionError(f"expected a dtype keyword (fn(shape, rng, ..., dtype=np.float64)),"
                             f" measured the signature {init.name}{inspect.signature(init.fn)}")
    own = {name: (p.default if p.default is not inspect.Parameter.empty else 1.0)
           for name, p in list(params.items())[2:]
           if name != "dtype" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    for key in ("variance", "mean", "distribution"):
        target = getattr(init, key)
        if target is None or not callable(target) or hasattr(target, "expect"):
            continue
        try:
            signature = inspect.signature(target)
        except (TypeError, ValueError):
            continue
        if any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
            continue
        missing = [name for name in own if name not in signature.parameters]
        if missing:
            names = ", ".join(repr(m) for m in missing)
            example = ", ".join(f"{m}={own[m]!r}" for m in missing)
            raise AssertionError(
                f"expected its declared {key} to take every parameter the function takes, "
                f"measured {key}{signature} without {names}: `--init "
                f"{init.name}:{missing[0]}=...` would fail there; declare it as "
                f"{key}=lambda fan_in, fan_out, {example}: ...")


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
    except PluginCallError as wrapped:  # the plugin's own exception, with its frame
        exc = wrapped.__cause__ or wrapped
        frame = plugin_frame(init.fn, exc.__traceback__)
        raise AssertionError(
            f"shape {_name(shape)}: expected initkit.FanError (call initkit.compute_fans("
            "shape), which raises it with a message that says what to do)"
            + ("" if fan_based else " or an array of that shape")
            + f", measured {type(exc).__name__}: {exc}" + (f" at {frame}" if frame else "")
        ) from None
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


def _distribution(init: Initializer, shape: Sequence[int], **params: Any) -> Any:
    __tracebackhide__ = True
    try:
        dist = init.target_distribution(shape, **params)
        standard_shape(dist)
    except Exception as exc:
        raise AssertionError(f"its declared distribution for shape {_name(shape)} is not "
                             f"usable: {type(exc).__name__}: {exc}") from exc
    return dist


def _dist_name(dist: Any) -> str:
    return dist if isinstance(dist, str) else standard_shape(dist).name


@contract_check
def check_variance(init: Initializer, seed: int = SEED) -> None:
    """The sample variance is within 5 standard errors of the declared variance, and the
    same sample has the declared distribution's kurtosis (within 5 of its standard errors)
    and rows that look like independent draws (an F test at the same two-sided rate).

    Both tolerances come from the declared distribution (``variance`` and ``distribution``,
    "normal" by default), not from the sample (``initkit.testing.stats``): a spike, a
    constant, two values or a uniform declared normal fail with a sentence naming it.
    Measured on a dense and a conv shape of ~1e5 entries (wide and tall dense and conv
    shapes for orthogonal initializers, whose kurtosis is not checked: their structure is
    check_orthogonal's). False failures: 5.7e-7 per comparison by design; measured 0 in 200
    seeds for each of he_normal, xavier_uniform, truncated_normal and orthogonal.
    """
    _require_variance(init)
    for shape in _moment_shapes(init):
        target = _declared(init, "variance", shape)
        dist = _distribution(init, shape)
        fan_in, fan_out = compute_fans(shape)
        label = f"shape {_name(shape)} (fan_in={fan_in}, fan_out={fan_out})"
        sample = _draw(init, shape, seed=seed)
        if not init.orthogonal and target > 0:  # the shape first: the variance's SE needs it
            _compare(f"kurtosis (a {_dist_name(dist)}'s)", label,
                     sample_kurtosis(sample, dist), standard_shape(dist).kurtosis, sample,
                     why=("; the entries are not distributed as declared: declare "
                          "distribution='uniform' (kurtosis 1.8) or a scipy.stats "
                          "distribution if that is what it draws"))
        _compare("variance", label, sample_variance(sample, target, dist), target, sample)
        if init.orthogonal or target == 0:
            continue
        rows = row_spread(sample)
        if not rows.agrees():
            raise AssertionError(
                f"{label}: expected its {rows.dfn + 1} rows to be independent draws of one "
                f"distribution (one-way ANOVA F = {rows.f:.4g}, F({rows.dfn}, {rows.dfd}) "
                f"two-sided p = {rows.p:.3g} < {FALSE_FAILURE_RATE:.2g}); the rows share a "
                "sign or a scale (e.g. one half of the entries sign-flipped)")


@contract_check
def check_mean(init: Initializer, seed: int = SEED) -> None:
    """The sample mean is within 5 standard errors sqrt(declared variance / n) of the
    declared mean (0 by default). False failures: 5.7e-7 per comparison by design; measured
    0 in 200 seeds for each of he_normal, xavier_uniform, truncated_normal and orthogonal.
    """
    if _declared(init, "mean", DENSE) is None:
        raise CheckSkipped(f"{init.name!r} declares neither a mean nor a variance, so there "
                           "is no target to compare with; register it with variance=... "
                           "(and mean=... if it is not zero)")
    for shape in _moment_shapes(init):
        target = _declared(init, "mean", shape)
        variance = _declared(init, "variance", shape) or 0.0
        sample = _draw(init, shape, seed=seed)
        _compare("mean", f"shape {_name(shape)}", sample_mean(sample, variance), target,
                 sample)


# --- optional properties: only when the initializer has them ----------------------------


def _default(init: Initializer, param: str, fallback: Any) -> Any:
    value = _params_of(init)[param].default
    return fallback if value is inspect.Parameter.empty else value


def _scale_ratio(label: str, low: np.ndarray, high: np.ndarray, expected: float,
                 dist: Any = "normal") -> None:
    """mean(high^2) / mean(low^2) must be ``expected`` within 5 standard errors.

    Each mean square has relative SE sqrt((kappa - 1) / n), kappa the declared
    distribution's kurtosis (not the sample's), so the ratio's is the two combined.
    """
    __tracebackhide__ = True
    a, b = mean_square(low, dist), mean_square(high, dist)
    ratio = b.value / a.value if a.value else math.inf
    rel_se = math.hypot(a.stderr / a.value if a.value else math.inf,
                        b.stderr / b.value if b.value else math.inf)
    if not abs(ratio - expected) <= SIGMAS * rel_se * expected + 1e-9 * expected:
        raise AssertionError(f"{label}: expected mean(w^2) to scale by {expected:.6g}, "
                             f"measured {ratio:.6g} (allowed |difference| <= "
                             f"{SIGMAS * rel_se * expected:.3g}, {SIGMAS:g} standard errors)")


@contract_check
def check_gain_scales(init: Initializer, seed: int = SEED) -> None:
    """``gain`` multiplies the weights' scale: variance x gain^2, and as declared.

    Tolerances from the declared distribution (5 standard errors). False failures: 5.7e-7
    per comparison by design; measured 0 in 200 seeds on xavier_normal and orthogonal.
    """
    base = _default(init, "gain", 1.0)
    base = base if isinstance(base, int | float) and base > 0 else 1.0
    shape = DENSE
    dist = _distribution(init, shape)
    reference = _draw(init, shape, seed=seed, gain=base)
    for gain in (0.5, 3.0):
        weights = _draw(init, shape, seed=seed + 1, gain=gain)
        _scale_ratio(f"gain={gain} vs gain={base} on shape {_name(shape)}", reference,
                     weights, (gain / base) ** 2, dist)
        target = _declared(init, "variance", shape, gain=gain)
        if target is not None:
            _compare("variance", f"gain={gain}, shape {_name(shape)}",
                     sample_variance(weights, target, dist), target, weights)


@contract_check
def check_mode_fan(init: Initializer, seed: int = SEED) -> None:
    """``mode="fan_out"`` scales the variance by fan_in / fan_out relative to ``"fan_in"``.

    Tolerances from the declared distribution (5 standard errors). False failures: 5.7e-7
    per comparison by design; measured 0 in 200 seeds on he_normal and he_uniform.
    """
    shape = (128, 1024)
    fan_in, fan_out = compute_fans(shape)
    dist = _distribution(init, shape)
    by_mode = {mode: _draw(init, shape, seed=seed + k, mode=mode)
               for k, mode in enumerate(("fan_in", "fan_out"))}
    _scale_ratio(f"mode='fan_out' vs mode='fan_in' on shape {_name(shape)} (fan_in={fan_in}, "
                 f"fan_out={fan_out})", by_mode["fan_in"], by_mode["fan_out"], fan_in / fan_out,
                 dist)
    for mode, weights in by_mode.items():
        target = _declared(init, "variance", shape, mode=mode)
        if target is not None:
            _compare("variance", f"mode={mode!r}, shape {_name(shape)}",
                     sample_variance(weights, target, dist), target, weights)


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
    check_metadata, check_signature, check_returns_requested_shape, check_dtype, check_finite,
    check_seed_reproducible, check_seeds_differ, check_global_rng_untouched,
    check_undefined_fans, check_variance, check_mean,
)
#: What replaces the randomness and statistics checks for ``deterministic=True``.
DETERMINISTIC_CHECKS: tuple[Check, ...] = (
    check_metadata, check_signature, check_returns_requested_shape, check_dtype, check_finite,
    check_deterministic, check_global_rng_untouched, check_undefined_fans,
    check_second_moment,
)


def initializer_checks(init: Initializer) -> list[Check]:
    """The checks that apply to ``init``: the core contract (the deterministic one for
    ``deterministic=True``) plus its optional properties."""
    checks = list(DETERMINISTIC_CHECKS if init.deterministic else CORE_CHECKS)
    if accepts(init, "gain") and not init.deterministic:
        checks.append(check_gain_scales)
    if accepts(init, "mode") and not init.deterministic:
        checks.append(check_mode_fan)
    if init.orthogonal:
        checks.append(check_orthogonal)
    return checks

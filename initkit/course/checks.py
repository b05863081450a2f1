"""Checks a student can read: each failure is one sentence that says what is wrong.

The visible tests of the exercise notebooks call these; the hidden graders use
:func:`diagnose` too, so feedback names the usual mistake it recognises ("did you use
fan_in alone?") the way a teaching assistant would, instead of a bare ``AssertionError``.
Every recognised mistake has a stable id (:class:`Mistake`), carried by the
:class:`CheckFailed` it raises, so a class report can count mistakes by id.

Statistical checks are judged by the distribution the student is meant to draw from,
never by the sample's own spread: :mod:`initkit.course.statistics` gives the four tests
(variance, mean, kurtosis, Kolmogorov-Smirnov), their thresholds and the false-failure
rate they promise (at most 2e-6 by design; none measured in 165,000 correct samples).

When a test fails the sentence names what the sample looks like (:data:`SHAPE_MISTAKES`):
a constant, a few repeated values, mostly zeros with a few large entries, all of one sign,
heavy tails, uniform where a normal is asked (and the reverse), a wrong scale (named by
``mistakes=`` when it matches one), or a shifted mean.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .statistics import (
    KS_CRIT,
    KURTOSIS_SE,
    MIN_SAMPLE,
    N_SE,
    SampleTests,
    Target,
    normal_kurtosis_z,
    sample_tests,
    variance_se,
)

__all__ = [
    "KS_CRIT",
    "KURTOSIS_SE",
    "MIN_SAMPLE",
    "N_SE",
    "CheckFailed",
    "Mistake",
    "SampleTests",
    "Target",
    "check_close",
    "check_normal",
    "check_sample",
    "check_shape",
    "check_variance",
    "diagnose",
    "mistake_id",
    "name_mistake",
    "normal_kurtosis_z",
    "sample_tests",
    "variance_se",
]

@dataclass(frozen=True)
class Mistake:
    """A recognised student mistake: a stable ``id`` and the ``sentence`` that names it.

    For a mistake passed in ``mistakes=`` the sentence completes "did you ...?"; the
    shape mistakes of :data:`SHAPE_MISTAKES` carry their own sentence.
    """

    id: str
    sentence: str


#: Ids of the mistakes the notebooks and graders name by phrase (others get a slug).
KNOWN_IDS: dict[str, str] = {
    "use fan_in alone (2/fan_in is He's rule)": "fan_in_alone",
    "use fan_out alone": "fan_out_alone",
    "use 1/fan_in (LeCun's rule)": "lecun_variance",
    "pass the variance where the std is meant": "variance_as_std",
    "take the square root twice": "sqrt_twice",
    "use fan_out where fan_in is meant": "fans_swapped",
    "use fan_out where fan_in is meant (or the other way round)": "fans_swapped",
    "leave out the factor 2 (1/fan_in is LeCun's rule)": "missing_factor_2",
    "use Glorot's 2/(fan_in + fan_out)": "glorot_for_he",
    "leave out the receptive field of the kernel": "no_receptive_field",
    "use 2/n_in (He's rule)": "he_for_other",
    "use 1/n_in (Xavier's for a square matrix)": "xavier_for_other",
    "draw from a uniform distribution instead of a normal one": "uniform_not_normal",
}

#: The shape mistakes :func:`check_variance` recognises, by id.
SHAPE_MISTAKES: dict[str, str] = {
    "not_finite": "the sample contains NaN or infinity",
    "constant": "every entry is the same number",
    "few_values": "only a few distinct values (e.g. random signs times a constant)",
    "spike": "mostly zeros with a few large entries",
    "one_sign": "(almost) every entry has the same sign, e.g. abs() of a draw",
    "heavy_tails": "heavier tails than the target (a few entries far too large)",
    "light_tails": "lighter tails than a normal",
    "uniform_not_normal": "uniform draws where a normal is asked",
    "normal_not_uniform": "normal draws where a uniform is asked",
    "not_target_shape": "values not spread like the target distribution (KS test)",
    "wrong_scale": "a variance that no named mistake explains",
    "nonzero_mean": "a mean away from 0",
}


def mistake_id(phrase: str) -> str:
    """The stable id of a "did you ...?" phrase: :data:`KNOWN_IDS`, else a slug of it.

    Example:
        >>> mistake_id("pass the variance where the std is meant")
        'variance_as_std'
        >>> mistake_id("forget the 1/B")
        'forget_the_1_b'
    """
    if phrase in KNOWN_IDS:
        return KNOWN_IDS[phrase]
    return re.sub(r"[^a-z0-9]+", "_", phrase.lower()).strip("_")[:48]


def _as_mistake(key: str | Mistake) -> Mistake:
    return key if isinstance(key, Mistake) else Mistake(mistake_id(key), key)


class CheckFailed(AssertionError):
    """A check failed; the message is one sentence for the student.

    ``mistake`` is the recognised :class:`Mistake` (its ``id`` for a class report), or
    None. In Jupyter the failure shows as that sentence alone: IPython calls
    ``_render_traceback_`` instead of printing a traceback through this module.
    """

    def __init__(self, message: str, mistake: Mistake | None = None) -> None:
        super().__init__(message)
        self.mistake = mistake

    @property
    def mistake_id(self) -> str | None:
        """The recognised mistake's id, or None."""
        return self.mistake.id if self.mistake else None

    def _render_traceback_(self) -> list[str]:
        return [f"CheckFailed: {self}"]


Tolerance = float | Callable[[float], float]


def name_mistake(measured: float, mistakes: Mapping[str | Mistake, float] | None,
                 tolerance: Tolerance) -> Mistake | None:
    """The one named mistake whose predicted value explains ``measured``, if exactly one does.

    Args:
        measured: what the student's code gave.
        mistakes: a "did you ...?" phrase (or a :class:`Mistake`) -> the value that mistake
            gives.
        tolerance: how far from a prediction still counts as that mistake: a number, or a
            function of the prediction (e.g. ``N_SE`` standard errors of a sample drawn with
            the mistaken variance).

    Returns:
        The mistake of the closest prediction within tolerance; None when none is within it,
        or when two different mistakes predict values that cannot be told apart (both within
        tolerance): then naming one would be a guess.
    """
    found: list[tuple[float, Mistake]] = []
    for key, predicted in (mistakes or {}).items():
        tol = tolerance(float(predicted)) if callable(tolerance) else tolerance
        gap = abs(float(measured) - float(predicted))
        if gap <= tol:
            found.append((gap, _as_mistake(key)))
    ids = {m.id for _, m in found}
    if len(ids) != 1:
        return None
    return min(found, key=lambda item: item[0])[1]


def diagnose(measured: float, mistakes: Mapping[str | Mistake, float] | None,
             tolerance: Tolerance) -> str | None:
    """The phrase of the named mistake whose predicted value explains ``measured``, if one does.

    As :func:`name_mistake`, returning the phrase.

    Example:
        >>> diagnose(0.01, {"use fan_in alone": 0.01, "use fan_out alone": 0.02}, 1e-3)
        'use fan_in alone'
    """
    found = name_mistake(measured, mistakes, tolerance)
    return found.sentence if found else None


def _hint(phrase: str | None) -> str:
    return f" - did you {phrase}?" if phrase else ""


def check_shape(value: Any, shape: tuple[int, ...], what: str) -> np.ndarray:
    """``value`` is a numpy array of exactly ``shape`` (a transposed shape is named)."""
    if not isinstance(value, np.ndarray):
        raise CheckFailed(f"{what} should return a numpy array, got {type(value).__name__}",
                          Mistake("not_an_array", "not a numpy array"))
    if tuple(value.shape) != tuple(shape):
        transposed = tuple(value.shape) == tuple(shape)[::-1]
        hint = " - the (in, out) layout? PyTorch's is (out, in)" if transposed else ""
        raise CheckFailed(f"{what} has shape {tuple(value.shape)}; it should be "
                          f"{tuple(shape)}{hint}",
                          Mistake("in_out_layout" if transposed else "wrong_shape",
                                  "the (in, out) layout" if transposed else "a wrong shape"))
    return value


def check_close(got: Any, want: float | np.ndarray, what: str, *, rtol: float = 1e-6,
                atol: float = 0.0, formula: str = "",
                mistakes: Mapping[str | Mistake, float] | None = None) -> None:
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
        raise CheckFailed(f"{what} has shape {g.shape}; it should be {w.shape}",
                          Mistake("wrong_shape", "a wrong shape"))
    if not np.all(np.isfinite(g)):
        raise CheckFailed(f"{what} contains NaN or infinity",
                          Mistake("not_finite", SHAPE_MISTAKES["not_finite"]))
    if np.allclose(g, w, rtol=rtol, atol=atol):
        return
    rule = f"; {formula}" if formula else ""
    if g.ndim == 0:
        found = name_mistake(float(g), mistakes, max(atol, rtol * abs(float(g)), 1e-12) * 10)
        raise CheckFailed(f"{what} is {float(g):.6g}, expected {float(w):.6g}{rule}"
                          f"{_hint(found.sentence if found else None)}", found)
    worst = int(np.argmax(np.abs(g - w).ravel()))
    index = np.unravel_index(worst, g.shape)
    raise CheckFailed(f"{what} differs at index {tuple(int(i) for i in index)}: "
                      f"{g[index]:.6g} instead of {w[index]:.6g}{rule}")


def _sample(sample: Any, what: str) -> np.ndarray:
    x = np.asarray(sample, dtype=float).ravel()
    if not np.all(np.isfinite(x)):
        raise CheckFailed(f"{what} contains NaN or infinity",
                          Mistake("not_finite", SHAPE_MISTAKES["not_finite"]))
    if x.size < MIN_SAMPLE:
        raise CheckFailed(f"{what} has {x.size} numbers; a statistical check needs at least "
                          f"{MIN_SAMPLE}", Mistake("too_few", "too small a sample"))
    return x


def _structure(x: np.ndarray, target: Target, what: str) -> CheckFailed | None:
    """A sentence for a degenerate sample (constant, spike, few values, one sign), if it is."""
    draw = f"draw every entry at random from {target.describe()}"
    if np.ptp(x) == 0:
        return CheckFailed(f"{what} has every entry equal to {x[0]:.4g}: {draw}",
                           Mistake("constant", SHAPE_MISTAKES["constant"]))
    zeros = float(np.mean(np.abs(x) <= 1e-6 * target.std))
    if zeros >= 0.9:
        nonzero = int(np.count_nonzero(np.abs(x) > 1e-6 * target.std))
        return CheckFailed(f"{what} is mostly zeros with a few large entries (only {nonzero} "
                           f"of its {x.size} entries are not 0): {draw}",
                           Mistake("spike", SHAPE_MISTAKES["spike"]))
    values = np.unique(x)
    if values.size <= 10:
        shown = ", ".join(f"{v:.4g}" for v in values[:4]) + (", ..." if values.size > 4 else "")
        return CheckFailed(f"{what} takes only {values.size} distinct values ({shown}) over "
                           f"{x.size} entries: {draw}, not a constant times random signs",
                           Mistake("few_values", SHAPE_MISTAKES["few_values"]))
    positive = float(np.mean(x > 0))
    if positive >= 0.99 or positive <= 0.01:
        sign = "positive" if positive >= 0.99 else "negative"
        return CheckFailed(f"{what} has {max(positive, 1 - positive):.0%} of its entries "
                           f"{sign} where a zero-mean distribution gives half - did you take "
                           "abs() of the draws or flip the sign of the negative ones?",
                           Mistake("one_sign", SHAPE_MISTAKES["one_sign"]))
    return None


def _kurtosis_failure(k: float, z: float, target: Target, what: str) -> CheckFailed:
    """The sentence for a sample whose kurtosis ``k`` (score ``z``) failed its test."""
    if target.family == "normal":
        if z > 0:
            return CheckFailed(
                f"{what} has heavier tails than a normal distribution (kurtosis {k:.3g}; a "
                f"normal's is 3): a few entries are far larger than {target.describe()} gives "
                "- draw from a normal, not a Student t or a mixture of scales",
                Mistake("heavy_tails", SHAPE_MISTAKES["heavy_tails"]))
        if abs(k - 1.8) <= 0.2:
            return CheckFailed(
                f"{what}'s draws have kurtosis {k:.2f}: a uniform distribution's is 1.8 and a "
                "normal distribution's is 3 - did you draw from a uniform distribution instead "
                "of a normal one?",
                Mistake("uniform_not_normal", SHAPE_MISTAKES["uniform_not_normal"]))
        return CheckFailed(f"{what}'s draws have kurtosis {k:.2f}; a normal distribution's is "
                           f"3 (lighter tails than a normal): draw from {target.describe()}",
                           Mistake("light_tails", SHAPE_MISTAKES["light_tails"]))
    if abs(k - 3.0) <= 0.3:
        return CheckFailed(
            f"{what}'s draws have kurtosis {k:.2f}: a normal distribution's is 3 and a uniform "
            "distribution's is 1.8 - did you draw from a normal distribution instead of a "
            "uniform one?", Mistake("normal_not_uniform", SHAPE_MISTAKES["normal_not_uniform"]))
    return CheckFailed(f"{what}'s draws have kurtosis {k:.2f}; a uniform distribution's is "
                       f"1.8: draw from {target.describe()}",
                       Mistake("heavy_tails" if k > 1.8 else "light_tails",
                               SHAPE_MISTAKES["heavy_tails" if k > 1.8 else "light_tails"]))


def check_sample(sample: Any, target: Target, what: str, *, formula: str = "",
                 mistakes: Mapping[str | Mistake, float] | None = None) -> SampleTests:
    """The sample is ``n`` draws from ``target``: the four tests of :func:`check_variance`.

    Raises:
        CheckFailed: one sentence naming what the sample looks like, with its mistake id.
    """
    x = _sample(sample, what)
    t = sample_tests(x, target)
    if t.ok:
        return t
    degenerate = _structure(x, target, what)
    if degenerate is not None:
        raise degenerate
    if not t.kurtosis_ok:
        raise _kurtosis_failure(t.kurtosis, t.kurtosis_z, target, what)
    if not t.variance_ok:
        rule = f"{formula} = {target.variance:.4g}" if formula \
            else f"it should be {target.variance:.4g}"
        found = name_mistake(t.variance, mistakes,
                             lambda v: N_SE * variance_se(v, t.n, target.family))
        if found is None:
            found = Mistake("wrong_scale", SHAPE_MISTAKES["wrong_scale"])
            hint = f" ({t.variance / target.variance:.3g} times too " \
                   f"{'large' if t.variance > target.variance else 'small'})"
        else:
            hint = _hint(found.sentence)
        raise CheckFailed(f"{what} has variance {t.variance:.4g}; {rule}{hint}", found)
    if not t.mean_ok:
        raise CheckFailed(f"{what} has mean {t.mean:.4g}; the weights should have mean 0 (a "
                          f"sample of {t.n} draws from {target.describe()} stays within "
                          f"{N_SE * target.std / math.sqrt(t.n):.2g} of it)",
                          Mistake("nonzero_mean", SHAPE_MISTAKES["nonzero_mean"]))
    raise CheckFailed(f"{what}'s values are not spread like {target.describe()}: the largest "
                      f"gap between their distribution and its CDF is {t.ks / math.sqrt(t.n):.3f}"
                      f" (at most {KS_CRIT / math.sqrt(t.n):.3f} for {t.n} true draws)",
                      Mistake("not_target_shape", SHAPE_MISTAKES["not_target_shape"]))


def check_variance(sample: Any, variance: float, what: str, *, formula: str = "",
                   mistakes: Mapping[str | Mistake, float] | None = None,
                   distribution: str = "normal") -> None:
    """The sample is draws from ``N(0, variance)`` (or the uniform of that variance).

    Four tests on the same sample, each at :data:`N_SE` standard errors of the target
    (module docstring): its variance, its mean, its kurtosis and a Kolmogorov-Smirnov test.
    The failure is one sentence that names the mistake: the one of ``mistakes`` whose
    predicted variance explains the sample (``xavier_normal((300, 100)) has variance
    0.0100; Glorot's is 2/(fan_in + fan_out) = 0.0050 - did you use fan_in alone?``), or what
    the sample looks like (a spike, a constant, two values, heavy tails, uniform draws ...).

    False failures of a correct answer: at most 2e-6 by design (module docstring); measured
    0 / 40,000 seeds at n = 2000 and at n = 3456 and 0 / 5,000 at n = 30,000 for the normal
    target, 0 / 40,000 at n = 2000 and at n = 3456 for the uniform one (largest scores seen:
    variance 4.80, mean 4.88, kurtosis 5.34, KS 2.59 against limits 5, 5, 6, 2.74);
    ``tests/test_course_statistics.py`` reruns 300 to 2,000 seeds of each.

    Args:
        sample: the student's weights (all entries are the sample).
        variance: the target variance.
        what: how to name the sample in the sentence.
        formula: the rule the variance comes from, quoted on a variance miss.
        mistakes: "did you ...?" phrase (or :class:`Mistake`) -> the variance it gives.
        distribution: ``"normal"`` or ``"uniform"``.
    """
    if distribution not in ("normal", "uniform"):
        raise ValueError(f"distribution is 'normal' or 'uniform', not {distribution!r}")
    check_sample(sample, Target(float(variance), distribution), what, formula=formula,
                 mistakes=mistakes)


def check_normal(sample: Any, what: str, *, variance: float | None = None) -> None:
    """The sample looks like zero-mean normal draws, at whatever scale (or at ``variance``).

    Without ``variance`` the checks are the scale-free ones, judged by a normal's own
    sampling distributions: the mean's t statistic ``mean / (sd / sqrt(n))`` within
    :data:`N_SE` (a t with ``n - 1`` degrees of freedom: normal for ``n >= 100``), the
    kurtosis by Anscombe & Glynn's test, and the degenerate shapes of :func:`check_variance`.
    With ``variance`` it is :func:`check_variance`. False failures: at most 6e-7 by design
    (the mean's 5.7e-7 and the kurtosis'), measured 0 / 1,000 seeds at n = 3000
    (``tests/test_course_statistics.py``).
    """
    if variance is not None:
        check_variance(sample, variance, what)
        return
    x = _sample(sample, what)
    scale = float(np.std(x))
    if scale == 0:
        raise _structure(x, Target(1.0), what) or CheckFailed(f"{what} is constant")
    target = Target(scale**2)
    n = x.size
    mean_z = float(x.mean()) / (float(np.std(x, ddof=1)) / math.sqrt(n))
    b2 = float(np.mean((x - x.mean()) ** 4)) / float(np.mean((x - x.mean()) ** 2)) ** 2
    kurtosis_z = normal_kurtosis_z(b2, n)
    if abs(mean_z) <= N_SE and abs(kurtosis_z) <= KURTOSIS_SE:
        return
    degenerate = _structure(x, target, what)
    if degenerate is not None:
        raise degenerate
    if abs(kurtosis_z) > KURTOSIS_SE:
        raise _kurtosis_failure(b2, kurtosis_z, target, what)
    raise CheckFailed(f"{what} has mean {float(x.mean()):.4f}; the weights should have mean 0",
                      Mistake("nonzero_mean", SHAPE_MISTAKES["nonzero_mean"]))

"""initkit.testing itself: the statistics behind the tolerances, each check catching the fault
it exists for, check_initializer on plain functions, the report, parametrize_with_checks."""

from __future__ import annotations

import math

import numpy as np
import pytest

import initkit
from initkit.testing import (
    CheckSkipped,
    Report,
    as_initializer,
    check_activation,
    check_initializer,
    initializer_checks,
    parametrize_with_checks,
    sample_mean,
    sample_variance,
)
from initkit.testing.stats import mean_square

N = 120_000


# --- the statistics --------------------------------------------------------------------


@pytest.mark.parametrize("draw,kurtosis", [
    (lambda rng, n: rng.normal(0.0, 2.0, n), 3.0),
    (lambda rng, n: rng.uniform(-1.0, 1.0, n), 9 / 5),
    (lambda rng, n: rng.laplace(0.0, 1.0, n), 6.0),
])
def test_variance_standard_error_matches_the_distributions_fourth_moment(draw, kurtosis):
    """SE(sample variance) = sigma^2 sqrt((kurtosis - 1) / n) for normal, uniform and Laplace."""
    m = sample_variance(draw(np.random.default_rng(1), N))
    assert m.stderr == pytest.approx(m.value * math.sqrt((kurtosis - 1) / N), rel=0.05)


@pytest.mark.parametrize("draw,sigma2", [
    (lambda rng, size: rng.uniform(-1.0, 1.0, size), 1 / 3),
    (lambda rng, size: rng.laplace(0.0, 1.0, size), 2.0),
])
def test_z_scores_of_the_variance_have_unit_spread(draw, sigma2):
    """Over 400 samples, (v - sigma^2) / SE has std ~1: the tolerance is 5 real sigmas.

    (For Laplace a Gaussian-assumed SE would give a spread of sqrt(5/2) = 1.58.)
    """
    rng = np.random.default_rng(2)
    z = [(m.value - sigma2) / m.stderr
         for m in map(sample_variance, draw(rng, (400, 2000)))]
    assert np.std(z) == pytest.approx(1.0, abs=0.12)
    assert abs(np.mean(z)) < 0.25


def test_mean_and_mean_square_standard_errors():
    """SE(mean) = sigma / sqrt(n); SE(mean(x^2)) = sqrt(2) sigma^2 / sqrt(n) for a Gaussian."""
    x = np.random.default_rng(3).normal(0.0, 3.0, N)
    assert sample_mean(x).stderr == pytest.approx(3.0 / math.sqrt(N), rel=0.02)
    assert mean_square(x).stderr == pytest.approx(math.sqrt(2) * 9.0 / math.sqrt(N), rel=0.05)
    assert sample_variance(x).agrees_with(9.0) and not sample_variance(x).agrees_with(9.5)


def test_a_constant_sample_agrees_only_with_its_exact_value():
    """Zero spread gives zero SE: a constant array matches variance 0 and nothing else."""
    m = sample_variance(np.full(1000, 0.3))  # np.var gives ~1e-32 here, not 0: rounding
    assert m.agrees_with(0.0) and not m.agrees_with(1e-6)
    assert sample_mean(np.full(1000, 0.3)).agrees_with(0.3)


# --- each check catches the fault it exists for ---------------------------------------


def he_std(shape):
    return math.sqrt(2.0 / initkit.compute_fans(shape)[0])


def he_variance(fan_in, fan_out, **params):
    return 2.0 / fan_in


def slightly_wide(shape, rng, dtype=np.float64):
    """He normal with 5% too much variance."""
    return rng.normal(0.0, he_std(shape) * math.sqrt(1.05), size=shape).astype(dtype)


def ignores_dtype(shape, rng, dtype=np.float64):
    return rng.normal(0.0, he_std(shape), size=shape)


def nan_for_one_input(shape, rng, dtype=np.float64):
    fan_in, _ = initkit.compute_fans(shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        std = np.sqrt(2.0 / np.float64(fan_in - 1))
    return (std * rng.standard_normal(shape)).astype(dtype)


def indexes_shape(shape, rng, dtype=np.float64):
    std = math.sqrt(2.0 / (shape[1] * math.prod(shape[2:])))  # IndexError for a 1-D shape
    return rng.normal(0.0, std, size=shape).astype(dtype)


def ignores_gain(shape, rng, gain=1.0, dtype=np.float64):
    return rng.normal(0.0, he_std(shape), size=shape).astype(dtype)


def ignores_mode(shape, rng, mode="fan_in", dtype=np.float64):
    return rng.normal(0.0, he_std(shape), size=shape).astype(dtype)


def gaussian_called_orthogonal(shape, rng, dtype=np.float64):
    fan_in, fan_out = initkit.compute_fans(shape)
    return rng.normal(0.0, 1 / math.sqrt(max(fan_in, fan_out)), size=shape).astype(dtype)


def shifted(shape, rng, dtype=np.float64):
    return (0.01 + rng.normal(0.0, he_std(shape), size=shape)).astype(dtype)


def python_random(shape, rng, dtype=np.float64):
    import random

    random.random()
    return rng.normal(0.0, he_std(shape), size=shape).astype(dtype)


@pytest.mark.parametrize("fn,metadata,check,words", [
    (slightly_wide, {"variance": he_variance}, "check_variance", "measured / expected = 1.05"),
    (ignores_dtype, {"variance": he_variance}, "check_dtype", "expected an array of dtype float32"),
    (nan_for_one_input, {"variance": he_variance}, "check_finite", "shape (1, 1)"),
    (indexes_shape, {"variance": he_variance}, "check_undefined_fans", "IndexError"),
    (ignores_gain, {"variance": he_variance}, "check_gain_scales", "scale by 0.25"),
    (ignores_mode, {"variance": he_variance}, "check_mode_fan", "scale by 8"),
    (gaussian_called_orthogonal, {"orthogonal": True,
                                  "variance": lambda fi, fo: 1 / max(fi, fo)},
     "check_orthogonal", "W @ W.T = 1 * I"),
    (shifted, {"variance": he_variance}, "check_mean", "expected mean 0"),
    (python_random, {"variance": he_variance}, "check_global_rng_untouched", "Python's random"),
    (ignores_dtype, {"variance": he_variance, "activation": "no_such_activation"},
     "check_metadata", "no_such_activation"),
])
def test_each_check_catches_its_fault(fn, metadata, check, words):
    """A function with one fault fails exactly the check for it, with a message saying so."""
    report = check_initializer(fn, **metadata)
    failed = {r.check: r.message for r in report.failed}
    if fn is ignores_dtype and check != "check_dtype":  # the dtype fault is there too
        failed.pop("check_dtype")
    assert list(failed) == [check], report.format()
    assert words in failed[check]


def test_the_5_percent_variance_error_is_caught_but_the_exact_one_passes():
    """At ~1e5 entries the 5-sigma tolerance is ~2%: 5% too wide fails, He's own draw passes."""
    def exact(shape, rng, dtype=np.float64):
        return rng.normal(0.0, he_std(shape), size=shape).astype(dtype)

    assert check_initializer(exact, variance=he_variance).ok
    assert not check_initializer(slightly_wide, variance=he_variance).ok


# --- check_initializer, the report, parametrize_with_checks ---------------------------


def test_plain_function_without_metadata_skips_with_reasons():
    """No declared variance: variance and mean are skipped (reported), not passed."""
    report = check_initializer(lambda shape, rng, dtype=np.float64: rng.normal(size=shape)
                               .astype(dtype))
    assert report.ok
    assert {r.check for r in report.skipped} == {"check_variance", "check_mean"}
    assert all("variance" in r.message for r in report.skipped)
    assert report.results[0].subject == "lambda"


def test_as_initializer_accepts_names_objects_and_functions():
    """Names and aliases resolve through the registry; anything else is a clear TypeError."""
    he = initkit.get_initializer("he")
    assert as_initializer("kaiming_normal") is he and as_initializer(he) is he
    with pytest.raises(TypeError, match="expected an initializer name"):
        as_initializer(42)
    with pytest.raises(TypeError, match="unknown metadata"):
        as_initializer(ignores_gain, varaince=he_variance)


def test_report_format_is_pytest_like():
    """One `<initializer>-<check> OUTCOME` line each, a FAILURES section, then the summary."""
    report = check_initializer(slightly_wide, variance=he_variance) + check_initializer("zeros")
    lines = report.format().splitlines()
    assert lines[0] == "slightly_wide-check_metadata PASSED"
    assert "slightly_wide-check_variance FAILED" in lines
    assert "zeros-check_variance PASSED" in lines
    failures = lines.index("=" * 30 + " FAILURES " + "=" * 30)
    assert lines[failures + 1] == "_" * 10 + " slightly_wide-check_variance " + "_" * 10
    assert lines[failures + 2].startswith("shape (200, 600) (fan_in=600, fan_out=200): expected")
    counts = report.counts()
    assert lines[-1] == f"{'=' * 20} 1 failed, {counts['passed']} passed {'=' * 20}"
    assert counts["passed"] == len(report.results) - 1
    assert str(report) == report.format()
    assert Report().summary() == f"{'=' * 20} no checks ran {'=' * 20}"


def test_a_crash_inside_the_plugin_is_a_failed_check():
    """An exception other than AssertionError is reported as a failure naming it."""
    def crashes(shape, rng, dtype=np.float64):
        raise KeyError("boom")

    report = check_initializer(crashes)
    assert report.failed and report.failed[0].message == "raised KeyError: 'boom'"


def test_parametrize_with_checks_ids_and_pairs():
    """The parametrization pairs each initializer with its checks; ids read <initializer>-<check>."""
    mark = parametrize_with_checks(["he", "orthogonal"])
    assert mark.name == "parametrize"
    argnames, pairs = mark.args
    ids = mark.kwargs["ids"]
    assert argnames == "initializer, check"
    expected = [f"{init}-{c.__name__}" for init in ("he_normal", "orthogonal")
                for c in initializer_checks(initkit.get_initializer(init))]
    assert ids == expected
    assert "orthogonal-check_orthogonal" in ids and "he_normal-check_orthogonal" not in ids
    assert all(init.name == i.split("-")[0] for (init, _), i in zip(pairs, ids, strict=True))


def test_check_skipped_is_the_pytest_skip_exception():
    """CheckSkipped is what pytest treats as a skip, and its text is the reason."""
    with pytest.raises(CheckSkipped) as info:
        initializer_checks(as_initializer("identity"))[-2](as_initializer("identity"))
    assert "declares" in str(info.value.msg)


def test_check_activation_catches_a_wrong_derivative():
    """A derivative that is off (tanh' written as 1 - tanh) fails with the point and both values."""
    class WrongDerivative:
        @initkit.hookimpl
        def initkit_register_activations(self, register):
            register("tanh_wrong_grad", np.tanh, lambda x: 1 - np.tanh(x), gain=5 / 3)

    name = initkit.register_plugin(WrongDerivative(), name="wrong-derivative")
    try:
        report = check_activation("tanh_wrong_grad")
    finally:
        initkit.unregister_plugin(name)
    assert [r.check for r in report.failed] == ["check_activation_derivative"]
    assert "against the finite difference" in report.failed[0].message
    assert check_activation("tanh").ok


def test_seed_ignoring_plugin_without_declared_variance_fails():
    """The three-line plugin style (no metadata) that seeds its own generator fails check_seeds_differ."""
    def ignores_seed(shape, rng, dtype=np.float64):
        return 0.5 * np.random.default_rng(0).standard_normal(shape).astype(dtype)

    report = check_initializer(ignores_seed)
    assert [r.check for r in report.failed] == ["check_seeds_differ"]
    assert "measured identical arrays" in report.failed[0].message
    identity = check_initializer("identity")  # deterministic structure: passes, not skipped
    assert "check_seeds_differ" in {r.check for r in identity.results if r.outcome == "passed"}

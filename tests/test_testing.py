"""initkit.testing itself: the statistics behind the tolerances, each check catching the fault
it exists for, check_initializer on plain functions, the report, parametrize_with_checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

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
from initkit.testing.calibrate import false_failures
from initkit.testing.checks import check_mean, check_seeds_differ, check_signature, check_variance
from initkit.testing.stats import (
    mean_square,
    row_spread,
    sample_kurtosis,
    standard_shape,
)

N = 120_000


# --- the statistics: tolerances from the target distribution ----------------------------


@pytest.mark.parametrize("distribution,kurtosis", [("normal", 3.0), ("uniform", 9 / 5),
                                                   (stats.laplace(), 6.0)])
def test_variance_standard_error_is_the_target_distributions(distribution, kurtosis):
    """SE(s^2) = target sqrt((kurtosis - 1)/n + 2/(n(n-1))) from the declared shape, whatever the sample."""
    spike = np.zeros(N)
    spike[0] = math.sqrt(4.0 * N)  # a sample whose own fourth moment is enormous
    for sample in (np.random.default_rng(1).normal(0.0, 2.0, N), spike):
        m = sample_variance(sample, 4.0, distribution)
        assert m.stderr == pytest.approx(4.0 * math.sqrt((kurtosis - 1) / N + 2 / (N * (N - 1))),
                                         rel=1e-9)
    assert sample_mean(spike, 4.0).stderr == pytest.approx(2.0 / math.sqrt(N), rel=1e-12)


@pytest.mark.parametrize("draw,distribution,sigma2", [
    (lambda rng, size: rng.normal(0.0, 1.0, size), "normal", 1.0),
    (lambda rng, size: rng.uniform(-1.0, 1.0, size), "uniform", 1 / 3),
    (lambda rng, size: rng.laplace(0.0, 1.0, size), stats.laplace(), 2.0),
])
def test_z_scores_have_unit_spread_under_the_declared_shape(draw, distribution, sigma2):
    """Over 400 samples, (s^2 - sigma^2) / SE and (b_2 - kurtosis) / SE_1 have std ~1.

    (A Gaussian SE for the Laplace variance would give a spread of sqrt(5/2) = 1.58; SE_1 is
    the kurtosis SE's first-order term, which the 5 kappa / n allowance is added to.)
    """
    rng = np.random.default_rng(2)
    shape = standard_shape(distribution)
    n = 4000
    samples = draw(rng, (400, n))
    z = [sample_variance(x, sigma2, distribution).z(sigma2) for x in samples]
    assert np.std(z) == pytest.approx(1.0, abs=0.12) and abs(np.mean(z)) < 0.25
    first_order = math.sqrt(shape.kurtosis_var() / n)
    zk = [(sample_kurtosis(x, distribution).value - shape.kurtosis) / first_order
          for x in samples]
    assert np.std(zk) == pytest.approx(1.0, abs=0.15)


def test_standardised_moments_of_the_named_shapes():
    """normal: kurtosis 3 and n Var(b_2) = 24; uniform: 9/5 and 1.3166; scipy's normal gives the same as 'normal'."""
    assert standard_shape("normal").kurtosis_var() == pytest.approx(24.0, rel=1e-12)
    assert standard_shape("uniform").kurtosis == pytest.approx(1.8, rel=1e-12)
    assert standard_shape("uniform").kurtosis_var() == pytest.approx(1.3165714285714, rel=1e-9)
    scipy_normal = standard_shape(stats.norm(loc=3.0, scale=7.0))
    assert scipy_normal.kurtosis == pytest.approx(3.0, rel=1e-8)
    assert scipy_normal.kurtosis_var() == pytest.approx(24.0, rel=1e-6)


def test_mean_square_relative_error_comes_from_the_declared_kurtosis():
    """SE(mean(x^2)) = mean(x^2) sqrt((kurtosis - 1)/n): sqrt(2/n) relative for a normal."""
    x = np.random.default_rng(3).normal(0.0, 3.0, N)
    m = mean_square(x)
    assert m.stderr == pytest.approx(m.value * math.sqrt(2 / N), rel=1e-12)
    assert mean_square(x, "uniform").stderr == pytest.approx(m.value * math.sqrt(0.8 / N),
                                                             rel=1e-12)


def test_a_constant_sample_agrees_only_with_its_exact_value():
    """Target variance 0 gives zero SE: a constant array matches variance 0 and nothing else."""
    m = sample_variance(np.full(1000, 0.3), 0.0)  # np.var gives ~1e-32 here, not 0: rounding
    assert m.agrees_with(0.0) and not m.agrees_with(1e-6)
    assert sample_mean(np.full(1000, 0.3), 0.0).agrees_with(0.3)
    assert math.isnan(sample_kurtosis(np.full(1000, 0.3)).value)


# --- degenerate samples: each fails the shape check on the sample it is measured on ------


def _he(shape):
    return math.sqrt(2.0 / initkit.compute_fans(shape)[0])


def uniform_for_normal(shape, rng, dtype=np.float64):
    """U(-b, b) with He's variance, declared as a normal."""
    bound = math.sqrt(3.0) * _he(shape)
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


def one_spike(shape, rng, dtype=np.float64):
    """All zeros but one entry, sized so that the variance is He's exactly."""
    out = np.zeros(shape)
    out.flat[int(rng.integers(out.size))] = _he(shape) * math.sqrt(out.size)
    return out.astype(dtype)


def a_constant(shape, rng, dtype=np.float64):
    """Every entry He's std (mean(W^2) right, variance 0)."""
    rng.random()
    return np.full(shape, _he(shape), dtype=dtype)


def sign_flipped_half(shape, rng, dtype=np.float64):
    """|N(0, He)| in the first half of the rows, -|N(0, He)| in the second half."""
    out = np.abs(rng.normal(0.0, _he(shape), size=shape))
    out[shape[0] // 2:] *= -1
    return out.astype(dtype)


@pytest.mark.parametrize("fn,words", [
    (uniform_for_normal, "expected kurtosis (a normal's) 3, measured 1.79"),
    (one_spike, "one entry carries 100% of the sum of squares (a spike, not a spread of values)"),
    (a_constant, "every entry is the same number (a constant, not a draw)"),
    (sign_flipped_half, "the rows share a sign or a scale (e.g. one half of the entries "
                        "sign-flipped)"),
])
def test_degenerate_samples_fail_check_variance_saying_what_is_wrong(fn, words):
    """A uniform declared normal, one spike, a constant and a sign-flipped half each fail
    check_variance on shape (200, 600), with a sentence naming the degeneracy."""
    report = check_initializer(fn, variance=he_variance, checks=[check_variance])
    assert [r.check for r in report.failed] == ["check_variance"], report.format()
    message = report.failed[0].message
    assert message.startswith("shape (200, 600) (fan_in=600, fan_out=200): expected"), message
    assert words in message, message


def test_the_degenerate_samples_at_the_statistics_level():
    """The same four samples, straight into the statistics: b_2 of 1.8, ~n, nan; F of rows far out."""
    rng = np.random.default_rng(5)
    shape = (200, 600)
    b2 = {fn.__name__: sample_kurtosis(fn(shape, rng)).value
          for fn in (uniform_for_normal, one_spike, a_constant)}
    assert b2["uniform_for_normal"] == pytest.approx(1.8, abs=0.02)
    assert b2["one_spike"] == pytest.approx(shape[0] * shape[1], rel=1e-4)
    assert math.isnan(b2["a_constant"])
    flipped = sign_flipped_half(shape, rng)
    assert sample_kurtosis(flipped).agrees_with(3.0)  # its marginal is a normal's
    assert sample_variance(flipped, 2 / 600).agrees_with(2 / 600)
    assert row_spread(flipped).p < 1e-100 and row_spread(rng.normal(size=shape)).agrees()


def test_false_failure_rates():
    """check_variance and check_mean fail no correct he_normal / xavier_uniform draw in 200 seeds."""
    for check in (check_variance, check_mean):
        for name in ("he_normal", "xavier_uniform"):
            result = false_failures(check, name, range(200))
            assert result.failures == 0, result.messages[:3]
    broken = false_failures(check_variance, as_initializer(uniform_for_normal,
                                                           variance=he_variance), range(5))
    assert broken.failures == 5  # the count is a count of failures, not always 0


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
    assert "zeros-check_second_moment PASSED" in lines
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
    line = crashes.__code__.co_firstlineno + 1
    assert report.failed and report.failed[0].message == (
        "initializer 'crashes' (plugin '<unregistered>') raised KeyError: 'boom' in "
        f"crashes(shape=(32, 16), rng) at {__file__}:{line}; fix the plugin or call it with "
        "other arguments")


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
    undeclared = as_initializer(lambda shape, rng, dtype=np.float64: rng.normal(size=shape))
    with pytest.raises(CheckSkipped) as info:
        check_variance(undeclared)
    assert "declares no variance" in str(info.value.msg)


def test_check_activation_catches_a_wrong_derivative():
    """A derivative that is off (tanh' written as 1 - tanh) fails with the point and both values."""
    class WrongDerivative:
        @initkit.hookimpl
        def initkit_register_activations(self, register):
            # the fixed-point gain of tanh (the name is not PyTorch's, so 5/3 is not the rule)
            register("tanh_wrong_grad", np.tanh, lambda x: 1 - np.tanh(x),
                     gain=1.5925374197228312)

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
    identity = check_initializer("identity")  # deterministic, declared so: its own checks pass
    assert "check_deterministic" in {r.check for r in identity.results if r.outcome == "passed"}


# --- issue 22: signatures, deterministic initializers, the gain rule ---------------------


def test_check_signature_wants_shape_rng_dtype_and_the_same_parameters_declared():
    """fn(shape, rng, ..., dtype) and a variance/mean that take fn's own parameters."""
    def no_dtype(shape, rng):
        return rng.normal(size=shape)

    def with_mode(shape, rng, mode="fan_in", dtype=np.float64):
        return rng.normal(size=shape).astype(dtype)

    missing = check_initializer(no_dtype, checks=[check_signature])
    assert missing.failed[0].message == ("expected a dtype keyword (fn(shape, rng, ..., "
                                         "dtype=np.float64)), measured the signature "
                                         "no_dtype(shape, rng)")
    mean_lacks = check_initializer(with_mode, checks=[check_signature],
                                   variance=lambda fan_in, fan_out, mode="fan_in": 1.0,
                                   mean=lambda fan_in, fan_out: 0.0)
    assert mean_lacks.failed[0].message.startswith(
        "expected its declared mean to take every parameter the function takes, measured "
        "mean(fan_in, fan_out) without 'mode'")
    assert check_initializer(with_mode, checks=[check_signature],
                             variance=lambda fan_in, fan_out, **p: 1.0).ok


def hadamard_like(shape, rng, dtype=np.float64):
    """+-1/sqrt(fan_in) in a fixed checkerboard: deterministic."""
    fan_in, _ = initkit.compute_fans(shape)
    grid = np.indices(shape).sum(axis=0) % 2 * 2 - 1
    return (grid / math.sqrt(fan_in)).astype(dtype)


def test_a_deterministic_initializer_passes_its_own_checks():
    """deterministic=True with E[W^2] = 1/fan_in declared: every check passes, none is random."""
    report = check_initializer(hadamard_like, deterministic=True,
                               variance=lambda fan_in, fan_out: 1.0 / fan_in)
    assert report.ok and not report.skipped, report.format()
    assert {"check_deterministic", "check_second_moment"} <= {r.check for r in report.passed}
    assert "check_seeds_differ" not in {r.check for r in report.results}


def test_deterministic_checks_catch_a_wrong_moment_and_a_hidden_draw():
    """A wrong declared E[W^2] fails check_second_moment; a deterministic=True that draws fails check_deterministic."""
    wrong = check_initializer(hadamard_like, deterministic=True,
                              variance=lambda fan_in, fan_out: 2.0 / fan_in)
    assert [r.check for r in wrong.failed] == ["check_second_moment"]
    assert wrong.failed[0].message == ("shape (32, 16) (fan_in=16, fan_out=32): expected "
                                       "mean(W^2) = the declared second moment 0.125, "
                                       "measured 0.0625")

    def draws(shape, rng, dtype=np.float64):
        return rng.normal(size=shape).astype(dtype)

    hidden = check_initializer(draws, deterministic=True, variance=lambda fi, fo: 1.0)
    assert "check_deterministic" in {r.check for r in hidden.failed}
    assert next(r.message for r in hidden.failed if r.check == "check_deterministic") == (
        "shape (32, 16): declared deterministic=True, so expected the rng untouched, measured "
        "a changed rng.bit_generator.state (it drew from rng); a random initializer must not "
        "declare deterministic=True")


def test_the_randomness_check_catches_an_unseeded_own_generator_and_a_silent_rng():
    """Drawing from np.random.default_rng() (own entropy) fails reproducibility; a random-looking array that leaves rng untouched fails check_seeds_differ."""
    def own_entropy(shape, rng, dtype=np.float64):
        return np.random.default_rng().normal(size=shape).astype(dtype)

    report = check_initializer(own_entropy, variance=lambda fi, fo: 1.0)
    assert "check_seed_reproducible" in {r.check for r in report.failed}

    calls = iter(range(10**6))

    def counter(shape, rng, dtype=np.float64):  # differs call to call, never touches rng
        return np.random.default_rng(next(calls)).normal(size=shape).astype(dtype)

    silent = check_initializer(counter, checks=[check_seeds_differ])
    assert silent.failed[0].message == (
        "shape (32, 16): expected the rng's state to advance (every random number comes from "
        "rng), measured rng.bit_generator.state unchanged by the call; the initializer draws "
        "from a generator of its own")


@pytest.mark.parametrize("name,gain", [("tanh", 5 / 3), ("selu", 3 / 4), ("relu", math.sqrt(2))])
def test_the_gain_rule_wants_pytorchs_value_for_pytorchs_names(name, gain):
    """A built-in named in PyTorch's table passes only with PyTorch's value."""
    act = initkit.get_activation(name)
    assert act.gain_for() == pytest.approx(gain, rel=1e-15)
    assert check_activation(name).ok

"""Public results of the numeric core that mutation testing (`make mutation`) found unpinned.

Each test kills a group of surviving mutants of ``initkit.fans``, ``initkit.gain`` or
``initkit.builtin_initializers`` that changed what a user gets: float32 draws, edge shapes,
Keras-style truncation, dirac kernels larger than 3, messages that say what to do.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

import initkit
from initkit.fans import as_shape, compute_fans
from initkit.gain import calculate_gain, leaky_relu_gain


@pytest.mark.parametrize("name,params,std", [
    ("he_normal", {}, math.sqrt(2 / 30)),
    ("xavier_normal", {}, math.sqrt(2 / 50)),
    ("normal", {"std": 2.0, "mean": 3.0}, 2.0),
])
def test_float32_normal_draws_are_the_native_float32_stream_times_std(name, params, std):
    """float32 normal-family draws are rng.standard_normal(shape, float32) * std + mean, the engine's default dtype."""
    w = initkit.get_initializer(name)((20, 30), np.random.default_rng(5), dtype=np.float32,
                                      **params)
    ref = np.random.default_rng(5).standard_normal((20, 30), dtype=np.float32)
    ref = ref * np.float32(std) + np.float32(params.get("mean", 0.0))
    assert w.dtype == np.float32
    np.testing.assert_allclose(w, ref, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name,bound", [
    ("xavier_uniform", math.sqrt(6 / 50)), ("he_uniform", math.sqrt(3 * 2 / 30)),
    ("lecun_uniform", math.sqrt(3 / 30)),
])
def test_float32_uniform_draws_are_the_native_float32_stream_on_minus_b_to_b(name, bound):
    """float32 uniform draws are 2b * rng.random(shape, float32) - b: U(-b, b) exactly as the float64 path."""
    w = initkit.get_initializer(name)((20, 30), np.random.default_rng(6), dtype=np.float32)
    ref = np.random.default_rng(6).random((20, 30), dtype=np.float32)
    ref = ref * np.float32(2 * bound) - np.float32(bound)
    assert w.dtype == np.float32
    np.testing.assert_allclose(w, ref, rtol=1e-6, atol=1e-6)
    assert -bound <= w.min() < -0.9 * bound and 0.9 * bound < w.max() <= bound


@pytest.mark.parametrize("name", ["he_normal", "xavier_uniform", "normal", "orthogonal",
                                  "truncated_normal", "constant", "identity"])
def test_a_dtype_other_than_float32_or_float64_is_honoured(name):
    """dtype=float16 gives float16 (the plugin contract: the array comes in the dtype asked for)."""
    w = initkit.get_initializer(name)((8, 6), np.random.default_rng(0), dtype=np.float16)
    assert w.dtype == np.float16


def test_square_orthogonal_is_the_sign_fixed_q_of_the_drawn_gaussian():
    """A square orthogonal weight is Q sign(diag R) of QR(rng.normal(size=(n, n))), not its transpose (Mezzadri 2007)."""
    w = initkit.get_initializer("orthogonal")((6, 6), np.random.default_rng(3), gain=2.0)
    q, r = np.linalg.qr(np.random.default_rng(3).normal(size=(6, 6)))
    np.testing.assert_allclose(w, 2.0 * q * np.sign(np.diag(r)), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("shape", [(1, 5), (5, 1), (1, 1), (1, 2, 3, 3)])
def test_orthogonal_with_a_single_row_or_column_is_a_unit_vector(shape):
    """One output (or one input) unit still gets an orthonormal weight: a unit vector, never zeros."""
    w = initkit.get_initializer("orthogonal")(shape, np.random.default_rng(0)).reshape(shape[0], -1)
    gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
    np.testing.assert_allclose(gram, np.eye(len(gram)), atol=1e-12)


def test_keras_truncation_keeps_explicit_bounds_and_declares_std_squared():
    """correct_variance=True keeps an explicit [a, b]; with the default bounds its declared variance is std^2 (Keras/JAX)."""
    init = initkit.get_initializer("truncated_normal")
    w = init((200, 300), np.random.default_rng(1), std=1.0, a=-0.5, b=0.25,
             correct_variance=True)
    assert w.min() >= -0.5 and w.max() <= 0.25 and w.max() > 0.24 and w.min() < -0.49
    assert init.target_variance((10, 10), std=0.3, correct_variance=True) == pytest.approx(
        0.09, rel=1e-6)
    s = 0.3 / 0.87962566103423978
    ref = stats.truncnorm(-2, 2, scale=s)
    assert init.target_variance((10, 10), std=0.3, correct_variance=True) == pytest.approx(
        ref.var(), rel=1e-9)


@pytest.mark.parametrize("params", [
    {"mean": 1.0, "std": 2.0, "a": 0.0, "b": 3.0},
    {"mean": -1.0, "std": 0.5, "a": -1.5, "b": 1.0},
    {"mean": 2.0, "std": 1.0, "a": 2.5, "b": 4.0},  # both bounds above the mean
    {"mean": 0.5, "std": 2.0, "correct_variance": True},
])
def test_truncated_normal_declared_moments_equal_scipy(params):
    """truncated_normal's declared mean and variance equal scipy.stats.truncnorm's for any mean, std and bounds."""
    init = initkit.get_initializer("truncated_normal")
    mean, std = params["mean"], params["std"]
    s = std / 0.87962566103423978 if params.get("correct_variance") else std
    a = params.get("a", mean - 2 * s)
    b = params.get("b", mean + 2 * s)
    ref = stats.truncnorm((a - mean) / s, (b - mean) / s, loc=mean, scale=s)
    assert init.target_mean((10, 10), **params) == pytest.approx(ref.mean(), rel=1e-9)
    assert init.target_variance((10, 10), **params) == pytest.approx(ref.var(), rel=1e-9)


@pytest.mark.parametrize("a,b", [(1.0, 1.0), (2.0, -2.0)])
def test_truncated_normal_needs_a_below_b(a, b):
    """An empty interval (a >= b) is a ValueError that names both bounds."""
    with pytest.raises(ValueError, match=rf"needs a < b, got a={a}, b={b}"):
        initkit.get_initializer("truncated_normal")((3, 3), 0, a=a, b=b)


def test_dirac_puts_the_one_at_the_centre_of_any_kernel():
    """identity on a (4, 4, 5, 5) conv weight is a one at the 5x5 kernel's centre (2, 2) of channel i -> i."""
    w = initkit.get_initializer("dirac")((4, 4, 5, 5), 0, gain=3.0)
    expected = np.zeros((4, 4, 5, 5))
    for i in range(4):
        expected[i, i, 2, 2] = 3.0
    np.testing.assert_array_equal(w, expected)


def test_shapes_an_int_is_one_dimension_and_negatives_are_refused():
    """as_shape(5) is (5,) (a bias); a negative or fractional size is a ValueError saying what a shape must hold."""
    assert as_shape(5) == (5,)
    assert initkit.get_initializer("zeros")(5).shape == (5,)
    for bad in ((-1, 3), (3, -2), (2.5, 3)):
        with pytest.raises(ValueError, match="a shape must hold non-negative ints"):
            as_shape(bad)
    with pytest.raises(ValueError, match=r"a shape must be a tuple of ints like \(out, in\)"):
        as_shape("ab")


def test_undefined_fans_say_what_to_use_for_a_bias():
    """compute_fans of a 1-D shape is a FanError that tells the user which initializers suit a bias."""
    with pytest.raises(initkit.FanError, match="at least 2 dimensions \\(out, in, \\*kernel\\). "
                                               "For a bias vector use 'zeros', 'constant' or "
                                               "'normal'."):
        compute_fans((7,))


def test_leaky_relu_gain_defaults_to_pytorchs_slope():
    """leaky_relu_gain() uses PyTorch's default negative slope 0.01: sqrt(2 / 1.0001)."""
    assert leaky_relu_gain() == pytest.approx(math.sqrt(2 / 1.0001), rel=1e-15)
    assert calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / 1.0001), rel=1e-15)


def test_calculate_gain_passes_param_to_a_plugin_activations_gain():
    """A plugin activation with a gain function gets calculate_gain's param; an unknown name says 'unknown nonlinearity'."""
    class Plugin:
        @initkit.hookimpl
        def initkit_register_activations(self, register):
            register("scaled_tanh", lambda x, k=1.0: np.tanh(k * x),
                     lambda x, k=1.0: k / np.cosh(k * x) ** 2, gain=lambda k: 5.0 / (3.0 * k),
                     params={"k": 1.0})

    name = initkit.register_plugin(Plugin(), name="gain-param-plugin")
    try:
        assert calculate_gain("scaled_tanh", 2.0) == pytest.approx(5.0 / 6.0)
        assert calculate_gain("scaled_tanh") == pytest.approx(5.0 / 3.0)
    finally:
        initkit.unregister_plugin(name)
    with pytest.raises(initkit.UnknownNameError, match="unknown nonlinearity 'no_such_act'"):
        calculate_gain("no_such_act")

"""Built-in activations (derivatives, dtypes, gains) and calculate_gain against PyTorch."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.integrate import quad

import initkit
from initkit.builtin_activations import GELU_GAIN

NAMES = ["linear", "relu", "leaky_relu", "tanh", "sigmoid", "selu", "gelu"]


@pytest.mark.parametrize("name", NAMES)
def test_derivative_matches_finite_differences(name):
    """Each derivative equals the central difference of the function (away from kinks)."""
    act = initkit.get_activation(name)
    x = np.linspace(-4, 4, 801)
    x = x[np.abs(x) > 1e-3]
    eps = 1e-6
    numeric = (act(x + eps) - act(x - eps)) / (2 * eps)
    np.testing.assert_allclose(act.grad(x), numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", NAMES)
def test_float32_stays_float32(name):
    """Activations and derivatives keep float32 inputs in float32 (no silent upcast)."""
    act = initkit.get_activation(name)
    x = np.linspace(-3, 3, 7, dtype=np.float32)
    assert act(x).dtype == np.float32 and act.grad(x).dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_is_maximum_with_zero_bit_for_bit_in_any_shape(dtype):
    """relu maximises against a row of zeros (numpy's SIMD loop) and must give exactly
    np.maximum(x, 0): NaN stays NaN, -inf is 0, -0.0 is +0.0 as maximum gives it, the dtype
    and shape are kept, for 0-d, 1-d, 2-d and 3-d arrays and a list (kills the zeros of the
    first axis, which broadcast wrongly or not at all, and zeros in float64)."""
    relu = initkit.get_activation("relu")
    special = np.array([np.nan, -np.inf, np.inf, -0.0, 0.0, -1.5, 2.5, 1e-45, -1e-45],
                       dtype=dtype)
    rng = np.random.default_rng(4)
    for x in (special, dtype(-2.0), np.array(3.0, dtype), rng.standard_normal((3, 5)).astype(dtype),
              rng.standard_normal((2, 3, 4)).astype(dtype), special.reshape(3, 3).T):
        expected = np.maximum(x, 0)
        got = relu(x)
        assert got.dtype == dtype and got.shape == np.shape(x)
        assert np.array_equal(got, expected, equal_nan=True)
        assert np.array_equal(np.signbit(got), np.signbit(expected))
    assert np.array_equal(relu([1.0, -2.0]), [1.0, 0.0])


@pytest.mark.parametrize("name,torch_fn", [
    ("relu", torch.relu), ("tanh", torch.tanh), ("sigmoid", torch.sigmoid),
    ("selu", torch.selu), ("gelu", lambda t: torch.nn.functional.gelu(t, approximate="tanh")),
    ("leaky_relu", torch.nn.functional.leaky_relu),
])
def test_values_match_pytorch(name, torch_fn):
    """Activation values equal PyTorch's (GELU in its tanh form)."""
    x = np.linspace(-6, 6, 121)
    expected = torch_fn(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(initkit.get_activation(name)(x), expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("nonlinearity,param", [
    ("linear", None), ("conv1d", None), ("conv2d", None), ("conv3d", None),
    ("conv_transpose2d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
    ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", 0), ("selu", None),
])
def test_calculate_gain_matches_pytorch(nonlinearity, param):
    """calculate_gain equals torch.nn.init.calculate_gain for every entry of its table."""
    expected = torch.nn.init.calculate_gain(nonlinearity, param)
    assert initkit.calculate_gain(nonlinearity, param) == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize("name,param", [
    ("relu", None), ("tanh", None), ("sigmoid", None), ("selu", None), ("linear", None),
    ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", 0.0),
])
def test_registered_activations_carry_pytorchs_gains(name, param):
    """Each built-in activation's gain metadata equals torch.nn.init.calculate_gain for it."""
    expected = torch.nn.init.calculate_gain(name, param)
    assert initkit.get_activation(name).gain_for(param) == pytest.approx(expected, rel=1e-15)


def test_gelu_gain_keeps_the_second_moment():
    """GELU's gain is 1/sqrt(E[gelu(z)^2]), so gain^2 * E[gelu(z)^2] = 1 (PyTorch has no entry);
    the expectation by scipy quad of torch's tanh-form GELU against the normal density."""
    def integrand(x: float) -> float:
        value = torch.nn.functional.gelu(torch.tensor(x, dtype=torch.float64),
                                         approximate="tanh").item()
        return value**2 * math.exp(-x * x / 2) / math.sqrt(2 * math.pi)

    second_moment = sum(quad(integrand, a, b, epsabs=0, epsrel=1e-13)[0]
                        for a, b in ((-12, 0), (0, 12)))
    assert GELU_GAIN**2 * second_moment == pytest.approx(1, rel=1e-10)
    assert initkit.calculate_gain("gelu") == GELU_GAIN


def test_calculate_gain_unknown_nonlinearity():
    """An unknown nonlinearity raises an UnknownNameError with close matches."""
    with pytest.raises(initkit.UnknownNameError, match="Did you mean 'relu'"):
        initkit.calculate_gain("rellu")
    with pytest.raises(ValueError, match="not a valid number"):
        initkit.calculate_gain("leaky_relu", "big")


def test_fixed_point_gain_is_one_over_the_gaussian_second_moment():
    """fixed_point_gain(phi) = 1/sqrt(E[phi(z)^2]) against 200-node Gauss-Hermite quadrature (smooth phi) and closed forms (ReLU, linear)."""
    from initkit.builtin_activations import GELU_GAIN
    from initkit.gain import fixed_point_gain

    z, w = np.polynomial.hermite_e.hermegauss(200)
    for phi in (lambda x: np.logaddexp(0, x), np.tanh, initkit.get_activation("gelu").fn):
        second = np.sum(w * phi(z) ** 2) / np.sum(w)
        assert fixed_point_gain(phi) == pytest.approx(1 / np.sqrt(second), rel=1e-9)
    assert fixed_point_gain(lambda x: np.maximum(x, 0)) == pytest.approx(np.sqrt(2), rel=1e-10)
    assert fixed_point_gain(lambda x: x) == pytest.approx(1.0, rel=1e-10)
    assert fixed_point_gain(initkit.get_activation("gelu").fn) == pytest.approx(GELU_GAIN,
                                                                                rel=1e-9)
    assert fixed_point_gain(lambda x: np.logaddexp(0, x)) == pytest.approx(1.0418668355353016,
                                                                           rel=1e-9)

"""A deliberately broken plugin: each initializer breaks exactly one rule of the contract.

The conformance tests check that each fails exactly the check named in its docstring.
"""

import math

import numpy as np

import initkit


def _he_std(shape):
    fan_in, _ = initkit.compute_fans(shape)
    return math.sqrt(2.0 / fan_in)


def broken_variance(shape, rng, dtype=np.float64):
    """Draws N(0, 2/fan_in) but declares 1/fan_in: fails check_variance."""
    return rng.normal(0.0, _he_std(shape), size=shape).astype(dtype)


def broken_ignores_seed(shape, rng, dtype=np.float64):
    """Seeds its own generator, ignoring rng: fails check_seeds_differ."""
    own = np.random.default_rng(0)
    return own.normal(0.0, _he_std(shape), size=shape).astype(dtype)


def broken_shape(shape, rng, dtype=np.float64):
    """Returns (in, out, *kernel) instead of (out, in, *kernel): fails check_returns_requested_shape."""
    std = _he_std(shape)
    swapped = (shape[1], shape[0], *shape[2:])
    return rng.normal(0.0, std, size=swapped).astype(dtype)


def broken_global_rng(shape, rng, dtype=np.float64):
    """Seeds numpy's global RNG from rng and draws from it: fails check_global_rng_untouched."""
    std = _he_std(shape)
    np.random.seed(int(rng.integers(2**31)))
    return np.random.normal(0.0, std, size=shape).astype(dtype)


def he_variance(fan_in, fan_out):
    return 2.0 / fan_in


@initkit.hookimpl
def initkit_register_initializers(register):
    register("broken_variance", broken_variance, activation="relu",
             variance=lambda fan_in, fan_out: 1.0 / fan_in)
    register("broken_ignores_seed", broken_ignores_seed, activation="relu", variance=he_variance)
    register("broken_shape", broken_shape, activation="relu", variance=he_variance)
    register("broken_global_rng", broken_global_rng, activation="relu", variance=he_variance)

"""Issue 22 item 2: a ZerO-style initializer (Zhao et al. 2022, "ZerO Initialization"):
deterministic, and declared so.

It draws nothing: the (out, in) block at the kernel's first tap is a Hadamard matrix H_m
(m the power of two >= max(out, in)) divided by sqrt(m) and cropped, every other entry 0. It
registers ``deterministic=True`` with ``variance`` its second moment E[W^2] = 1 / (m k).
Before the deterministic metadata it could only pass by the two-values loophole, which also
let ``own_generator_signs`` (random signs from a generator of its own) pass everything.
"""

import math

import numpy as np
from scipy import stats
from scipy.linalg import hadamard

import initkit


def _size(shape):
    return 2 ** math.ceil(math.log2(max(shape[0], shape[1], 1)))


def zero_hadamard(shape, rng, dtype=np.float64):
    """H_m / sqrt(m) cropped to (out, in) at the kernel's first tap (ZerO, Zhao et al. 2022)."""
    initkit.compute_fans(shape)
    m = _size(shape)
    block = hadamard(m)[: shape[0], : shape[1]] / math.sqrt(m)
    out = np.zeros(shape, dtype=np.float64)
    out[(slice(None), slice(None), *(0,) * (len(shape) - 2))] = block
    return out.astype(dtype)


def zero_second_moment(fan_in, fan_out, shape):
    """mean(W^2) = (out * in / m) / (out * in * k) = 1 / (m k)."""
    return 1.0 / (_size(shape) * math.prod(shape[2:]))


def own_generator_signs(shape, rng, dtype=np.float64):
    """+-1 / sqrt(fan_in) signs from a generator of its own (ignores rng): must fail."""
    fan_in, _ = initkit.compute_fans(shape)
    own = np.random.default_rng(0)
    return (own.choice([-1.0, 1.0], size=shape) / math.sqrt(fan_in)).astype(dtype)


@initkit.hookimpl
def initkit_register_initializers(register):
    register("zero_hadamard", zero_hadamard, deterministic=True, variance=zero_second_moment)
    # +-s signs: a two-point distribution (kurtosis 1), declared as such
    register("own_generator_signs", own_generator_signs,
             variance=lambda fan_in, fan_out: 1.0 / fan_in, distribution=stats.bernoulli(0.5))

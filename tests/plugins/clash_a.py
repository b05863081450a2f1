"""Issue 22 item 4, first of two plugins that both register 'twin_delta' (and one of its own)."""

import math

import numpy as np

import initkit


def twin_delta(shape, rng, dtype=np.float64):
    """N(0, 1 / fan_in) (clash_a's version)."""
    fan_in, _ = initkit.compute_fans(shape)
    return (rng.standard_normal(shape) / math.sqrt(fan_in)).astype(dtype)


@initkit.hookimpl
def initkit_register_initializers(register):
    register("twin_delta", twin_delta, variance=lambda fan_in, fan_out: 1.0 / fan_in)
    register("only_in_a", twin_delta, variance=lambda fan_in, fan_out: 1.0 / fan_in)

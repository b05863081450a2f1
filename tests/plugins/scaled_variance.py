"""Issue 22 item 1: `scaled` takes a `scale` parameter its declared variance does not take.

Before the signature check this passed check-plugin, then `initkit simulate --init
scaled:scale=2` died with a raw TypeError from the variance lambda.
"""

import math

import numpy as np

import initkit


def scaled(shape, rng, scale=1.0, dtype=np.float64):
    """N(0, scale^2 / fan_in)."""
    fan_in, _ = initkit.compute_fans(shape)
    return (scale / math.sqrt(fan_in) * rng.standard_normal(shape)).astype(dtype)


@initkit.hookimpl
def initkit_register_initializers(register):
    register("scaled", scaled, variance=lambda fan_in, fan_out: 1.0 / fan_in)

"""Issue 22 item 3: a delta-style initializer that assumes an odd kernel (a centre tap).

For an even kernel size its window (2 * (k // 2) + 1 taps) does not fit the kernel and numpy
raises "could not broadcast"; the conformance suite's shapes include even kernels, and the
error names the shape, the call and this file's line.
"""

import math

import numpy as np

import initkit


def centre_tap(shape, rng, dtype=np.float64):
    """N(0, 1 / fan_in), tapered by a window centred on the kernel's centre tap."""
    fan_in, _ = initkit.compute_fans(shape)
    out = rng.standard_normal(shape) / math.sqrt(fan_in)
    window = np.ones([2 * (k // 2) + 1 for k in shape[2:]])  # odd kernels only
    out[...] = out * window
    return out.astype(dtype)


@initkit.hookimpl
def initkit_register_initializers(register):
    register("centre_tap", centre_tap,
             variance=lambda fan_in, fan_out: 1.0 / fan_in)

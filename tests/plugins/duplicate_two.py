"""One of two plugins that both register 'twin_normal' (and one name of their own)."""

import numpy as np

import initkit


def normal(shape, rng, dtype=np.float64):
    """N(0, 1)."""
    return rng.standard_normal(shape).astype(dtype)


@initkit.hookimpl
def initkit_register_initializers(register):
    register("twin_normal", normal)
    register("only_in_two", normal)

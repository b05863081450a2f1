"""A plugin whose hook registers one initializer, then raises: the first one is kept."""

import numpy as np

import initkit


@initkit.hookimpl
def initkit_register_initializers(register):
    register("kept_before_error", lambda shape, rng, dtype=np.float64: np.zeros(shape, dtype))
    raise ZeroDivisionError("this hook is broken on purpose")

"""A plugin that registers two invalid items (bad name, not callable) and one valid one."""

import numpy as np

import initkit


def valid_after_invalid(shape, rng, dtype=np.float64):
    """All zeros, registered after two invalid items."""
    return np.zeros(shape, dtype)


@initkit.hookimpl
def initkit_register_initializers(register):
    register("9 lives", valid_after_invalid)
    register("not_callable", 42)
    register("valid_after_invalid", valid_after_invalid)

"""Issue 22 item 4, second of two plugins that both register 'twin_delta', with an alias.

Loaded after clash_a, its 'twin_delta' loses the name (it becomes ambiguous); its alias
'twin_b' still names it, 'clash_b:twin_delta' picks it, and check-plugin checks it and
'only_in_b' instead of stopping at the clash.
"""

import math

import numpy as np

import initkit


def twin_delta(shape, rng, dtype=np.float64):
    """N(0, 2 / fan_in) (clash_b's version)."""
    fan_in, _ = initkit.compute_fans(shape)
    return (rng.standard_normal(shape) * math.sqrt(2.0 / fan_in)).astype(dtype)


@initkit.hookimpl
def initkit_register_initializers(register):
    register("twin_delta", twin_delta, aliases=("twin_b",), activation="relu",
             variance=lambda fan_in, fan_out: 2.0 / fan_in)
    register("only_in_b", twin_delta, activation="relu",
             variance=lambda fan_in, fan_out: 2.0 / fan_in)

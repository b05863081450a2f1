"""A plugin loaded by module name (INITKIT_PLUGINS=initkit_test_module_plugin, tests/plugins on the path)."""

import math

import numpy as np

import initkit


def module_lecun(shape, rng, dtype=np.float64):
    """N(0, 1 / fan_in), registered from a module named in INITKIT_PLUGINS."""
    fan_in, _ = initkit.compute_fans(shape)
    return rng.normal(0.0, math.sqrt(1.0 / fan_in), size=shape).astype(dtype)


@initkit.hookimpl
def initkit_register_initializers(register):
    register("module_lecun", module_lecun, activation="linear",
             variance=lambda fan_in, fan_out: 1.0 / fan_in)

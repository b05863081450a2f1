"""A single-file plugin (loaded with --plugin or INITKIT_PLUGINS): one initializer, one activation."""

import numpy as np

import initkit


def file_half_normal(shape, rng, dtype=np.float64):
    """N(0, 0.5^2) whatever the fans (a fixed-scale init, like torch's normal_)."""
    return 0.5 * rng.standard_normal(shape).astype(dtype)


def softsign(x):
    """phi(x) = x / (1 + |x|) (Turian et al. 2009)."""
    return x / (1 + np.abs(x))


def softsign_grad(x):
    return 1 / (1 + np.abs(x)) ** 2


@initkit.hookimpl
def initkit_register_initializers(register):
    register("file_half_normal", file_half_normal, activation="file_softsign",
             variance=lambda fan_in, fan_out: 0.25)


@initkit.hookimpl
def initkit_register_activations(register):
    # the fixed-point gain 1 / sqrt(E[softsign(z)^2]), z ~ N(0, 1) (no PyTorch value)
    register("file_softsign", softsign, softsign_grad, gain=2.3375333631085398)

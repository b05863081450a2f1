"""initkit-plugin-example: the hook implementations initkit finds through the entry point.

``pyproject.toml`` points the ``initkit`` entry-point group at this module; initkit registers
it with its plugin manager and calls the two hooks below with a fresh ``register`` callback
each time it builds its registry.
"""

from __future__ import annotations

import initkit

from .activations import SILU_GAIN, silu, silu_grad
from .initializers import delta_orthogonal, delta_orthogonal_variance, fixup_he, fixup_variance

__all__ = ["SILU_GAIN", "delta_orthogonal", "fixup_he", "silu", "silu_grad"]


@initkit.hookimpl
def initkit_register_initializers(register):
    """Register fixup_he and delta_orthogonal with the metadata the conformance suite checks."""
    register("fixup_he", fixup_he, family="fixup", activation="relu",
             variance=fixup_variance)
    register("delta_orthogonal", delta_orthogonal, aliases=("delta_orth",),
             family="orthogonal", activation="tanh", orthogonal=True,
             variance=delta_orthogonal_variance)


@initkit.hookimpl
def initkit_register_activations(register):
    """Register SiLU (alias swish) with its derivative and its gain."""
    register("silu", silu, silu_grad, gain=SILU_GAIN, aliases=("swish",))

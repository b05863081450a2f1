"""LSUV, layer-sequential unit-variance initialization (Mishkin & Matas 2015, "All you need
is a good init"), a data-dependent initializer built on ``initkit.nn``.

Algorithm 1 of the paper:

1. pre-initialise every weight matrix with an orthonormal matrix (Saxe et al. 2014);
2. for each layer L in forward order: run a mini-batch through the network and measure
   Var(B_L), the variance of layer L's output (the pre-activation, before the nonlinearity);
   while |Var(B_L) - 1| >= tol (0.1) and fewer than ``max_tries`` (10) tries:
   W_L <- W_L / sqrt(Var(B_L)).

Registered as the initializer ``"lsuv"`` through the same hook as any plugin. Called on its
own (a shape, an rng) it can only do step 1, so it returns the orthonormal pre-init (and
declares the orthogonal variance, ``builtin_initializers.orthogonal_variance``); step 2
needs data and a model, so it is registered as the initializer's ``data_init`` step, which
``initkit.train.fit`` runs on the first training batch for every model with an ``"lsuv"``
layer. Or call it yourself: ``lsuv(model, x_batch)``. Layer outputs are read through the
engine's forward hooks (``Module.register_forward_hook``), nothing is patched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from .builtin_initializers import orthogonal_variance
from .hookspecs import hookimpl
from .nn import RNN, Dense, EngineError, Module
from .registry import get_initializer

TOL = 0.1
MAX_TRIES = 10


@dataclass
class LSUVReport:
    """Per Dense layer: the output variance after LSUV and how many rescalings it took."""

    variances: list[float] = field(default_factory=list)
    tries: list[int] = field(default_factory=list)
    layers: list[str] = field(default_factory=list)

    @property
    def converged(self) -> bool:
        return all(abs(v - 1.0) < TOL for v in self.variances)


def lsuv_init(shape: Any, rng: np.random.Generator, gain: float = 1.0,
              dtype: DTypeLike = np.float64) -> np.ndarray:
    """Orthonormal pre-init of LSUV (Mishkin & Matas 2015); the data-dependent rescaling
    runs in ``initkit.lsuv.lsuv(model, x)`` (``fit`` does it on the first batch)."""
    return get_initializer("orthogonal")(shape, rng, gain=gain, dtype=dtype)


def _output_variance(model: Module, layer: Dense, x: np.ndarray) -> float:
    """Var of ``layer``'s output (the pre-activation B_L) when ``x`` goes through ``model``."""
    seen: list[np.ndarray] = []
    with layer.register_forward_hook(lambda module, inp, out: seen.append(out)):
        model(x)
    if not seen:
        raise EngineError(f"LSUV never saw the output of {layer.name!r}: a container module "
                          "must call its children as child(x) (which runs forward hooks), "
                          "not child.forward(x)")
    return float(np.var(seen[-1], dtype=np.float64))


def lsuv(model: Module, x: np.ndarray, tol: float = TOL, max_tries: int = MAX_TRIES,
         orthonormal: bool = False, rng: np.random.Generator | int | None = 0) -> LSUVReport:
    """Rescale each Dense layer of ``model`` in forward order until Var(output) ~ 1.

    Args:
        model: an ``initkit.nn`` model (every Dense layer is rescaled, the output layer too,
            as in the paper).
        x: a mini-batch of inputs (the paper uses one batch).
        tol: stop when |Var - 1| < tol (0.1 in the paper).
        max_tries: at most this many rescalings per layer (10 in the paper).
        orthonormal: redo step 1 (orthonormal weights) first; layers built with the
            ``"lsuv"`` initializer already have it.
        rng: Generator or seed for that orthonormal draw.

    Returns:
        an LSUVReport with each layer's final output variance and number of tries.
    """
    generator = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
    report = LSUVReport()
    dense = [m for m in model.modules() if isinstance(m, Dense)]
    if isinstance(model, RNN):
        raise EngineError("LSUV here rescales Dense layers of feed-forward models; for an RNN "
                          "use an orthogonal W_hh (init_hh='orthogonal')")
    for layer in dense:
        if orthonormal:
            layer.W.data[...] = lsuv_init(layer.W.shape, generator, dtype=layer.W.data.dtype)
        var = _output_variance(model, layer, x)
        tries = 0
        while abs(var - 1.0) >= tol and tries < max_tries and var > 0 and np.isfinite(var):
            layer.W.data /= np.sqrt(var).astype(layer.W.data.dtype)
            tries += 1
            var = _output_variance(model, layer, x)
        report.layers.append(layer.name)
        report.variances.append(var)
        report.tries.append(tries)
    return report


def lsuv_data_init(model: Module, x: np.ndarray) -> LSUVReport | None:
    """LSUV's data-dependent step as ``fit`` runs it: :func:`lsuv` on the first batch.

    An RNN keeps the orthonormal pre-init only (its W_hh is reused at every step, so there
    is no layer-sequential rescaling to do): None.
    """
    if isinstance(model, RNN):
        return None
    return lsuv(model, x)


@hookimpl
def initkit_register_initializers(register) -> None:
    """Register LSUV through the same hook third-party plugins use."""
    register("lsuv", lsuv_init, family="lsuv", activation="relu", orthogonal=True,
             variance=orthogonal_variance, data_init=lsuv_data_init,
             description="LSUV: orthonormal pre-init, then Var(output) = 1 layer by layer "
                         "on data (Mishkin & Matas 2015; fit() runs it)")

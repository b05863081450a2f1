"""muP as an initkit plugin: per-layer init and learning-rate multipliers, and its coordinate
check. A single file: ``initkit --plugin examples/mup/initkit_mup.py``. (Yang et al. 2021,
"Tensor Programs V: Tuning Large Neural Networks via Zero-Shot Hyperparameter Transfer",
Table 3, SGD; base width n0 as the ``mup`` package does.)

With width n and r = n / n0 (r = 1 at the base width, where muP equals the standard
parametrization):

=========  ==========================  =========================
weights    init variance               SGD learning rate
=========  ==========================  =========================
input      1 / fan_in                  eta * r
hidden     1 / fan_in                  eta
output     1 / (fan_in * r)            eta / r
biases     0                           eta * r
=========  ==========================  =========================

What the hooks carry: the initializer ``mup`` draws N(0, 1 / fan_in) (the input and hidden
rule) and its ``data_init`` step, which ``initkit.train.fit`` runs once on the first batch,
knows the model and rescales the output layer by 1 / sqrt(r). What they do not: the
learning-rate multipliers. ``initkit.nn``'s optimizers take one lr for all parameters, so
this plugin gives them as :func:`lr_multipliers` and applies them in :class:`MuSGD` (the
engine extension it asks for: a per-parameter lr scale that ``data_init`` could set).
"""

from __future__ import annotations

import math

import numpy as np

import initkit
from initkit.nn.layers import Dense
from initkit.nn.optim import Optimizer

BASE_WIDTH = 64


def mup(shape, rng, dtype=np.float64):
    """N(0, 1 / fan_in): muP's input and hidden layers (the output layer: data_init)."""
    fan_in, _ = initkit.compute_fans(shape)
    return (rng.standard_normal(shape) / math.sqrt(fan_in)).astype(dtype)


def _dense(model):
    return [m for m in model.modules() if isinstance(m, Dense)]


def width_ratio(model) -> float:
    """r = n / n0, n the hidden width (the output layer's fan_in)."""
    return _dense(model)[-1].W.data.shape[1] / BASE_WIDTH


def mup_data_init(model, x):
    """Rescale the output layer to variance 1 / (fan_in r); returns r."""
    r = width_ratio(model)
    out = _dense(model)[-1]
    out.W.data *= np.asarray(1 / math.sqrt(r), dtype=out.W.data.dtype)
    return {"width_ratio": r}


def lr_multipliers(model) -> list[float]:
    """One multiplier per ``model.parameters()`` entry: weights input r, hidden 1, output
    1 / r; every bias r (Table 3: "input weights and all biases")."""
    r = width_ratio(model)
    dense = _dense(model)
    scale = {id(dense[0]): r, id(dense[-1]): 1 / r}
    return [scale.get(id(m), 1.0) if p is getattr(m, "W", None) else r
            for m in model.modules() for p in m.own_parameters()]


class MuSGD(Optimizer):
    """Plain SGD with muP's per-parameter learning-rate multipliers."""

    def __init__(self, model, lr: float):
        super().__init__(model.parameters(), lr)
        self.scales = lr_multipliers(model)

    def step(self) -> None:
        for p, scale in zip(self.params, self.scales, strict=True):
            if p.grad is not None:
                p.data -= (self.lr * scale) * p.grad


@initkit.hookimpl
def initkit_register_initializers(register):
    register("mup", mup, activation="relu", variance=lambda fan_in, fan_out: 1.0 / fan_in,
             data_init=mup_data_init)

"""A small numpy training engine with exact backprop (micrograd's idea, vectorised).

Each layer defines its own forward and local backward; a model is a list of layers::

    import numpy as np
    from initkit import nn

    model = nn.MLP([64, 64, 10], activation="relu", init="he", seed=0)   # float32
    loss = nn.SoftmaxCrossEntropy()
    opt = nn.SGD(model.parameters(), lr=0.05, momentum=0.9)
    value = loss(model(x), y)          # forward
    model.backward(loss.backward())    # backward: fills every parameter's .grad
    opt.step()

``initkit.train.fit`` runs that loop with batches, evaluation, history and a progress bar.
"""

from __future__ import annotations

from .core import EngineError, Module, Parameter, Sequential, check_dtype
from .gradcheck import GradCheck, gradcheck
from .layers import MLP, ActivationLayer, Dense, Norm, Residual, make_array
from .losses import Loss, MeanSquaredError, SoftmaxCrossEntropy, get_loss
from .observe import (
    LayerSymmetry,
    Recorder,
    SymmetryReport,
    layer_stats,
    symmetry,
    unit_symmetry,
    weight_grad_norms,
)
from .optim import SGD, Adam, Optimizer, make_optimizer
from .rnn import RNN

__all__ = [
    "MLP",
    "RNN",
    "SGD",
    "ActivationLayer",
    "Adam",
    "Dense",
    "EngineError",
    "GradCheck",
    "LayerSymmetry",
    "Loss",
    "MeanSquaredError",
    "Module",
    "Norm",
    "Optimizer",
    "Parameter",
    "Recorder",
    "Residual",
    "Sequential",
    "SoftmaxCrossEntropy",
    "SymmetryReport",
    "check_dtype",
    "get_loss",
    "gradcheck",
    "layer_stats",
    "make_array",
    "make_optimizer",
    "symmetry",
    "unit_symmetry",
    "weight_grad_norms",
]

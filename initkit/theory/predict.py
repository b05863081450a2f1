"""``predict``: the mean-field column of ``initkit.simulate``, layer by layer."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..registry import Activation, Initializer
from .forms import forms_for
from .meanfield import length_step
from .network import NetworkSpec


@dataclass(frozen=True)
class Prediction:
    """Mean-field prediction for one network: per layer (index 0 = layer 1)."""

    q: np.ndarray
    grad_var: np.ndarray


def predict(init: str | Initializer, activation: str | Activation | None, widths: Sequence[int],
            bias_std: float = 0.0, residual: bool = False, norm: str | None = None,
            gamma: float = 1.0, q_in: float = 1.0, init_params: dict[str, Any] | None = None,
            activation_params: dict[str, Any] | None = None) -> Prediction:
    """Predict the simulator's per-layer q and backward gradient variance.

    ``widths[0]`` is the input width and ``widths[l]`` layer l's; the network is
    ``NetworkSpec(init, activation, widths, ...)`` and :func:`predict_network` predicts it.

    Raises:
        TheoryError: the initializer declares no variance (mean-field theory needs one).
    """
    spec = NetworkSpec(init, activation, tuple(widths), bias_std=bias_std, residual=residual,
                       norm=norm, gamma=gamma, init_params=init_params,
                       activation_params=activation_params)
    return predict_network(spec, q_in)


def predict_network(spec: NetworkSpec, q_in: float = 1.0) -> Prediction:
    """Predict ``spec``'s per-layer q and backward gradient variance from inputs of q_in.

    Plain chain: q_1 = sigma_w^2 q_in + sigma_b^2, then the length map; with a norm the
    normalised pre-activation has q = gamma^2. Residual stream s_l = s_{l-1} + branch:
    q_l = q_{l-1} + sigma_w^2 E[phi(sqrt(q_{l-1}) z)^2] + sigma_b^2 (or + gamma^2 with a norm,
    so zero-gamma keeps q constant). Forward, layer l sees sigma_w^2 = fan_in * E[W_l^2].
    The loss is sum(r * output) with r ~ N(0, 1), so the gradient at the output has unit
    variance; each layer below multiplies it by fan_out * E[W_{l+1}^2] * E[phi'(h_l)^2]
    (the gradient-independence assumption: delta_l = phi'(h_l) W_{l+1}^T delta_{l+1} sums
    fan_out terms). The gradient through a norm layer is not predicted (NaN).

    Raises:
        TheoryError: the initializer declares no variance (mean-field theory needs one).
    """
    with np.errstate(over="ignore", invalid="ignore"):  # an exploding init predicts inf
        return _predict(spec, q_in)


def _predict(spec: NetworkSpec, q_in: float) -> Prediction:
    forms = forms_for(spec.activation, spec.activation_kwargs)
    depth, widths, gamma = spec.depth, spec.widths, spec.gamma
    sb2 = spec.bias_std * spec.bias_std  # inf for a huge bias (** raises OverflowError)
    # sigma_w^2 seen forward (fan_in * E[W^2]) and backward (fan_out * E[W^2]) by layer l
    forward_gain = [spec.weight_gain(layer, widths[layer]) for layer in range(depth)]
    backward_gain = [spec.weight_gain(layer, widths[layer + 1]) for layer in range(depth)]
    q = np.empty(depth)
    prev = q_in
    for layer in range(depth):
        if spec.norm:
            branch = gamma**2
        elif layer == 0 and not spec.residual:  # layer 1 of the plain chain sees the raw input
            branch = forward_gain[0] * prev + sb2
        else:  # every other layer sees phi(previous q)
            branch = length_step(forms, forward_gain[layer], sb2, prev)
        q[layer] = prev + branch if spec.residual else branch
        prev = q[layer]
    grad = np.empty(depth)
    if spec.norm:
        grad[:] = math.nan
        return Prediction(q=q, grad_var=grad)
    # top: dL/d out = r; plain output is phi(h_L), residual output is the stream itself
    grad[-1] = 1.0 if spec.residual else forms.dphi2(q[-1])
    for layer in range(depth - 2, -1, -1):
        through = backward_gain[layer + 1] * grad[layer + 1]
        if spec.residual:  # delta_l = delta_{l+1} + phi'(s_l) * W^T delta_{l+1}
            grad[layer] = grad[layer + 1] + forms.dphi2(q[layer]) * through
        else:
            grad[layer] = forms.dphi2(q[layer]) * through
    return Prediction(q=q, grad_var=grad)

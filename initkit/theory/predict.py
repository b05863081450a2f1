"""``predict``: the mean-field column of ``initkit.simulate``, layer by layer."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import TheoryError
from ..registry import Activation, Initializer, get_activation, get_initializer
from .forms import forms_for
from .meanfield import length_step


@dataclass(frozen=True)
class Prediction:
    """Mean-field prediction for one network: per layer (index 0 = layer 1)."""

    q: np.ndarray
    grad_var: np.ndarray


def _sigma_w2(init: Initializer, fan_in: int, fan_out: int, fan: int,
              init_params: dict[str, Any]) -> float:
    """fan * Var(W): the sigma_w^2 a layer of shape (fan_out, fan_in) shows along ``fan``.

    Raises:
        TheoryError: the initializer declares no variance, or is deterministic, so there is no
            sigma_w^2.
    """
    if init.deterministic:
        raise TheoryError(
            f"initializer {init.name!r} (plugin {init.plugin!r}) is deterministic: mean-field "
            "theory is about i.i.d. random weights, so it makes no prediction")
    var = init.target_variance((fan_out, fan_in), **init_params)
    if var is None:
        raise TheoryError(
            f"initializer {init.name!r} (plugin {init.plugin!r}) declares no variance, so "
            "mean-field theory does not apply: it needs sigma_w^2 = fan * Var(W). Register it "
            "with variance=lambda fan_in, fan_out, **params: ... to get a prediction.")
    return fan * var


def predict(init: str | Initializer, activation: str | Activation | None, widths: Sequence[int],
            bias_std: float = 0.0, residual: bool = False, norm: str | None = None,
            gamma: float = 1.0, q_in: float = 1.0, init_params: dict[str, Any] | None = None,
            activation_params: dict[str, Any] | None = None) -> Prediction:
    """Predict the simulator's per-layer q and backward gradient variance.

    ``widths[0]`` is the input width and ``widths[l]`` layer l's. Plain chain:
    q_1 = sigma_w^2 q_in + sigma_b^2, then the length map; with a norm the normalised
    pre-activation has q = gamma^2. Residual stream s_l = s_{l-1} + branch:
    q_l = q_{l-1} + sigma_w^2 E[phi(sqrt(q_{l-1}) z)^2] + sigma_b^2 (or + gamma^2 with a norm,
    so zero-gamma keeps q constant). Forward, layer l sees sigma_w^2 = fan_in * Var(W_l).
    The loss is sum(r * output) with r ~ N(0, 1), so the gradient at the output has unit
    variance; each layer below multiplies it by fan_out * Var(W_{l+1}) * E[phi'(h_l)^2]
    (the gradient-independence assumption: delta_l = phi'(h_l) W_{l+1}^T delta_{l+1} sums
    fan_out terms). The gradient through a norm layer is not predicted (NaN).

    Raises:
        TheoryError: the initializer declares no variance (mean-field theory needs one).
    """
    with np.errstate(over="ignore", invalid="ignore"):  # an exploding init predicts inf
        return _predict(get_initializer(init), activation, widths, bias_std, residual, norm,
                        gamma, q_in, dict(init_params or {}), dict(activation_params or {}))


def _predict(init: Initializer, activation: str | Activation | None, widths: Sequence[int],
             bias_std: float, residual: bool, norm: str | None, gamma: float, q_in: float,
             init_params: dict[str, Any], act_params: dict[str, Any]) -> Prediction:
    forms = forms_for(get_activation(activation or init.activation), act_params)
    depth = len(widths) - 1
    sb2 = bias_std**2
    q = np.empty(depth)
    forward_gain = np.empty(depth)  # sigma_w^2 seen forward by layer l (fan_in * Var W)
    backward_gain = np.empty(depth)  # seen backward (fan_out * Var W)
    for layer in range(depth):
        fan_in, fan_out = widths[layer], widths[layer + 1]
        forward_gain[layer] = _sigma_w2(init, fan_in, fan_out, fan_in, init_params)
        backward_gain[layer] = _sigma_w2(init, fan_in, fan_out, fan_out, init_params)
    prev = q_in
    for layer in range(depth):
        if norm:
            branch = gamma**2
        elif layer == 0 and not residual:  # layer 1 of the plain chain sees the raw input
            branch = forward_gain[0] * prev + sb2
        else:  # every other layer sees phi(previous q)
            branch = length_step(forms, forward_gain[layer], sb2, prev)
        q[layer] = prev + branch if residual else branch
        prev = q[layer]
    grad = np.empty(depth)
    if norm:
        grad[:] = math.nan
        return Prediction(q=q, grad_var=grad)
    # top: dL/d out = r; plain output is phi(h_L), residual output is the stream itself
    grad[-1] = 1.0 if residual else forms.dphi2(q[-1])
    for layer in range(depth - 2, -1, -1):
        through = backward_gain[layer + 1] * grad[layer + 1]
        if residual:  # delta_l = delta_{l+1} + phi'(s_l) * W^T delta_{l+1}
            grad[layer] = grad[layer + 1] + forms.dphi2(q[layer]) * through
        else:
            grad[layer] = forms.dphi2(q[layer]) * through
    return Prediction(q=q, grad_var=grad)

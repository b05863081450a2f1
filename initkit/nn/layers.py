"""Layers with their local forward and backward rules, and the MLP built from them.

Shapes: inputs are (batch, features); a Dense weight has PyTorch's layout (out, in).

    Dense         y = x W^T + b            dW = g^T x,  db = sum_batch g,  dx = g W
    Activation    y = phi(z)               dz = g * phi'(z)
    Norm          y = gamma * x^ + beta    (x^ and its exact backward from initkit.norms)
    Residual      y = x + f(x)             dx = g + f'(x)^T g

Pitfall: ``x @ W.T`` with a float32 ``x`` and a float64 ``W`` silently gives float64, and
the whole network runs twice as slow; every parameter here is created in the model's dtype
and the input is cast once at the model's entrance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from ..norms import check_norm, norm_backward, norm_forward
from ..registry import Activation, Initializer, as_generator, get_activation, get_initializer
from .core import EngineError, Module, Parameter, Sequential, check_dtype


def make_array(init: str | Initializer, shape: tuple[int, ...], rng: np.random.Generator,
               dtype: np.dtype, params: Mapping[str, Any] | None = None) -> np.ndarray:
    """Draw an array from a registered initializer, in ``dtype`` and C order.

    A plugin may ignore ``dtype`` (the README's one-liner does); the cast makes sure it
    cannot upcast the model.

    Raises:
        ParameterError: the initializer does not take ``params`` (checked against its
            signature before anything is drawn). Any other error the initializer raises,
            a TypeError from a bug inside it too, reaches the caller unchanged.
    """
    initializer = get_initializer(init)
    out = initializer(shape, rng, dtype=dtype, **dict(params or {}))
    return np.ascontiguousarray(out, dtype=dtype)


class Dense(Module):
    """A fully connected layer ``y = x W^T + b``, W drawn from any registered initializer.

    Args:
        n_in, n_out: input and output features; W has shape (n_out, n_in).
        init: initializer name or alias (``"he"``, ``"xavier"``, ``"orthogonal"``, a plugin's).
        init_params: keyword parameters of the initializer (e.g. ``{"value": 0.5}``).
        bias: whether the layer has a bias.
        bias_init / bias_params: the bias's initializer (zeros by default).
        dtype: float32 (default) or float64.
        rng: a Generator or a seed.
        name: used in parameter names (``"<name>.W"``).
    """

    def __init__(self, n_in: int, n_out: int, init: str | Initializer = "he",
                 init_params: Mapping[str, Any] | None = None, bias: bool = True,
                 bias_init: str | Initializer = "zeros",
                 bias_params: Mapping[str, Any] | None = None,
                 dtype: DTypeLike = np.float32, rng: np.random.Generator | int | None = None,
                 name: str = "dense"):
        if n_in < 1 or n_out < 1:
            raise EngineError(f"Dense needs n_in, n_out >= 1, got ({n_in}, {n_out})")
        dtype = check_dtype(dtype)
        rng = as_generator(rng)
        self.name = name
        #: the registered Initializer W came from (``fit`` asks it for a ``data_init`` step)
        self.initializer = get_initializer(init)
        self.init_name = self.initializer.name
        self.init_params = dict(init_params or {})
        self.W = Parameter(make_array(init, (n_out, n_in), rng, dtype, init_params), f"{name}.W")
        self.b = (Parameter(make_array(bias_init, (n_out,), rng, dtype, bias_params),
                            f"{name}.b") if bias else None)
        #: False on a model's first layer: dL/dx of the data is never needed (saves a matmul).
        self.input_grad = True
        self._x: np.ndarray | None = None

    def own_parameters(self) -> list[Parameter]:
        return [self.W] if self.b is None else [self.W, self.b]

    def weight_parameters(self) -> list[Parameter]:
        return [self.W]

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._x = x
        y = x @ self.W.data.T
        if self.b is not None:
            y += self.b.data
        return y

    def backward(self, grad: np.ndarray) -> np.ndarray | None:
        self.W.grad = grad.T @ self._x
        if self.b is not None:
            self.b.grad = grad.sum(axis=0)
        return grad @ self.W.data if self.input_grad else None

    def __repr__(self) -> str:
        n_out, n_in = self.W.shape
        return f"Dense({n_in} -> {n_out}, init={self.init_name!r}, dtype={self.W.data.dtype})"


class ActivationLayer(Module):
    """phi applied elementwise, phi and phi' from the activation registry.

    Keeps the pre-activation z (for phi'(z) in backward) and the output (for statistics).
    """

    def __init__(self, activation: str | Activation = "relu", name: str = "act",
                 **params: Any):
        self.activation = get_activation(activation)
        self.params = {**self.activation.params, **params}
        self.name = name
        self._relu = self.activation.name == "relu"
        self.z: np.ndarray | None = None
        self.out: np.ndarray | None = None

    def forward(self, z: np.ndarray) -> np.ndarray:
        self.z = z
        self.out = self.activation(z, **self.params)
        return self.out

    def backward(self, grad: np.ndarray) -> np.ndarray:
        if self._relu:  # same as grad * relu'(z), without allocating the float mask
            return np.where(self.z > 0, grad, grad.dtype.type(0))
        return grad * self.activation.grad(self.z, **self.params)

    def __repr__(self) -> str:
        return f"Activation({self.activation.name!r})"


class Norm(Module):
    """Layer, RMS or batch norm times gamma (plus beta except for RMS norm).

    Forward and exact backward are ``initkit.norms.norm_forward`` / ``norm_backward``.
    Batch norm uses the current batch's statistics also when evaluating (no running means).
    """

    def __init__(self, kind: str, n_features: int, zero_gamma: bool = False,
                 dtype: DTypeLike = np.float32, name: str = "norm"):
        try:
            self.kind = check_norm(kind)
        except ValueError as exc:
            raise EngineError(str(exc)) from None
        dtype = check_dtype(dtype)
        self.name = name
        self.gamma = Parameter(np.full(n_features, 0.0 if zero_gamma else 1.0, dtype=dtype),
                               f"{name}.gamma")
        self.beta = (None if kind == "rms"
                     else Parameter(np.zeros(n_features, dtype=dtype), f"{name}.beta"))
        self._cache = None

    def own_parameters(self) -> list[Parameter]:
        return [self.gamma] if self.beta is None else [self.gamma, self.beta]

    def forward(self, z: np.ndarray) -> np.ndarray:
        xhat, self._cache = norm_forward(z, self.kind)
        y = xhat * self.gamma.data
        if self.beta is not None:
            y += self.beta.data
        return y

    def backward(self, grad: np.ndarray) -> np.ndarray:
        xhat = self._cache.normalized
        self.gamma.grad = (grad * xhat).sum(axis=0)
        if self.beta is not None:
            self.beta.grad = grad.sum(axis=0)
        return norm_backward(grad * self.gamma.data, self._cache)

    def __repr__(self) -> str:
        return f"Norm({self.kind!r}, {self.gamma.shape[0]})"


class Residual(Module):
    """``y = x + block(x)`` (He et al. 2016): the gradient has a path that skips the block."""

    def __init__(self, block: Module, name: str = "residual"):
        self.block = block
        self.name = name

    def children(self) -> Sequence[Module]:
        return (self.block,)

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x + self.block(x)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad + self.block.backward(grad)

    def __repr__(self) -> str:
        return f"Residual({self.block!r})"


class MLP(Sequential):
    """A multilayer perceptron from a list of widths; the last layer outputs logits.

    plain (default), for widths [n_0, ..., n_L]::

        Dense(n_0, n_1) [Norm] phi  ...  Dense(n_{L-2}, n_{L-1}) [Norm] phi  Dense(n_{L-1}, n_L)

    Up to the output layer this is ``initkit.simulate``'s plain network: the same weights
    give the same pre-activations h_l (tests/test_nn.py cross-checks it).

    residual (pre-activation blocks; hidden widths equal)::

        s_1 = [Norm] Dense(x);  s_l = s_{l-1} + [Norm] Dense(phi(s_{l-1})), l >= 2;
        out = Dense(phi(s))

    Blocks l >= 2 are ``initkit.simulate(residual=True)``'s; the first differs: simulate
    starts the stream at the input, s_0 = x, so its s_1 = x + N(W_1 phi(x)), while the MLP
    projects the input (whose width may differ from the hidden width) without a skip.

    Args:
        widths: input, hidden..., output sizes, e.g. ``[64, 64, 10]``.
        activation: registered activation of the hidden layers (``activation_params`` passed).
        init / init_params: initializer of every weight matrix.
        bias_init / bias_params: initializer of every bias (zeros by default).
        residual, norm, zero_gamma: the lesson's architecture options.
        dtype: float32 (default) or float64.
        seed: a seed or Generator; the same seed gives the same weights.

    Example:
        >>> import numpy as np
        >>> model = MLP([64, 64, 10], activation="relu", init="he", seed=0)
        >>> model(np.ones((5, 64), np.float32)).shape
        (5, 10)
    """

    def __init__(self, widths: Sequence[int], activation: str | Activation = "relu",
                 init: str | Initializer = "he", init_params: Mapping[str, Any] | None = None,
                 bias_init: str | Initializer = "zeros",
                 bias_params: Mapping[str, Any] | None = None, residual: bool = False,
                 norm: str | None = None, zero_gamma: bool = False,
                 dtype: DTypeLike = np.float32, seed: np.random.Generator | int | None = 0,
                 activation_params: Mapping[str, Any] | None = None):
        widths = [int(w) for w in widths]
        if len(widths) < 2 or min(widths) < 1:
            raise EngineError(f"an MLP needs at least [n_in, n_out] widths >= 1, got {widths}")
        hidden = widths[1:-1]
        if residual and len(set(hidden)) > 1:
            raise EngineError(f"a residual MLP needs equal hidden widths, got {hidden}")
        if residual and not hidden:
            raise EngineError("a residual MLP needs at least one hidden layer")
        if zero_gamma and not norm:
            raise EngineError("zero_gamma sets a norm's gamma: pass norm='layer' or 'rms' too")
        dtype = check_dtype(dtype)
        rng = as_generator(seed)
        act_params = dict(activation_params or {})
        self.widths = widths
        self.config = {"widths": widths, "activation": get_activation(activation).name,
                       "init": get_initializer(init).name, "init_params": dict(init_params or {}),
                       "residual": residual, "norm": norm, "zero_gamma": zero_gamma,
                       "dtype": dtype.name}

        def dense(i: int, n_in: int, n_out: int) -> Dense:
            return Dense(n_in, n_out, init, init_params, bias_init=bias_init,
                         bias_params=bias_params, dtype=dtype, rng=rng, name=f"dense{i}")

        def maybe_norm(i: int, n: int) -> list[Module]:
            return [Norm(norm, n, zero_gamma, dtype, f"norm{i}")] if norm else []

        def act(i: int) -> ActivationLayer:
            return ActivationLayer(activation, name=f"act{i}", **act_params)

        layers: list[Module] = []
        last = len(widths) - 2
        if residual:
            layers += [dense(0, widths[0], widths[1]), *maybe_norm(0, widths[1])]
            for i in range(1, last):
                block = Sequential([act(i - 1), dense(i, widths[i], widths[i + 1]),
                                    *maybe_norm(i, widths[i + 1])], name=f"block{i}")
                layers.append(Residual(block, name=f"residual{i}"))
            layers += [act(last - 1), dense(last, widths[last], widths[last + 1])]
        else:
            for i in range(last + 1):
                layers.append(dense(i, widths[i], widths[i + 1]))
                if i < last:
                    layers += [*maybe_norm(i, widths[i + 1]), act(i)]
        layers[0].input_grad = False
        super().__init__(layers, name="mlp")

    def dense_layers(self) -> list[Dense]:
        """The Dense layers in forward order (the last one is the output layer)."""
        return [m for m in self.modules() if isinstance(m, Dense)]

"""A vanilla (Elman) RNN unrolled over a sequence, with backprop through time.

For inputs x of shape (batch, T, n_in), h_0 = 0 and t = 1 ... T::

    a_t = x_t W_xh^T + h_{t-1} W_hh^T + b        h_t = phi(a_t)        (phi = tanh by default)

and a Dense read-out: ``y = h_T W_hy^T + c`` (many-to-one) or one per step (many-to-many).
Backward (BPTT, Werbos 1990), with dL/dh_t = (read-out gradient at t) + dL/dh_t via h_{t+1}::

    delta_t = dL/dh_t * phi'(a_t)
    dW_hh = sum_t delta_t^T h_{t-1}     dW_xh = sum_t delta_t^T x_t     db = sum_t,batch delta_t
    dL/dh_{t-1} (through the recurrence) = delta_t W_hh

So the gradient reaching step t from step T is multiplied by prod_s diag(phi'(a_s)) W_hh: with
a linear phi and an orthogonal W_hh its norm is preserved exactly (Saxe et al. 2014; Arjovsky
et al. 2016), with Gaussian W_hh it grows or decays like the spectral radius to the power
T - t (Pascanu, Mikolov & Bengio 2013). ``hidden_grad_norms`` records ||dL/dh_t|| per step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from ..registry import Activation, Initializer, as_generator, get_activation, get_initializer
from .core import EngineError, Module, Parameter, check_dtype
from .layers import Dense, make_array


class RNN(Module):
    """A tanh RNN (``W_xh``, ``W_hh``, bias, each with its own initializer) and a read-out.

    Args:
        n_in: input features per step.
        n_hidden: hidden units.
        n_out: outputs of the Dense read-out.
        activation: registered activation (tanh by default; "linear" for the exact-norm case).
        init_xh / init_hh / init_out: initializers of W_xh (n_hidden, n_in), W_hh
            (n_hidden, n_hidden) and the read-out weight; ``init_hh="orthogonal"`` gives an
            orthogonal recurrence. ``*_params`` are their keyword parameters.
        bias_init / bias_params: initializer of the hidden bias (zeros by default).
        many_to_many: read out every step, output (batch, T, n_out); else only the last
            step, output (batch, n_out).
        dtype: float32 (default) or float64.
        seed: a seed or Generator.

    Example:
        >>> import numpy as np
        >>> rnn = RNN(2, 16, 1, init_hh="orthogonal", seed=0)
        >>> rnn(np.zeros((4, 30, 2), np.float32)).shape
        (4, 1)
    """

    def __init__(self, n_in: int, n_hidden: int, n_out: int,
                 activation: str | Activation = "tanh",
                 init_xh: str | Initializer = "xavier",
                 init_hh: str | Initializer = "orthogonal",
                 init_out: str | Initializer = "xavier",
                 xh_params: Mapping[str, Any] | None = None,
                 hh_params: Mapping[str, Any] | None = None,
                 out_params: Mapping[str, Any] | None = None,
                 bias_init: str | Initializer = "zeros",
                 bias_params: Mapping[str, Any] | None = None, many_to_many: bool = False,
                 dtype: DTypeLike = np.float32, seed: np.random.Generator | int | None = 0,
                 activation_params: Mapping[str, Any] | None = None):
        if min(n_in, n_hidden, n_out) < 1:
            raise EngineError(f"RNN sizes must be >= 1, got ({n_in}, {n_hidden}, {n_out})")
        dtype = check_dtype(dtype)
        rng = as_generator(seed)
        self.name = "rnn"
        self.activation = get_activation(activation)
        self.act_params = {**self.activation.params, **dict(activation_params or {})}
        self.many_to_many = many_to_many
        self.W_xh = Parameter(make_array(init_xh, (n_hidden, n_in), rng, dtype, xh_params),
                              "rnn.W_xh")
        self.W_hh = Parameter(make_array(init_hh, (n_hidden, n_hidden), rng, dtype, hh_params),
                              "rnn.W_hh")
        self.b = Parameter(make_array(bias_init, (n_hidden,), rng, dtype, bias_params), "rnn.b")
        self.readout = Dense(n_hidden, n_out, init_out, out_params, dtype=dtype, rng=rng,
                             name="readout")
        self.config = {"n_in": n_in, "n_hidden": n_hidden, "n_out": n_out,
                       "activation": self.activation.name,
                       "init_xh": get_initializer(init_xh).name,
                       "init_hh": get_initializer(init_hh).name,
                       "init_out": get_initializer(init_out).name,
                       "many_to_many": many_to_many, "dtype": dtype.name}
        #: ||dL/dh_t|| (Frobenius over the batch) for t = 1 ... T, from the last backward.
        self.hidden_grad_norms: np.ndarray = np.zeros(0)
        self._x = self._a = self._h = None

    def own_parameters(self) -> list[Parameter]:
        return [self.W_xh, self.W_hh, self.b]

    def weight_parameters(self) -> list[Parameter]:
        return [self.W_xh, self.W_hh]

    def children(self) -> list[Module]:
        return [self.readout]

    @property
    def dtype(self) -> np.dtype:
        return self.W_hh.data.dtype

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=self.dtype)
        if x.ndim != 3 or x.shape[2] != self.W_xh.shape[1]:
            raise EngineError(f"RNN input must have shape (batch, T, {self.W_xh.shape[1]}), "
                              f"got {x.shape}")
        batch, steps, _ = x.shape
        n_hidden = self.W_hh.shape[0]
        # time-major (T, batch, features), so that every step's slice is contiguous; the
        # input contribution of all steps is one matmul
        x_tm = np.ascontiguousarray(x.transpose(1, 0, 2))
        a = x_tm @ self.W_xh.data.T
        a += self.b.data
        h = np.zeros((steps + 1, batch, n_hidden), dtype=self.dtype)  # h[0] = h_0 = 0
        w_hh_t = self.W_hh.data.T
        for t in range(steps):
            a[t] += h[t] @ w_hh_t
            h[t + 1] = self.activation(a[t], **self.act_params)
        self._x, self._a, self._h = x_tm, a, h
        if self.many_to_many:
            out = self.readout(h[1:].transpose(1, 0, 2).reshape(batch * steps, -1))
            return out.reshape(batch, steps, -1)
        return self.readout(h[steps])

    def backward(self, grad: np.ndarray) -> np.ndarray:
        x, a, h = self._x, self._a, self._h
        steps, batch, n_in = x.shape
        n_hidden = self.W_hh.shape[0]
        dh_out = np.zeros((steps, batch, n_hidden), dtype=self.dtype)  # read-out part
        if self.many_to_many:
            flat = self.readout.backward(grad.reshape(batch * steps, -1))
            dh_out[:] = flat.reshape(batch, steps, n_hidden).transpose(1, 0, 2)
        else:
            dh_out[-1] = self.readout.backward(grad)
        delta = np.empty_like(a)
        norms = np.empty(steps)
        dh_next = np.zeros((batch, n_hidden), dtype=self.dtype)
        w_hh = self.W_hh.data
        for t in range(steps - 1, -1, -1):
            dh = dh_out[t] + dh_next
            norms[t] = np.linalg.norm(dh)
            delta[t] = dh * self.activation.grad(a[t], **self.act_params)
            dh_next = delta[t] @ w_hh
        flat_delta = delta.reshape(steps * batch, n_hidden)
        self.W_hh.grad = flat_delta.T @ h[:-1].reshape(steps * batch, n_hidden)
        self.W_xh.grad = flat_delta.T @ x.reshape(steps * batch, n_in)
        self.b.grad = flat_delta.sum(axis=0)
        self.hidden_grad_norms = norms
        return (delta @ self.W_xh.data).transpose(1, 0, 2)

    def __repr__(self) -> str:
        c = self.config
        return (f"RNN({c['n_in']} -> {c['n_hidden']} -> {c['n_out']}, {c['activation']}, "
                f"W_hh={c['init_hh']!r}, dtype={c['dtype']})")

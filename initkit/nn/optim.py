"""Optimizers: SGD with momentum and Adam, updating parameters in place.

    SGD (PyTorch's form)   v <- mu v + g + wd p          p <- p - lr v
    Adam (Kingma & Ba 2015) m <- b1 m + (1 - b1) g        v <- b2 v + (1 - b2) g^2
                           p <- p - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)

The updates run in place on float32 arrays with Python-float coefficients, so nothing is
upcast; the state (v, m) has the parameter's dtype.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .core import EngineError, Parameter


class Optimizer:
    """Holds the parameters; ``step()`` applies one update from their ``.grad``."""

    def __init__(self, params: Iterable[Parameter], lr: float):
        self.params = list(params)
        if not self.params:
            raise EngineError("the optimizer got no parameters")
        if not lr > 0:
            raise EngineError(f"learning rate must be > 0, got {lr}")
        self.lr = float(lr)

    def step(self) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent with (heavy-ball) momentum and weight decay."""

    def __init__(self, params: Iterable[Parameter], lr: float = 0.01, momentum: float = 0.0,
                 weight_decay: float = 0.0):
        super().__init__(params, lr)
        if not 0 <= momentum < 1:
            raise EngineError(f"momentum must be in [0, 1), got {momentum}")
        self.momentum = float(momentum)
        self.weight_decay = float(weight_decay)
        self._velocity = [np.zeros_like(p.data) for p in self.params] if momentum else None

    def step(self) -> None:
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            g = p.grad
            if self.weight_decay:
                g = g + self.weight_decay * p.data
            if self._velocity is not None:
                v = self._velocity[i]
                v *= self.momentum
                v += g
                g = v
            p.data -= self.lr * g


class Adam(Optimizer):
    """Adam with bias correction (Kingma & Ba 2015), defaults as in PyTorch."""

    def __init__(self, params: Iterable[Parameter], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        super().__init__(params, lr)
        self.beta1, self.beta2 = (float(b) for b in betas)
        self.eps = float(eps)
        self.t = 0
        self._m = [np.zeros_like(p.data) for p in self.params]
        self._v = [np.zeros_like(p.data) for p in self.params]

    def step(self) -> None:
        self.t += 1
        correction1 = 1 - self.beta1 ** self.t
        correction2 = 1 - self.beta2 ** self.t
        step_size = self.lr / correction1
        for p, m, v in zip(self.params, self._m, self._v, strict=True):
            if p.grad is None:
                continue
            g = p.grad
            m *= self.beta1
            m += (1 - self.beta1) * g
            v *= self.beta2
            v += (1 - self.beta2) * (g * g)
            denom = np.sqrt(v / correction2)
            denom += self.eps
            p.data -= step_size * (m / denom)


OPTIMIZERS = {"sgd": SGD, "adam": Adam}


def make_optimizer(name: str, params: Iterable[Parameter], lr: float | None = None,
                   momentum: float = 0.9) -> Optimizer:
    """An optimizer by name with the kit's defaults (SGD lr 0.01 momentum 0.9; Adam 1e-3)."""
    key = str(name).lower()
    if key == "sgd":
        return SGD(params, lr=0.01 if lr is None else lr, momentum=momentum)
    if key == "adam":
        return Adam(params, lr=1e-3 if lr is None else lr)
    raise EngineError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")

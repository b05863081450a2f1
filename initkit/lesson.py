"""The lesson's ``VarianceSimulator``, reproducing its printed numbers exactly.

Semantics (DEVELOPERS.md): one input x ~ N(0, I) of size ``width`` is drawn first from
``numpy.random.default_rng(seed)``; then for each layer a fresh square (width, width) weight
is drawn from the same generator, ``x = W @ x``, the activation is applied, and the layer's
figure is ``np.var(x)``. The lesson's three inits are registered initializers, each with the
activation it is meant for: xavier (N(0, 2/(n_in+n_out)), tanh), he (N(0, 2/n_in), ReLU) and
bad (N(0, 0.6^2), no activation).

    >>> sim = VarianceSimulator(layers=20, width=128, seed=42)
    >>> f"{sim.run('he')[-1]:.4f}"
    '0.2639'
"""

from __future__ import annotations

import numpy as np

from .errors import SimulationError
from .registry import Activation, Initializer, get_activation, get_initializer

LESSON_INITS = ("xavier", "he", "bad")


class VarianceSimulator:
    """Propagate one random vector through ``layers`` fresh random square layers.

    Args:
        layers: number of layers.
        width: units per layer (every weight is (width, width)).
        seed: seed of ``numpy.random.default_rng``; each ``run`` starts from it again,
            so runs are comparable and repeatable.
    """

    def __init__(self, layers: int = 50, width: int = 200, seed: int = 0):
        if not all(isinstance(v, int | np.integer) and v >= 1 for v in (layers, width)):
            raise SimulationError(f"layers and width must be whole numbers >= 1, got "
                                  f"layers={layers!r}, width={width!r}")
        self.layers = int(layers)
        self.width = int(width)
        self.seed = seed

    def run(self, init: str | Initializer, activation: str | Activation | None = None,
            **init_params) -> list[float]:
        """Return ``np.var`` of the activations after each layer (``layers`` floats).

        ``activation`` defaults to the one the initializer is meant for.
        """
        initializer = get_initializer(init)
        act = get_activation(activation or initializer.activation)
        rng = np.random.default_rng(self.seed)
        x = rng.normal(size=self.width)
        variances = []
        with np.errstate(over="ignore", invalid="ignore"):  # 'bad' may overflow to inf
            for _ in range(self.layers):
                weight = initializer((self.width, self.width), rng, **init_params)
                x = act(weight @ x)
                variances.append(float(np.var(x)))
        return variances

    def table(self, inits: tuple[str, ...] = LESSON_INITS) -> str:
        """The lesson's printout: ``<init> final variance = <v:.4f>`` per init."""
        return "\n".join(f"{name} final variance = {self.run(name)[-1]:.4f}" for name in inits)

"""``NetworkSpec``: one random network, described once for the simulator, theory and sweeps.

A network of ``depth`` dense layers, widths n_0 ... n_L, weights W_l of shape (n_l, n_{l-1})
drawn from a registered initializer, biases b_l ~ N(0, bias_std^2), an activation phi, and
optionally a residual stream and a norm with scale gamma (see ``initkit.simulation``).
``sigma_w2`` replaces the initializer's own scale by the mean-field one: each layer's draw
is multiplied so that n_{l-1} E[W_ij^2] = sigma_w^2 (Poole et al. 2016), which is how a
phase-diagram sweep (``initkit.sweep``) puts any initializer family at a grid point.

``initkit.simulate`` builds the spec from its keyword arguments once (``NetworkSpec.build``)
and hands it on; ``simulation.run_network`` draws and propagates it, ``predict_network``
gives its mean-field column and ``sweep.measure`` builds one per grid point.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from ..errors import SimulationError, TheoryError
from ..norms import check_norm
from ..registry import Activation, Initializer, get_activation, get_initializer

Params = tuple[tuple[str, Any], ...]


def _as_params(params: Mapping[str, Any] | Params | None) -> Params:
    """Keyword parameters as sorted (name, value) pairs: immutable, order-free."""
    items = params.items() if isinstance(params, Mapping) else (params or ())
    return tuple(sorted(items, key=lambda item: item[0]))


def _is_whole(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def layer_widths(width: int | Sequence[int], depth: int) -> tuple[int, ...]:
    """n_0 ... n_depth from one width or a list (one per layer, or input + one per layer)."""
    if not _is_whole(depth) or depth < 1:
        raise SimulationError(f"depth must be a whole number >= 1, got {depth!r}")
    if _is_whole(width):
        return (int(width),) * (int(depth) + 1)
    if not isinstance(width, Sequence) or not all(_is_whole(w) for w in width):
        raise SimulationError(f"width must be an int or a list of ints, got {width!r}")
    widths = [int(w) for w in width]
    if len(widths) == depth:  # per-layer widths; the input has the first layer's width
        widths = [widths[0], *widths]
    if len(widths) != depth + 1:
        raise SimulationError(f"width list has {len(widths)} entries for depth {depth}: "
                              f"give one per layer ({depth}) or input + one per layer")
    return tuple(widths)


@dataclass(frozen=True)
class NetworkSpec:
    """A random dense network: what its weights, biases, activation and wiring are.

    ``init`` and ``activation`` may be given by name (``activation=None``: the one the
    initializer is meant for); they are resolved to the registered objects. ``gamma`` is
    the norm's scale (0: zero-gamma, each residual block starts as the identity; ignored
    without a norm). ``sigma_w2`` (None: the initializer's own scale) rescales every layer's
    draw to n_in E[W^2] = sigma_w^2.

    Example:
        >>> spec = NetworkSpec.build("he", "relu", depth=3, width=64)
        >>> spec.widths, spec.activation.name
        ((64, 64, 64, 64), 'relu')
    """

    init: Initializer
    activation: Activation | None
    widths: tuple[int, ...]
    bias_std: float = 0.0
    residual: bool = False
    norm: str | None = None
    gamma: float = 1.0
    init_params: Params = ()
    activation_params: Params = ()
    sigma_w2: float | None = None

    def __post_init__(self) -> None:
        init = get_initializer(self.init)
        set_field = object.__setattr__  # frozen: normalise once, here
        set_field(self, "init", init)
        set_field(self, "activation", get_activation(self.activation or init.activation))
        set_field(self, "init_params", _as_params(self.init_params))
        set_field(self, "activation_params", _as_params(self.activation_params))
        widths = tuple(int(w) for w in self.widths)
        if len(widths) < 2:
            raise SimulationError(f"a network needs an input width and at least one layer's, "
                                  f"got {list(widths)}")
        if any(w < 1 for w in widths):
            raise SimulationError(f"every width must be >= 1, got {list(widths)}")
        set_field(self, "widths", widths)
        if not (isinstance(self.bias_std, int | float) and self.bias_std >= 0):
            raise SimulationError(f"bias_std must be a number >= 0, got {self.bias_std!r}")
        set_field(self, "norm", check_norm(self.norm))
        if self.residual and len(set(widths)) != 1:
            raise SimulationError(f"a residual stream needs equal widths, got {list(widths)}")
        if self.sigma_w2 is not None and not self.sigma_w2 >= 0:
            raise SimulationError(f"sigma_w^2 is a variance: give a value >= 0, got "
                                  f"{self.sigma_w2!r}")

    @classmethod
    def build(cls, init: str | Initializer, activation: str | Activation | None = None,
              depth: int = 10, width: int | Sequence[int] = 256, **options: Any) -> NetworkSpec:
        """The spec of ``depth`` layers of ``width`` units (an int, or a list: one per layer,
        or input + one per layer); ``options`` are the other fields."""
        return cls(init, activation, layer_widths(width, depth), **options)

    @property
    def depth(self) -> int:
        return len(self.widths) - 1

    @property
    def init_kwargs(self) -> dict[str, Any]:
        return dict(self.init_params)

    @property
    def activation_kwargs(self) -> dict[str, Any]:
        return dict(self.activation_params)

    def shape(self, layer: int) -> tuple[int, int]:
        """Layer ``layer``'s weight shape (fan_out, fan_in); layer 0 is the first."""
        return self.widths[layer + 1], self.widths[layer]

    def phi(self, x: np.ndarray) -> np.ndarray:
        return self.activation(x, **self.activation_kwargs)

    def dphi(self, x: np.ndarray) -> np.ndarray:
        return self.activation.grad(x, **self.activation_kwargs)

    def draw_weight(self, layer: int, rng: np.random.Generator,
                    dtype: DTypeLike = np.float64) -> np.ndarray:
        """W_layer from the initializer (rescaled to sigma_w2 when set); never modified later,
        so a memoizing initializer may hand out the same array twice."""
        shape = self.shape(layer)
        w = self.init(shape, rng, dtype=dtype, **self.init_kwargs)
        if self.sigma_w2 is None:
            return w
        second = self.init.target_variance(shape, **self.init_kwargs)
        if not second:  # no declared second moment: the draw's own
            second = float(np.mean(np.square(w, dtype=np.float64)))
        if not second > 0:
            raise SimulationError(f"initializer {self.init.name!r} draws all-zero weights: "
                                  "nothing to scale to sigma_w^2 / fan_in")
        return w * math.sqrt(self.sigma_w2 / (shape[1] * second))

    def draw_biases(self, rng: np.random.Generator,
                    dtype: DTypeLike = np.float64) -> list[np.ndarray | None]:
        """b_l ~ N(0, bias_std^2) per layer, drawn after every weight (None without bias)."""
        if not self.bias_std > 0:
            return [None] * self.depth
        return [rng.normal(0.0, self.bias_std, self.widths[l + 1]).astype(dtype, copy=False)
                for l in range(self.depth)]

    def weight_gain(self, layer: int, fan: int) -> float:
        """fan * E[W_ij^2] of layer ``layer``: the sigma_w^2 the signal sees along ``fan``
        (fan_in forward, fan_out backward).

        Raises:
            TheoryError: the initializer is deterministic or declares no variance (and no
                sigma_w2 rescales it), so mean-field theory has no sigma_w^2.
        """
        init = self.init
        if init.deterministic:
            raise TheoryError(
                f"initializer {init.name!r} (plugin {init.plugin!r}) is deterministic: "
                "mean-field theory is about i.i.d. random weights, so it makes no prediction")
        fan_out, fan_in = self.shape(layer)
        if self.sigma_w2 is not None:
            return fan * self.sigma_w2 / fan_in
        var = init.target_variance((fan_out, fan_in), **self.init_kwargs)
        if var is None:
            raise TheoryError(
                f"initializer {init.name!r} (plugin {init.plugin!r}) declares no variance, so "
                "mean-field theory does not apply: it needs sigma_w^2 = fan * Var(W). Register "
                "it with variance=lambda fan_in, fan_out, **params: ... to get a prediction.")
        return fan * var

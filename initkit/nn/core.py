"""The engine's two building blocks: a ``Parameter`` (value + gradient) and a ``Module``.

As in karpathy/micrograd, each module knows only its own local rule: ``forward(x)`` computes
its output and keeps what it needs (its cache); ``backward(grad_out)`` receives dL/d(output),
writes dL/d(parameter) into each of its parameters' ``.grad`` and returns dL/d(input). The
difference is that the unit is a whole vectorised layer over a batch, not a scalar.

Gradients are *overwritten* by each backward pass (not accumulated): every parameter is used
once per forward pass, so there is nothing to zero between steps. (The RNN shares its
weights across time steps and sums over time itself, inside one backward call.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
from numpy.typing import DTypeLike

from ..errors import EngineError  # noqa: F401 (defined in initkit.errors, re-exported here)

DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_dtype(dtype: DTypeLike) -> np.dtype:
    """Return ``dtype`` as a numpy dtype if it is float32 or float64, else raise EngineError."""
    dt = np.dtype(dtype)
    if dt not in DTYPES:
        raise EngineError(f"dtype must be float32 or float64, got {dt}")
    return dt


class Parameter:
    """A trainable array and the gradient of the loss with respect to it.

    Attributes:
        data: the value (float32 unless the model was built in float64).
        grad: dL/d(data) from the last backward pass, same shape and dtype, or None.
        name: a readable name such as ``"dense0.W"`` (used in tables and History).
    """

    __slots__ = ("data", "grad", "name")

    def __init__(self, data: np.ndarray, name: str = ""):
        self.data = data
        self.grad: np.ndarray | None = None
        self.name = name

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    def __repr__(self) -> str:
        return f"Parameter({self.name!r}, shape={self.data.shape}, dtype={self.data.dtype})"


#: ``hook(module, input, output)``, called after ``module(x)`` computed its output.
ForwardHook = Callable[["Module", np.ndarray, np.ndarray], None]


class HookHandle:
    """What ``register_forward_hook`` returns: ``remove()`` it, or use it as a context."""

    def __init__(self, module: Module, hook: ForwardHook):
        self._module = module
        self._hook = hook

    def remove(self) -> None:
        """Stop calling the hook (removing twice is harmless)."""
        self._module._forward_hooks = tuple(h for h in self._module._forward_hooks
                                            if h is not self._hook)

    def __enter__(self) -> HookHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.remove()


class Module:
    """Base class: ``forward``, ``backward``, ``parameters`` and child modules.

    Subclasses set ``self.name`` and override ``forward`` and ``backward``; containers
    override ``children`` and call each child as ``child(x)``. ``model(x)`` is
    ``model.forward(x)`` followed by the module's forward hooks (PyTorch's
    ``register_forward_hook``): a hook sees every output without patching any method.
    """

    name: str = "module"
    _forward_hooks: tuple[ForwardHook, ...] = ()

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, x: np.ndarray) -> np.ndarray:
        out = self.forward(x)
        for hook in self._forward_hooks:
            hook(self, x, out)
        return out

    def register_forward_hook(self, hook: ForwardHook) -> HookHandle:
        """Call ``hook(module, input, output)`` after each ``module(x)``; returns a handle.

        Example:
            >>> import numpy as np
            >>> from initkit.nn import MLP
            >>> model, seen = MLP([4, 3, 2], seed=0), []
            >>> with model.layers[0].register_forward_hook(
            ...         lambda m, x, y: seen.append(y.shape)):
            ...     _ = model(np.ones((5, 4)))
            >>> seen
            [(5, 3)]
        """
        self._forward_hooks = (*self._forward_hooks, hook)
        return HookHandle(self, hook)

    def own_parameters(self) -> list[Parameter]:
        """The parameters this module holds itself (not its children's)."""
        return []

    def children(self) -> Sequence[Module]:
        return ()

    def modules(self) -> Iterator[Module]:
        """This module and every descendant, depth first, in forward order."""
        yield self
        for child in self.children():
            yield from child.modules()

    def parameters(self) -> list[Parameter]:
        """Every trainable parameter of this module and its descendants, in forward order."""
        return [p for m in self.modules() for p in m.own_parameters()]

    def weights(self) -> list[Parameter]:
        """The weight matrices (what History's per-layer gradient norms are over)."""
        return [p for m in self.modules() for p in getattr(m, "weight_parameters", list)()]

    @property
    def dtype(self) -> np.dtype:
        params = self.parameters()
        return params[0].data.dtype if params else np.dtype(np.float32)

    def num_parameters(self) -> int:
        return int(sum(p.data.size for p in self.parameters()))


class Sequential(Module):
    """Modules applied one after the other; backward runs them in reverse.

    The input is cast to the model's dtype once at the entrance, so a float64 array fed to a
    float32 model does not silently upcast every layer behind it.
    """

    def __init__(self, layers: Sequence[Module], name: str = "sequential"):
        self.layers = list(layers)
        self.name = name
        params = self.parameters()
        self._dtype = params[0].data.dtype if params else np.dtype(np.float32)

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    def children(self) -> Sequence[Module]:
        return self.layers

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=self._dtype)
        for layer in self.layers:
            x = layer(x)
        return x

    def backward(self, grad: np.ndarray) -> np.ndarray:
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return grad

    def __repr__(self) -> str:
        inner = "\n".join(f"  {layer!r}" for layer in self.layers)
        return f"{type(self).__name__}(\n{inner}\n)"

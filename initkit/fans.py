"""Fan-in and fan-out of a weight shape, in PyTorch's layout ``(out, in, *kernel)``."""

from __future__ import annotations

import math
from collections.abc import Sequence

from .errors import FanError

Shape = tuple[int, ...]


def as_shape(shape: int | Sequence[int]) -> Shape:
    """Return ``shape`` as a tuple of non-negative ints, or raise ``ValueError``."""
    if isinstance(shape, int | float) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        dims = tuple(int(d) for d in shape)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ValueError(f"a shape must be a tuple of ints like (out, in), got {shape!r}") from None
    if any(d < 0 for d in dims) or any(int(d) != d for d in shape):  # type: ignore[union-attr]
        raise ValueError(f"a shape must hold non-negative ints, got {shape!r}")
    return dims


def compute_fans(shape: int | Sequence[int]) -> tuple[int, int]:
    """Return ``(fan_in, fan_out)`` of a weight of ``shape`` (``(out, in, *kernel)``).

    fan_in = in * receptive_field and fan_out = out * receptive_field, where
    receptive_field is the product of the kernel dimensions (1 for a dense layer),
    exactly as ``torch.nn.init._calculate_fan_in_and_fan_out``.

    Example:
        >>> compute_fans((64, 32, 3, 3))
        (288, 576)
    """
    dims = as_shape(shape)
    if len(dims) < 2:
        raise FanError(
            f"fan_in and fan_out are undefined for a weight of shape {dims}: fan-based "
            "initializers need at least 2 dimensions (out, in, *kernel). For a bias "
            "vector use 'zeros', 'constant' or 'normal'."
        )
    receptive_field = math.prod(dims[2:])
    return dims[1] * receptive_field, dims[0] * receptive_field


def select_fan(shape: int | Sequence[int], mode: str) -> int:
    """The fan that ``mode`` ("fan_in" or "fan_out") names, as PyTorch's kaiming does."""
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = compute_fans(shape)
    return fan_in if mode == "fan_in" else fan_out

"""Check a model's backward pass against central finite differences.

    dL/dp_k  ~=  (L(p + eps e_k) - L(p - eps e_k)) / (2 eps)      error O(eps^2)

Run it in float64 (build the model with ``dtype=np.float64``): in float32 the round-off of L,
about 1e-7 L, divided by 2 eps swamps the difference for any eps small enough to be accurate.
The error reported per parameter is max |analytic - numeric| / max(|analytic|, |numeric|, floor),
the relative error cs231n recommends (below 1e-6 is a correct gradient), with a floor of
1e-3 times the largest gradient entry of the whole model: a gradient that is exactly zero
(a bias right before a batch norm) otherwise turns round-off noise of 1e-11 into a relative
error of 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .core import Module
from .losses import Loss, get_loss


@dataclass
class GradCheck:
    """Result of ``gradcheck``: the worst relative error per parameter name."""

    errors: dict[str, float]

    @property
    def max_error(self) -> float:
        return max(self.errors.values()) if self.errors else 0.0

    def __str__(self) -> str:
        return "\n".join(f"{name}: {err:.2e}" for name, err in self.errors.items())


def gradcheck(model: Module, x: np.ndarray, target: np.ndarray, loss: str | Loss = "mse",
              eps: float = 1e-5, max_entries: int = 40,
              rng: np.random.Generator | int | None = 0) -> GradCheck:
    """Compare every parameter's backprop gradient with finite differences.

    Args:
        model: the model (float64 for a meaningful check).
        x, target: one batch and its targets.
        loss: ``"mse"``, ``"cross_entropy"`` or a Loss.
        eps: the finite-difference step.
        max_entries: check at most this many randomly chosen entries per parameter.
        rng: a seed or Generator choosing the entries.

    Returns:
        a GradCheck with the worst relative error per parameter.
    """
    loss_fn = get_loss(loss)
    rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
    loss_fn(model.forward(x), target)
    model.backward(loss_fn.backward())
    errors: dict[str, float] = {}
    largest = max(float(np.abs(p.grad).max()) for p in model.parameters())
    floor = max(1e-3 * largest, 1e-12)
    for p in model.parameters():
        analytic = p.grad.copy()
        flat = p.data.reshape(-1)
        picks = np.arange(flat.size)
        if flat.size > max_entries:
            picks = rng.choice(flat.size, size=max_entries, replace=False)
        worst = 0.0
        for k in picks:
            saved = flat[k]
            flat[k] = saved + eps
            plus = loss_fn(model.forward(x), target)
            flat[k] = saved - eps
            minus = loss_fn(model.forward(x), target)
            flat[k] = saved
            numeric = (plus - minus) / (2 * eps)
            a = float(analytic.reshape(-1)[k])
            scale = max(abs(a), abs(numeric), floor)
            worst = max(worst, abs(a - numeric) / scale)
        errors[p.name] = worst
    return GradCheck(errors)

"""Normalisation layers with their exact backward passes (shared by simulator and engine).

For an input z of shape (batch, features):

    layer  x^ = (z - mean_f z) / sqrt(var_f z + eps)         (Ba et al. 2016)
    rms    x^ = z / sqrt(mean_f z^2 + eps)                   (Zhang & Sennrich 2019)
    batch  x^ = (z - mean_b z) / sqrt(var_b z + eps)         (Ioffe & Szegedy 2015)

and y = gamma * x^ (+ beta). ``_f`` is over features (per sample), ``_b`` over the batch.
Backward, with g = dL/dx^ = gamma * dL/dy and means over the same axis:

    layer / batch  dL/dz = (g - mean(g) - x^ mean(g x^)) / sigma
    rms            dL/dz = (g - x^ mean(g x^)) / rms

Pitfall: forgetting the mean(g x^) term (treating sigma as a constant) gives a gradient that
passes a finite-difference check only when the inputs are already normalised.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import SimulationError

NORMS = ("layer", "rms", "batch")
EPS = 1e-5


@dataclass
class NormCache:
    kind: str
    normalized: np.ndarray
    scale: np.ndarray  # sigma or rms, broadcastable to the input


def check_norm(kind: str | None) -> str | None:
    """Return ``kind`` if it names a norm (or is None), else raise a clear ValueError."""
    if kind is None or kind in NORMS:
        return kind
    raise SimulationError(f"unknown norm {kind!r}; choose one of {', '.join(NORMS)} or None")


def norm_forward(z: np.ndarray, kind: str) -> tuple[np.ndarray, NormCache]:
    """Return the normalised x^ (before gamma) and the cache for the backward pass."""
    axis = 0 if kind == "batch" else -1
    if kind == "rms":
        scale = np.sqrt(np.mean(z * z, axis=axis, keepdims=True) + EPS)
        normalized = z / scale
    else:
        centred = z - z.mean(axis=axis, keepdims=True)
        scale = np.sqrt(np.mean(centred * centred, axis=axis, keepdims=True) + EPS)
        normalized = centred / scale
    return normalized, NormCache(kind, normalized, scale)


def norm_backward(grad_normalized: np.ndarray, cache: NormCache) -> np.ndarray:
    """dL/dz from dL/dx^ (multiply by gamma before calling when gamma != 1)."""
    axis = 0 if cache.kind == "batch" else -1
    g, xhat = grad_normalized, cache.normalized
    projection = xhat * np.mean(g * xhat, axis=axis, keepdims=True)
    if cache.kind == "rms":
        return (g - projection) / cache.scale
    return (g - g.mean(axis=axis, keepdims=True) - projection) / cache.scale

"""Gaussian expectations that respect kinks: composite Gauss-Legendre rules split at 0.

E[f(X)], X ~ N(m, s^2), is written as the integral of f(m + s z) phi(z) over z in [-10, 10]
(the tail beyond carries phi(10) ~ 1e-23) and cut into panels at the kink z_0 = -m / s, where
x = 0 (the kink of ReLU, leaky ReLU and SELU and the centre of every built-in's bend), at
fixed points that resolve the Gaussian weight, and at z_0 +- 10 * 2^-j, panels that halve
towards the kink. Each panel gets an ``ORDER``-point Gauss-Legendre rule. So the jump of
selu' at 0, the narrow bump of sigmoid' at large q (width 1 / sqrt(q) in z) and the
e^{sqrt(q) z} tail are integrated to about 1e-13 relative, where a Gauss-Hermite rule (no
node at the kink, nodes ~ 0.2 apart near 0) is off by up to 1e-2. Every rule is vectorised
over many (m, s) at once, which the two-dimensional expectations below use.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

import numpy as np
from scipy.special import roots_legendre

#: Half-width of the integration range in standard deviations.
Z_MAX = 10.0
#: Gauss-Legendre nodes per panel.
ORDER = 8
#: Panel edges that resolve the Gaussian weight itself (in standard deviations).
_BASE = np.array([-10.0, -7.0, -5.0, -3.5, -2.25, -1.25, -0.5, 0.0, 0.5, 1.25, 2.25, 3.5,
                  5.0, 7.0, 10.0])
#: Panels near the kink are refined until they are this narrow on the x scale (the scale of
#: the activation's own features, 1) or on the z scale, whichever is finer.
_FINEST = 0.05


@lru_cache(maxsize=4)
def _legendre(order: int) -> tuple[np.ndarray, np.ndarray]:
    nodes, weights = roots_legendre(order)
    return (nodes + 1.0) / 2.0, weights / 2.0  # on [0, 1]


def _levels(sd: float, finest_z: float) -> int:
    """How many halvings towards the kink: down to _FINEST / sd in z (features of size 1 in x)."""
    finest = min(_FINEST / max(sd, 1.0), finest_z)
    return max(2, math.ceil(math.log2(Z_MAX / finest)))


def gaussian_rule(mean: np.ndarray | float, sd: np.ndarray | float,
                  finest_z: float = _FINEST, levels: int | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Nodes x and weights w with sum(w * f(x), axis=-1) = E[f(X)], X ~ N(mean, sd^2).

    ``mean`` and ``sd`` broadcast to one shape S (sd > 0); both results have shape
    S + (n,). ``finest_z`` asks for panels at least that narrow (in z) next to x = 0, for
    integrands whose bend there is sharper than the activation's (a smoothed kink);
    ``levels`` overrides the number of halvings that follows from both.
    """
    mean, sd = np.broadcast_arrays(np.asarray(mean, float), np.asarray(sd, float))
    if levels is None:
        levels = _levels(float(np.max(sd)), finest_z)
    kink = np.clip(-mean / sd, -Z_MAX, Z_MAX)[..., None]
    offsets = Z_MAX * 2.0 ** -np.arange(levels)
    graded = np.clip(np.concatenate([kink - offsets, kink, kink + offsets], axis=-1),
                     -Z_MAX, Z_MAX)
    base = np.broadcast_to(_BASE, kink.shape[:-1] + _BASE.shape)
    edges = np.sort(np.concatenate([base, graded], axis=-1), axis=-1)
    left, width = edges[..., :-1, None], np.diff(edges, axis=-1)[..., None]
    unit_nodes, unit_weights = _legendre(ORDER)
    z = (left + width * unit_nodes).reshape(*kink.shape[:-1], -1)
    w = (width * unit_weights).reshape(z.shape) * np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    return mean[..., None] + sd[..., None] * z, w


@lru_cache(maxsize=64)
def _standard(levels: int) -> tuple[np.ndarray, np.ndarray]:
    z, w = gaussian_rule(0.0, 1.0, levels=levels)
    keep = w > 0  # panels clipped at +-Z_MAX have width 0: no 0 * f(x) = 0 * inf = nan
    z, w = z[keep], w[keep] / w[keep].sum()  # E[1] = 1 to rounding (the tails: ~1e-23)
    z.setflags(write=False)
    w.setflags(write=False)
    return z, w


def centred_rule(sd: float, finest_z: float = _FINEST) -> tuple[np.ndarray, np.ndarray]:
    """``gaussian_rule(0, sd, finest_z)`` for one sd, from a cache (with the kink at z = 0
    the z nodes depend on sd only through the number of halvings)."""
    z, w = _standard(_levels(sd, finest_z))
    return sd * z, w


def weighted_mean(w: np.ndarray, values: np.ndarray) -> float:
    """sum(w * values) for weights w that sum to 1, and exactly c when every value is c.

    The dot product's rounding of sum(w) depends on the BLAS kernel (OpenBLAS on AVX-512
    gives 0.9999999999999998 for this module's weights), so without the shortcut E[1] would
    differ from 1 by an ulp on some machines: chi_1 of tanh at sigma_w^2 = 1, sigma_b^2 = 0
    (q* = 0, where tanh' is 1 at every node) would not be exactly 1.
    """
    values = np.asarray(values)
    first = values.flat[0]
    if (values == first).all():
        return float(first)
    return float(np.dot(w, values))


def gaussian_expectation(f: Callable[[np.ndarray], np.ndarray], q: float = 1.0) -> float:
    """E[f(sqrt(q) z)] for z ~ N(0, 1), by the kink-respecting rule above.

    ``q = 0`` gives f(0) (the rule is not needed: the distribution is a point).
    """
    if q <= 0.0:
        return float(np.asarray(f(np.zeros(1)))[0])
    x, w = centred_rule(math.sqrt(q))
    return weighted_mean(w, f(x))


def conditional_rule(q: float, c: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The outer rule for (u_1, u_2) ~ N(0, q [[1, c], [c, 1]]) written as u_1 then u_2 | u_1.

    Returns (u_1 nodes, u_1 weights, the sd of u_2 given u_1). Given u_1, u_2 is Gaussian
    with mean c u_1 and sd sqrt(q (1 - c^2)). When c is near 1 the inner expectation is a
    kink smoothed over that sd, so the outer rule refines towards u_1 = 0 below it.
    """
    root = math.sqrt(q)
    inner_sd = root * math.sqrt(max(1.0 - c * c, 0.0))
    finest_z = min(_FINEST, 0.1 * inner_sd / root) if inner_sd > 0 else _FINEST
    x, w = centred_rule(root, finest_z=max(finest_z, 1e-12))
    return x, w, np.asarray(inner_sd)


def pair_expectation(f: Callable[[np.ndarray], np.ndarray],
                     g: Callable[[np.ndarray], np.ndarray], q: float, c: float,
                     inner: Callable[[np.ndarray, float], np.ndarray] | None = None) -> float:
    """E[f(u_1) g(u_2)] for (u_1, u_2) Gaussian with second moments q and correlation c.

    Computed as E[f(u_1) E[g(u_2) | u_1]], both by kink-respecting rules (the inner one split
    where u_2 = 0). ``inner(m, s)``, when given, is E[g(m + s Z)] in closed form (SELU).
    """
    x1, w1, inner_sd = conditional_rule(q, c)
    mean = c * x1
    if float(inner_sd) == 0.0:  # c = 1: u_2 = u_1
        given = g(mean)
    elif inner is not None:
        given = inner(mean, float(inner_sd))
    else:
        x2, w2 = gaussian_rule(mean, np.broadcast_to(inner_sd, mean.shape))
        given = np.sum(w2 * g(x2), axis=-1)
    return weighted_mean(w1, f(x1) * given)

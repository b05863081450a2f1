"""Mean-field signal propagation (Poole et al. 2016; Schoenholz et al. 2017).

In a wide random network h_{l+1} = W_{l+1} phi(h_l) + b with W_ij ~ (0, sigma_w^2 / N) and
b_i ~ (0, sigma_b^2), every pre-activation is Gaussian with second moment q_l, and

    length map     q_{l+1} = sigma_w^2 E[phi(sqrt(q_l) z)^2] + sigma_b^2,   z ~ N(0, 1)
    gradient       E[delta_l^2] = E[delta_{l+1}^2] * sigma_w^2 E[phi'(sqrt(q_l) z)^2]
    chi_1          = sigma_w^2 E[phi'(sqrt(q*) z)^2] at the fixed point q*
    correlation    c_{l+1} = (sigma_w^2 E[phi(u_1) phi(u_2)] + sigma_b^2) / q*,
                   u_1 = sqrt(q*) z_1, u_2 = sqrt(q*)(c z_1 + sqrt(1 - c^2) z_2)

chi_1 < 1 is the ordered phase (gradients vanish), chi_1 > 1 the chaotic one (they explode)
and chi_1 = 1 the edge of chaos. Expectations use Gauss-Hermite quadrature with an even
number of nodes: no node sits at 0, so the ReLU integrals q/2 and 1/2 come out exact.

Facts the tests pin: ReLU with sigma_w^2 = 2 keeps q constant and chi_1 = 1; tanh with
sigma_w = 1 from q_0 = 1 gives q_20 = 0.0259 (q_l ~ 1/(2l)); the tanh edge of chaos at
sigma_b^2 = 0.05 is sigma_w^2 = 1.761.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from .registry import Activation, Initializer, get_activation, get_initializer

QUADRATURE_NODES = 128


@lru_cache(maxsize=8)
def _nodes(n: int = QUADRATURE_NODES) -> tuple[np.ndarray, np.ndarray]:
    z, w = np.polynomial.hermite_e.hermegauss(n)
    return z, w / w.sum()


def gaussian_expectation(f: Callable[[np.ndarray], np.ndarray], q: float = 1.0) -> float:
    """E[f(sqrt(q) z)] for z ~ N(0, 1), by Gauss-Hermite quadrature."""
    z, w = _nodes()
    return float(np.dot(w, f(math.sqrt(max(q, 0.0)) * z)))


def _act(activation: str | Activation, params: dict[str, Any]) -> tuple[Callable, Callable]:
    act = get_activation(activation)
    return (lambda x: act(x, **params)), (lambda x: act.grad(x, **params))


def length_map(activation: str | Activation, sigma_w2: float, sigma_b2: float = 0.0,
               q0: float = 1.0, depth: int = 10, **act_params: Any) -> np.ndarray:
    """Predicted q per layer: ``q[0] = q0``, q[l+1] = sigma_w^2 E[phi(sqrt(q_l) z)^2] + sigma_b^2.

    Returns an array of ``depth + 1`` values (q_0 ... q_depth).

    Example:
        >>> round(float(length_map("tanh", 1.0, depth=20)[20]), 4)
        0.0259
    """
    phi, _ = _act(activation, act_params)
    q = np.empty(depth + 1)
    q[0] = q0
    for layer in range(depth):
        q[layer + 1] = sigma_w2 * gaussian_expectation(lambda h: phi(h) ** 2, q[layer]) + sigma_b2
    return q


def fixed_point(activation: str | Activation, sigma_w2: float, sigma_b2: float = 0.0,
                q0: float = 1.0, tol: float = 1e-12, max_iter: int = 10_000,
                **act_params: Any) -> float:
    """The q* that the length map converges to from ``q0`` (iterated to ``tol``).

    Returns ``inf`` when q grows without bound (e.g. linear with sigma_w^2 > 1).
    """
    phi, _ = _act(activation, act_params)
    q = q0
    for _ in range(max_iter):
        new = sigma_w2 * gaussian_expectation(lambda h: phi(h) ** 2, q) + sigma_b2
        if not math.isfinite(new) or new > 1e12:
            return math.inf
        if abs(new - q) <= tol * max(1.0, abs(q)):
            return new
        q = new
    return q


def chi1(activation: str | Activation, sigma_w2: float, sigma_b2: float = 0.0,
         q: float | None = None, **act_params: Any) -> float:
    """chi_1 = sigma_w^2 E[phi'(sqrt(q) z)^2], at the fixed point q* unless ``q`` is given.

    The per-layer factor by which the backward gradient variance grows (> 1) or shrinks (< 1).
    """
    _, dphi = _act(activation, act_params)
    if q is None:
        q = fixed_point(activation, sigma_w2, sigma_b2, **act_params)
    return sigma_w2 * gaussian_expectation(lambda h: dphi(h) ** 2, q)


def edge_of_chaos(activation: str | Activation, sigma_b2: float = 0.0, low: float = 0.05,
                  high: float = 20.0, **act_params: Any) -> float:
    """The sigma_w^2 at which chi_1 = 1 for this sigma_b^2 (bisection on chi_1 - 1).

    Example:
        >>> round(edge_of_chaos("tanh", 0.05), 3)
        1.761
    """
    def excess(sw2: float) -> float:
        return chi1(activation, sw2, sigma_b2, **act_params) - 1.0

    lo, hi = low, high
    if excess(lo) > 0 or excess(hi) < 0:
        raise ValueError(f"chi_1 does not cross 1 for sigma_w^2 in [{low}, {high}] with "
                         f"{activation} and sigma_b^2 = {sigma_b2}")
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if excess(mid) < 0 else (lo, mid)
    return 0.5 * (lo + hi)


#: Nodes per axis of the 2-D rule. Smooth integrands converge fast; a kink (ReLU) that does
#: not lie on a grid line limits accuracy to about 5e-4 here (the error falls like 1/n).
PAIR_NODES = 256


def _pair_expectation(f: Callable[[np.ndarray, np.ndarray], np.ndarray], q: float,
                      c: float) -> float:
    """E[f(u_1, u_2)] for (u_1, u_2) Gaussian with second moments q and correlation c."""
    z, w = _nodes(PAIR_NODES)
    z1, z2 = np.meshgrid(z, z, indexing="ij")
    root = math.sqrt(max(q, 0.0))
    u1 = root * z1
    u2 = root * (c * z1 + math.sqrt(max(1.0 - c * c, 0.0)) * z2)
    return float(np.sum(np.outer(w, w) * f(u1, u2)))


def correlation_map(activation: str | Activation, sigma_w2: float, sigma_b2: float = 0.0,
                    c0: float = 0.0, depth: int = 10, q: float | None = None,
                    **act_params: Any) -> np.ndarray:
    """Predicted correlation of two inputs' pre-activations per layer (``c[0] = c0``).

    Uses q* (or the given q) for both inputs, as Poole et al. do once q has converged.
    """
    phi, _ = _act(activation, act_params)
    if q is None:
        q = fixed_point(activation, sigma_w2, sigma_b2, **act_params)
    c = np.empty(depth + 1)
    c[0] = c0
    for layer in range(depth):
        pair = _pair_expectation(lambda a, b: phi(a) * phi(b), q, c[layer])
        c[layer + 1] = min(1.0, (sigma_w2 * pair + sigma_b2) / q)
        if abs(c[layer + 1] - c[layer]) < 1e-12:  # converged: the rest is the fixed point
            c[layer + 2:] = c[layer + 1]
            break
    return c


def _correlation_step(phi: Callable, sigma_w2: float, sigma_b2: float, q: float,
                      c: float) -> float:
    return (sigma_w2 * _pair_expectation(lambda a, b: phi(a) * phi(b), q, c) + sigma_b2) / q


def correlation_fixed_point(activation: str | Activation, sigma_w2: float,
                            sigma_b2: float = 0.0, q: float | None = None,
                            **act_params: Any) -> float:
    """c*, the correlation two inputs converge to (Poole et al. 2016).

    In the ordered phase (chi_1 <= 1) c = 1 is stable, so c* = 1. In the chaotic phase it is
    unstable (the c-map's slope at 1 is chi_1 > 1) and c* is the root of c-map(c) - c in
    [0, 1): that difference is >= 0 at c = 0 and < 0 just below 1, so bisection finds it in
    a fixed number of steps, where iterating the map would crawl near the edge.
    """
    phi, _ = _act(activation, act_params)
    if q is None:
        q = fixed_point(activation, sigma_w2, sigma_b2, **act_params)
    if chi1(activation, sigma_w2, sigma_b2, q=q, **act_params) <= 1.0:
        return 1.0
    lo, hi = 0.0, 1.0 - 1e-9
    if _correlation_step(phi, sigma_w2, sigma_b2, q, lo) - lo <= 0.0:
        return lo
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        if _correlation_step(phi, sigma_w2, sigma_b2, q, mid) - mid > 0.0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def depth_scales(activation: str | Activation, sigma_w2: float, sigma_b2: float = 0.0,
                 **act_params: Any) -> tuple[float, float]:
    """(xi_q, xi_c): how many layers q and c take to reach their fixed points.

    Schoenholz et al. 2017, eqs. 5 and 8: xi_q^-1 = -log(chi_1 + sigma_w^2 E[phi''(u) phi(u)])
    and xi_c^-1 = -log(sigma_w^2 E[phi'(u_1) phi'(u_2)]) at (q*, c*); at c* = 1 (ordered
    phase) the latter is chi_1 itself. xi_c diverges at the edge of chaos, which is why only
    there can very deep networks be trained.
    """
    phi, dphi = _act(activation, act_params)
    q = fixed_point(activation, sigma_w2, sigma_b2, **act_params)
    if not math.isfinite(q):
        return math.nan, math.nan
    eps = 1e-4
    ddphi = lambda h: (dphi(h + eps) - dphi(h - eps)) / (2 * eps)  # noqa: E731
    chi = chi1(activation, sigma_w2, sigma_b2, q=q, **act_params)
    chi_q = chi + sigma_w2 * gaussian_expectation(lambda h: ddphi(h) * phi(h), q)
    c_star = correlation_fixed_point(activation, sigma_w2, sigma_b2, q=q, **act_params)
    if c_star == 1.0:
        chi_c = chi
    else:
        chi_c = sigma_w2 * _pair_expectation(lambda a, b: dphi(a) * dphi(b), q, c_star)
    xi = lambda x: math.inf if x >= 1.0 - 1e-12 else -1.0 / math.log(x) if x > 0 else 0.0  # noqa: E731
    return xi(chi_q), xi(chi_c)


@dataclass(frozen=True)
class Prediction:
    """Mean-field prediction for one network: per layer (index 0 = layer 1)."""

    q: np.ndarray
    grad_var: np.ndarray


def _sigma_w2(init: Initializer, fan_in: int, fan_out: int, fan: int,
              init_params: dict[str, Any]) -> float:
    var = init.target_variance((fan_out, fan_in), **init_params)
    if var is None:
        return math.nan
    return fan * var


def predict(init: str | Initializer, activation: str | Activation | None, widths: Sequence[int],
            bias_std: float = 0.0, residual: bool = False, norm: str | None = None,
            gamma: float = 1.0, q_in: float = 1.0, init_params: dict[str, Any] | None = None,
            activation_params: dict[str, Any] | None = None) -> Prediction:
    """Predict the simulator's per-layer q and backward gradient variance.

    ``widths[0]`` is the input width and ``widths[l]`` layer l's. Plain chain:
    q_1 = sigma_w^2 q_in + sigma_b^2, then the length map; with a norm the normalised
    pre-activation has q = gamma^2. Residual stream s_l = s_{l-1} + branch:
    q_l = q_{l-1} + sigma_w^2 E[phi(sqrt(q_{l-1}) z)^2] + sigma_b^2 (or + gamma^2 with a norm,
    so zero-gamma keeps q constant). The loss is sum(r * output) with r ~ N(0, 1), so the
    gradient at the output has unit variance; each layer below multiplies it by
    fan_out * Var(W) * E[phi'^2] (the gradient-independence assumption). The gradient
    through a norm layer is not predicted (NaN).
    """
    with np.errstate(over="ignore", invalid="ignore"):  # an exploding init predicts inf
        return _predict(get_initializer(init), activation, widths, bias_std, residual, norm,
                        gamma, q_in, dict(init_params or {}), dict(activation_params or {}))


def _predict(init: Initializer, activation: str | Activation | None, widths: Sequence[int],
             bias_std: float, residual: bool, norm: str | None, gamma: float, q_in: float,
             init_params: dict[str, Any], act_params: dict[str, Any]) -> Prediction:
    act = get_activation(activation or init.activation)
    phi2 = lambda h: act(h, **act_params) ** 2  # noqa: E731
    dphi2 = lambda h: act.grad(h, **act_params) ** 2  # noqa: E731
    depth = len(widths) - 1
    sb2 = bias_std**2
    q = np.empty(depth)
    forward_gain = np.empty(depth)  # sigma_w^2 seen forward by layer l (fan_in * Var W)
    backward_gain = np.empty(depth)  # seen backward (fan_out * Var W)
    for layer in range(depth):
        fan_in, fan_out = widths[layer], widths[layer + 1]
        forward_gain[layer] = _sigma_w2(init, fan_in, fan_out, fan_in, init_params)
        backward_gain[layer] = _sigma_w2(init, fan_in, fan_out, fan_out, init_params)
    prev = q_in
    for layer in range(depth):
        # layer 1 of the plain chain sees the raw input, every other layer phi(previous q)
        moment = prev if (layer == 0 and not residual) else gaussian_expectation(phi2, prev)
        branch = gamma**2 if norm else forward_gain[layer] * moment + sb2
        q[layer] = prev + branch if residual else branch
        prev = q[layer]
    grad = np.empty(depth)
    if norm:
        grad[:] = math.nan
        return Prediction(q=q, grad_var=grad)
    # top: dL/d out = r; plain output is phi(h_L), residual output is the stream itself
    grad[-1] = 1.0 if residual else gaussian_expectation(dphi2, q[-1])
    for layer in range(depth - 2, -1, -1):
        through = backward_gain[layer + 1] * grad[layer + 1]
        if residual:  # delta_l = delta_{l+1} + phi'(s_l) * W^T delta_{l+1}
            grad[layer] = grad[layer + 1] + gaussian_expectation(dphi2, q[layer]) * through
        else:
            grad[layer] = gaussian_expectation(dphi2, q[layer]) * through
    return Prediction(q=q, grad_var=grad)

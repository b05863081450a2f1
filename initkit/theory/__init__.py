"""Mean-field signal propagation (Poole et al. 2016; Schoenholz et al. 2017).

In a wide random network h_{l+1} = W_{l+1} phi(h_l) + b with W_ij ~ (0, sigma_w^2 / N) and
b_i ~ (0, sigma_b^2), every pre-activation is Gaussian with second moment q_l, and

    length map     q_{l+1} = sigma_w^2 E[phi(sqrt(q_l) z)^2] + sigma_b^2,   z ~ N(0, 1)
    gradient       E[delta_l^2] = E[delta_{l+1}^2] * sigma_w^2 E[phi'(sqrt(q_l) z)^2]
    chi_1          = sigma_w^2 E[phi'(sqrt(q*) z)^2] at the fixed point q*
    correlation    c_{l+1} = (sigma_w^2 E[phi(u_1) phi(u_2)] + sigma_b^2) / q*,
                   u_1 = sqrt(q*) z_1, u_2 = sqrt(q*)(c z_1 + sqrt(1 - c^2) z_2)

chi_1 < 1 is the ordered phase (gradients vanish), chi_1 > 1 the chaotic one (they explode)
and chi_1 = 1 the edge of chaos.

How the numbers are computed: ReLU, leaky ReLU and linear in closed form (arc-cosine
kernels, Cho & Saul 2009), SELU semi-closed, every other activation by composite
Gauss-Legendre rules split at the kink x = 0 (``quadrature``, ``forms``); fixed points, c*
and the edge of chaos as roots by brentq (``meanfield``). q*, chi_1, c* and the edge agree
with independent quadrature to ~1e-10 relative over sigma_w^2 in [0.5, 4], sigma_b^2 in
[0, 0.3] (the depth scales -1/log(chi) to ~1e-6 next to the edge, where 1/|log chi| grows).
Degenerate cases are explicit: ``inf`` / ``nan`` with a ``TheoryWarning``, or a
``TheoryError``.

The network a prediction is about is a ``NetworkSpec`` (``network``): initializer,
activation, widths, bias, residual stream, norm and an optional sigma_w^2 rescale, the one
description ``initkit.simulate``, ``predict`` and ``initkit.sweep`` share.

Facts the tests pin: ReLU with sigma_w^2 = 2 keeps q constant and chi_1 = 1; tanh with
sigma_w = 1 from q_0 = 1 gives q_20 = 0.0259 (q_l ~ 1/(2l)); the tanh edge of chaos at
sigma_b^2 = 0.05 is sigma_w^2 = 1.761, at sigma_b^2 = 0 exactly 1.
"""

from __future__ import annotations

from .meanfield import (
    chi1,
    correlation_fixed_point,
    correlation_map,
    depth_scales,
    edge_of_chaos,
    fixed_point,
    length_map,
)
from .network import NetworkSpec
from .predict import Prediction, predict, predict_network
from .quadrature import gaussian_expectation

__all__ = [
    "NetworkSpec",
    "Prediction",
    "chi1",
    "correlation_fixed_point",
    "correlation_map",
    "depth_scales",
    "edge_of_chaos",
    "fixed_point",
    "gaussian_expectation",
    "length_map",
    "predict",
    "predict_network",
]

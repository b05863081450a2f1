"""SiLU (swish): x * sigmoid(x), with its derivative and its gain.

Elfwing, Uchibe & Doya 2018, "Sigmoid-Weighted Linear Units for Neural Network Function
Approximation in Reinforcement Learning"; Ramachandran, Zoph & Le 2017, "Searching for
Activation Functions" (swish with beta = 1); the x * Phi(x) cousin is GELU (Hendrycks &
Gimpel 2016).
"""

from __future__ import annotations

import numpy as np

#: 1 / sqrt(E[silu(z)^2]), z ~ N(0, 1): sigma_w^2 = gain^2 / fan_in keeps q = 1 a fixed
#: point of the length map, the same convention as initkit's GELU gain. Gauss-Hermite
#: quadrature (200 nodes) gives 1.676532470331092; the plugin's tests recompute it.
SILU_GAIN = 1.676532470331092


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # (1 + tanh(x/2)) / 2 never overflows; 1 / (1 + exp(-x)) does for x < -709.
    return 0.5 * (1 + np.tanh(0.5 * x))


def silu(x: np.ndarray) -> np.ndarray:
    """phi(x) = x * sigmoid(x) (SiLU / swish, Elfwing et al. 2018)."""
    return x * _sigmoid(x)


def silu_grad(x: np.ndarray) -> np.ndarray:
    """phi'(x) = s (1 + x (1 - s)), s = sigmoid(x)."""
    s = _sigmoid(x)
    return s * (1 + x * (1 - s))

"""Random-matrix laws the spectrum figures draw (candidates for ``initkit.theory``).

For an n x n matrix with i.i.d. entries of mean 0 and variance sigma^2:

- circular law (Girko 1984; Bai 1997): the eigenvalues fill the disc of radius
  sigma * sqrt(n) uniformly;
- quarter-circle law: the singular values have density
  sqrt(4 sigma^2 n - s^2) / (pi sigma^2 n) on [0, 2 sigma sqrt(n)];

for an m x n one, with p = min(m, n), N = max(m, n), y = p / N, the Marchenko-Pastur law
(Marchenko & Pastur 1967): lambda = s^2 / N has density
sqrt((lambda_+ - lambda)(lambda - lambda_-)) / (2 pi sigma^2 y lambda) on
[sigma^2 (1 - sqrt y)^2, sigma^2 (1 + sqrt y)^2], i.e. the singular values live on
[sigma (sqrt N - sqrt p), sigma (sqrt N + sqrt p)] (y = 1 gives the quarter circle);

for a product of L such square matrices with sigma^2 = 1/n, the squared singular values
follow the Fuss-Catalan law, whose upper edge is (L + 1)^(L + 1) / L^L (Penson & Zyczkowski
2011; Pennington, Schoenholz & Ganguli 2017): it grows like e (L + 1), while a product of
orthogonal matrices keeps every singular value exactly 1 (dynamical isometry).
"""

from __future__ import annotations

import math

import numpy as np


def circular_law_radius(sigma2: float, n: int) -> float:
    """sigma * sqrt(n): the radius of the disc an n x n matrix's eigenvalues fill."""
    return math.sqrt(sigma2 * n)


def singular_value_edges(rows: int, cols: int, sigma2: float) -> tuple[float, float]:
    """The support [sigma (sqrt N - sqrt p), sigma (sqrt N + sqrt p)] of the singular values."""
    p, big = sorted((rows, cols))
    sigma = math.sqrt(sigma2)
    return sigma * (math.sqrt(big) - math.sqrt(p)), sigma * (math.sqrt(big) + math.sqrt(p))


def singular_value_density(s: np.ndarray, rows: int, cols: int, sigma2: float) -> np.ndarray:
    """Marchenko-Pastur density of the singular values s of a rows x cols Gaussian matrix.

    The density of s = sqrt(N lambda) is p_MP(s^2 / N) * 2 s / N; zero outside the edges.
    It integrates to 1 over the min(rows, cols) singular values.
    """
    p, big = sorted((rows, cols))
    y = p / big
    lam = np.asarray(s, dtype=float) ** 2 / big
    lo, hi = sigma2 * (1 - math.sqrt(y)) ** 2, sigma2 * (1 + math.sqrt(y)) ** 2
    inside = (lam > lo) & (lam < hi)
    with np.errstate(divide="ignore", invalid="ignore"):
        density = np.sqrt(np.clip((hi - lam) * (lam - lo), 0, None)) / (2 * math.pi * sigma2
                                                                         * y * lam)
        out = density * 2 * np.asarray(s, dtype=float) / big
    return np.where(inside, out, 0.0)


def fuss_catalan_edge(depth: int) -> float:
    """(L + 1)^(L + 1) / L^L: the largest squared singular value of L Gaussian layers."""
    return (depth + 1) ** (depth + 1) / depth**depth

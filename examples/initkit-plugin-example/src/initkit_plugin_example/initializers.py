"""Two initializers initkit does not ship: Fixup-scaled He and delta-orthogonal.

Both follow initkit's contract ``init(shape, rng, **params) -> ndarray``: ``shape`` in
PyTorch's layout ``(out, in, *kernel)``, every random number from ``rng`` (a
``numpy.random.Generator``), a ``dtype`` keyword, and ``initkit.FanError`` for a shape
whose fans are undefined (``initkit.compute_fans`` raises it).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import DTypeLike

import initkit


def _fixup_scale(num_branches: int, branch_layers: int) -> float:
    if num_branches < 1 or branch_layers < 2:
        raise ValueError(f"Fixup needs num_branches >= 1 and branch_layers >= 2 (the last "
                         f"layer of a branch starts at zero), got {num_branches}, "
                         f"{branch_layers}")
    return num_branches ** (-1.0 / (2 * branch_layers - 2))


def fixup_he(shape, rng: np.random.Generator, num_branches: int = 1, branch_layers: int = 2,
             dtype: DTypeLike = np.float64) -> np.ndarray:
    """He normal times L^(-1/(2m-2)) (Zhang, Dauphin & Ma 2019, "Fixup Initialization").

    std = sqrt(2 / fan_in) * L^(-1/(2m-2)) for a layer inside one of L residual branches of
    m layers each (Fixup's rule 2; its rule 1 starts the branch's last layer at zero). With
    m = 2 the variance is 2 / (fan_in * L): each branch adds about 1/L of the stream's
    variance, so after L blocks the stream has grown by (1 + 1/L)^L <= e instead of 2^L.
    ("Fixup Initialization: Residual Learning Without Normalization", ICLR 2019.)
    """
    fan_in, _ = initkit.compute_fans(shape)
    std = math.sqrt(2.0 / fan_in) * _fixup_scale(num_branches, branch_layers)
    return rng.normal(0.0, std, size=shape).astype(dtype, copy=False)


def fixup_variance(fan_in: int, fan_out: int, num_branches: int = 1,
                   branch_layers: int = 2) -> float:
    """The declared variance: 2 / fan_in * L^(-1/(m-1))."""
    return 2.0 / fan_in * _fixup_scale(num_branches, branch_layers) ** 2


def delta_orthogonal(shape, rng: np.random.Generator, gain: float = 1.0,
                     dtype: DTypeLike = np.float64) -> np.ndarray:
    """Zero kernel with gain * a random orthogonal (out, in) matrix at its centre (Xiao 2018).

    Xiao, Bahri, Sohl-Dickstein, Schoenholz & Pennington 2018, "Dynamical Isometry and a Mean
    Field Theory of CNNs: How to Train 10,000-Layer Vanilla Convolutional Neural Networks"
    (ICML), Algorithm 2: W[:, :, centre] = H, H Haar-orthogonal (QR of a Gaussian with the
    sign fix of Mezzadri 2007), every other tap zero, so the convolution starts as an
    orthogonal map of the channels at each pixel: norm-preserving when out >= in. For a
    dense (out, in) shape it is the plain (semi-)orthogonal initializer.
    """
    dims = tuple(int(d) for d in shape)
    initkit.compute_fans(dims)  # FanError for a 1-D shape, as the contract asks
    rows, cols = dims[0], dims[1]
    gaussian = rng.normal(0.0, 1.0, size=(max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(gaussian)
    q *= np.sign(np.diag(r))  # without it the distribution is not Haar
    centre_matrix = q if rows >= cols else q.T
    out = np.zeros(dims, dtype=np.float64)
    centre = tuple(k // 2 for k in dims[2:])
    out[(slice(None), slice(None), *centre)] = gain * centre_matrix
    return out.astype(dtype, copy=False)


def delta_orthogonal_variance(fan_in: int, fan_out: int, gain: float = 1.0) -> float:
    """gain^2 / max(fan_in, fan_out): the mean of the squared entries, exactly, for every draw.

    The centre tap holds gain * H with min(out, in) orthonormal columns (or rows), so the
    squares sum to gain^2 min(out, in) over out * in * k entries (k the kernel size), and
    min(out, in) / (out * in * k) = 1 / (max(out, in) k) = 1 / max(fan_in, fan_out), since
    fan_in = in k and fan_out = out k. For a dense shape (k = 1) it is the plain orthogonal
    value; the conformance suite measures it on dense and conv shapes alike.
    """
    return gain * gain / max(fan_in, fan_out)

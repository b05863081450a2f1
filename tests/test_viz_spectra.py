"""initkit.viz spectra: eigenvalues vs the circular law, singular values, deep Jacobians."""

from __future__ import annotations

import math

import numpy as np
import pytest
from matplotlib.patches import Circle

import initkit
from initkit import viz
from initkit.viz import VizError
from initkit.viz._rmt import fuss_catalan_edge, singular_value_density, singular_value_edges


def circles(ax):
    return [p for p in ax.patches if isinstance(p, Circle)]


def test_eigenvalues_are_the_matrix_eigenvalues_inside_the_circular_law_disc():
    """He (var 2/n) eigenvalues fill a disc of radius sigma sqrt(n) = sqrt(2); circle drawn."""
    n = 128
    ax = viz.plot_eigenvalues("he", n=n, seed=3).axes[0]
    (circle,) = circles(ax)
    assert circle.get_radius() == pytest.approx(math.sqrt(2.0))
    weight = initkit.get_initializer("he")((n, n), np.random.default_rng(3))
    points = ax.collections[0].get_offsets()
    eig = np.linalg.eigvals(weight)
    np.testing.assert_allclose(np.sort_complex(points[:, 0] + 1j * points[:, 1]),
                               np.sort_complex(eig), atol=1e-12)
    inside = np.abs(eig) <= 1.1 * circle.get_radius()
    assert inside.mean() == 1.0
    # uniform on the disc: half of them within radius / sqrt(2)
    assert np.mean(np.abs(eig) < circle.get_radius() / math.sqrt(2)) == pytest.approx(0.5,
                                                                                      abs=0.1)
    assert ax.get_aspect() == 1.0


def test_orthogonal_eigenvalues_lie_on_the_unit_circle():
    """An orthogonal matrix's eigenvalues have modulus 1, and its law circle has radius 1."""
    ax = viz.plot_eigenvalues(["he", "orthogonal"], n=64).axes[0]
    assert [c.get_radius() for c in circles(ax)] == pytest.approx([math.sqrt(2.0), 1.0])
    points = ax.collections[1].get_offsets()
    np.testing.assert_allclose(np.hypot(points[:, 0], points[:, 1]), 1.0, atol=1e-10)
    assert [c.get_label() for c in circles(ax)] == ["he_normal: σ√n = 1.41",
                                                    "orthogonal: σ√n = 1"]


def test_a_bare_matrix_uses_its_mean_square_or_a_given_sigma2():
    """For a plain array sigma^2 is mean(W^2) unless sigma2= is given."""
    weight = np.full((4, 4), 0.5)
    assert circles(viz.plot_eigenvalues(weight).axes[0])[0].get_radius() == pytest.approx(1.0)
    assert circles(viz.plot_eigenvalues(weight, sigma2=1.0).axes[0])[0].get_radius() == 2.0
    with pytest.raises(VizError, match="square"):
        viz.plot_eigenvalues(np.ones((3, 4)))
    with pytest.raises(VizError, match="2-D"):
        viz.plot_eigenvalues(np.ones(3))


def test_marchenko_pastur_density_is_a_density_on_the_right_support():
    """The singular-value law integrates to 1 on [sigma(sqrt N - sqrt p), sigma(sqrt N + sqrt p)]."""
    s = np.linspace(0.0, 4.0, 200_001)
    for rows, cols in [(64, 64), (128, 64), (32, 100)]:
        density = singular_value_density(s, rows, cols, 1 / 64)
        assert np.sum(density) * (s[1] - s[0]) == pytest.approx(1.0, abs=1e-3)
        lo, hi = singular_value_edges(rows, cols, 1 / 64)
        support = s[density > 0]
        assert support.min() == pytest.approx(lo, abs=1e-4)
        assert support.max() == pytest.approx(hi, abs=1e-4)
    assert singular_value_edges(64, 64, 1 / 64) == (0.0, 2.0)  # quarter circle of radius 2


def test_singular_value_histogram_follows_the_drawn_law():
    """The histogram of a Gaussian matrix's singular values matches the dashed MP curve."""
    ax = viz.plot_singular_values("lecun_normal", n=200, m=400, seed=1).axes[0]
    (law,) = [line for line in ax.lines if line.get_linestyle() == "--"]
    assert law.get_label() == "lecun_normal: Marchenko-Pastur law"
    np.testing.assert_allclose(law.get_ydata(), singular_value_density(law.get_xdata(), 400,
                                                                        200, 1 / 200))
    bars = ax.patches
    centres = np.array([b.get_x() + b.get_width() / 2 for b in bars])
    heights = np.array([b.get_height() for b in bars])
    predicted = singular_value_density(centres, 400, 200, 1 / 200)
    width = bars[0].get_width()
    assert np.sum(np.abs(heights - predicted)) * width < 0.15  # total-variation distance


def test_jacobian_spectrum_marks_the_fuss_catalan_edge_and_orthogonal_isometry():
    """Gaussian layers get the (L+1)^(L+1)/L^L edge; orthogonal ones have every s^2 = 1."""
    depth, width = 3, 300
    ax = viz.plot_jacobian_spectrum(["lecun_normal", "orthogonal"], depth=depth,
                                    width=width).axes[0]
    edges = {line.get_label(): line.get_xdata()[0] for line in ax.lines}
    assert edges == {"lecun_normal: Fuss-Catalan edge 9.481": pytest.approx(256 / 27),
                     "orthogonal: exactly 1": pytest.approx(1.0)}
    assert fuss_catalan_edge(depth) == pytest.approx(256 / 27)
    assert ax.get_xscale() == "log"
    gaussian = viz.product_singular_values("lecun_normal", depth, width)
    orthogonal = viz.product_singular_values("orthogonal", depth, width)
    np.testing.assert_allclose(orthogonal, 1.0, atol=1e-9)
    assert gaussian.max() == pytest.approx(fuss_catalan_edge(depth), rel=0.25)
    assert gaussian.mean() == pytest.approx(1.0, rel=0.1)  # E[s^2] = (n Var W)^L = 1

"""initkit.viz.plot_phase_diagram: xi_c heat map and edge of chaos from initkit.theory."""

from __future__ import annotations

import numpy as np
import pytest

from initkit import theory, viz
from initkit.viz import VizError


def test_phase_diagram_shows_theorys_depth_scale_and_edge_of_chaos():
    """The heat map holds theory.depth_scales' xi_c and the curve theory.edge_of_chaos."""
    fig = viz.plot_phase_diagram("tanh", sigma_w2=(1.2, 2.4), sigma_b2=(0.05, 0.2),
                                 resolution=(3, 2))
    ax = fig.axes[0]
    image = ax.images[0].get_array()
    assert image.shape == (2, 3)  # rows are sigma_b^2, columns sigma_w^2
    for i, b in enumerate([0.05, 0.2]):
        for j, w in enumerate([1.2, 1.8, 2.4]):
            assert image[i, j] == pytest.approx(theory.depth_scales("tanh", w, b)[1])
    (edge,) = ax.lines
    assert edge.get_label() == "χ₁ = 1  (edge of chaos)"
    np.testing.assert_allclose(edge.get_ydata(), [0.05, 0.125, 0.2])  # twice as fine
    np.testing.assert_allclose(edge.get_xdata(), [theory.edge_of_chaos("tanh", b)
                                                  for b in (0.05, 0.125, 0.2)])
    assert edge.get_xdata()[0] == pytest.approx(1.761, abs=1e-3)  # the documented value
    # xi_c peaks next to the edge: the column nearest it (1.8) is the deepest
    assert np.argmax(image[0]) == 1
    assert ax.get_xlabel() == "σ_w²" and ax.get_ylabel() == "σ_b²"
    assert len(fig.axes) == 2  # the heat map and its colour bar


def test_phase_diagram_needs_a_grid():
    """A 1-point axis cannot make a heat map; the error says what is needed."""
    with pytest.raises(VizError, match="at least 2 x 2"):
        viz.plot_phase_diagram(resolution=(1, 5))

"""initkit.viz.plot_symmetry / cosine_similarity: hidden-unit symmetry heat maps."""

from __future__ import annotations

import numpy as np
import pytest

from initkit import viz


def test_cosine_similarity_of_known_rows():
    """Rows [1,0], [0,1], [1,1] have cosines 0 and 1/sqrt(2); zero rows count as identical."""
    sim = viz.cosine_similarity(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
    r = 1 / np.sqrt(2)
    np.testing.assert_allclose(sim, [[1, 0, r], [0, 1, r], [r, r, 1]])
    zeros = viz.cosine_similarity(np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0]]))
    np.testing.assert_array_equal(zeros, [[1, 1, 0], [1, 1, 0], [0, 0, 1]])


def test_constant_init_collapses_every_unit_into_one():
    """Under a constant init the heat map is all ones (every hidden unit the same)."""
    fig = viz.plot_symmetry("constant", hidden=8, inputs=5, value=0.3)
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.images[0].get_array(), np.ones((8, 8)))
    assert ax.images[0].get_clim() == (-1.0, 1.0)
    assert ax.get_title() == "constant: hidden-unit similarity\n(off-diagonal mean |cos| 1.00)"
    fig.canvas.draw()  # the title fits inside the figure (it was clipped on one line)
    box = ax.title.get_window_extent()
    assert box.x0 >= 0 and box.x1 <= fig.bbox.width


def test_random_init_breaks_the_symmetry():
    """He init's hidden units are nearly orthogonal: off-diagonal |cos| ~ 1/sqrt(inputs)."""
    ax = viz.plot_symmetry(("he", {"mode": "fan_in"}), hidden=16, inputs=400).axes[0]
    sim = np.asarray(ax.images[0].get_array())
    off = sim[~np.eye(16, dtype=bool)]
    assert np.abs(off).mean() == pytest.approx(np.sqrt(2 / np.pi / 400), rel=0.3)
    assert ax.get_title().endswith(f"mean |cos| {np.abs(off).mean():.2f})")
    np.testing.assert_allclose(np.diag(sim), 1.0)


def test_a_trained_matrix_is_shown_as_given():
    """A weight matrix passed in is shown through cosine_similarity, shape (hidden, hidden)."""
    weight = np.random.default_rng(0).normal(size=(6, 3))
    ax = viz.plot_symmetry(weight).axes[0]
    np.testing.assert_allclose(ax.images[0].get_array(), viz.cosine_similarity(weight))

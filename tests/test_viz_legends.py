"""Issue 22 item 6 for figures: a legend entry keeps the initializer's parameters."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from initkit.viz import plot_variance  # noqa: E402


def test_legend_keeps_the_initializers_parameters():
    """Two runs of one initializer with different gains get two legend entries, `orthogonal(gain=1.1) + linear` and `orthogonal + linear`."""
    fig = plot_variance([("orthogonal", {"gain": 1.1}), "orthogonal"], depth=3, width=16,
                        batch=8, seeds=1, theory=False)
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert texts == ["orthogonal(gain=1.1) + linear", "orthogonal + linear"]

"""``initkit.viz``: every figure of the lesson and the exercises, with theory overlays.

matplotlib only, headless: each function builds its own ``matplotlib.figure.Figure`` (or
draws into the ``ax`` it is given) and returns the Figure; nothing touches pyplot's global
state. The numbers come from the library (``initkit.simulate``, ``VarianceSimulator``,
``initkit.theory``); the plots only draw them. ``save_figure(fig, "x.png")`` writes PNG or
SVG by suffix; the animations write GIFs. ``python -m initkit.viz.gallery docs/images``
regenerates the README's images.

    >>> from initkit import viz
    >>> fig = viz.plot_variance(["he", "xavier"], depth=10, width=64, seeds=2)
    >>> fig.axes[0].get_yscale()
    'log'
"""

from __future__ import annotations

from ._common import VizError, save_figure
from .animate import anim_gradient_norms, anim_variance_evolution
from .explorer import explore
from .gradients import plot_gradients
from .phase import plot_phase_diagram
from .spectra import (
    plot_eigenvalues,
    plot_jacobian_spectrum,
    plot_singular_values,
    product_singular_values,
)
from .symmetry import cosine_similarity, plot_symmetry
from .training import plot_gradient_norms, plot_training
from .variance import plot_lesson_variance, plot_variance

__all__ = [
    "VizError",
    "anim_gradient_norms",
    "anim_variance_evolution",
    "cosine_similarity",
    "explore",
    "plot_eigenvalues",
    "plot_gradient_norms",
    "plot_gradients",
    "plot_jacobian_spectrum",
    "plot_lesson_variance",
    "plot_phase_diagram",
    "plot_singular_values",
    "plot_symmetry",
    "plot_training",
    "plot_variance",
    "product_singular_values",
    "save_figure",
]

"""The plugin's own tests: initkit's conformance suite plus what is special about each item.

Run them after installing the package (``pip install .``): the items come from the entry
point, exactly as a user gets them.
"""

import numpy as np
import pytest

import initkit
from initkit.testing import check_activation, parametrize_with_checks


@parametrize_with_checks(["fixup_he", "delta_orthogonal"])
def test_conformance(initializer, check):
    """Each initializer passes every check of initkit's conformance suite."""
    check(initializer)


def test_plugin_items_come_from_the_entry_point():
    """The three items are registered by this package's entry point."""
    for item in (initkit.get_initializer("fixup_he"), initkit.get_initializer("delta_orthogonal"),
                 initkit.get_activation("swish")):
        assert item.plugin == "initkit-plugin-example"


def test_silu_passes_the_activation_checks():
    """SiLU's derivative matches finite differences, keeps dtype, stays finite, has a gain."""
    report = check_activation("silu")
    assert report.ok, report.format()


def test_silu_gain_keeps_the_second_moment():
    """gain^2 * E[silu(z)^2] = 1 for z ~ N(0, 1) (Gauss-Hermite quadrature)."""
    z, w = np.polynomial.hermite_e.hermegauss(120)
    second_moment = np.sum(w * initkit.get_activation("silu")(z) ** 2) / np.sum(w)
    assert abs(initkit.calculate_gain("silu") ** 2 * second_moment - 1) < 1e-12


def test_delta_orthogonal_kernel_is_orthogonal_at_the_centre_and_zero_elsewhere():
    """A (32, 16, 3, 3) kernel: centre tap H with H^T H = gain^2 I, every other tap zero."""
    w = initkit.get_initializer("delta_orthogonal")((32, 16, 3, 3), 0, gain=1.5)
    centre = w[:, :, 1, 1]
    np.testing.assert_allclose(centre.T @ centre, 1.5**2 * np.eye(16), atol=1e-12)
    w[:, :, 1, 1] = 0
    assert not w.any()


def test_fixup_scales_he_by_the_number_of_branches():
    """With m = 2 layers per branch the variance is He's divided by L."""
    fixup = initkit.get_initializer("fixup_he")
    he = initkit.get_initializer("he_normal")
    expected = he.target_variance((64, 256)) / 16
    assert fixup.target_variance((64, 256), num_branches=16) == pytest.approx(expected, rel=1e-12)
    w = fixup((256, 1024), 0, num_branches=16)
    assert abs(w.var() * 1024 * 16 / 2 - 1) < 0.02

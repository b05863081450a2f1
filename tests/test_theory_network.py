"""NetworkSpec (one description of a random network for simulator, theory and sweeps),
fixed_point's tolerance, and initkit.theory's public names."""

from __future__ import annotations

import math

import numpy as np
import pytest

import initkit
from initkit import theory
from initkit.errors import SimulationError, TheoryError
from initkit.theory import NetworkSpec


def test_build_resolves_names_widths_and_parameters_once():
    """build turns depth and a width list into n_0 ... n_L, names into the registered objects
    (the activation defaults to the initializer's), and parameters into sorted pairs."""
    spec = NetworkSpec.build("he", None, depth=3, width=[8, 16, 4],
                             init_params={"mode": "fan_in", "a": 0.0},
                             activation_params=None)
    assert spec.widths == (8, 8, 16, 4) and spec.depth == 3
    assert spec.init is initkit.get_initializer("he_normal")
    assert spec.activation is initkit.get_activation("relu")
    assert spec.init_params == (("a", 0.0), ("mode", "fan_in"))
    assert spec.init_kwargs == {"a": 0.0, "mode": "fan_in"} and spec.activation_kwargs == {}
    assert [spec.shape(layer) for layer in range(3)] == [(8, 8), (16, 8), (4, 16)]
    assert NetworkSpec.build("he", "tanh", depth=2, width=5).widths == (5, 5, 5)
    assert NetworkSpec.build("he", depth=2, width=[3, 6, 9]).widths == (3, 6, 9)
    assert spec == NetworkSpec("he_normal", "relu", [8, 8, 16, 4],
                               init_params=(("mode", "fan_in"), ("a", 0.0)))


def test_phi_and_dphi_pass_the_activation_parameters():
    """spec.phi and spec.dphi are the activation and its derivative with its parameters."""
    spec = NetworkSpec("he", "leaky_relu", (4, 4), activation_params={"slope": 0.2})
    np.testing.assert_array_equal(spec.phi(np.array([-1.0, 2.0])), [-0.2, 2.0])
    np.testing.assert_array_equal(spec.dphi(np.array([-1.0, 2.0])), [0.2, 1.0])


@pytest.mark.parametrize("make,message", [
    (lambda: NetworkSpec("he", None, (8,)), r"needs an input width and at least one layer's"),
    (lambda: NetworkSpec("he", None, (8, 0, 4)), r"every width must be >= 1, got \[8, 0, 4\]"),
    (lambda: NetworkSpec("he", None, (8, 8), bias_std=-0.1), "bias_std must be a number >= 0"),
    (lambda: NetworkSpec("he", None, (8, 8), bias_std="0.1"), "bias_std must be a number >= 0"),
    (lambda: NetworkSpec("he", None, (8, 8), norm="group"), "unknown norm 'group'"),
    (lambda: NetworkSpec("he", None, (8, 16), residual=True),
     r"a residual stream needs equal widths, got \[8, 16\]"),
    (lambda: NetworkSpec("he", None, (8, 8), sigma_w2=-1.0), r"sigma_w\^2 is a variance"),
    (lambda: NetworkSpec("he", None, (8, 8), sigma_w2=math.nan), r"sigma_w\^2 is a variance"),
    (lambda: NetworkSpec.build("he", depth=0, width=8), "depth must be a whole number >= 1, got 0"),
    (lambda: NetworkSpec.build("he", depth=2.0, width=8), "depth must be a whole number"),
    (lambda: NetworkSpec.build("he", depth=True, width=8), "depth must be a whole number"),
    (lambda: NetworkSpec.build("he", depth=2, width=8.0), "width must be an int or a list"),
    (lambda: NetworkSpec.build("he", depth=2, width=[8, 8.5]), "width must be an int or a list"),
    (lambda: NetworkSpec.build("he", depth=2, width=[8, 8, 8, 8]),
     r"width list has 4 entries for depth 2: give one per layer \(2\)"),
])
def test_a_network_that_cannot_exist_is_a_simulation_error(make, message):
    """Each impossible network is refused when the spec is made, with what is wrong."""
    with pytest.raises(SimulationError, match=message):
        make()


def test_residual_with_equal_widths_and_sigma_w2_zero_are_networks():
    """Equal widths carry a residual stream; sigma_w^2 = 0 (all-zero weights) is allowed."""
    assert NetworkSpec("he", None, (8, 8, 8), residual=True).residual
    assert NetworkSpec("he", None, (8, 8), sigma_w2=0.0).sigma_w2 == 0.0


def test_draw_weight_is_the_initializers_own_draw_without_sigma_w2():
    """Without sigma_w2 a layer's weight is the initializer's draw, bit for bit, in the dtype."""
    spec = NetworkSpec("xavier", "tanh", (6, 4, 3))
    for dtype in (np.float64, np.float32):
        got = spec.draw_weight(1, np.random.default_rng(2), dtype)
        want = initkit.get_initializer("xavier")((3, 4), np.random.default_rng(2), dtype=dtype)
        assert got.dtype == dtype and np.array_equal(got, want)


def test_draw_weight_rescales_a_declared_variance_to_sigma_w2():
    """With sigma_w2 the draw is multiplied by sqrt(sigma_w^2 / (fan_in Var W)): xavier's
    Var W = 2 / (fan_in + fan_out), so the factor is sqrt(1.5 (64 + 32) / (2 * 64))."""
    spec = NetworkSpec("xavier", "tanh", (64, 32), sigma_w2=1.5)
    got = spec.draw_weight(0, np.random.default_rng(4))
    raw = initkit.get_initializer("xavier")((32, 64), np.random.default_rng(4))
    np.testing.assert_allclose(got, raw * math.sqrt(1.5 * 96 / 128), rtol=1e-15)


def test_draw_weight_rescales_an_undeclared_variance_by_the_draws_own():
    """An initializer that declares no variance is rescaled by its draw's mean square, so
    fan_in * mean(W^2) = sigma_w^2 exactly; all-zero weights cannot be rescaled."""

    class Plugin:
        @initkit.hookimpl
        def initkit_register_initializers(self, register):
            def spread(shape, rng, dtype=np.float64):
                return rng.uniform(-3.0, 3.0, size=shape).astype(dtype)

            register("undeclared_uniform", spread)

    name = initkit.register_plugin(Plugin(), name="undeclared-variance")
    try:
        spec = NetworkSpec("undeclared_uniform", "tanh", (50, 20), sigma_w2=1.7)
        w = spec.draw_weight(0, np.random.default_rng(0))
        assert 50 * np.mean(w * w) == pytest.approx(1.7, rel=1e-12)
        with pytest.raises(TheoryError, match="declares no variance"):
            NetworkSpec("undeclared_uniform", "tanh", (50, 20)).weight_gain(0, 50)
        assert spec.weight_gain(0, 20) == pytest.approx(1.7 * 20 / 50, rel=1e-15)
    finally:
        initkit.unregister_plugin(name)
    zeros = NetworkSpec("zeros", "tanh", (8, 8), sigma_w2=1.0)
    with pytest.raises(SimulationError, match="'zeros' draws all-zero weights"):
        zeros.draw_weight(0, np.random.default_rng(0))


def test_draw_biases_come_after_the_weights_only_when_there_is_a_bias():
    """bias_std = 0 draws nothing (None per layer); otherwise b_l ~ N(0, bias_std^2) per layer
    in turn, in the dtype."""
    rng = np.random.default_rng(3)
    assert NetworkSpec("he", None, (4, 5, 6)).draw_biases(rng) == [None, None]
    assert rng.bit_generator.state == np.random.default_rng(3).bit_generator.state
    biases = NetworkSpec("he", None, (4, 5, 6), bias_std=0.3).draw_biases(rng, np.float32)
    fresh = np.random.default_rng(3)
    want = [fresh.normal(0.0, 0.3, 5), fresh.normal(0.0, 0.3, 6)]
    for got, expected in zip(biases, want, strict=True):
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, expected.astype(np.float32))


def test_weight_gain_is_fan_times_the_second_moment():
    """Xavier at widths 10 -> 30: fan * 2 / 40, 0.5 forward (fan_in 10) and 1.5 backward
    (fan_out 30); rescaled to sigma_w^2 = 1.2: 1.2 forward, 1.2 * 30 / 10 backward."""
    plain = NetworkSpec("xavier", "tanh", (10, 30))
    assert plain.weight_gain(0, 10) == pytest.approx(0.5, rel=1e-15)
    assert plain.weight_gain(0, 30) == pytest.approx(1.5, rel=1e-15)
    scaled = NetworkSpec("xavier", "tanh", (10, 30), sigma_w2=1.2)
    assert scaled.weight_gain(0, 10) == pytest.approx(1.2, rel=1e-15)
    assert scaled.weight_gain(0, 30) == pytest.approx(3.6, rel=1e-15)
    with pytest.raises(TheoryError, match="'identity'.*is deterministic"):
        NetworkSpec("identity", "tanh", (8, 8), sigma_w2=1.0).weight_gain(0, 8)


def test_predict_network_with_sigma_w2_is_the_length_map_at_sigma_w2():
    """A spec rescaled to sigma_w^2 = 1.5 with sigma_b^2 = 0.05 predicts q_1 = 1.5 + 0.05 and
    then the length map at (1.5, 0.05), whatever the initializer's own scale; predict() with
    the same arguments gives the same numbers as predict_network of their spec."""
    spec = NetworkSpec("he", "tanh", (64,) * 6, bias_std=math.sqrt(0.05), sigma_w2=1.5)
    got = theory.predict_network(spec)
    want = theory.length_map("tanh", 1.5, 0.05, q0=1.55, depth=4)
    np.testing.assert_allclose(got.q, want, rtol=1e-12)
    chis = [theory.chi1("tanh", 1.5, q=q) for q in want]
    np.testing.assert_allclose(got.grad_var[:-1] / got.grad_var[1:], chis[:-1], rtol=1e-12)
    plain = theory.predict("he", "tanh", [64] * 6, bias_std=0.1)
    again = theory.predict_network(NetworkSpec("he", "tanh", (64,) * 6, bias_std=0.1))
    np.testing.assert_array_equal(plain.q, again.q)
    np.testing.assert_array_equal(plain.grad_var, again.grad_var)


def test_predict_starts_from_q_in():
    """q_in is the inputs' second moment: He/ReLU at q_in = 3 keeps q = 2 * 3 / 2 * 2 = 6."""
    pred = theory.predict_network(NetworkSpec("he", "relu", (32, 32, 32)), q_in=3.0)
    np.testing.assert_allclose(pred.q, [6.0, 6.0], rtol=1e-15)


def test_fixed_point_honours_tol():
    """tol is brentq's relative tolerance: at tol = 1e-3 q* is within 1e-3 of the machine-
    precision root and, brentq stopping early, not equal to it; tol outside [4 eps, 1)
    is a TheoryError."""
    exact = theory.fixed_point("tanh", 2.5, 0.1)
    assert theory.length_map("tanh", 2.5, 0.1, q0=exact, depth=1)[1] == pytest.approx(
        exact, rel=1e-14)
    rough = theory.fixed_point("tanh", 2.5, 0.1, tol=1e-3)
    assert rough != exact and abs(rough - exact) <= 1e-3 * exact
    assert theory.fixed_point("tanh", 2.5, 0.1, tol=1e-12) == pytest.approx(exact, rel=1e-12)
    for bad in (0.0, 1e-17, 1.0, -1e-3):
        with pytest.raises(TheoryError, match=f"tol={bad!r}: the relative tolerance"):
            theory.fixed_point("tanh", 2.5, 0.1, tol=bad)
    assert theory.fixed_point("tanh", 2.5, 0.1, tol=4 * np.finfo(float).eps) == pytest.approx(
        exact, rel=1e-14)


def test_every_public_theory_name_does_something():
    """initkit.theory's public names are its functions and classes: no leftover constant
    that sets nothing (QUADRATURE_NODES / PAIR_NODES were such names)."""
    for name in theory.__all__:
        assert callable(getattr(theory, name)), name
    assert not hasattr(theory, "QUADRATURE_NODES") and not hasattr(theory, "PAIR_NODES")


def test_build_defaults_and_passes_the_activation_on():
    """build(init) is 10 layers of 256 units; a single layer is a network; the activation
    given is the one used."""
    assert NetworkSpec.build("he").widths == (256,) * 11
    assert NetworkSpec.build("he", depth=1, width=3).widths == (3, 3)
    assert NetworkSpec.build("he", "tanh", depth=1, width=3).activation.name == "tanh"


def test_draw_weight_passes_the_initializer_parameters():
    """Initializer parameters reach the draw and the declared variance the rescale uses:
    normal(std=2) declares Var W = 4, so sigma_w^2 = 1 at fan_in 16 multiplies it by 1/8."""
    spec = NetworkSpec("he", "relu", (16, 8), init_params={"mode": "fan_out"})
    want = initkit.get_initializer("he")((8, 16), np.random.default_rng(1), mode="fan_out")
    np.testing.assert_array_equal(spec.draw_weight(0, np.random.default_rng(1)), want)
    scaled = NetworkSpec("normal", "tanh", (16, 8), init_params={"std": 2.0}, sigma_w2=1.0)
    raw = initkit.get_initializer("normal")((8, 16), np.random.default_rng(1), std=2.0)
    np.testing.assert_allclose(scaled.draw_weight(0, np.random.default_rng(1)), raw / 8,
                               rtol=1e-15)


def test_theory_errors_say_what_to_do():
    """The three refusals are one full sentence each: all-zero weights cannot be rescaled, a
    deterministic init has no mean-field prediction, an undeclared variance needs one."""
    with pytest.raises(SimulationError, match=r"^initializer 'zeros' draws all-zero weights: "
                                              r"nothing to scale to sigma_w\^2 / fan_in$"):
        NetworkSpec("zeros", "tanh", (8, 8), sigma_w2=1.0).draw_weight(
            0, np.random.default_rng(0))
    with pytest.raises(TheoryError, match=r"^initializer 'identity' \(plugin '[^']+'\) is "
                                          r"deterministic: mean-field theory is about i\.i\.d\. "
                                          r"random weights, so it makes no prediction$"):
        NetworkSpec("identity", "tanh", (8, 8)).weight_gain(0, 8)

    class Plugin:
        @initkit.hookimpl
        def initkit_register_initializers(self, register):
            register("undeclared_normal", lambda shape, rng, dtype=np.float64:
                     rng.standard_normal(shape).astype(dtype))

    name = initkit.register_plugin(Plugin(), name="undeclared-normal")
    try:
        with pytest.raises(TheoryError, match=(
                r"^initializer 'undeclared_normal' \(plugin 'undeclared-normal'\) declares no "
                r"variance, so mean-field theory does not apply: it needs sigma_w\^2 = fan \* "
                r"Var\(W\)\. Register it with variance=lambda fan_in, fan_out, \*\*params: "
                r"\.\.\. to get a prediction\.$")):
            NetworkSpec("undeclared_normal", "tanh", (8, 8)).weight_gain(0, 8)
    finally:
        initkit.unregister_plugin(name)


# Contracts that `make mutation MODULES=theory` found unguarded (issue 25); each docstring
# names the mutant it kills.


def test_a_width_of_one_is_a_network():
    """Widths must be >= 1, so a single unit (in any layer) is a network, not an error
    (kills ``w < 1`` -> ``w <= 1`` and -> ``w < 2``)."""
    assert NetworkSpec("he", None, (1, 1)).widths == (1, 1)
    assert NetworkSpec.build("he", "tanh", depth=2, width=[1, 8]).widths == (1, 1, 8)


def test_draw_weight_rescales_wide_float32_draws_without_overflow():
    """An undeclared variance is measured as the draw's mean square in float64: float32 draws
    of size ~1e20 (squares ~1e40, past float32's 3.4e38) still rescale to fan_in * mean(W^2) =
    sigma_w^2, to float32 rounding (6e-8 per entry), instead of becoming all zeros from an
    infinite mean square (kills dropping ``dtype=np.float64`` from ``np.square``)."""

    class Plugin:
        @initkit.hookimpl
        def initkit_register_initializers(self, register):
            def wide(shape, rng, dtype=np.float64):
                return (1e20 * rng.uniform(-1.0, 1.0, size=shape)).astype(dtype)

            register("wide_uniform", wide)

    name = initkit.register_plugin(Plugin(), name="wide-uniform")
    try:
        spec = NetworkSpec("wide_uniform", "tanh", (40, 30), sigma_w2=1.3)
        w = spec.draw_weight(0, np.random.default_rng(5), np.float32)
    finally:
        initkit.unregister_plugin(name)
    assert w.dtype == np.float32
    assert 40 * np.mean(np.square(w, dtype=np.float64)) == pytest.approx(1.3, rel=1e-6)

"""The registry: lookups, aliases, errors with close matches, metadata of the built-ins."""

from __future__ import annotations

import numpy as np
import pytest

import initkit
from initkit.errors import PluginError, UnknownNameError


@pytest.mark.parametrize("alias,canonical", [
    ("xavier", "xavier_normal"), ("glorot_normal", "xavier_normal"),
    ("glorot_uniform", "xavier_uniform"), ("he", "he_normal"), ("kaiming_normal", "he_normal"),
    ("kaiming_uniform", "he_uniform"), ("lecun", "lecun_normal"), ("HE", "he_normal"),
])
def test_aliases_resolve_to_the_canonical_initializer(alias, canonical):
    """Aliases (case-insensitive) return the same registered initializer."""
    assert initkit.get_initializer(alias) is initkit.get_initializer(canonical)


def test_unknown_name_lists_close_matches():
    """An unknown name raises UnknownNameError that suggests the close matches and initkit list."""
    with pytest.raises(UnknownNameError) as info:
        initkit.get_initializer("xavier_normel")
    message = str(info.value)
    assert "'xavier_normal'" in message.split("Known")[0]
    assert "initkit list" in message
    with pytest.raises(UnknownNameError, match="Did you mean 'tanh'"):
        initkit.get_activation("tahn")


def test_builtins_carry_their_metadata():
    """Built-ins declare family, intended activation, plugin and a description with the formula."""
    he = initkit.get_initializer("he")
    assert (he.family, he.activation, he.plugin) == ("he", "relu", "initkit.builtin_initializers")
    assert "sqrt(fan)" in he.description
    assert initkit.get_initializer("xavier").activation == "tanh"
    assert initkit.get_initializer("lecun").activation == "selu"
    assert initkit.get_initializer("orthogonal").orthogonal


def test_declared_variance_follows_fans_and_params():
    """target_variance applies the fans and the parameters (gain, mode)."""
    he = initkit.get_initializer("he_normal")
    assert he.target_variance((10, 40)) == pytest.approx(2 / 40)
    assert he.target_variance((10, 40), mode="fan_out") == pytest.approx(2 / 10)
    xavier = initkit.get_initializer("xavier_uniform")
    assert xavier.target_variance((10, 40), gain=2.0) == pytest.approx(4 * 2 / 50)


def test_initializer_accepts_a_seed_and_checks_the_returned_shape():
    """Calling a registered initializer with an int seed works; a wrong-shape result is a PluginError."""
    w = initkit.get_initializer("he")((4, 3), 0)
    np.testing.assert_array_equal(w, initkit.get_initializer("he")((4, 3), np.random.default_rng(0)))

    class WrongShape:
        @initkit.hookimpl
        def initkit_register_initializers(self, register):
            register("wrong_shape", lambda shape, rng, dtype=float: np.zeros(3))

    name = initkit.register_plugin(WrongShape(), name="wrong-shape-plugin")
    try:
        with pytest.raises(PluginError, match="wrong-shape-plugin.*exactly that shape"):
            initkit.get_initializer("wrong_shape")((4, 3), 0)
    finally:
        initkit.unregister_plugin(name)
    with pytest.raises(UnknownNameError):
        initkit.get_initializer("wrong_shape")


def test_rng_of_the_wrong_type_is_a_clear_error():
    """Passing numpy's legacy RandomState explains how to make a Generator."""
    with pytest.raises(TypeError, match="default_rng"):
        initkit.get_initializer("he")((4, 3), np.random.RandomState(0))


def test_misspelled_hook_is_reported(tmp_path):
    """A plugin file whose hook name is misspelled loads with a PluginWarning naming the hook."""
    plugin = tmp_path / "misspelled_plugin.py"
    plugin.write_text(
        "import initkit\n\n@initkit.hookimpl\ndef initkit_register_initialisers(register):\n"
        "    register('never', lambda shape, rng, dtype=float: None)\n"
    )
    with pytest.warns(initkit.PluginWarning, match="'initkit_register_initialisers'.*never called"):
        name = initkit.load_plugin(str(plugin))
    try:
        assert "never" not in initkit.initializers()
    finally:
        initkit.unregister_plugin(name)

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


def _plugin_with(name: str, aliases=()):
    class Plugin:
        @initkit.hookimpl
        def initkit_register_initializers(self, register):
            register(name, lambda shape, rng, dtype=float: np.zeros(shape, dtype), aliases=aliases)

    return Plugin()


def test_reregistering_under_the_same_name_serves_the_new_plugin():
    """Unregister then register a different object under the same name: the registry shows the new one, every time."""
    for round_ in range(50):
        name = initkit.register_plugin(_plugin_with(f"item_{round_ % 2}"), name="reused-name")
        try:
            assert f"item_{round_ % 2}" in initkit.initializers()
            assert f"item_{(round_ + 1) % 2}" not in initkit.initializers()
        finally:
            initkit.unregister_plugin(name)


def test_a_plugin_alias_cannot_take_a_builtin_name():
    """An alias that collides with a built-in name is dropped with a warning; the built-in keeps working."""
    with pytest.warns(initkit.PluginWarning, match="alias 'he' of 'mine' is already registered"):
        name = initkit.register_plugin(_plugin_with("mine", aliases=("he",)), name="alias-thief")
        he = initkit.get_initializer("he")
    try:
        assert he.name == "he_normal"
        assert initkit.get_initializer("mine").plugin == "alias-thief"
    finally:
        initkit.unregister_plugin(name)


def test_two_plugins_with_one_canonical_name_raise_naming_both():
    """Two plugins registering the same name make that name an error that names both plugins."""
    with pytest.warns(initkit.PluginWarning):
        one = initkit.register_plugin(_plugin_with("twin"), name="plugin-one")
        two = initkit.register_plugin(_plugin_with("twin"), name="plugin-two")
        try:
            with pytest.raises(initkit.DuplicateNameError, match="'plugin-one', 'plugin-two'"):
                initkit.get_initializer("twin")
            assert initkit.get_initializer("he").name == "he_normal"
        finally:
            initkit.unregister_plugin(one)
            initkit.unregister_plugin(two)


def test_mixed_case_plugin_names_match_case_insensitively():
    """A plugin's 'MyInit' is found as 'myinit' and 'MYINIT'; listings keep its own spelling."""
    name = initkit.register_plugin(_plugin_with("MyInit"), name="mixed-case")
    try:
        assert initkit.get_initializer("myinit") is initkit.get_initializer("MYINIT")
        assert "MyInit" in initkit.initializers()
    finally:
        initkit.unregister_plugin(name)


def test_hookimpl_without_arguments_is_called():
    """A hookimpl may take fewer arguments than the hook offers (pluggy's rule): it runs, no warning."""
    calls = []

    class NoArgs:
        @initkit.hookimpl
        def initkit_register_initializers(self):
            calls.append(1)

    name = initkit.register_plugin(NoArgs(), name="no-args")
    try:
        initkit.initializers()
        assert calls
    finally:
        initkit.unregister_plugin(name)


def test_check_params_binds_the_signature_without_drawing():
    """Initializer.check_params accepts what the function takes and raises ParameterError naming the unknown key and the valid ones, before anything is drawn."""
    constant = initkit.get_initializer("constant")
    constant.check_params({"value": 0.5})
    constant.check_params({})
    with pytest.raises(initkit.ParameterError, match="'constant'.*no parameter 'valu'; it takes: value, dtype"):
        constant.check_params({"valu": 0.5})
    bad = initkit.get_initializer("bad")  # a functools.partial: its signature still binds
    bad.check_params({"std": 0.1})
    with pytest.raises(initkit.ParameterError, match="no parameter 'gain'"):
        bad.check_params({"gain": 2.0})


def test_a_plugin_bug_raising_type_error_is_not_a_parameter_error():
    """A TypeError from inside an initializer's body propagates as itself; only a signature mismatch is a ParameterError."""
    class Buggy:
        @initkit.hookimpl
        def initkit_register_initializers(self, register):
            register("buggy_init", lambda shape, rng, dtype=float: len(5))

    name = initkit.register_plugin(Buggy(), name="buggy-plugin")
    try:
        init = initkit.get_initializer("buggy_init")
        with pytest.raises(TypeError, match="has no len") as caught:
            init((3, 3), 0)
        assert not isinstance(caught.value, initkit.ParameterError)
        with pytest.raises(initkit.ParameterError, match="'buggy_init'.*no parameter 'x'"):
            init((3, 3), 0, x=1)
    finally:
        initkit.unregister_plugin(name)


def test_data_init_metadata_must_be_callable():
    """data_init is registered metadata; a non-callable one is an invalid item, skipped with a warning naming the plugin."""
    class Plugin:
        @initkit.hookimpl
        def initkit_register_initializers(self, register):
            register("with_step", lambda shape, rng, dtype=float: np.zeros(shape),
                     data_init=lambda model, x: "done")
            register("bad_step", lambda shape, rng, dtype=float: np.zeros(shape), data_init=3)

    with pytest.warns(initkit.PluginWarning, match="data-init-plugin.*data_init must be a function"):
        name = initkit.register_plugin(Plugin(), name="data-init-plugin")
        initkit.initializers()
    try:
        assert initkit.get_initializer("with_step").data_init(None, None) == "done"
        assert "bad_step" not in initkit.initializers()
        assert initkit.get_initializer("he").data_init is None
    finally:
        initkit.unregister_plugin(name)


# --- issue 22: qualified names, one-line plugin errors, the default activation ----------


class _TwinA:
    @initkit.hookimpl
    def initkit_register_initializers(self, register):
        register("twin_q", lambda shape, rng, dtype=float: np.zeros(shape, dtype))


class _TwinB:
    @initkit.hookimpl
    def initkit_register_initializers(self, register):
        register("twin_q", lambda shape, rng, dtype=float: np.ones(shape, dtype),
                 aliases=("twin_q_b",))


def test_plugin_qualified_names_pick_one_of_two_and_the_losers_alias_still_works():
    """`plugin:name` picks either of two clashing items; the loser's free alias resolves to it, and the warning says so."""
    a = initkit.register_plugin(_TwinA(), name="twin-a")
    b = initkit.register_plugin(_TwinB(), name="twin-b")
    try:
        with pytest.warns(initkit.PluginWarning, match="'twin-b:twin_q' picks this one; its "
                          "alias\\(es\\) 'twin_q_b' still name it"):
            initkit.initializers()
        with pytest.raises(initkit.DuplicateNameError, match="'twin-a:twin_q', 'twin-b:twin_q'"):
            initkit.get_initializer("twin_q")
        assert initkit.get_initializer("twin-a:twin_q")((2, 2), 0).sum() == 0
        assert initkit.get_initializer("TWIN-B:twin_q")((2, 2), 0).sum() == 4
        assert initkit.get_initializer("twin_q_b").plugin == "twin-b"
        from initkit.registry import registered_by

        inits, _ = registered_by({"twin-b"})
        assert [(i.name, i.plugin) for i in inits] == [("twin_q", "twin-b")]
    finally:
        initkit.unregister_plugin(a)
        initkit.unregister_plugin(b)


def test_a_plugins_exception_is_one_typed_line_with_its_context():
    """An exception inside a plugin's initializer is a PluginCallError (still a ValueError) naming the plugin, the call, the shape and the plugin's line."""
    def odd_only(shape, rng, taper=1.0, dtype=float):
        return rng.normal(size=shape) * np.ones(3)

    class Plugin:
        @initkit.hookimpl
        def initkit_register_initializers(self, register):
            register("odd_only", odd_only)

    name = initkit.register_plugin(Plugin(), name="odd-plugin")
    try:
        with pytest.raises(ValueError) as caught:
            initkit.get_initializer("odd_only")((4, 2), 0, taper=2.0)
    finally:
        initkit.unregister_plugin(name)
    assert isinstance(caught.value, initkit.errors.PluginCallError)
    line = odd_only.__code__.co_firstlineno + 1
    assert str(caught.value) == (
        "initializer 'odd_only' (plugin 'odd-plugin') raised ValueError: operands could not be "
        "broadcast together with shapes (4,2) (3,)  in odd_only(shape=(4, 2), rng, taper=2.0) "
        f"at {__file__}:{line}; fix the plugin or call it with other arguments")
    assert isinstance(caught.value.__cause__, ValueError)


def test_a_declared_variance_without_the_parameter_is_a_parameter_error():
    """target_variance with a parameter the declared variance does not take: ParameterError naming both."""
    class Plugin:
        @initkit.hookimpl
        def initkit_register_initializers(self, register):
            register("scaled_q", lambda shape, rng, scale=1.0, dtype=float: np.zeros(shape),
                     variance=lambda fan_in, fan_out: 1.0 / fan_in)

    name = initkit.register_plugin(Plugin(), name="scaled-plugin")
    try:
        with pytest.raises(initkit.ParameterError) as caught:
            initkit.get_initializer("scaled_q").target_variance((8, 8), scale=2.0)
    finally:
        initkit.unregister_plugin(name)
    assert str(caught.value) == ("the declared variance of initializer 'scaled_q' (plugin "
                                 "'scaled-plugin') has no parameter 'scale'; it takes: fan_in, "
                                 "fan_out")


def test_default_activation_is_the_initializers_own():
    """One rule: the activation an initializer is registered as meant for."""
    from initkit.registry import default_activation

    assert default_activation("he") == "relu"
    assert default_activation("xavier_uniform") == "tanh"
    assert default_activation("orthogonal") == "linear"
    assert default_activation(initkit.get_initializer("lecun")) == "selu"


def test_the_command_line_takes_a_plugin_qualified_name_with_parameters():
    """`--init twin-b:twin_q` picks that plugin's item; `twin-a:twin_q:...` keeps KEY=VALUE
    pairs after it; an unqualified KEY=VALUE mistake is still the usual usage error."""
    import click

    from initkit.cli.format import parse_init_spec

    a = initkit.register_plugin(_TwinA(), name="twin-a")
    b = initkit.register_plugin(_TwinB(), name="twin-b")
    try:
        with pytest.warns(initkit.PluginWarning):
            initkit.initializers()
        init, params = parse_init_spec("twin-b:twin_q")
        assert (init.plugin, params) == ("twin-b", {})
        with pytest.raises(click.BadParameter, match="KEY=VALUE"):
            parse_init_spec("constant:0.5")
    finally:
        initkit.unregister_plugin(a)
        initkit.unregister_plugin(b)


def test_a_deterministic_initializer_gets_no_mean_field_prediction():
    """Mean-field theory is about i.i.d. random weights: `constant` (deterministic) has no
    theory column in simulate, while a random init keeps its own."""
    import numpy as np

    constant = initkit.simulate("constant", "tanh", depth=3, width=16, batch=8,
                                init_params={"value": 0.05})
    assert np.isnan(constant.theory["q"]).all()
    he = initkit.simulate("he", "relu", depth=3, width=16, batch=8)
    assert np.isfinite(he.theory["q"]).all()

"""The conformance suite on the kit's own initializers (as sklearn's test_common.py) and on a
deliberately broken plugin (tests/plugins/broken_initializers.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import initkit
from initkit.plugins import BUILTIN_PLUGINS
from initkit.testing import (
    CORE_CHECKS,
    check_initializer,
    initializer_checks,
    parametrize_with_checks,
)

BROKEN = Path(__file__).parent / "plugins" / "broken_initializers.py"

BUILTINS = sorted(name for name, init in initkit.initializers().items()
                  if init.plugin in BUILTIN_PLUGINS)

#: Each broken initializer and the one check it must fail (its docstring says why).
EXPECTED_FAILURES = {
    "broken_variance": "check_variance",
    "broken_ignores_seed": "check_seeds_differ",
    "broken_shape": "check_returns_requested_shape",
    "broken_global_rng": "check_global_rng_untouched",
}


@parametrize_with_checks(BUILTINS)
def test_builtin_initializers_conform(initializer, check):
    """Every built-in initializer passes every conformance check that applies to it."""
    check(initializer)


def test_every_builtin_is_checked_and_none_skips():
    """All built-ins are covered and pass; none skips (identity now declares its E[W^2])."""
    assert {"xavier_normal", "he_uniform", "orthogonal", "truncated_normal", "identity",
            "bad"} <= set(BUILTINS)
    for name in BUILTINS:
        report = check_initializer(name)
        assert report.ok, report.format()
        assert not report.skipped, report.format()


def test_deterministic_builtins_get_the_deterministic_checks():
    """identity, constant, zeros and ones are deterministic: no seed or sample statistics, but
    the same-array, rng-untouched and exact E[W^2] checks."""
    for name in ("identity", "constant", "zeros", "ones"):
        names = {c.__name__ for c in initializer_checks(initkit.get_initializer(name))}
        assert {"check_deterministic", "check_second_moment"} <= names, name
        assert not {"check_seeds_differ", "check_variance", "check_mean"} & names, name
    assert initkit.get_initializer("identity").target_variance((64, 32, 3, 3), gain=2.0) == \
        4.0 / 576


def test_optional_checks_follow_the_initializers_properties():
    """gain / mode / orthogonality are checked exactly where the initializer has them."""
    def names(init_name):
        return {c.__name__ for c in initializer_checks(initkit.get_initializer(init_name))}

    assert {"check_gain_scales", "check_orthogonal"} <= names("orthogonal")
    assert "check_mode_fan" in names("he_uniform") and "check_gain_scales" not in names("he")
    assert "check_gain_scales" in names("xavier_uniform")
    assert "check_orthogonal" not in names("xavier_normal")
    assert not {"check_gain_scales", "check_mode_fan"} & names("lecun_normal")


@pytest.fixture
def broken_plugin():
    name = initkit.load_plugin(str(BROKEN))
    assert name is not None
    yield name
    initkit.unregister_plugin(name)


def test_broken_plugin_fails_exactly_the_expected_checks(broken_plugin):
    """Each broken initializer fails its one check, with a message giving expected and measured."""
    for init_name, check_name in EXPECTED_FAILURES.items():
        state = np.random.get_state()
        report = check_initializer(init_name)
        assert [r.check for r in report.failed] == [check_name], report.format()
        message = report.failed[0].message
        assert "expected" in message and ("measured" in message or "got" in message)
        assert not report.skipped
        # the global-RNG check leaves numpy's global state as it found it
        after = np.random.get_state()
        assert np.array_equal(state[1], after[1]) and state[2:] == after[2:]


def test_broken_variance_message_names_the_numbers(broken_plugin):
    """The variance failure states declared and measured variance, their ratio and the tolerance."""
    message = check_initializer("broken_variance").failed[0].message
    assert "fan_in=600" in message
    assert "expected variance 0.00166667" in message
    ratio = float(message.split("measured / expected = ")[1].split(")")[0])
    assert ratio == pytest.approx(2.0, rel=0.02)
    assert "5 standard errors" in message


def test_pytest_reports_the_broken_plugin_with_readable_ids(tmp_path):
    """In a real pytest run the broken checks fail with ids <initializer>-<check>, and -k selects one."""
    test_file = tmp_path / "test_broken_conformance.py"
    test_file.write_text(textwrap.dedent(f"""
        import initkit
        from initkit.testing import parametrize_with_checks

        initkit.load_plugin({str(BROKEN)!r})

        @parametrize_with_checks({sorted(EXPECTED_FAILURES)!r})
        def test_conformance(initializer, check):
            check(initializer)
        """))
    env = {k: v for k, v in os.environ.items() if not k.startswith("INITKIT_")}
    env["OPENBLAS_NUM_THREADS"] = "1"
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rf", str(test_file)]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert out.returncode == 1
    failed = sorted(line.split("::")[1].split(" ")[0] for line in out.stdout.splitlines()
                    if line.startswith("FAILED"))
    assert failed == sorted(f"test_conformance[{i}-{c}]" for i, c in EXPECTED_FAILURES.items())
    total = len(EXPECTED_FAILURES) * len(CORE_CHECKS)  # no gain, mode or orthogonal among them
    assert f"4 failed, {total - 4} passed" in out.stdout
    one = subprocess.run([*cmd, "-k", "broken_variance and check_variance"], capture_output=True,
                         text=True, cwd=tmp_path, env=env, timeout=120)
    assert "1 failed" in one.stdout and "passed" not in one.stdout.splitlines()[-1]
    assert "expected variance 0.00166667" in one.stdout


def test_orthogonal_variance_is_measured_on_conv_shapes_too():
    """An orthogonal-flagged initializer that declares the dense-only 1 / max(fan_in, fan_out) fails check_variance on a conv shape, where the truth is 1 / max(out, fan_in)."""
    from initkit.builtin_initializers import orthogonal
    from initkit.registry import Initializer
    from initkit.testing.checks import check_variance

    dense_only = Initializer(name="dense_only_orthogonal", fn=orthogonal, plugin="test",
                             orthogonal=True,
                             variance=lambda fan_in, fan_out, gain=1.0: gain**2 / max(fan_in,
                                                                                     fan_out))
    with pytest.raises(AssertionError, match=r"shape \(64, 32, 5, 5\).*measured / expected = 2"):
        check_variance(dense_only)
    check_variance(initkit.get_initializer("orthogonal"))  # the right formula passes there


@pytest.mark.parametrize("name", ["orthogonal", "lsuv"])
@pytest.mark.parametrize("shape,expected", [((64, 32, 3, 3), 1 / 288), ((600, 8, 3, 3), 1 / 600),
                                            ((200, 600), 1 / 600), ((600, 200), 1 / 600)])
def test_orthogonal_declared_variance_is_the_measured_one(name, shape, expected):
    """orthogonal and LSUV's pre-init declare gain^2 / max(out, fan_in): (64, 32, 3, 3) -> 1/288, and a draw's mean square is exactly that."""
    init = initkit.get_initializer(name)
    assert init.target_variance(shape) == pytest.approx(expected, rel=1e-15)
    assert init.target_variance(shape, gain=3.0) == pytest.approx(9 * expected, rel=1e-15)
    weight = init(shape, np.random.default_rng(1))
    # rows of the flattened (semi-)orthogonal matrix are orthonormal: sum of squares is exact
    assert float(np.mean(weight**2)) == pytest.approx(expected, rel=1e-12)

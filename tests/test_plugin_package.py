"""Real plugin packages: pip-installed with an `initkit` entry point, used, then uninstalled.

One module-scoped fixture pip-installs three packages (no downloads: ``--no-build-isolation
--no-deps --no-index``, from copies so the repository gets no build artefacts): the tiny one
under tests/plugins/tiny_package, one whose module fails to import
(tests/plugins/broken_package) and examples/initkit-plugin-example. They go into an overlay
environment on top of the test environment (tests/overlay.py), never into the test
environment itself: there every other test's `initkit`, in another pytest worker at the
same moment, would load them or warn about the broken one. The CLI is checked through real
subprocesses of the overlay's `initkit` console script; the in-process tests put the
overlay's site-packages on sys.path while the module runs.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import initkit
from initkit.plugins import reset_plugin_manager
from initkit.testing import activation_checks, check_initializer, initializer_checks

sys.path.insert(0, str(Path(__file__).parent))
from overlay import Overlay  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = ROOT / "tests" / "plugins"
PACKAGES = {
    "initkit-test-tiny-plugin": PLUGINS / "tiny_package",
    "initkit-test-broken-plugin": PLUGINS / "broken_package",
    "initkit-plugin-example": ROOT / "examples" / "initkit-plugin-example",
}
EXAMPLE_ITEMS = {"fixup_he", "delta_orthogonal", "silu"}


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INITKIT_")}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1", OPENBLAS_NUM_THREADS="1",
               **extra)
    return env


def run(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True,
                          env=clean_env(**env), timeout=300)


def is_installed(dist: str) -> bool:
    try:
        importlib.metadata.distribution(dist)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


class Installed:
    """The packages installed into ``overlay``, with an uninstall that a test or the
    teardown may call."""

    def __init__(self, overlay: Overlay, copies: dict[str, Path], preinstalled: set[str]):
        self.overlay = overlay
        self.copies = copies
        self.preinstalled = preinstalled

    def initkit(self, *args: str, **env: str) -> subprocess.CompletedProcess:
        """The overlay's `initkit` console script, run with ``args``."""
        return run(self.overlay.bin / "initkit", *args, **env)

    def uninstall(self) -> None:
        ours = [d for d in self.copies if d not in self.preinstalled and is_installed(d)]
        if ours:
            result = run(self.overlay.python, "-m", "pip", "uninstall", "-y", *ours)
            assert result.returncode == 0, result.stdout + result.stderr
        importlib.invalidate_caches()
        reset_plugin_manager()


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """pip-install the three packages; uninstall them (those not there before) at the end."""
    root = tmp_path_factory.mktemp("plugin-packages")
    copies = {}
    for dist, source in PACKAGES.items():
        copies[dist] = root / source.name
        shutil.copytree(source, copies[dist], ignore=shutil.ignore_patterns(
            "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache"))
    state = Installed(Overlay(root / "env"), copies, {d for d in PACKAGES if is_installed(d)})
    result = run(state.overlay.python, "-m", "pip", "install", "--no-build-isolation",
                 "--no-deps", "--no-index", *copies.values())
    state.overlay.activate_here()
    try:
        assert result.returncode == 0, (
            "pip install of the test plugin packages failed (building without isolation needs "
            "setuptools >= 70.1, or setuptools plus wheel, in this environment):\n"
            + result.stdout[-2000:] + result.stderr[-2000:])
        importlib.invalidate_caches()
        reset_plugin_manager()
        yield state
    finally:
        state.uninstall()
        state.overlay.deactivate_here()
        reset_plugin_manager()


def listing(result: subprocess.CompletedProcess) -> dict[str, dict]:
    data = json.loads(result.stdout)
    return {item["name"]: item for kind in ("initializers", "activations") for item in data[kind]}


def test_installed_plugins_appear_in_list_and_a_broken_one_only_warns(installed):
    """`initkit list` shows entry-point plugins' items; the broken package gives one warning."""
    out = installed.initkit("list", "--json")
    assert out.returncode == 0, out.stderr
    items = listing(out)
    assert items["tiny_normal"]["plugin"] == "tiny"
    for name in EXAMPLE_ITEMS:
        assert items[name]["plugin"] == "initkit-plugin-example"
    assert items["he_normal"]["plugin"] == "initkit.builtin_initializers"
    warnings = [line for line in out.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1
    assert "broken-at-import" in warnings[0] and "initkit-test-broken-plugin" in warnings[0]
    assert "ModuleNotFoundError" in warnings[0] and "INITKIT_DISABLE_PLUGIN_AUTOLOAD" in warnings[0]


def test_installed_plugin_works_in_simulate(installed):
    """`initkit simulate --init tiny_normal` runs; layer 1's q is 0.1^2 * width * E[x^2]."""
    out = installed.initkit("simulate", "--init", "tiny_normal", "--activation", "tanh",
                            "--depth", "3", "--width", "400", "--batch", "50", "--json")
    assert out.returncode == 0, out.stderr
    trace = json.loads(out.stdout)
    assert (trace["init"], trace["activation"]) == ("tiny_normal", "tanh")
    # q_1 = mean over 400 * 50 pre-activations of (W x)^2, expectation 0.01 * 400 = 4
    assert trace["q"][0] == pytest.approx(4.0, rel=0.1)
    example = installed.initkit("simulate", "--init", "delta_orthogonal", "--activation",
                                "swish", "--depth", "4", "--width", "128", "--batch", "16",
                                "--backward")
    assert example.returncode == 0, example.stderr
    assert "init=delta_orthogonal activation=silu depth=4" in example.stdout


def test_disable_autoload_turns_entry_points_off(installed):
    """INITKIT_DISABLE_PLUGIN_AUTOLOAD=1 hides entry-point plugins (and their warning); --plugin still loads."""
    out = installed.initkit("--plugin", PLUGINS / "file_plugin.py", "list", "--json",
                      INITKIT_DISABLE_PLUGIN_AUTOLOAD="1")
    assert out.returncode == 0, out.stderr
    items = listing(out)
    assert "tiny_normal" not in items and not EXAMPLE_ITEMS & set(items)
    assert "file_half_normal" in items
    assert out.stderr == ""


def test_example_package_passes_check_plugin(installed):
    """`initkit check-plugin initkit-plugin-example` reports every check of its three items as passed."""
    out = installed.initkit("check-plugin", "initkit-plugin-example")
    assert out.returncode == 0, out.stdout + out.stderr
    reset_plugin_manager()
    with pytest.warns(initkit.PluginWarning, match="broken-at-import"):
        inits = [initkit.get_initializer(n) for n in ("delta_orthogonal", "fixup_he")]
    expected = sum(len(initializer_checks(i)) for i in inits)
    expected += len(activation_checks(initkit.get_activation("silu")))
    lines = [line for line in out.stdout.splitlines() if line.endswith(" PASSED")]
    assert len(lines) == expected
    assert out.stdout.rstrip().splitlines()[-1] == f"{'=' * 20} {expected} passed {'=' * 20}"


def test_check_plugin_takes_a_distribution_name(installed):
    """check-plugin accepts the package's pip name; a package whose plugin failed is an error."""
    tiny = installed.initkit("check-plugin", "initkit-test-tiny-plugin")
    assert tiny.returncode == 0, tiny.stdout + tiny.stderr
    assert tiny.stdout.startswith("initkit check-plugin: package 'initkit-test-tiny-plugin': "
                                  "1 initializer(s)")
    assert "tiny_normal-check_variance SKIPPED" in tiny.stdout  # it declares no variance
    broken = installed.initkit("check-plugin", "initkit-test-broken-plugin")
    assert broken.returncode == 1
    assert broken.stderr.strip().splitlines()[-1] == (
        "error: package 'initkit-test-broken-plugin' is installed but its initkit plugin did "
        "not load (see the warning above), or INITKIT_DISABLE_PLUGIN_AUTOLOAD is set")


def test_example_package_own_tests_pass(installed):
    """The example's own pytest suite (initkit's parametrize_with_checks inside) passes."""
    tests = installed.copies["initkit-plugin-example"] / "tests"
    out = run(installed.overlay.python, "-m", "pytest", "-q", "-p", "no:cacheprovider", tests)
    assert out.returncode == 0, out.stdout[-3000:]
    summary = out.stdout.rstrip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary and "error" not in summary


def test_example_package_in_process_simulate_and_training(installed):
    """In this process: Fixup keeps a 50-block residual ReLU stream near (1 + 1/50)^50; nn trains with it."""
    reset_plugin_manager()
    with pytest.warns(initkit.PluginWarning, match="broken-at-import"):
        fixup = initkit.get_initializer("fixup_he")
    assert fixup.plugin == "initkit-plugin-example"
    assert check_initializer("delta_orthogonal").ok
    trace = initkit.simulate("fixup_he", "relu", depth=50, width=256, batch=64, seeds=4,
                             residual=True, init_params={"num_branches": 50})
    assert trace.theory["q"][-1] == pytest.approx(1.02**50, rel=1e-9)
    assert trace.q[-1] == pytest.approx(trace.theory["q"][-1], rel=0.1)

    from initkit import nn

    rng = np.random.default_rng(0)
    centres = rng.normal(0.0, 2.0, (3, 8))
    y = rng.integers(0, 3, 256)
    x = (centres[y] + rng.normal(0.0, 1.0, (256, 8))).astype(np.float32)
    model = nn.MLP([8, 32, 32, 3], activation="silu", init="delta_orthogonal", seed=0)
    loss = nn.SoftmaxCrossEntropy()
    opt = nn.SGD(model.parameters(), lr=0.1, momentum=0.9)
    first = loss(model(x), y)
    for _ in range(60):
        value = loss(model(x), y)
        model.backward(loss.backward())
        opt.step()
    assert value < 0.1 * first
    small = nn.MLP([4, 5, 3], activation="swish", init="fixup_he", seed=0, dtype=np.float64)
    check = nn.gradcheck(small, rng.normal(size=(6, 4)), rng.integers(0, 3, 6),
                         loss="cross_entropy")
    assert check.max_error < 1e-5


def test_uninstalling_removes_the_plugins(installed):
    """After pip uninstall, `initkit list` shows none of their items and no warning."""
    installed.uninstall()
    if installed.preinstalled:
        pytest.fail(f"{sorted(installed.preinstalled)} were installed before this test ran; "
                    "uninstall them to test that uninstalling removes the plugins")
    out = installed.initkit("list", "--json")
    assert out.returncode == 0, out.stderr
    items = listing(out)
    assert "tiny_normal" not in items and not EXAMPLE_ITEMS & set(items)
    assert "he_normal" in items
    assert out.stderr == ""

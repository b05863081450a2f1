"""The muP example plugin (examples/mup/initkit_mup.py): an initializer that needs more than a
weight draw. Its per-layer init rides on data_init; its coordinate check, in the
conformance style, measures the output's change after a few SGD steps across widths."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import initkit
from initkit.nn import MLP
from initkit.nn.optim import SGD
from initkit.testing import check_initializer

PLUGIN = Path(__file__).resolve().parent.parent / "examples" / "mup" / "initkit_mup.py"
WIDTHS = (128, 256, 512, 1024)


@pytest.fixture(scope="module")
def mup():
    name = initkit.load_plugin(str(PLUGIN))
    assert name is not None
    import sys

    module = initkit.plugins.plugin_manager().get_plugin(name)
    yield module
    initkit.unregister_plugin(name)
    sys.modules.pop(module.__name__, None)


def coordinate_change(mup, width: int, parametrization: str, seed: int, steps: int = 3,
                      lr: float = 0.01) -> float:
    """mean |f_t(x) - f_0(x)| of a 2-hidden-layer ReLU MLP after ``steps`` SGD steps (MSE)."""
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((32, 16)), rng.standard_normal((32, 1))
    model = MLP([16, width, width, 1], activation="relu", seed=seed, dtype=np.float64,
                init="mup" if parametrization == "mup" else "he")
    if parametrization == "mup":
        mup.mup_data_init(model, x)
        optimizer = mup.MuSGD(model, lr)
    else:
        optimizer = SGD(model.parameters(), lr=lr)
    before = model(x)
    for _ in range(steps):
        out = model(x)
        model.backward(2 * (out - y) / len(x))
        optimizer.step()
    return float(np.mean(np.abs(model(x) - before)))


def width_exponent(mup, parametrization: str) -> float:
    """The slope of log(change) against log(width), 3 seeds per width."""
    changes = [np.mean([coordinate_change(mup, n, parametrization, s) for s in range(3)])
               for n in WIDTHS]
    return float(np.polyfit(np.log(WIDTHS), np.log(changes), 1)[0])


def test_mup_passes_the_conformance_suite(mup):
    """The mup initializer itself (N(0, 1/fan_in)) passes every check."""
    report = check_initializer("mup")
    assert report.ok, report.format()


def test_mup_data_init_and_lr_multipliers_follow_the_table(mup):
    """At width 256 (r = 4): output variance 1/(fan_in r), lr multipliers r, 1, 1/r per layer."""
    model = MLP([16, 256, 256, 1], activation="relu", init="mup", seed=0, dtype=np.float64)
    output = mup._dense(model)[-1]
    before = output.W.data.copy()
    report = mup.mup_data_init(model, np.zeros((2, 16)))
    assert report == {"width_ratio": 4.0}
    np.testing.assert_allclose(output.W.data, before / 2.0)
    weights = [p for p in model.parameters() if p.name.endswith(".W")]
    scales = dict(zip([p.name for p in model.parameters()], mup.lr_multipliers(model),
                      strict=True))
    assert [scales[p.name] for p in weights] == [4.0, 1.0, 0.25]


def test_coordinate_check_mup_is_flat_and_standard_parametrization_grows(mup):
    """Coordinate check: the output's change after 3 SGD steps is flat in width under muP
    (|exponent| < 0.3) and grows under the standard parametrization (exponent > 0.6)."""
    assert abs(width_exponent(mup, "mup")) < 0.3
    assert width_exponent(mup, "sp") > 0.6


def test_width_ratio_is_hidden_width_over_base(mup):
    """r = n / n0 with n0 = 64."""
    model = MLP([16, 128, 128, 1], activation="relu", init="mup", seed=0)
    assert mup.width_ratio(model) == pytest.approx(2.0) and mup.BASE_WIDTH == 64
    assert math.isclose(sum(1 for _ in mup.lr_multipliers(model)), len(model.parameters()))

"""VarianceSimulator reproduces the lesson notebook's printed numbers exactly."""

from __future__ import annotations

import numpy as np
import pytest

import initkit

SEED_PRINTOUT = {
    "xavier": "0.0231",
    "he": "0.2639",
    "bad": "1100063550125093781839691019976704.0000",
}


@pytest.mark.parametrize("init,expected", SEED_PRINTOUT.items())
def test_lesson_final_variances_print_exactly(init, expected):
    """layers=20, width=128, seed=42 prints the seed notebook's figures with :.4f."""
    variances = initkit.VarianceSimulator(layers=20, width=128, seed=42).run(init)
    assert len(variances) == 20
    assert f"{variances[-1]:.4f}" == expected


def test_lesson_semantics_match_a_literal_reimplementation():
    """Each layer's figure equals np.var after x = W @ x and the activation, with the lesson's draws."""
    sim = initkit.VarianceSimulator(layers=7, width=33, seed=3)
    rng = np.random.default_rng(3)
    x = rng.normal(size=33)
    expected = []
    for _ in range(7):
        x = np.tanh(rng.normal(scale=np.sqrt(2 / 66), size=(33, 33)) @ x)
        expected.append(np.var(x))
    assert sim.run("xavier") == expected


def test_table_is_the_seed_printout():
    """table() is the lesson's three lines in order."""
    table = initkit.VarianceSimulator(layers=20, width=128, seed=42).table()
    assert table.splitlines() == [f"{k} final variance = {v}" for k, v in SEED_PRINTOUT.items()]


def test_defaults_and_bad_arguments():
    """Defaults are layers=50, width=200, seed=0; nonsense sizes are a clear SimulationError."""
    sim = initkit.VarianceSimulator()
    assert (sim.layers, sim.width, sim.seed) == (50, 200, 0)
    assert len(sim.run("he")) == 50
    with pytest.raises(initkit.SimulationError, match="whole numbers >= 1, got layers=0"):
        initkit.VarianceSimulator(layers=0)
    with pytest.raises(initkit.SimulationError, match="width=2.5"):
        initkit.VarianceSimulator(width=2.5)

"""initkit.sweep and `initkit sweep`: measurements against mean-field theory, reproducibility."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from initkit import get_initializer, theory
from initkit.errors import InitkitError
from initkit.executors import LocalExecutor
from initkit.sweep import (
    COLUMNS,
    GridPoint,
    _weights,
    make_grid,
    measure,
    parse_range,
    read_table,
    run_sweep,
    write_table,
)

INITKIT = Path(sys.executable).with_name("initkit")


def test_parse_range_is_inclusive_and_exact():
    """A:B:STEP includes B and gives the decimal values, not accumulated float error."""
    assert parse_range("0:0.3:0.1") == [0.0, 0.1, 0.2, 0.3]
    assert parse_range("1:2:0.5") == [1.0, 1.5, 2.0]
    assert parse_range("1:2.2:0.5") == [1.0, 1.5, 2.0]
    assert parse_range("1.75") == [1.75]
    for bad in ("1:2", "a:b:c", "2:1:0.5", "1:2:0"):
        with pytest.raises(InitkitError, match="A:B:STEP|STEP > 0"):
            parse_range(bad, "--sigma-w2")


@pytest.mark.parametrize("sigma_w2", [1.0, 3.0])  # deep in the ordered and chaotic phases
def test_measured_q_chi_and_xi_agree_with_mean_field_theory(sigma_w2):
    """q*, chi_1 and xi_c measured over 6 seeds are within 4 standard errors of theory."""
    points = make_grid("tanh", [sigma_w2], [0.05], [30], [256], seeds=6)
    (row,) = run_sweep(points).table
    expected = {"q_star": theory.fixed_point("tanh", sigma_w2, 0.05),
                "chi_1": theory.chi1("tanh", sigma_w2, 0.05),
                "xi_c": theory.depth_scales("tanh", sigma_w2, 0.05)[1]}
    assert row["seeds"] == 6 and row["failed"] == 0
    for name, value in expected.items():
        assert row[f"{name}_theory"] == pytest.approx(value, rel=1e-12)
        assert 0 < row[f"{name}_se"] < 0.1 * abs(value)
        assert abs(row[name] - value) < 4 * row[f"{name}_se"], (name, row[name], value)


#: near the edge of chaos (tanh, sigma_w^2 = 1.2, sigma_b^2 = 0: chi_1 = 1.009, xi_q = 5.8
#: layers): the sd of one seed's q* and chi_1 at depth 32, width 256, batch 64, measured
#: over 240 seeds (seeds 5000-5239); a 12-seed mean's target standard error is sd / sqrt(12)
EDGE_SD_Q, EDGE_SD_CHI = 0.00337, 0.00550


def test_q_star_and_chi_1_near_the_edge_of_chaos_are_measured_past_the_transient():
    """Near the edge of chaos q* converges slowly from q_1 = 1.2, so only the second half of
    the layers measures it: 12 seeds' q* and chi_1 are within 4.5 target standard errors of
    theory (measured over 20 groups of 12 seeds: |z| <= 2.7, a false-failure rate below 0.3%
    by the groups' spread; measuring from depth // 4 puts q* 5.4 to 8.4 and chi_1 3.9 to 6.6
    standard errors off), and the row's own standard errors have the target's size."""
    seeds = 12
    (row,) = run_sweep(make_grid("tanh", [1.2], [0.0], [32], [256], seeds=seeds)).table
    se_q, se_chi = EDGE_SD_Q / math.sqrt(seeds), EDGE_SD_CHI / math.sqrt(seeds)
    q_star, chi_1 = theory.fixed_point("tanh", 1.2, 0.0), theory.chi1("tanh", 1.2, 0.0)
    assert abs(row["q_star"] - q_star) < 4.5 * se_q, (row["q_star"], q_star, se_q)
    assert abs(row["chi_1"] - chi_1) < 4.5 * se_chi, (row["chi_1"], chi_1, se_chi)
    assert 0.4 * se_q < row["q_star_se"] < 1.8 * se_q
    assert 0.4 * se_chi < row["chi_1_se"] < 1.8 * se_chi


@pytest.mark.parametrize("seeds", [2, 3, 4])
def test_standard_errors_are_the_seeds_sample_sd_over_sqrt_n(seeds):
    """Each row's standard errors equal statistics.stdev (n - 1 in the denominator) of the
    seeds' measurements over sqrt(n), and xi_c's the delta method's
    se(chi_c) / (chi_c log(chi_c)^2), computed here from the per-point measurements."""
    import statistics

    result = run_sweep(make_grid("tanh", [1.5], [0.05], [8], [32], seeds=seeds, batch=8))
    (row,) = result.table
    for name in ("q_star", "chi_1", "chi_c"):
        values = [getattr(m, name) for m in result.measurements]
        se = statistics.stdev(values) / math.sqrt(seeds)
        if name == "chi_c":
            chi_c = statistics.fmean(values)
            assert 0 < chi_c < 1
            assert row["xi_c_se"] == pytest.approx(se / (chi_c * math.log(chi_c) ** 2),
                                                   rel=1e-9)
        else:
            assert row[f"{name}_se"] == pytest.approx(se, rel=1e-9), name
            assert row[name] == pytest.approx(statistics.fmean(values), rel=1e-12)


@pytest.mark.parametrize("activation,sigma_w2,sigma_b2,per_layer", [
    ("relu", 2.5, 0.1, 1.25),  # q grows without bound; the gradient by sigma_w^2 / 2 a layer
    ("leaky_relu", 3.0, 0.0, 3.0 * (1 + 0.01**2) / 2)])  # slope 0.01
def test_chi_1_without_a_fixed_point_is_measured_too(activation, sigma_w2, sigma_b2,
                                                      per_layer):
    """ReLU-like nets beyond sigma_w^2 = 2 have no q*, yet a chi_1: the measured gradient
    growth over 8 seeds is within 4 standard errors of sigma_w^2 (1 + a^2) / 2."""
    (row,) = run_sweep(make_grid(activation, [sigma_w2], [sigma_b2], [20], [256],
                                 seeds=8)).table
    assert row["chi_1_theory"] == per_layer and row["q_star_theory"] == math.inf
    assert 0 < row["chi_1_se"] < 0.05 * per_layer
    assert abs(row["chi_1"] - per_layer) < 4 * row["chi_1_se"], row


def test_ordered_and_chaotic_phases_are_told_apart():
    """chi_1 < 1 left of the edge of chaos and > 1 right of it, as measured."""
    table = run_sweep(make_grid("tanh", [1.2, 2.6], [0.05], [20], [128], seeds=2)).table
    ordered, chaotic = table
    assert ordered["chi_1"] < 0.95 and chaotic["chi_1"] > 1.05


def test_a_point_depends_on_itself_only():
    """A point's numbers are the same alone, in a grid, in any order, on 1 or 2 processes."""
    points = make_grid("tanh", [1.5, 2.5], [0.0, 0.2], [6], [32], seeds=2, batch=8)
    alone = measure(points[5])
    forward = run_sweep(points).measurements
    with LocalExecutor(2) as ex:
        backward = run_sweep(points[::-1], ex).measurements[::-1]
    assert forward == backward
    assert forward[5] == alone
    assert points[5].seed == 1 and forward[4] != forward[5]  # seeds differ, so do numbers
    with LocalExecutor(2) as ex:  # points sharing tasks (3 a task): the same bits
        chunked = run_sweep(points, ex, chunksize=3)
    assert chunked.measurements == forward
    assert repr(chunked.table) == repr(run_sweep(points).table)


def test_table_round_trips_bit_for_bit(tmp_path):
    """write_table then read_table gives back every float exactly, inf and nan included."""
    table = run_sweep(make_grid("tanh", [1.0, 2.0], [0.0], [4], [16], seeds=2, batch=4)).table
    table[0]["xi_c"] = math.inf
    path = write_table(table, tmp_path / "t.csv")
    back = read_table(path)
    assert list(back[0]) == list(COLUMNS)
    for row, got in zip(table, back, strict=True):
        for key in COLUMNS:
            if isinstance(row[key], float) and math.isnan(row[key]):
                assert math.isnan(got[key])
            else:
                assert got[key] == row[key] and type(got[key]) is type(row[key]), key
    assert not list(tmp_path.glob(".*part"))


def test_init_family_is_rescaled_to_sigma_w2():
    """--init orthogonal keeps its shape and gets fan_in * E[W^2] = sigma_w^2 exactly."""
    point = GridPoint("tanh", 1.7, 0.0, 3, 64, 0, init="orthogonal")
    w = _weights(point, np.random.default_rng(0), get_initializer("orthogonal"))
    assert 64 * np.mean(w * w) == pytest.approx(1.7, rel=1e-12)
    np.testing.assert_allclose(w @ w.T / 1.7, np.eye(64), atol=1e-12)  # still orthogonal


def test_cli_sweep_writes_the_table_and_parquet_needs_pyarrow(tmp_path):
    """`initkit sweep -o FILE.csv` writes one row per point; .parquet without pyarrow errs."""
    args = [str(INITKIT), "sweep", "--sigma-w2", "1:2:1", "--sigma-b2", "0.1", "--depth", "4",
            "--width", "16", "--seeds", "2", "--batch", "4", "--jobs", "1", "--no-progress"]
    proc = subprocess.run([*args, "-o", str(tmp_path / "s.csv")], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    rows = read_table(tmp_path / "s.csv")
    assert [(r["sigma_w2"], r["sigma_b2"], r["seeds"]) for r in rows] == [(1.0, 0.1, 2),
                                                                         (2.0, 0.1, 2)]
    direct = run_sweep(make_grid("tanh", [1.0, 2.0], [0.1], [4], [16], seeds=2, batch=4)).table
    assert [r["q_star"] for r in rows] == [r["q_star"] for r in direct]
    assert f"wrote {tmp_path / 's.csv'} (2 rows, 4 simulations)" in proc.stdout
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        proc = subprocess.run([*args, "-o", str(tmp_path / "s.parquet")], capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == 1
        assert proc.stderr.strip().splitlines() == [
            "error: writing or reading .parquet needs pyarrow: pip install pyarrow, or use a "
            ".csv file"]
        assert not (tmp_path / "s.parquet").exists()


def test_overlay_draws_measured_xi_on_the_theory_map():
    """The overlay's markers sit at the table's grid points, coloured by measured xi_c."""
    from initkit.viz.sweep import plot_sweep_overlay

    table = run_sweep(make_grid("tanh", [1.2, 2.4], [0.05, 0.2], [8], [32], seeds=1,
                            batch=8)).table
    fig = plot_sweep_overlay(table)
    ax = fig.axes[0]
    image = ax.images[0].get_array()
    assert image.shape == (2, 2)
    assert image[1, 0] == pytest.approx(theory.depth_scales("tanh", 1.2, 0.2)[1])
    marks = ax.collections[0]
    np.testing.assert_array_equal(marks.get_offsets(),
                                  [[r["sigma_w2"], r["sigma_b2"]] for r in table])
    np.testing.assert_allclose(marks.get_array(), [r["xi_c"] for r in table])
    assert marks.norm is ax.images[0].norm

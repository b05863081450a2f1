"""initkit.sweep and `initkit sweep`: measurements against mean-field theory, reproducibility."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import initkit
from initkit import theory
from initkit.errors import DataError, InitkitError, ParameterError, SimulationError
from initkit.executors import LocalExecutor
from initkit.sweep import (
    COLUMNS,
    GridPoint,
    _xi,
    make_grid,
    measure,
    parse_range,
    read_table,
    run_sweep,
    theory_note,
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
    theory (over 20 groups of 12 seeds, seeds 0-239: z of q* +1.3 +- 0.9 and of chi_1
    -1.0 +- 1.1, the finite-depth bias, |z| <= 3.1, a false-failure rate near 0.1%; measuring
    from depth // 4 puts q* 5.9 to 8.3 and chi_1 4.7 to 6.9 standard errors off in every
    group), and the row's own standard errors have the target's size. (xi_c, which that bug
    halves, is not asserted: 12 seeds measure it as 148 +- 51 beside theory's 217.)"""
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
    w = point.network().draw_weight(0, np.random.default_rng(0))
    assert 64 * np.mean(w * w) == pytest.approx(1.7, rel=1e-12)
    np.testing.assert_allclose(w @ w.T / 1.7, np.eye(64), atol=1e-12)  # still orthogonal


@pytest.mark.slow  # a subprocess / a figure: no mutant of initkit.sweep lives there
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


@pytest.mark.slow  # a subprocess / a figure: no mutant of initkit.sweep lives there
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


def test_a_grid_point_is_measured_by_the_simulators_own_pass():
    """A point whose rescale factor is exactly 1 (xavier at equal widths declares
    Var W = 1/N, so sigma_w^2 = 1 leaves every draw as it is) measures the simulator's own
    numbers: q* is the mean of simulate's q over the second half of the layers, chi_1 the
    per-layer growth of its grad_var there; chi_c and the correlation are the input pairs'
    sigma_w^2 mean(phi'(h^1) phi'(h^2)) and cosine, computed here on a forward pass by hand."""
    point = GridPoint("tanh", 1.0, 0.0, 6, 32, 3, init="xavier", batch=9)
    found = measure(point)
    trace = initkit.simulate("xavier", "tanh", depth=6, width=32, batch=9, seed=3)
    assert found.q_star == pytest.approx(np.mean(trace.q[3:]), rel=1e-14)
    assert found.chi_1 == pytest.approx((trace.grad_var[3] / trace.grad_var[5]) ** 0.5,
                                        rel=1e-12)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((9, 32))
    weights = [initkit.get_initializer("xavier")((32, 32), rng) for _ in range(6)]
    chi_c, out = [], x
    for w in weights:
        h = out @ w.T
        slope, out = 1 - np.tanh(h) ** 2, np.tanh(h)
        chi_c.append(np.mean(slope[0:8:2] * slope[1:8:2]))  # 4 pairs; input 9 has none
    a, c = h[0:8:2], h[1:8:2]
    cosine = np.mean(np.sum(a * c, axis=1) / np.sqrt(np.sum(a * a, axis=1)
                                                     * np.sum(c * c, axis=1)))
    assert found.chi_c == pytest.approx(np.mean(chi_c[3:]), rel=1e-12)
    assert found.correlation == pytest.approx(cosine, rel=1e-12)


def test_a_point_at_another_sigma_w2_rescales_the_draws():
    """At sigma_w^2 = 2.25 the same point's pre-activations are 1.5 times larger at layer 1:
    its q* over a one-layer network (depth 1 measures layer 1) is 2.25 times sigma_w^2 = 1's."""
    one = measure(GridPoint("linear", 1.0, 0.0, 1, 64, 0, batch=16))
    wide = measure(GridPoint("linear", 2.25, 0.0, 1, 64, 0, batch=16))
    assert wide.q_star == pytest.approx(2.25 * one.q_star, rel=1e-12)
    biased = measure(GridPoint("linear", 1.0, 0.5, 1, 64, 0, batch=16))
    assert biased.q_star != one.q_star


def test_parse_range_edges():
    """A:A:STEP is the one value A; 100,000 values are allowed and 100,001 refused; every
    error names the option it came from (``range`` when none is given)."""
    assert parse_range("2:2:0.5") == [2.0]
    assert len(parse_range("1:100000:1", "--sigma-w2")) == 100_000
    with pytest.raises(InitkitError, match=r"^--sigma-w2 '1:100001:1' has 100001 values: "
                                           r"use a larger STEP$"):
        parse_range("1:100001:1", "--sigma-w2")
    with pytest.raises(InitkitError, match=r"^range '1:x': write A:B:STEP"):
        parse_range("1:x")
    with pytest.raises(InitkitError, match=r"^range '1:2:3:4': write A:B:STEP \(e.g. "
                                           r"1:4:0.5\) or one number$"):
        parse_range("1:2:3:4")
    with pytest.raises(InitkitError, match=r"^--sigma-b2 '0:inf:1': needs A <= B and STEP > 0$"):
        parse_range("0:inf:1", "--sigma-b2")


def test_write_table_refuses_other_suffixes_and_reads_what_it_wrote(tmp_path):
    """Only .csv and .parquet are written (a clear error otherwise, nothing left behind);
    a .CSV suffix is a CSV, and its rows read back as written."""
    rows = [{"a": 1.5, "b": "x"}, {"a": math.inf, "b": "y"}]
    with pytest.raises(InitkitError, match=r"t\.json: the sweep table is written as \.csv "
                                           r"or \.parquet"):
        write_table(rows, tmp_path / "t.json", columns=("a", "b"))
    assert list(tmp_path.iterdir()) == []
    path = write_table(rows, tmp_path / "T.CSV", columns=("a", "b"))
    assert path.read_text().splitlines() == ["a,b", "1.5,x", "inf,y"]


def test_parquet_tables_round_trip(tmp_path):
    """With pyarrow installed (the [test] extra brings it) a .parquet table reads back
    equal, no temporary file left."""
    table = run_sweep(make_grid("tanh", [1.0, 2.0], [0.0], [4], [16], seeds=2, batch=4)).table
    path = write_table(table, tmp_path / "t.parquet")
    back = read_table(path)
    assert [row["q_star"] for row in back] == [row["q_star"] for row in table]
    assert [row["activation"] for row in back] == ["tanh", "tanh"]
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]


def test_make_grid_checks_its_ranges_and_names_the_initializer():
    """Seeds >= 1, batch >= 2, depth >= 1, width >= 1 and variances >= 0 are accepted at
    their edges and refused past them (one message each); an initializer alias becomes
    its registered name, its parameters are checked and kept, batch is 64 by default."""
    edge = make_grid("tanh", [0.0], [0.0], [1], [1], seeds=1, batch=2)
    assert [(p.sigma_w2, p.depth, p.width, p.seed, p.batch) for p in edge] == [(0.0, 1, 1, 0, 2)]
    shape = r"^a sweep needs seeds >= 1, batch >= 2 \(input pairs\), depth >= 1 and width >= 1$"
    for bad in ({"seeds": 0}, {"batch": 1}, {"depths": [0]}, {"widths": [0]}):
        args = {"sigma_w2": [1.0], "sigma_b2": [0.0], "depths": [2], "widths": [4],
                "seeds": 1, "batch": 4, **bad}
        with pytest.raises(SimulationError, match=shape):
            make_grid("tanh", **args)
    variances = r"^sigma_w\^2 and sigma_b\^2 are variances: give values >= 0$"
    for w, b in (([-0.1], [0.0]), ([1.0], [-0.1])):
        with pytest.raises(SimulationError, match=variances):
            make_grid("tanh", w, b, [2], [4], seeds=1)
    (point,) = make_grid("relu", [2.0], [0.0], [2], [4], seeds=1, init="he",
                         init_params={"mode": "fan_out"})
    assert point.init == "he_normal" and point.init_params == (("mode", "fan_out"),)
    assert point.batch == 64 and point.init_label == "he_normal:mode='fan_out'"
    with pytest.raises(ParameterError, match="no parameter 'valu'"):
        make_grid("tanh", [1.0], [0.0], [2], [4], seeds=1, init="constant",
                  init_params={"valu": 1.0})


def test_theory_note_says_why_the_columns_are_empty():
    """The note names orthogonal and deterministic initializers by their registered names;
    a Gaussian family, or no initializer, has none."""
    assert theory_note("orthogonal") == ("the Gaussian mean-field theory does not apply to "
                                         "orthogonal's orthogonal weights: its columns are "
                                         "left empty")
    assert theory_note("eye") == ("the Gaussian mean-field theory does not apply to "
                                  "identity's deterministic weights: its columns are left "
                                  "empty")
    assert theory_note("he") == "" and theory_note("") == ""


def test_xi_is_minus_one_over_log_chi():
    """xi = -1 / log(chi_c): infinite from chi_c = 1 on, 0 at chi_c <= 0, NaN for NaN."""
    assert _xi(1.0) == math.inf and _xi(1.5) == math.inf
    assert _xi(0.5) == pytest.approx(1 / math.log(2), rel=1e-15)
    assert _xi(0.0) == 0.0 and _xi(-0.2) == 0.0
    assert math.isnan(_xi(math.nan)) and math.isnan(_xi(math.inf))


def test_read_table_errors_name_the_file_and_the_fix(tmp_path):
    """A missing file, a file without the sweep's columns or rows, and a column that is not a
    number are DataErrors naming the file and what to do; the three needed columns alone
    are a table, its one row read back."""
    missing = tmp_path / "none.csv"
    with pytest.raises(DataError, match=rf"^cannot read the sweep table {missing}: No such "
                                        r"file or directory; write one with `initkit sweep "
                                        r"-o sweep.csv`$"):
        read_table(missing)
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    empty = tmp_path / "empty.csv"
    empty.write_text("sigma_w2,sigma_b2,xi_c\n")
    for path in (other, empty):
        with pytest.raises(DataError, match=rf"^{path} is not a sweep table \(columns "
                                            r"sigma_b2, sigma_w2, xi_c missing or no rows\): "
                                            r"write one with `initkit sweep -o sweep.csv`$"):
            read_table(path)
    minimal = tmp_path / "minimal.csv"
    minimal.write_text("sigma_w2,sigma_b2,xi_c\n1.5,0.0,inf\n")
    assert read_table(minimal) == [{"sigma_w2": 1.5, "sigma_b2": 0.0, "xi_c": math.inf}]
    words = tmp_path / "words.csv"
    words.write_text("sigma_w2,sigma_b2,xi_c\n1.5,zero,inf\n")
    with pytest.raises(DataError, match=rf"^{words}: column sigma_b2 holds 'zero', not a "
                                        r"number$"):
        read_table(words)


def test_a_failure_text_with_line_breaks_reads_back_exactly(tmp_path):
    """CSV files are opened with newline='' both ways, so a failure reason holding CRLF
    reads back as written (universal newlines would turn it into LF)."""
    row = {"sigma_w2": 1.0, "sigma_b2": 0.0, "xi_c": 2.0, "failure": "worker lost\r\nretry"}
    path = write_table([row], tmp_path / "f.csv", columns=tuple(row))
    assert read_table(path)[0]["failure"] == "worker lost\r\nretry"


def test_parquet_without_pyarrow_says_how_to_get_it(tmp_path, monkeypatch):
    """Without pyarrow, writing or reading .parquet (any case) is one InitkitError saying to
    install it or use .csv, and nothing is written. (The test environment has pyarrow, for
    the round trip above; a None in sys.modules makes ``import pyarrow`` fail as if it were
    not installed.)"""
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    message = (r"^writing or reading \.parquet needs pyarrow: pip install pyarrow, or use a "
               r"\.csv file$")
    with pytest.raises(InitkitError, match=message):
        write_table([{"a": 1.0}], tmp_path / "t.parquet", columns=("a",))
    with pytest.raises(InitkitError, match=message):
        write_table([{"a": 1.0}], tmp_path / "t.PARQUET", columns=("a",))
    with pytest.raises(InitkitError, match=message):
        read_table(tmp_path / "t.Parquet")
    assert list(tmp_path.iterdir()) == []


def test_run_sweep_reports_progress_over_points_and_theory_cells():
    """on_result(done, total) counts 1 ... total over every point and theory cell; the result
    keeps the points in order."""
    points = make_grid("tanh", [1.0, 2.0], [0.0], [2], [4], seeds=2, batch=2)
    calls = []
    result = run_sweep(points, on_result=lambda done, total: calls.append((done, total)))
    assert calls == [(k, 6) for k in range(1, 7)]  # 4 points + 2 theory cells
    assert result.points == points and len(result.measurements) == 4


def test_aggregate_counts_failures_and_empties_theory_it_cannot_give():
    """A row counts its failed seeds and shows the first failure; a theory cell that failed
    or is missing, or a note, leaves the theory columns NaN; xi_c's error is NaN where the
    delta method has no finite slope (chi_c >= 1, one seed)."""
    from initkit.executors import Failure
    from initkit.sweep import Measurement, aggregate

    a, b = GridPoint("tanh", 1.0, 0.0, 4, 8, 0), GridPoint("tanh", 1.0, 0.0, 4, 8, 1)
    c = GridPoint("tanh", 2.0, 0.0, 4, 8, 0)
    d = GridPoint("tanh", 3.0, 0.0, 4, 8, 0, init="orthogonal")
    found = [Measurement(0.5, 0.9, 0.8, 0.1), Failure("k1", "worker lost"),
             Measurement(0.7, 1.1, 1.2, 0.2), Measurement(0.4, 0.8, 0.5, 0.3)]
    theory_cells = {("tanh", 1.0, 0.0): (0.5, 0.9, 4.0), ("tanh", 2.0, 0.0): Failure("t", "x"),
                    ("tanh", 3.0, 0.0): (1.0, 1.0, 1.0)}
    rows = aggregate([a, b, c, d], found, theory_cells)
    assert [(r["seeds"], r["failed"], r["failure"]) for r in rows] == [
        (1, 1, "worker lost"), (1, 0, ""), (1, 0, "")]
    assert (rows[0]["q_star_theory"], rows[0]["chi_1_theory"], rows[0]["xi_c_theory"]) == (
        0.5, 0.9, 4.0)
    for row in rows[1:]:
        assert all(math.isnan(row[f"{n}_theory"]) for n in ("q_star", "chi_1", "xi_c"))
    assert rows[2]["theory_note"].startswith("the Gaussian mean-field theory does not apply")
    assert rows[1]["xi_c"] == math.inf and math.isnan(rows[1]["xi_c_se"])
    assert math.isnan(rows[0]["q_star_se"]) and math.isnan(rows[0]["xi_c_se"])
    (missing,) = aggregate([a], [found[0]], {})
    assert math.isnan(missing["q_star_theory"]) and missing["q_star"] == 0.5


def test_standard_errors_of_one_seed_and_of_overflowed_seeds_are_nan_quietly():
    """One seed has no standard error; seeds that overflowed (inf) give inf and NaN without
    a numpy warning."""
    import warnings

    from initkit.sweep import _mean_se

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # np.std of one value would warn
        mean, se = _mean_se([2])
        assert mean == 2.0 and type(mean) is float and math.isnan(se)
        assert all(math.isnan(v) for v in _mean_se([]))
        mean, se = _mean_se([math.inf, math.inf])
    assert mean == math.inf and math.isnan(se)


@pytest.mark.parametrize("depth,first", [(1, 0), (2, 0), (3, 1), (4, 2), (7, 3)])
def test_q_star_is_measured_from_half_the_depth(depth, first):
    """q* averages q over layers depth // 2 ... depth - 1 (all of them for one or two layers),
    the simulator's own q of the same network."""
    from initkit.simulation import run_network

    point = GridPoint("tanh", 1.5, 0.1, depth, 16, 2, batch=4)
    q = run_network(point.network(), 4, 2, weight_grads=False)["q"]
    assert measure(point).q_star == pytest.approx(float(np.mean(q[first:])), rel=1e-14)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_zero_weights_give_no_chi_1_and_no_error(activation):
    """sigma_w^2 = 0: the gradient below the top layer is 0 (and for ReLU at h = 0 the top's
    too), so chi_1 has no value: NaN, not a math error."""
    found = measure(GridPoint(activation, 0.0, 0.0, 4, 8, 0, batch=4))
    assert math.isnan(found.chi_1)


def test_an_overflowing_point_is_quiet():
    """A linear point at sigma_w^2 = 1e10 overflows to inf on the way, without a warning."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        found = measure(GridPoint("linear", 1e10, 0.0, 40, 8, 0, batch=4))
    assert math.isinf(found.q_star) or math.isnan(found.q_star)


def test_a_points_network_keeps_the_initializer_parameters():
    """GridPoint.network carries the point's initializer, its parameters and scales."""
    point = GridPoint("tanh", 1.5, 0.2, 3, 8, 0, init="truncated_normal",
                      init_params=(("a", -1.0), ("b", 1.0)))
    spec = point.network()
    assert spec.init.name == "truncated_normal" and spec.init_kwargs == {"a": -1.0, "b": 1.0}
    assert spec.sigma_w2 == 1.5 and spec.bias_std == pytest.approx(math.sqrt(0.2))
    assert spec.widths == (8, 8, 8, 8)
    assert GridPoint("tanh", 1.5, 0.0, 3, 8, 0).network().init.name == "normal"


def test_xi_c_error_exists_only_below_chi_c_one():
    """The delta-method error of xi_c needs 0 < chi_c < 1: two seeds at chi_c = 0, 1 or 1.2
    (finite spreads) give NaN, not an error or a number; at 0.5 +- 0.1 it is
    se / (chi_c log(chi_c)^2)."""
    from initkit.sweep import Measurement, aggregate

    def row(chi_cs):
        points = [GridPoint("tanh", 1.0, 0.0, 4, 8, s) for s in range(len(chi_cs))]
        found = [Measurement(0.5, 0.9, c, 0.1) for c in chi_cs]
        return aggregate(points, found, {})[0]

    for chi_cs in ([0.0, 0.0], [1.0, 1.0], [1.1, 1.3]):
        assert math.isnan(row(chi_cs)["xi_c_se"]), chi_cs
    se = 0.1  # statistics.stdev([0.4, 0.6]) / sqrt(2)
    assert row([0.4, 0.6])["xi_c_se"] == pytest.approx(se / (0.5 * math.log(0.5) ** 2),
                                                       rel=1e-12)


def test_a_failing_point_is_a_failure_named_by_its_task_key():
    """A point that cannot run (all-zero weights cannot be rescaled) becomes a Failure whose
    key names the sweep and the point, with the reason; its row counts it."""
    from initkit.executors import Failure

    (point,) = make_grid("tanh", [1.0], [0.0], [2], [4], seeds=1, init="zeros", batch=2)
    result = run_sweep([point])
    (failure,) = result.measurements
    assert isinstance(failure, Failure)
    assert failure.key.startswith("initkit-sweep-") and failure.key.endswith(point.key)
    assert "draws all-zero weights" in failure.reason
    assert result.table[0]["failed"] == 1 and "all-zero" in result.table[0]["failure"]


def test_a_grid_point_runs_blas_on_one_thread():
    """A sweep's workers run one point each at a time, so measure() holds BLAS to one thread
    (more would only oversubscribe the cores): inside the context threadpoolctl reports one
    thread for every BLAS library, and what it was again after it (kills ``limits=None``
    and ``limits=2``). The test starts from three threads, whatever the environment says
    (``make test`` gives each process one)."""
    from threadpoolctl import threadpool_info, threadpool_limits

    from initkit.sweep import _one_blas_thread

    def blas_threads() -> list[int]:
        return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

    with threadpool_limits(3, user_api="blas"):
        before = blas_threads()
        assert before and set(before) == {3}, f"numpy's BLAS threads: {before}"
        with _one_blas_thread():
            assert blas_threads() == [1] * len(before)
        assert blas_threads() == before


def test_a_theory_cell_that_raises_is_nan_not_an_error():
    """theory_point turns a theory function's error into NaN (floats, never None): a plugin
    activation whose phi raises ValueError for every input gives (nan, nan, nan) (kills the
    NaN replaced by None)."""
    from initkit.sweep import theory_point

    def phi(x):
        raise ValueError("phi is undefined here")

    class Plugin:
        @initkit.hookimpl
        def initkit_register_activations(self, register):
            register("undefined_everywhere", phi, phi)

    plugin = initkit.register_plugin(Plugin(), name="undefined-everywhere")
    try:
        values = theory_point(("undefined_everywhere", 1.0, 0.0))
    finally:
        initkit.unregister_plugin(plugin)
    assert len(values) == 3
    assert all(isinstance(v, float) and math.isnan(v) for v in values), values

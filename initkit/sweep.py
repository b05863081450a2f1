"""Phase-diagram sweeps: measure q*, chi_1 and xi_c over a grid, next to mean-field theory.

A grid point is (activation, sigma_w^2, sigma_b^2, depth L, width N, seed). At each one
:func:`measure` builds a random tanh-like network of L square layers,

    h_1 = W_1 x + b_1,   h_{l+1} = W_{l+1} phi(h_l) + b_{l+1},
    W_ij = sqrt(sigma_w^2 / N) z_ij,   b_i = sigma_b z_i,   z ~ N(0, 1)

(with ``init``, that family's draw rescaled so that N E[W_ij^2] = sigma_w^2: the point's
:class:`~initkit.theory.NetworkSpec`), runs a batch of inputs x ~ N(0, I) forward and the loss
sum(r * phi(h_L)), r ~ N(0, I), backward with the simulator's own pass
(:func:`initkit.simulation.run_network`), and measures on the second half of the layers,
where q has reached its fixed point (Poole et al. 2016; Schoenholz et al. 2017):

- q* = mean over those layers of mean(h_l^2) (the length map's fixed point);
- chi_1 = the per-layer growth of the backward gradient, (g_a / g_b)^(1 / (b - a)) with
  g_l = mean((dL/dh_l)^2) between the first and last of those layers (chi_1 > 1: exploding);
- xi_c = -1 / log(chi_c), with chi_c = sigma_w^2 mean(phi'(h^1) phi'(h^2)) over units, input
  pairs (1, 2), (3, 4), ... and those layers: the slope of the network's own correlation map
  at the correlation its pairs reached (Schoenholz et al. 2017, eq. 8; chi_c = chi_1 once the
  pairs have collapsed, c* = 1, in the ordered phase). xi_c is infinite when chi_c >= 1.

Everything random comes from ``numpy.random.default_rng(seed)`` of the grid point alone, and
BLAS runs on one thread inside :func:`measure`, so a point's numbers are bit-identical
whichever executor (and whichever worker) computed them. :func:`run_sweep` runs the points and
the theory (``initkit.theory``: fixed_point, chi_1, depth_scales, once per (activation,
sigma_w^2, sigma_b^2)) on an :class:`~initkit.executors.Executor` and aggregates the seeds
of each point into one table row: mean and standard error of each measurement next to the
theory's value.
"""

from __future__ import annotations

import csv
import functools
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import DataError, InitkitError, SimulationError, TheoryWarning
from .executors import Executor, Failure, LocalExecutor, chunksize_for

if TYPE_CHECKING:
    from .theory import NetworkSpec

#: Columns of the aggregated table, in order.
COLUMNS = ("activation", "init", "sigma_w2", "sigma_b2", "depth", "width", "seeds", "failed",
           "q_star", "q_star_se", "q_star_theory", "chi_1", "chi_1_se", "chi_1_theory",
           "xi_c", "xi_c_se", "xi_c_theory", "failure", "theory_note")

_INT_COLUMNS = ("depth", "width", "seeds", "failed")
_TEXT_COLUMNS = ("activation", "init", "failure", "theory_note")


def theory_note(init: str) -> str:
    """Why the theory columns are empty for ``init`` ("" when the Gaussian theory applies).

    The mean-field columns assume iid Gaussian weights of variance sigma_w^2 / N. A
    (semi-)orthogonal matrix is not that (its rows are orthonormal: dynamical isometry,
    Pennington et al. 2017), nor is a deterministic one (ZerO, identity, constant), so for
    them the columns are left empty (nan) rather than filled with a prediction for
    another ensemble.
    """
    if not init:
        return ""
    from .registry import get_initializer

    item = get_initializer(init)
    if item.orthogonal:
        return (f"the Gaussian mean-field theory does not apply to {item.name}'s orthogonal "
                "weights: its columns are left empty")
    if item.deterministic:
        return (f"the Gaussian mean-field theory does not apply to {item.name}'s "
                "deterministic weights: its columns are left empty")
    return ""


@dataclass(frozen=True)
class GridPoint:
    """One simulation of a sweep; everything its result depends on (the seed included)."""

    activation: str
    sigma_w2: float
    sigma_b2: float
    depth: int
    width: int
    seed: int
    init: str = ""
    batch: int = 64
    init_params: tuple[tuple[str, Any], ...] = ()

    @property
    def init_label(self) -> str:
        """``""`` (the Gaussian), ``"orthogonal"`` or ``"constant:value=0.5"``."""
        return ":".join([self.init, *(f"{k}={v!r}" for k, v in self.init_params)])

    @property
    def cell(self) -> tuple:
        """The table row this point is a seed of."""
        return (self.activation, self.init_label, self.sigma_w2, self.sigma_b2, self.depth,
                self.width)

    def network(self) -> NetworkSpec:
        """The point's network: ``depth`` square layers of ``width`` units, weights from
        ``init`` (the Gaussian ``normal`` when empty) rescaled to width E[W^2] = sigma_w^2,
        biases N(0, sigma_b^2)."""
        from .theory import NetworkSpec

        return NetworkSpec(self.init or "normal", self.activation,
                           (self.width,) * (self.depth + 1), bias_std=math.sqrt(self.sigma_b2),
                           init_params=self.init_params, sigma_w2=self.sigma_w2)

    @property
    def key(self) -> str:
        return (f"{self.activation}-{self.init_label or 'gauss'}-w{self.sigma_w2!r}"
                f"-b{self.sigma_b2!r}-L{self.depth}-N{self.width}-s{self.seed}")


@dataclass(frozen=True)
class Measurement:
    """What :func:`measure` found at one grid point (chi_c: the correlation map's slope)."""

    q_star: float
    chi_1: float
    chi_c: float
    correlation: float


@dataclass
class SweepResult:
    """A sweep's grid, one :class:`Measurement` or :class:`Failure` per point, and the table."""

    points: list[GridPoint]
    measurements: list[Measurement | Failure]
    table: list[dict[str, Any]] = field(default_factory=list)


def parse_range(text: str, name: str = "range") -> list[float]:
    """``"A:B:STEP"`` -> [A, A + STEP, ..., B] (B included when on the grid); ``"A"`` -> [A].

    Values are A + k STEP rounded to 12 significant digits, so 0.1 steps give 0.3, not
    0.30000000000000004, and the same text always gives the same floats.
    """
    parts = text.split(":")
    try:
        nums = [float(p) for p in parts]
    except ValueError:
        raise InitkitError(f"{name} {text!r}: write A:B:STEP (e.g. 1:4:0.5) or one number") \
            from None
    if len(nums) == 1:
        return nums
    if len(nums) != 3:
        raise InitkitError(f"{name} {text!r}: write A:B:STEP (e.g. 1:4:0.5) or one number")
    low, high, step = nums
    if not (step > 0 and high >= low and all(map(math.isfinite, nums))):
        raise InitkitError(f"{name} {text!r}: needs A <= B and STEP > 0")
    count = int(math.floor((high - low) / step + 1e-9)) + 1
    if count > 100_000:
        raise InitkitError(f"{name} {text!r} has {count} values: use a larger STEP")
    return [float(f"{low + k * step:.12g}") for k in range(count)]


def make_grid(activation: str, sigma_w2: Sequence[float], sigma_b2: Sequence[float],
              depths: Sequence[int], widths: Sequence[int], seeds: int, first_seed: int = 0,
              init: str = "", batch: int = 64,
              init_params: dict[str, Any] | None = None) -> list[GridPoint]:
    """Every (sigma_b^2, sigma_w^2, depth, width, seed) combination, seeds innermost.

    ``init`` (with ``init_params``) names an initializer family whose draws are rescaled
    to N E[W^2] = sigma_w^2; empty for the plain Gaussian N(0, sigma_w^2 / N).
    """
    from .registry import get_activation, get_initializer

    get_activation(activation)  # an unknown name fails here, before any work is sent
    params = tuple(sorted((init_params or {}).items()))
    if init:
        init = get_initializer(init).name
        get_initializer(init).check_params(dict(params))
    if seeds < 1 or batch < 2 or min(depths) < 1 or min(widths) < 1:
        raise SimulationError("a sweep needs seeds >= 1, batch >= 2 (input pairs), depth >= 1 "
                              "and width >= 1")
    if min(sigma_w2) < 0 or min(sigma_b2) < 0:
        raise SimulationError("sigma_w^2 and sigma_b^2 are variances: give values >= 0")
    return [GridPoint(activation, float(w), float(b), int(d), int(n), first_seed + s, init,
                      int(batch), params)
            for b in sigma_b2 for w in sigma_w2 for d in depths for n in widths
            for s in range(seeds)]


@functools.cache
def _blas_controller() -> Any:
    """This process's threadpoolctl controller: its library scan (a read of the process's
    memory map: a few ms, more than a small grid point costs) is done once per process."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _one_blas_thread() -> Any:
    """A context with BLAS on one thread."""
    return _blas_controller().limit(limits=1)


def measure(point: GridPoint) -> Measurement:
    """Simulate one grid point and measure q*, chi_1 and chi_c (see the module docstring).

    The network is the point's :meth:`GridPoint.network`, run by the simulator's own
    forward and backward pass (:func:`initkit.simulation.run_network`, float64, no weight
    gradients); the input pairs' slopes and correlations are read layer by layer as it
    runs. Pure: the same point gives the same bits, on any executor.
    """
    from .simulation import run_network

    spec = point.network()
    depth, pairs = point.depth, point.batch // 2
    chi_c = np.empty(depth)
    corr = np.empty(depth)

    def observe_pairs(layer: int, h: np.ndarray, slope: np.ndarray) -> None:
        chi_c[layer] = point.sigma_w2 * np.mean(slope[0::2][:pairs] * slope[1::2][:pairs])
        a, c = h[0::2][:pairs], h[1::2][:pairs]
        corr[layer] = np.mean(np.sum(a * c, axis=1)
                              / np.sqrt(np.sum(a * a, axis=1) * np.sum(c * c, axis=1)))

    with _one_blas_thread(), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        layers = run_network(spec, point.batch, point.seed, weight_grads=False,
                             observe=observe_pairs)
    q, grad = layers["q"], layers["grad_var"]
    first = min(depth // 2, max(depth - 2, 0))
    last = depth - 1
    chi_1 = (math.exp((math.log(grad[first]) - math.log(grad[last])) / (last - first))
             if last > first and grad[first] > 0 and grad[last] > 0
             and math.isfinite(grad[first]) else math.nan)
    return Measurement(q_star=float(np.mean(q[first:])), chi_1=float(chi_1),
                       chi_c=float(np.mean(chi_c[first:])), correlation=float(corr[-1]))


def _xi(chi_c: float) -> float:
    """xi = -1 / log(chi): infinite at chi >= 1 (the edge of chaos and beyond), 0 at 0."""
    if not math.isfinite(chi_c):
        return math.nan
    if chi_c >= 1.0:
        return math.inf
    return -1.0 / math.log(chi_c) if chi_c > 0 else 0.0


def theory_point(cell: tuple[str, float, float]) -> tuple[float, float, float]:
    """(q*, chi_1, xi_c) of ``initkit.theory`` at (activation, sigma_w^2, sigma_b^2).

    A degenerate point (no fixed point, a critical point) gives inf or nan, not an error.
    """
    from . import theory
    from .errors import TheoryError

    activation, sw2, sb2 = cell
    values = []
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", TheoryWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        for fn in (lambda: theory.fixed_point(activation, sw2, sb2),
                   lambda: theory.chi1(activation, sw2, sb2),
                   lambda: theory.depth_scales(activation, sw2, sb2)[1]):
            try:
                values.append(float(fn()))
            except (TheoryError, ValueError, ZeroDivisionError, OverflowError):
                values.append(math.nan)
    return values[0], values[1], values[2]


def sweep_task(item: GridPoint | tuple[str, float, float]) -> Any:
    """A sweep's task: :func:`measure` a grid point or compute a :func:`theory_point`."""
    return measure(item) if isinstance(item, GridPoint) else theory_point(item)


def _mean_se(values: list[float]) -> tuple[float, float]:
    if not values:
        return math.nan, math.nan
    arr = np.array(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        mean = float(np.mean(arr))
        se = float(np.std(arr, ddof=1) / math.sqrt(len(arr))) if len(arr) > 1 else math.nan
    return mean, se


def aggregate(points: Sequence[GridPoint], measurements: Sequence[Measurement | Failure],
              theory: dict[tuple[str, float, float], tuple[float, float, float] | Failure]
              ) -> list[dict[str, Any]]:
    """One row per (activation, init, sigma_w^2, sigma_b^2, depth, width): the seeds' mean
    and standard error of q*, chi_1 and xi_c (xi_c from the mean chi_c, its error by the delta
    method, se(xi) = se(chi_c) / (chi_c log(chi_c)^2)), next to theory's values."""
    cells: dict[tuple, list[tuple[GridPoint, Measurement | Failure]]] = {}
    for point, found in zip(points, measurements, strict=True):
        cells.setdefault(point.cell, []).append((point, found))
    rows = []
    for cell, runs in cells.items():
        activation, init, sw2, sb2, depth, width = cell
        good = [m for _, m in runs if isinstance(m, Measurement)]
        failed = [m for _, m in runs if isinstance(m, Failure)]
        q, q_se = _mean_se([m.q_star for m in good])
        chi, chi_se = _mean_se([m.chi_1 for m in good])
        chi_c, chi_c_se = _mean_se([m.chi_c for m in good])
        xi = _xi(chi_c)
        xi_se = (chi_c_se / (chi_c * math.log(chi_c) ** 2)
                 if 0 < chi_c < 1 and math.isfinite(chi_c_se) else math.nan)
        th = theory.get((activation, sw2, sb2), (math.nan,) * 3)
        note = theory_note(init)
        if isinstance(th, Failure) or note:
            th = (math.nan,) * 3
        rows.append({"activation": activation, "init": init, "sigma_w2": sw2, "sigma_b2": sb2,
                     "depth": depth, "width": width, "seeds": len(good), "failed": len(failed),
                     "q_star": q, "q_star_se": q_se, "q_star_theory": th[0],
                     "chi_1": chi, "chi_1_se": chi_se, "chi_1_theory": th[1],
                     "xi_c": xi, "xi_c_se": xi_se, "xi_c_theory": th[2],
                     "failure": failed[0].reason if failed else "", "theory_note": note})
    return rows


def run_sweep(points: Sequence[GridPoint], executor: Executor | None = None,
              on_result: Callable[[int, Any], None] | None = None,
              chunksize: int | None = None) -> SweepResult:
    """Measure every grid point and compute the theory per (activation, sigma_w^2,
    sigma_b^2), both on ``executor`` (default: this process); aggregate into the table.

    ``on_result(done, total)`` is called as each point or theory cell completes.
    ``chunksize`` of them share a task (default :func:`~initkit.executors.chunksize_for` the
    executor's workers): grid points are trusted code, so a chunk only amortizes the
    engine's per-task overhead, and results are the same bits whatever the chunking.
    """
    executor = executor or LocalExecutor(1)
    points = list(points)
    cells = list(dict.fromkeys((p.activation, p.sigma_w2, p.sigma_b2) for p in points))
    total = len(points) + len(cells)
    done = 0

    def tick(_index: int, _value: Any) -> None:
        nonlocal done
        done += 1
        if on_result:
            on_result(done, total)

    # one run for both kinds of task: no barrier between them, so no worker idles; the
    # cheap theory cells last, where they even out the workers' finishing times
    keys = [p.key for p in points] + [f"theory-{a}-w{w!r}-b{b!r}" for a, w, b in cells]
    if chunksize is None:
        chunksize = chunksize_for(total, executor.workers)
    values = executor.run(sweep_task, [*points, *cells], keys=keys, on_result=tick,
                          label="sweep", chunksize=chunksize)
    measurements, theory_values = values[:len(points)], values[len(points):]
    theory = dict(zip(cells, theory_values, strict=True))
    return SweepResult(points=points, measurements=measurements,
                       table=aggregate(points, measurements, theory))


def _parquet() -> Any:
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise InitkitError("writing or reading .parquet needs pyarrow: pip install pyarrow, "
                           "or use a .csv file") from None
    return pyarrow


def write_table(rows: Sequence[dict[str, Any]], path: str | Path,
                columns: Sequence[str] = COLUMNS) -> Path:
    """Write rows as CSV (floats in repr form: they read back bit for bit) or Parquet."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise InitkitError(f"{path}: the sweep table is written as .csv or .parquet")
    if suffix == ".parquet":
        pa = _parquet()
        table = pa.table({c: [row[c] for row in rows] for c in columns})
        tmp = path.with_name(f".{path.name}.part")
        pa.parquet.write_table(table, tmp)
        tmp.replace(path)
        return path
    tmp = path.with_name(f".{path.name}.part")  # complete or absent, never half written
    with open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for row in rows:  # str(float) is its repr: the shortest text that reads back exactly
            writer.writerow([row[c] for c in columns])
    tmp.replace(path)
    return path


def read_table(path: str | Path) -> list[dict[str, Any]]:
    """Read a table written by :func:`write_table` (numbers back as int / float)."""
    path = Path(path)
    if path.suffix.lower() == ".parquet":
        pa = _parquet()
        return pa.parquet.read_table(path).to_pylist()
    try:
        with open(path, newline="") as fh:
            raw = list(csv.DictReader(fh))
    except OSError as exc:
        raise DataError(f"cannot read the sweep table {path}: {exc.strerror}; write one with "
                        "`initkit sweep -o sweep.csv`") from None
    need = {"sigma_w2", "sigma_b2", "xi_c"}
    if not raw or not need <= set(raw[0]):
        raise DataError(f"{path} is not a sweep table (columns {', '.join(sorted(need))} "
                        "missing or no rows): write one with `initkit sweep -o sweep.csv`")
    rows = []
    for r in raw:
        row: dict[str, Any] = {}
        for key, value in r.items():
            if key in _TEXT_COLUMNS or key is None:
                row[key] = value
            elif key in _INT_COLUMNS:
                row[key] = int(value)
            else:
                try:
                    row[key] = float(value)
                except ValueError:
                    raise DataError(f"{path}: column {key} holds {value!r}, not a number") \
                        from None
        rows.append(row)
    return rows

"""``initkit sweep``: measure q*, chi_1 and xi_c over a (sigma_w^2, sigma_b^2) grid.

A thin layer over :func:`initkit.sweep.run_sweep` on an :mod:`initkit.executors` executor. The
executor flags (``--jobs``, ``--dask local``, ``--dask-scheduler``, ``--dask-scheduler-file``)
are :func:`executor_options` (:func:`dask_options` is shared with ``initkit grade``): switching
from this machine to a cluster changes one flag.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .format import INIT_SPEC_FORM, format_table, parse_init_spec

#: The table suffixes ``-o`` accepts (.parquet needs pyarrow).
TABLE_SUFFIXES = (".csv", ".parquet")


def dask_options(fn):
    """``--dask local``, ``--dask-scheduler ADDRESS``, ``--dask-scheduler-file FILE``."""
    for option in reversed([
        click.option("--dask", "dask", type=click.Choice(["local"]), default=None,
                     help="Run on a Dask LocalCluster started on this machine, --jobs workers "
                          '(needs pip install "initkit[dask]").'),
        click.option("--dask-scheduler", "dask_scheduler", default=None,
                     metavar="tcp://HOST:PORT", help="Run on the Dask cluster of this scheduler."),
        click.option("--dask-scheduler-file", "dask_scheduler_file", default=None,
                     type=click.Path(dir_okay=False), metavar="FILE",
                     help="Run on the Dask cluster this scheduler file describes (dask "
                          "scheduler --scheduler-file, dask-jobqueue's SLURMCluster, ...)."),
    ]):
        fn = option(fn)
    return fn


def executor_options(fn):
    """``--jobs/-j`` and :func:`dask_options`: where the work runs."""
    fn = dask_options(fn)
    return click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
                        help="Local worker processes (with --dask local: Dask workers) "
                             "[default: number of cores].")(fn)


def make_executor(jobs: int | None, dask: str | None, dask_scheduler: str | None,
                  dask_scheduler_file: str | None):
    """The executor the :func:`executor_options` flags chose."""
    from ..executors import from_flags

    return from_flags(jobs, dask, dask_scheduler, dask_scheduler_file)


def _ints(value: str, hint: str) -> list[int]:
    try:
        ints = [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a whole number or a comma-separated list "
                                 "of them", param_hint=hint) from None
    if not ints or min(ints) < 1:
        raise click.BadParameter(f"{value!r}: give whole numbers >= 1", param_hint=hint)
    return ints


def _output(ctx: click.Context, param: click.Parameter, value: str) -> Path:
    path = Path(value)
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise click.BadParameter(f"{value!r} needs a .csv or .parquet suffix")
    return path


@click.command("sweep")
@click.option("--init", "init", default=None, metavar=INIT_SPEC_FORM,
              help="Initializer family whose draws are rescaled to fan_in * E[W^2] = sigma_w^2 "
                   "[default: Gaussian N(0, sigma_w^2 / fan_in)].")
@click.option("--activation", default=None,
              help="[default: the --init's registered activation (one rule for simulate, "
                   "train and sweep); tanh for the plain Gaussian]")
@click.option("--sigma-w2", "sigma_w2", default="1:4:0.5", show_default=True,
              metavar="A:B:STEP", help="sigma_w^2 from A to B (inclusive) in steps of STEP.")
@click.option("--sigma-b2", "sigma_b2", default="0:0.3:0.1", show_default=True,
              metavar="A:B:STEP", help="sigma_b^2 from A to B in steps of STEP.")
@click.option("--depth", default="30", show_default=True, metavar="L[,L...]",
              help="Layers (the second half, where q has converged, is measured).")
@click.option("--width", default="256", show_default=True, metavar="N[,N...]")
@click.option("--seeds", default=4, show_default=True, type=click.IntRange(1),
              help="Seeds per grid point (mean and standard error over them).")
@click.option("--seed", "first_seed", default=0, show_default=True, help="First seed.")
@click.option("--batch", default=64, show_default=True, type=click.IntRange(2),
              help="Inputs per network (pairs (1,2), (3,4), ... measure the correlation map).")
@executor_options
@click.option("-o", "--output", required=True, callback=_output,
              help="Table to write: .csv (or .parquet with pyarrow).")
@click.option("--progress/--no-progress", default=None,
              help="Show a progress bar [default: when stderr is a terminal].")
def sweep_command(init: str | None, activation: str | None, sigma_w2: str, sigma_b2: str,
                  depth: str, width: str, seeds: int, first_seed: int, batch: int, jobs: int | None,
                  dask: str | None, dask_scheduler: str | None,
                  dask_scheduler_file: str | None, output: Path, progress: bool | None) -> None:
    """Simulate every grid point (forward, backward and the correlation map) and tabulate the
    measured q*, chi_1 and xi_c next to initkit.theory's, one row per point."""
    from ..progress import ProgressBar
    from ..sweep import make_grid, parse_range, run_sweep, write_table

    init_name, init_params = "", {}
    if init:
        initializer, init_params = parse_init_spec(init, "--init")
        init_name = initializer.name
    if activation is None:
        from ..registry import default_activation

        activation = default_activation(initializer) if init else "tanh"
    points = make_grid(activation, parse_range(sigma_w2, "--sigma-w2"),
                       parse_range(sigma_b2, "--sigma-b2"), _ints(depth, "--depth"),
                       _ints(width, "--width"), seeds, first_seed, init_name, batch,
                       init_params)
    if output.suffix.lower() == ".parquet":
        from ..sweep import _parquet

        _parquet()  # no pyarrow: say so before any work
    if not output.parent.is_dir():
        raise click.BadParameter(f"folder {str(output.parent)!r} does not exist",
                                 param_hint="--output")
    with make_executor(jobs, dask, dask_scheduler, dask_scheduler_file) as executor:
        click.echo(f"sweeping {len(points)} grid point(s) on {executor.describe()}", err=True)
        cells = len({(p.activation, p.sigma_w2, p.sigma_b2) for p in points})
        try:
            with ProgressBar(len(points) + cells, "sweep", enabled=progress) as bar:
                result = run_sweep(points, executor, on_result=lambda done, total: bar.update())
        except KeyboardInterrupt:
            click.echo("interrupted: the run's tasks were cancelled; nothing was written",
                       err=True)
            sys.exit(130)
    write_table(result.table, output)
    failed = sum(row["failed"] for row in result.table)
    if len(result.table) <= 20:
        click.echo(format_table(
            ["sigma_w2", "sigma_b2", "depth", "width", "q*", "theory", "chi_1", "theory",
             "xi_c", "theory"],
            [[r["sigma_w2"], r["sigma_b2"], r["depth"], r["width"], r["q_star"],
              r["q_star_theory"], r["chi_1"], r["chi_1_theory"], r["xi_c"], r["xi_c_theory"]]
             for r in result.table]))
    notes = sorted({row["theory_note"] for row in result.table if row["theory_note"]})
    for note in notes:
        click.echo(f"note: {note}")
    click.echo(f"wrote {output} ({len(result.table)} rows, {len(points)} simulations"
               + (f", {failed} failed: see its failure column" if failed else "") + ")")


COMMANDS = [sweep_command]

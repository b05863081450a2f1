"""``initkit check NOTEBOOK``: run a notebook's visible tests, as a student, in the sandbox."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import click

from ..grading.settings import CHECK


@click.command("check")
@click.argument("notebook", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--timeout", type=click.FloatRange(min=1), default=CHECK.timeout,
              show_default=True, help="Wall-clock seconds for the whole notebook.")
@click.option("--cell-timeout", type=click.FloatRange(min=0.5), default=CHECK.cell_timeout,
              show_default=True, help="Wall-clock seconds per cell.")
@click.option("--unconfined", is_flag=True,
              help="Run even where no confinement can be set up: resource limits and "
                   "timeouts only (the notebook can read what you can).")
def check(notebook: Path, timeout: float, cell_timeout: float, unconfined: bool) -> None:
    """Run NOTEBOOK top to bottom and report its visible tests with their points.

    Exit code 0 only when every visible test passes. Hidden checks never run here; they
    run when the notebook is graded.
    """
    from ..course.check import check_notebook, format_report
    from ..grading.confine import require_confinement

    for warning in require_confinement(unconfined):  # fail closed before running anything
        click.echo(f"warning: {warning}", err=True)
    report = check_notebook(notebook, replace(CHECK, timeout=timeout, cell_timeout=cell_timeout,
                                              unconfined=unconfined))
    click.echo(format_report(report))
    sys.exit(0 if report.ok else 1)


COMMANDS = [check]

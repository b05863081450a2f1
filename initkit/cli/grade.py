"""``initkit grade``: grade notebooks with hidden pytest graders, safely and in parallel.

A thin layer over :func:`initkit.grading.pipeline.grade_course`: the flags become one
:class:`~initkit.grading.settings.GradingSettings` and one executor, the pipeline does the
rest (each result stored in ``OUT/results/`` as it arrives, reused by the next run into the
same ``--out``; the tables rebuilt from every stored result; with ``--nbgrader``, the
gradebook). Exit code 0 when every submission got a result, whatever its score; 1 when the
grader itself could not work for some submission (a broken grader, an internal failure);
2 usage errors; 130 interrupted (the results graded so far are kept).
"""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import InitkitError
from ..grading.settings import DEFAULTS
from .sweep import dask_options


@click.command("grade")
@click.argument("submissions", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--graders", "graders_dir", type=click.Path(path_type=Path), default=None,
              help="Folder of <exercise>/test_*.py graders [default: ./graders].")
@click.option("--exercise", default=None,
              help="Exercise of notebooks whose metadata and file name do not say.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("graded"),
              show_default=True, help="Where grades.csv, results.json and feedback go; "
              "each result is kept in OUT/results/ and reused by the next run.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Submissions graded in parallel [default: number of cores].")
@click.option("--timeout", type=click.FloatRange(min=1), default=DEFAULTS.timeout,
              show_default=True, help="Wall-clock seconds per submission.")
@click.option("--cell-timeout", type=click.FloatRange(min=0.5), default=DEFAULTS.cell_timeout,
              show_default=True, help="Wall-clock seconds per cell and per check call.")
@click.option("--memory", "memory_mb", type=click.IntRange(min=64), default=DEFAULTS.memory_mb,
              show_default=True, help="Address-space limit of each notebook's process (MB).")
@click.option("--nbgrader", "course", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="nbgrader course folder: grade its submitted/ (if no "
              "SUBMISSIONS are given) and write the scores into its gradebook.")
@click.option("--fresh", is_flag=True,
              help="Start a fresh `python -I` per notebook instead of forking a pre-warmed "
                   "template process (slower; the same confinement).")
@click.option("--seed", "secret", default=None, metavar="SECRET",
              help="The run secret each submission's hidden-check seed is derived from "
                   "[default: the one OUT/run.json records, else a new one, recorded there].")
@click.option("--regrade", is_flag=True,
              help="Grade again the submissions OUT/results/ already holds a result for "
                   "(same notebook, graders and seed).")
@click.option("--unconfined", is_flag=True,
              help="Grade even where no confinement can be set up (no user namespaces, "
                   "no root): resource limits and timeouts only; the notebooks can read "
                   "what you can and leave processes behind. Only for code you trust.")
@dask_options
@click.option("--progress/--no-progress", default=None,
              help="Show a progress bar [default: when stderr is a terminal].")
def grade(submissions: tuple[Path, ...], graders_dir: Path | None, exercise: str | None,
          out_dir: Path, jobs: int | None, timeout: float, cell_timeout: float,
          memory_mb: int, course: Path | None, fresh: bool, secret: str | None,
          regrade: bool, unconfined: bool, dask: str | None, dask_scheduler: str | None,
          dask_scheduler_file: str | None, progress: bool | None) -> None:
    """Grade notebook SUBMISSIONS (files, flat folders or nbgrader's submitted/).

    Each notebook runs in its own sandboxed process; the hidden pytest graders in
    graders/<exercise>/ check it from outside, through a data-only pipe.
    """
    import sys

    from ..grading.discover import find_exercises
    from ..grading.settings import GradingSettings

    exercises = find_exercises((graders_dir or Path("graders")).resolve())
    paths = list(submissions)
    if not paths:
        if course is None:
            raise click.UsageError("give SUBMISSIONS (notebooks or folders) or --nbgrader "
                                   "COURSE_DIR")
        paths = [course / "submitted"]
        if not paths[0].is_dir():
            raise InitkitError(f"{paths[0]} not found: collect the submissions first "
                               "(nbgrader collect) or give SUBMISSIONS")
    out_dir = _output_folder(out_dir)
    from ..grading.confine import require_confinement

    # fail closed: no grading at all where notebooks cannot be confined, unless asked
    warnings = require_confinement(unconfined)
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    if not warnings:  # confined: say once which memory limit applies here
        from ..grading.limits import Limits
        from ..grading.sandbox import memory_limit_description

        click.echo(memory_limit_description(Limits(memory_bytes=memory_mb * 1024**2)),
                   err=True)
    settings = GradingSettings(timeout=timeout, cell_timeout=cell_timeout,
                               memory_mb=memory_mb,
                               course=str(course.resolve()) if course else None,
                               prewarm=not fresh, unconfined=unconfined, run_secret=secret,
                               regrade=regrade)
    show = sys.stderr.isatty() if progress is None else progress
    from ..grading.scratch import run_scratch

    try:
        with run_scratch():
            run = _run(paths, exercises, settings, exercise, out_dir, show,
                       (jobs, dask, dask_scheduler, dask_scheduler_file))
    except KeyboardInterrupt:  # the run's tasks are cancelled; what is graded is kept
        click.echo(f"interrupted: the results graded so far are kept in {out_dir}/results; "
                   "run the same command again to grade the rest", err=True)
        sys.exit(130)
    if (line := run.reuse_line()) is not None:
        click.echo(line, err=True)
    for warning in run.warnings:
        click.echo(f"warning: {warning}", err=True)
    _summary(run)
    errors = [r for r in run.results if r.status == "error"]
    if errors:
        first = errors[0]
        raise InitkitError(f"the grader could not grade {len(errors)} submission(s), e.g. "
                           f"{first.path}: {first.reason}. Fix the graders and run again; "
                           f"the other results are in {out_dir}")


def _output_folder(out_dir: Path) -> Path:
    """``--out``, made before grading: a bad one must not waste a whole run."""
    out_dir = out_dir.resolve()
    if out_dir.exists() and not out_dir.is_dir():
        raise InitkitError(f"--out {out_dir} is a file, not a folder: pass a folder for "
                           "grades.csv and the feedback")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InitkitError(f"cannot create the output folder {out_dir}: {exc.strerror}; "
                           "pass a writable --out DIR") from None
    return out_dir


def _run(paths, exercises, settings, exercise, out_dir, show, where):
    """The pipeline on the executor the flags chose, with a progress bar."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from ..grading.dask_grading import daemonic_warning
    from ..grading.pipeline import grade_course
    from .sweep import make_executor

    console = Console(stderr=True)
    failures = 0
    with make_executor(*where) as executor, \
            Progress(TextColumn("grading"), BarColumn(), MofNCompleteColumn(),
                     TextColumn("{task.fields[rate]}"), TextColumn("{task.fields[fail]}"),
                     TimeElapsedColumn(), console=console, disable=not show) as bar:
        if executor.kind == "dask":
            click.echo(f"grading on {executor.describe()}", err=True)
            if (message := daemonic_warning(executor)) is not None:
                click.echo(f"warning: {message}", err=True)
        task = bar.add_task("grading", total=None, rate="", fail="0 failed")

        def on_result(result):
            nonlocal failures
            failures += result.status != "graded"
            elapsed = bar.tasks[0].elapsed or 1e-9
            done = bar.tasks[0].completed + 1
            bar.update(task, advance=1, rate=f"{done / elapsed:.2f}/s",
                       fail=f"{failures} failed")

        return grade_course(paths, exercises, settings, executor, out=out_dir,
                            exercise=exercise, on_result=on_result,
                            on_plan=lambda n: bar.update(task, total=n))


def _summary(run) -> None:
    from .format import format_table

    rows = [[_shown(r.student), _shown(r.exercise or "-"), f"{r.score:g}/{r.max_score:g}"
             + (f" ({r.pending:g} pending)" if r.pending else ""), r.status,
             _shown(r.reason or "; ".join(r.notes))[:70]] for r in run.results]
    click.echo(format_table(["student", "exercise", "score", "status", "notes"], rows))
    click.echo(f"{len(run.graded)} submission(s) graded, {run.reused} reused; "
               f"{len(run.results)} result(s) in {run.out}")


def _shown(text: str) -> str:
    """``text`` printable on any terminal: a file name's undecodable bytes as U+FFFD."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")


COMMANDS = [grade]

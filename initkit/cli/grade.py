"""``initkit grade``: grade notebooks with hidden pytest graders, safely and in parallel.

A thin layer over :mod:`initkit.grading`: discover graders and submissions, grade them
(:func:`initkit.grading.runner.grade_all`), write the outputs
(:func:`initkit.grading.report.write_outputs`) and, with ``--nbgrader``, the gradebook.
Exit code 0 when every submission got a result, whatever its score; 1 when the grader itself
could not work for some submission (a broken grader, an internal failure); 2 usage errors.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from ..errors import InitkitError
from .sweep import dask_options


@click.command("grade")
@click.argument("submissions", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--graders", "graders_dir", type=click.Path(path_type=Path), default=None,
              help="Folder of <exercise>/test_*.py graders [default: ./graders].")
@click.option("--exercise", default=None,
              help="Exercise of notebooks whose metadata and file name do not say.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("graded"),
              show_default=True, help="Where grades.csv, results.json and feedback go.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Submissions graded in parallel [default: number of cores].")
@click.option("--timeout", type=click.FloatRange(min=1), default=120.0, show_default=True,
              help="Wall-clock seconds per submission.")
@click.option("--cell-timeout", type=click.FloatRange(min=0.5), default=30.0,
              show_default=True, help="Wall-clock seconds per cell and per check call.")
@click.option("--memory", "memory_mb", type=click.IntRange(min=64), default=2048,
              show_default=True, help="Address-space limit of each notebook's process (MB).")
@click.option("--nbgrader", "course", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="nbgrader course folder: grade its submitted/ (if no "
              "SUBMISSIONS are given) and write the scores into its gradebook.")
@click.option("--fresh", is_flag=True,
              help="Start a fresh `python -I` per notebook instead of forking a pre-warmed "
                   "template process (slower; the same confinement).")
@click.option("--kernel", "ipython", is_flag=True,
              help="Run the cells through IPython's InteractiveShell (the Jupyter kernel's "
                   "execution engine, in the sandboxed child) so IPython magics work; "
                   "default: plain Python execution, faster.")
@click.option("--seed", type=click.IntRange(min=0, max=2**31 - 1), default=None,
              help="Seed of the hidden checks' fresh inputs [default: drawn per run; "
                   "recorded in each results.json, so a regrade can repeat it].")
@click.option("--unconfined", is_flag=True,
              help="Grade even where no confinement can be set up (no user namespaces, "
                   "no root): resource limits and timeouts only; the notebooks can read "
                   "what you can and leave processes behind. Only for code you trust.")
@dask_options
@click.option("--progress/--no-progress", default=None,
              help="Show a progress bar [default: when stderr is a terminal].")
def grade(submissions: tuple[Path, ...], graders_dir: Path | None, exercise: str | None,
          out_dir: Path, jobs: int | None, timeout: float, cell_timeout: float,
          memory_mb: int, course: Path | None, fresh: bool, ipython: bool,
          seed: int | None, unconfined: bool, dask: str | None, dask_scheduler: str | None,
          dask_scheduler_file: str | None, progress: bool | None) -> None:
    """Grade notebook SUBMISSIONS (files, flat folders or nbgrader's submitted/).

    Each notebook runs in its own sandboxed process; the hidden pytest graders in
    graders/<exercise>/ check it from outside, through a data-only pipe.
    """
    import sys

    from ..grading.discover import discover, find_exercises
    from ..grading.report import write_outputs
    from ..grading.runner import Options

    if graders_dir is None:
        graders_dir = Path("graders")
    exercises = find_exercises(graders_dir.resolve())
    paths = list(submissions)
    if not paths:
        if course is None:
            raise click.UsageError("give SUBMISSIONS (notebooks or folders) or --nbgrader "
                                   "COURSE_DIR")
        paths = [course / "submitted"]
        if not paths[0].is_dir():
            raise InitkitError(f"{paths[0]} not found: collect the submissions first "
                               "(nbgrader collect) or give SUBMISSIONS")
    jobs_list = discover([p.resolve() for p in paths], exercises, exercise)
    if not jobs_list:
        raise InitkitError(f"no notebooks (*.ipynb) found in {', '.join(map(str, paths))}")
    out_dir = out_dir.resolve()
    if out_dir.exists() and not out_dir.is_dir():
        raise InitkitError(f"--out {out_dir} is a file, not a folder: pass a folder for "
                           "grades.csv and the feedback")
    try:  # before grading: a bad --out must not waste a whole run
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InitkitError(f"cannot create the output folder {out_dir}: {exc.strerror}; "
                           "pass a writable --out DIR") from None
    from ..grading.confine import require_confinement

    # fail closed: no grading at all where notebooks cannot be confined, unless asked
    for warning in require_confinement(unconfined):
        click.echo(f"warning: {warning}", err=True)
    options = Options(timeout=timeout, cell_timeout=cell_timeout, memory_mb=memory_mb,
                      course=str(course.resolve()) if course else None,
                      prewarm=not fresh, ipython=ipython, seed=seed, unconfined=unconfined)
    n_jobs = jobs or os.cpu_count() or 1
    show = sys.stderr.isatty() if progress is None else progress
    executor = None
    if dask or dask_scheduler or dask_scheduler_file:  # else grade_all's local processes
        from ..grading.dask_grading import daemonic_warning
        from .sweep import make_executor

        executor = make_executor(jobs, dask, dask_scheduler, dask_scheduler_file)
        click.echo(f"grading on {executor.describe()}", err=True)
        if (message := daemonic_warning(executor)) is not None:
            click.echo(f"warning: {message}", err=True)
    try:
        results = _run(jobs_list, exercises, options, n_jobs, show, executor)
    except KeyboardInterrupt:  # the run's tasks are cancelled; nothing below is written
        click.echo("interrupted: grading cancelled; no grades or feedback were written",
                   err=True)
        sys.exit(130)
    finally:
        if executor is not None:
            executor.close()
    if course is not None:  # the manual scores graded by hand so far count; the rest pend
        from ..grading.gradebook import read_manual_scores

        try:
            read_manual_scores(results, course.resolve())
        except Exception as exc:  # a gradebook we cannot read: manual points stay pending
            click.echo(f"warning: manual scores not read from the gradebook ({exc}); they "
                       "show as pending", err=True)
    write_outputs(results, out_dir)
    if course is not None:
        from ..grading.gradebook import write_gradebook

        for warning in write_gradebook(results, course.resolve(), graders=exercises):
            click.echo(f"warning: {warning}", err=True)
    _summary(results, out_dir)
    errors = [r for r in results if r.status == "error"]
    if errors:
        first = errors[0]
        raise InitkitError(f"the grader could not grade {len(errors)} submission(s), e.g. "
                           f"{first.path}: {first.reason}. Fix the graders and run again; "
                           f"the other results are in {out_dir}")


def _run(jobs_list, exercises, options, n_jobs, show, executor=None):
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from ..grading.runner import grade_all

    console = Console(stderr=True)
    failures = 0
    with Progress(TextColumn("grading"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[rate]}"), TextColumn("{task.fields[fail]}"),
                  TimeElapsedColumn(), console=console, disable=not show) as bar:
        task = bar.add_task("grading", total=len(jobs_list), rate="", fail="0 failed")

        def on_result(result):
            nonlocal failures
            failures += result.status != "graded"
            elapsed = bar.tasks[0].elapsed or 1e-9
            done = bar.tasks[0].completed + 1
            bar.update(task, advance=1, rate=f"{done / elapsed:.2f}/s",
                       fail=f"{failures} failed")

        return grade_all(jobs_list, exercises, options, n_jobs=n_jobs, on_result=on_result,
                         executor=executor)


def _summary(results, out_dir: Path) -> None:
    from .format import format_table

    rows = [[r.student, r.exercise or "-", f"{r.score:g}/{r.max_score:g}"
             + (f" ({r.pending:g} pending)" if r.pending else ""), r.status,
             (r.reason or "; ".join(r.notes))[:70]] for r in results]
    click.echo(format_table(["student", "exercise", "score", "status", "notes"], rows))
    click.echo(f"{len(results)} submission(s) graded; results in {out_dir}")


COMMANDS = [grade]

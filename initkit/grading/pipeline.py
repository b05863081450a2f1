"""Grade a class: :func:`grade_course`, the whole run, its steps listed in one place.

The run is a chain of small steps, each one module with one job, as nbgrader chains its
preprocessors (``nbgrader/converters/autograde.py``):

1. **discover** (:mod:`.discover`): the graders' exercises, the notebooks, who and which
   exercise each is;
2. **load** (here): each notebook's bytes read once, hashed (SHA-256), its seed derived from
   the run secret (:mod:`.seeds`); a result already stored for the same notebook, graders
   and seed is reused (:mod:`.store`), unless ``settings.regrade``;
3. **validate** (:mod:`.validate`), **run** in the sandbox and **score**
   (:mod:`.runner`), in a :class:`~.task.Task` on any :class:`~initkit.executors.Executor`
   (local processes or Dask: one code path; Dask only gets the graders shipped,
   :mod:`.dask_grading`);
4. **record** (:mod:`.store`): each result written to ``OUT/results/`` the moment it
   arrives, so a killed run loses nothing and the next run resumes;
5. **views** (:mod:`.report`, :mod:`.gradebook`): grades.csv, results.json and feedback
   rebuilt from every result stored under ``OUT`` (a partial or late run merges, every row
   kept), and with a course, nbgrader's gradebook.

The command line (``initkit grade``) builds the settings and the executor and calls this;
a notebook or a script can do the same::

    from initkit.grading.pipeline import grade_course
    from initkit.grading.settings import GradingSettings
    run = grade_course(["submitted/"], "graders", GradingSettings(), out="graded")
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..executors import Executor, Failure, LocalExecutor
from .discover import Job, discover, find_exercises, require_reference
from .notebook import MAX_NOTEBOOK_BYTES
from .results import SubmissionResult, failed
from .settings import DEFAULTS, GradingSettings
from .store import ResultKey, graders_digest, load_all, remove_partial, reusable, save
from .task import Task, grade_task


@dataclass
class GradingRun:
    """What :func:`grade_course` did.

    Attributes:
        results: every result under ``out`` (this run's and earlier runs'), by student and
            exercise: the rows of the tables. Without ``out``: this run's, in job order.
        graded: the submissions graded by this run.
        reused: how many of this run's submissions reused a stored result.
        total: this run's submissions.
        warnings: one sentence each (gradebook problems, unread manual scores).
    """

    results: list[SubmissionResult]
    graded: list[SubmissionResult]
    reused: int
    total: int
    out: Path | None
    warnings: list[str] = field(default_factory=list)

    def reuse_line(self) -> str | None:
        """The line that says how many stored results were reused (None if none were)."""
        if not self.reused:
            return None
        return (f"reused {self.reused} of {self.total} results (graded with the same graders "
                "and seed); --regrade to grade them again")


@dataclass(frozen=True)
class _Loaded:
    """A submission read once: its bytes (None over the size limit), size, digest."""

    job: Job
    notebook: bytes | None
    size: int
    sha256: str


def load(job: Job) -> _Loaded:
    """Step 2: read a notebook's bytes once (its size alone when over the limit)."""
    try:
        size = job.path.stat().st_size
        if size > MAX_NOTEBOOK_BYTES:
            return _Loaded(job, None, size, f"size:{size}")
        data = job.path.read_bytes()
    except OSError as exc:
        return _Loaded(job, None, -1, f"unreadable:{exc.errno}")
    return _Loaded(job, data, len(data), hashlib.sha256(data).hexdigest())


def grade_course(submissions: Sequence[Path | str], graders: Path | str | dict[str, Path],
                 settings: GradingSettings = DEFAULTS, executor: Executor | None = None, *,
                 out: Path | str | None = None, exercise: str | None = None,
                 on_result: Callable[[SubmissionResult], None] | None = None,
                 on_plan: Callable[[int], None] | None = None,
                 write_tables: bool = True) -> GradingRun:
    """Grade every notebook of ``submissions`` with ``graders`` (see the module docstring).

    Args:
        submissions: notebook files and folders (flat, or nbgrader's ``submitted/``).
        graders: the graders folder (``<exercise>/test_*.py``), or exercise -> folder.
        settings: limits, course, run secret, regrade (built once by the caller).
        executor: where tasks run [default: this process]; the caller closes it.
        out: the output folder: results stored and reused there, tables written there.
        exercise: the exercise of notebooks whose name does not say (``--exercise``).
        on_result: called in this process as each result arrives (progress bars).
        on_plan: called once with how many submissions will be graded (not reused).
        write_tables: write grades.csv, results.json, feedback (and the gradebook).

    Returns:
        A :class:`GradingRun`.

    Raises:
        InitkitError: no graders, no notebooks, an unreadable ``OUT/run.json``.
    """
    from ..errors import InitkitError
    from .seeds import derive_seed, run_secret

    exercises = graders if isinstance(graders, dict) else find_exercises(Path(graders).resolve())
    jobs = discover([Path(p).resolve() for p in submissions], exercises, exercise)
    if not jobs:
        raise InitkitError(f"no notebooks (*.ipynb) found in {', '.join(map(str, submissions))}")
    out = Path(out).resolve() if out is not None else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        remove_partial(out)
        secret = run_secret(out, settings.run_secret)
    else:
        import secrets

        secret = settings.run_secret or secrets.token_hex(16)
    course = Path(settings.course) if settings.course else None
    # before grading: without its release an exercise's totals would be silently wrong
    references = {name: require_reference(path, course) for name, path in exercises.items()
                  if name in {j.exercise for j in jobs}}
    _refuse_wrong_markers(references, exercises)
    digests = {name: graders_digest(path, references.get(name)) for name, path in
               exercises.items()}
    loaded = [load(job) for job in jobs]
    keys = [ResultKey(j.student, j.exercise, item.sha256, digests.get(j.exercise, ""),
                      derive_seed(secret, j.student, j.exercise, item.sha256))
            for j, item in zip(jobs, loaded, strict=True)]
    todo = list(range(len(jobs)))
    this_run: list[SubmissionResult | None] = [None] * len(jobs)
    if out is not None and not settings.regrade:
        for i, key in enumerate(keys):
            this_run[i] = reusable(out, key)
        todo = [i for i in todo if this_run[i] is None]
    reused = len(jobs) - len(todo)
    if on_plan:
        on_plan(len(todo))
    executor = executor or LocalExecutor(1)
    used = {jobs[i].exercise: exercises[jobs[i].exercise] for i in todo
            if jobs[i].exercise in exercises}

    def record(n: int, value: SubmissionResult | Failure) -> None:
        i = todo[n]
        result = value if isinstance(value, SubmissionResult) else failed(
            jobs[i], f"grading worker failed: {value.reason}", keys[i].seed)
        this_run[i] = result
        if out is not None:
            save(out, keys[i], result)
        if on_result:
            on_result(result)

    if todo:
        from .dask_grading import ship

        if executor.kind == "local" and executor.workers > 1:
            from .runner import warm

            warm()  # workers are forked from here: they start with everything imported
        with ship(executor, used, settings.course) as bundle:
            tasks = [Task(jobs[i], loaded[i].notebook, loaded[i].size,
                          str(exercises[jobs[i].exercise]) if jobs[i].exercise in exercises
                          else None, bundle, settings, keys[i].seed) for i in todo]
            executor.run(grade_task, tasks, keys=[f"{jobs[i].student}-{jobs[i].exercise}"
                                                  for i in todo],
                         on_result=record, label="grade")
    from .lifecycle import finish_ending

    finish_ending()  # every notebook process of this run is gone, its traces removed
    graded = [this_run[i] for i in todo]
    results = load_all(out) if out is not None else list(this_run)
    run = GradingRun(results, graded, reused, len(jobs), out)
    if write_tables and out is not None:
        _views(run, exercises, course)
    return run


def _refuse_wrong_markers(references: dict[str, Path], exercises: dict[str, Path]) -> None:
    """Stop before grading when a grader's markers do not fit the release's cells (a
    misspelled ``grade_id``, points that do not add up): every total would be wrong.

    Raises:
        GraderError: one line per problem, and the command that checks the rest.
    """
    from ..course.validate import grading_problems
    from ..errors import GraderError

    problems = [f"{name}: {problem}" for name, release in references.items()
                for problem in grading_problems(name, release, exercises[name])]
    if problems:
        raise GraderError("the graders do not fit the released notebooks, so no total would "
                          "be right: " + "; ".join(problems) + " (initkit course validate "
                          "checks the rest)")


def _views(run: GradingRun, exercises: dict[str, Path], course: Path | None) -> None:
    """Step 5: the tables from every stored result (and the gradebook with a course)."""
    from .report import write_outputs

    if course is not None:  # the manual scores graded by hand so far count; the rest pend
        from .gradebook import read_manual_scores

        try:
            read_manual_scores(run.results, course)
        except Exception as exc:  # a gradebook we cannot read: manual points stay pending
            run.warnings.append(f"manual scores not read from the gradebook ({exc}); they "
                                "show as pending")
    try:
        write_outputs(run.results, run.out)
    except (OSError, ValueError) as exc:  # every result is safe in OUT/results already
        from ..errors import InitkitError

        raise InitkitError(f"could not write the tables in {run.out} ({type(exc).__name__}: "
                           f"{exc}); every result is kept in {run.out / 'results'}, so "
                           "running the same command again writes them") from None
    if course is not None:
        from .gradebook import write_gradebook

        run.warnings += write_gradebook(run.results, course, graders=exercises)

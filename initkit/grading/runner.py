"""Grade submissions: structure checks, then pytest with the hidden graders, per submission.

For each notebook: :func:`~initkit.grading.notebook.load_notebook` (size, JSON, nbformat),
:func:`~initkit.grading.notebook.check_cells` against the exercise's reference (locked cells
restored, tampering noted), then ``pytest.main`` on the exercise's graders in this (trusted)
process with ``--submission`` pointing to the checked copy; the plugin runs the notebook in
its sandbox. Points come from each test's ``points`` marker; a test's output is only its
exception's type and message (pytest runs with ``--assert=plain``), never the grader's
source. :func:`grade_all` does this for many submissions in parallel worker processes.

Statuses: ``graded`` (the graders ran; the score may be anything), ``invalid`` (the file is
not a usable notebook or its exercise is unknown: 0 points and the reason), ``error`` (the
grader itself could not work: a broken grader file, an internal failure).
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from .discover import Job, reference_notebook

if TYPE_CHECKING:
    from ..executors import DaskExecutor

PLUGIN_MODULE = "initkit.grading.pytest_plugin"


@dataclass
class Options:
    """Settings of a grading run (all picklable, sent to worker processes).

    Attributes:
        timeout: wall-clock seconds per submission.
        cell_timeout: wall-clock seconds per cell or per call.
        memory_mb: address-space limit of a notebook's process.
        course: nbgrader course folder (for release notebooks), if any.
        prewarm: fork notebooks from the pre-warmed template (else a fresh ``python -I``).
        ipython: run cells through IPython's ``InteractiveShell`` (magics work).
        seed: the hidden checks' seed (``grade_seed``); None: :func:`grade_all` draws one
            per run. Recorded in every result, so a regrade can repeat it.
        unconfined: run notebooks with resource limits only (no namespaces, no allow-list
            root): only when the user asked for it (``--unconfined``).
    """

    timeout: float = 120.0
    cell_timeout: float = 30.0
    memory_mb: int = 2048
    course: str | None = None
    prewarm: bool = True
    ipython: bool = False
    seed: int | None = None
    unconfined: bool = False


@dataclass
class TestResult:
    """One grader test's outcome, in Gradescope's terms.

    ``name`` is the pytest id (``test_ex01.py::test_xavier_variance``), ``title`` the first
    line of its docstring (what feedback shows), ``grade_id`` its nbgrader grade cell.
    """

    name: str
    score: float
    max_score: float
    output: str = ""
    visibility: str = "visible"
    title: str = ""
    grade_id: str | None = None


@dataclass
class ManualItem:
    """A manually graded cell of the notebook: its points count, pending until graded."""

    grade_id: str
    max_score: float
    score: float | None = None


@dataclass
class SubmissionResult:
    """Everything known about one graded (or refused) submission."""

    student: str
    exercise: str | None
    path: str
    status: str
    reason: str = ""
    tests: list[TestResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cell_errors: list[tuple[int, str, str]] = field(default_factory=list)
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    seed: int | None = None
    manual: list[ManualItem] = field(default_factory=list)

    @property
    def score(self) -> float:
        """Points earned so far: the checks' plus the manually graded cells graded yet."""
        return sum(t.score for t in self.tests) + sum(m.score or 0.0 for m in self.manual)

    @property
    def max_score(self) -> float:
        """Points available, manually graded cells included."""
        return sum(t.max_score for t in self.tests) + sum(m.max_score for m in self.manual)

    @property
    def pending(self) -> float:
        """Points of manually graded cells that nobody has graded yet."""
        return sum(m.max_score for m in self.manual if m.score is None)

    def to_dict(self) -> dict:
        """Plain-data form (for JSON)."""
        d = asdict(self)
        d.update(score=self.score, max_score=self.max_score)
        return d


def _plugin_autoloaded() -> bool:
    from importlib.metadata import entry_points

    return any(ep.value.split(":")[0] == PLUGIN_MODULE
               for ep in entry_points(group="pytest11"))


class _Collector:
    """pytest plugin object that records each test's points and outcome."""

    def __init__(self):
        self.tests: dict[str, TestResult] = {}
        self.errors: list[str] = []
        #: why the notebook's sandbox could not be set up (the kit's error), if it failed
        self.sandbox_error: str | None = None
        #: the session's Submission (from the ``--submission`` plugin), after the run
        self.submission = None

    def pytest_collection_modifyitems(self, items) -> None:
        from .pytest_plugin import grade_id_of, points_of, title_of

        for item in items:
            pts, vis = points_of(item)
            self.tests[item.nodeid] = TestResult(name=_short(item.nodeid), score=0.0,
                                                 max_score=pts, output="not run",
                                                 visibility=vis, title=title_of(item),
                                                 grade_id=grade_id_of(item))

    def pytest_sessionfinish(self, session) -> None:
        from .pytest_plugin import SUBMISSION_PLUGIN

        plugin = session.config.pluginmanager.get_plugin(SUBMISSION_PLUGIN)
        self.submission = getattr(plugin, "submission", None)

    def pytest_collectreport(self, report) -> None:
        if report.failed:
            self.errors.append(f"cannot load graders {report.nodeid or '.'}: "
                               + _last_line(str(report.longrepr)))

    def pytest_runtest_logreport(self, report) -> None:
        test = self.tests.get(report.nodeid)
        if test is None:
            return
        if report.when == "call" and report.passed:
            test.score, test.output = test.max_score, ""
        elif report.failed:
            test.score = 0.0
            test.output = getattr(report, "initkit_message", "") or "the check failed"
        elif report.skipped and report.when in ("setup", "call"):
            test.output = "skipped"

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        if call.excinfo is not None and report.failed:
            report.initkit_message = _message(call.excinfo)
            from ..errors import SandboxError

            if call.excinfo.errisinstance(SandboxError) and self.sandbox_error is None:
                self.sandbox_error = str(call.excinfo.value)
        return report


def _short(nodeid: str) -> str:
    path, _, rest = nodeid.partition("::")
    return f"{Path(path).name}::{rest}" if rest else Path(path).name


def _last_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][:500] if lines else "unknown error"


def _message(excinfo) -> str:
    """The failure text a student may see: exception type and message, never source."""
    from .submission import StudentError

    exc = excinfo.value
    try:
        text = str(exc)
    except Exception:
        text = ""
    if isinstance(exc, StudentError):
        return text[:2000]
    if isinstance(exc, AssertionError):
        return (text or "the check failed")[:2000]
    return f"{type(exc).__name__}: {text}"[:2000]


@contextlib.contextmanager
def _empty_ini():
    """A throw-away empty ``pytest.ini``: the graders run with no project's pytest settings."""
    d = Path(tempfile.mkdtemp(prefix="initkit-pytest-"))
    try:
        (d / "pytest.ini").write_text("[pytest]\n")
        yield d / "pytest.ini"
    finally:
        shutil.rmtree(d, ignore_errors=True)


def grade_one(job: Job, grader_dir: Path | None, options: Options) -> SubmissionResult:
    """Grade one submission in this process (the notebook runs in a sandboxed child).

    Args:
        job: the submission.
        grader_dir: the exercise's grader folder (None when the exercise is unknown).
        options: limits and timeouts.

    Returns:
        A :class:`SubmissionResult`; never raises for a bad submission.
    """
    start = time.monotonic()
    result = SubmissionResult(student=job.student, exercise=job.exercise, path=str(job.path),
                              status="graded", reason=job.note or "", seed=options.seed)
    nb = _structure_checked(job, grader_dir, options, result)
    if nb is None:
        return _with_zero_tests(result, grader_dir, options, start)
    from .notebook import import_nbformat

    private = Path(tempfile.mkdtemp(prefix="initkit-sub-"))
    private.chmod(0o700)
    fixed = private / job.path.name
    import_nbformat().write(nb.nb, str(fixed))
    collector = _Collector()
    log = io.StringIO()
    try:
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log), \
                _empty_ini() as ini:
            code = pytest.main([*_pytest_args(grader_dir, fixed, options), "-c", str(ini)],
                               plugins=[collector])
        _record_run(result, collector, int(code), log.getvalue(), nb.nb)
    except Exception as exc:  # the grader itself failed: report, never crash the run
        result.status, result.reason = "error", f"{type(exc).__name__}: {exc}"
    finally:
        shutil.rmtree(private, ignore_errors=True)
    result.seconds = time.monotonic() - start
    return result


def _structure_checked(job: Job, grader_dir: Path | None, options: Options,
                       result: SubmissionResult):
    """The submission, loaded and checked against the exercise's release (locked cells
    restored), or None with ``result``'s status and reason saying why it cannot be graded."""
    from .notebook import NotebookError, check_cells, load_notebook

    if job.problem or grader_dir is None:
        result.status, result.reason = "invalid", job.problem or "unknown exercise"
        return None
    ref_path = reference_notebook(grader_dir, Path(options.course) if options.course else None)
    try:
        reference = load_notebook(ref_path) if ref_path is not None else None
    except NotebookError as exc:  # the exercise's own notebook is broken: our failure
        result.status, result.reason = "error", f"reference notebook: {exc}"
        return None
    if reference is not None:
        result.manual = manual_items(reference.nb)
    try:
        nb = load_notebook(job.path)
        if reference is not None:
            check_cells(nb, reference)
    except NotebookError as exc:
        result.status, result.reason = "invalid", str(exc)
        return None
    result.notes = [*([job.note] if job.note else []), *nb.notes]
    return nb


def _pytest_args(grader_dir: Path, notebook: Path, options: Options) -> list[str]:
    """pytest's command line for one submission: the graders, the sandbox's settings."""
    args = [str(grader_dir), "--submission", str(notebook), "--assert=plain", "-q",
            "-p", "no:cacheprovider", "--capture=sys",
            "--rootdir", str(grader_dir), "--confcutdir", str(grader_dir),
            "--import-mode=importlib", "-W", "ignore::pytest.PytestAssertRewriteWarning",
            "--submission-timeout", str(options.timeout),
            "--cell-timeout", str(options.cell_timeout),
            "--submission-memory", str(options.memory_mb)]
    if options.seed is not None:
        args += ["--grade-seed", str(options.seed)]
    if options.unconfined:
        args.append("--sandbox-unconfined")
    if not options.prewarm:
        args.append("--sandbox-fresh")
    if options.ipython:
        args.append("--sandbox-ipython")
    if (grader_dir / "data").is_dir():
        args += ["--sandbox-data", str(grader_dir / "data")]
    if not _plugin_autoloaded():
        args += ["-p", PLUGIN_MODULE]
    return args


def _record_run(result: SubmissionResult, collector: _Collector, code: int, log: str,
                nb) -> None:
    """Copy one pytest session's outcome into ``result``: the tests' scores, the kit's own
    failures as status ``error``, the notebook's cell errors, output and restarts."""
    result.tests = list(collector.tests.values())
    if collector.sandbox_error:  # the kit's failure, never the student's zero
        result.status, result.reason = "error", collector.sandbox_error
    elif collector.errors:
        result.status, result.reason = "error", "; ".join(collector.errors)
    elif code not in (0, 1):
        result.status = "error"
        result.reason = f"pytest could not run the graders (exit code {code}): " \
                        + _last_line(log)
    sub = collector.submission
    if sub is None:
        return
    sb = sub.sandbox
    result.cell_errors = sub.cell_errors
    _gate_on_visible_tests(result, nb)
    result.stdout, result.stderr = sb.stdout.text(), sb.stderr.text()
    for reason in sb.restarts:
        result.notes.append(f"the notebook was restarted for the next check: {reason}")
    if sb.gone_reason:
        result.notes.append(sb.gone_reason)


def test_cells(nb) -> dict[int, str]:
    """Code-cell number (from 1, as in ``cell_errors``) -> grade_id of nbgrader test cells."""
    out: dict[int, str] = {}
    number = 0
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        number += 1
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution") and meta.get("grade_id"):
            out[number] = str(meta["grade_id"])
    return out


def manual_items(nb) -> list[ManualItem]:
    """The manually graded cells of a notebook (nbgrader answer cells with ``grade`` and
    ``solution``, and task cells), each with its points, all pending."""
    items = []
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        manual = meta.get("grade") and meta.get("solution") or meta.get("task")
        if manual and meta.get("grade_id"):
            items.append(ManualItem(grade_id=str(meta["grade_id"]),
                                    max_score=float(meta.get("points", 0) or 0)))
    return items


def _gate_on_visible_tests(result: SubmissionResult, nb) -> None:
    """A grade cell whose visible tests raised earns nothing, as under nbgrader.

    nbgrader runs an autograder cell's visible tests and then its hidden block; an error
    in the visible part scores the whole cell 0. The hidden graders of that ``grade_id``
    get 0 here too, with the visible test's sentence, so both tools agree cell for cell.
    """
    failed = {test_cells(nb).get(i): (i, m or t) for i, t, m in result.cell_errors}
    for test in result.tests:
        if test.grade_id in failed and test.score > 0:
            number, message = failed[test.grade_id]
            test.score = 0.0
            test.output = f"the visible tests of this part (cell {number}) failed: {message}"


def _with_zero_tests(result: SubmissionResult, grader_dir: Path | None, options: Options,
                     start: float) -> SubmissionResult:
    if grader_dir is not None:
        import dataclasses

        result.tests = [dataclasses.replace(t, score=0.0, output=result.reason)
                        for t in collect_tests(grader_dir)]
    result.seconds = time.monotonic() - start
    return result


_COLLECTED: dict[tuple[str, str], list[TestResult]] = {}


def _content_key(grader_dir: Path) -> tuple[str, str]:
    """The grader folder and a digest of its Python files' bytes (an edit changes it)."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(Path(grader_dir).rglob("*.py")):
        digest.update(str(path.relative_to(grader_dir)).encode() + b"\0" + path.read_bytes())
    return str(grader_dir), digest.hexdigest()


def collect_tests(grader_dir: Path) -> list[TestResult]:
    """The tests of an exercise and their points, without running anything (cached by the
    graders' content, so an edited grader is collected again in a long-lived process)."""
    key = _content_key(grader_dir)
    if key not in _COLLECTED:
        collector = _Collector()
        args = [str(grader_dir), "--collect-only", "-q", "-p", "no:cacheprovider",
                "--rootdir", str(grader_dir), "--confcutdir", str(grader_dir),
                "--import-mode=importlib"]
        with contextlib.redirect_stdout(io.StringIO()), _empty_ini() as ini:
            pytest.main([*args, "-c", str(ini)], plugins=[collector])
        _COLLECTED[key] = list(collector.tests.values())
    return [TestResult(**asdict(t)) for t in _COLLECTED[key]]


# ---------------------------------------------------------------------- many at once


def _warm() -> None:
    """Import what grading needs (nbformat, nbgrader's checksum, matplotlib's font cache)."""
    from .notebook import import_nbformat
    from .sandbox import _seed_matplotlib_cache

    import_nbformat()
    import nbgrader.utils  # noqa: F401

    d = Path(tempfile.mkdtemp(prefix="initkit-warm-"))
    _seed_matplotlib_cache(d)
    shutil.rmtree(d, ignore_errors=True)


def _worker_init() -> None:
    os.environ.setdefault("MPLBACKEND", "Agg")


def _grade_job(args: tuple[Job, str | None, Options]) -> SubmissionResult:
    job, grader_dir, options = args
    return grade_one(job, Path(grader_dir) if grader_dir else None, options)


def grade_all(jobs: list[Job], exercises: dict[str, Path], options: Options, n_jobs: int = 1,
              on_result: Callable[[SubmissionResult], None] | None = None,
              executor: DaskExecutor | None = None) -> list[SubmissionResult]:
    """Grade every job, ``n_jobs`` at a time, in worker processes (in-process if 1).

    Args:
        jobs: the submissions (from :func:`~initkit.grading.discover.discover`).
        exercises: exercise name -> grader folder.
        options: limits and hidden paths.
        n_jobs: parallel worker processes.
        on_result: called in this process as each result arrives (progress bars).
        executor: a :class:`~initkit.executors.DaskExecutor` to grade on instead of local
            processes (:func:`~initkit.grading.dask_grading.grade_on_dask`: the same
            results; ``n_jobs`` is then ignored).

    Returns:
        Results in the order of ``jobs``; a worker that dies gives an ``error`` result.
    """
    if options.seed is None:  # one seed per run, recorded in every result
        import dataclasses
        import secrets

        options = dataclasses.replace(options, seed=secrets.randbelow(2**31))
    if executor is not None:
        from .dask_grading import grade_on_dask

        return grade_on_dask(executor, jobs, exercises, options, on_result=on_result)
    work = [(job, str(exercises[job.exercise]) if job.exercise in exercises else None,
             options) for job in jobs]
    results: list[SubmissionResult | None] = [None] * len(work)
    if n_jobs <= 1 or len(work) <= 1:
        for i, item in enumerate(work):
            results[i] = _safe(item)
            if on_result:
                on_result(results[i])
        return results
    import multiprocessing

    _warm()  # workers are forked from here: they start with everything imported
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=n_jobs, mp_context=ctx,
                             initializer=_worker_init) as pool:
        pending = {pool.submit(_grade_job, item): i for i, item in enumerate(work)}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                i = pending.pop(fut)
                try:
                    results[i] = fut.result()
                except Exception as exc:  # a worker died: this submission gets an error
                    job = work[i][0]
                    results[i] = SubmissionResult(
                        student=job.student, exercise=job.exercise, path=str(job.path),
                        status="error", reason=f"grading worker failed: {exc!r}")
                if on_result:
                    on_result(results[i])
    return results


def _safe(item: tuple[Job, str | None, Options]) -> SubmissionResult:
    try:
        return _grade_job(item)
    except Exception as exc:
        job = item[0]
        return SubmissionResult(student=job.student, exercise=job.exercise, path=str(job.path),
                                status="error", reason=f"{type(exc).__name__}: {exc}")

"""Steps 3 and 4 of grading a submission: run the hidden graders against the sandboxed
notebook, and score.

:func:`grade_one` takes one submission (already on this machine) and its exercise's grader
folder: the structure checks (:mod:`initkit.grading.validate`), then ``pytest.main`` on the
graders in this (trusted) process, handed the checked notebook itself
(:class:`~initkit.grading.pytest_plugin.SubmissionPlugin`), which runs it in its sandbox.
Points come from each test's ``points`` marker; a test's output is only its exception's
type and message (pytest runs with ``--assert=plain``), never the grader's source. A grade
cell whose visible tests failed scores 0 (nbgrader's rule). Many submissions, on any
executor: :mod:`initkit.grading.pipeline`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pytest

from .cells import code_cell_labels, test_cells
from .discover import Job
from .results import SubmissionResult, TestResult
from .settings import DEFAULTS, GradingSettings
from .validate import structure_checked

PLUGIN_MODULE = "initkit.grading.pytest_plugin"
#: pytest's own plugins a grading session has no use for, each of which costs time per
#: session: ``unraisableexception`` and ``threadexception`` run ``gc.collect()`` repeatedly
#: at the end of every session (a full collection of this process's heap, numpy, pytest
#: and the graders included: 0.05-0.25 s per submission), the others set up output files,
#: doctest collection, pastebin and ``--setup-*`` listings nobody reads. None of them runs a
#: check or changes an outcome (an exception in a ``__del__`` would only have been a
#: warning in a log the grader never shows).
UNUSED_PYTEST_PLUGINS = ("unraisableexception", "threadexception", "faulthandler",
                         "pastebin", "junitxml", "doctest", "stepwise", "setuponly",
                         "setupplan", "cacheprovider")


@functools.cache
def _plugin_autoloaded() -> bool:
    """Whether pytest loads the kit's plugin through its ``pytest11`` entry point (read once:
    the installed entry points do not change while a run grades)."""
    from importlib.metadata import entry_points

    return any(ep.value.split(":")[0] == PLUGIN_MODULE
               for ep in entry_points(group="pytest11"))


#: environment variables pytest reads at the start of any session
PYTEST_ENVIRONMENT = ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")


def _without_unused_plugins() -> list[str]:
    return [arg for name in UNUSED_PYTEST_PLUGINS for arg in ("-p", f"no:{name}")]


class _Collector:
    """pytest plugin object that records each test's points and outcome."""

    def __init__(self, source=None):
        #: the :class:`~initkit.grading.pytest_plugin.SubmissionPlugin` of the session, if any
        self.source = source
        self.tests: dict[str, TestResult] = {}
        self.errors: list[str] = []
        #: why the notebook's sandbox could not be set up (the kit's error), if it failed
        self.sandbox_error: str | None = None
        #: the session's Submission (from ``source``), after the run
        self.submission = None
        #: wall seconds of every test's setup, call and teardown together
        self.test_seconds = 0.0

    def pytest_collection_modifyitems(self, items) -> None:
        from .pytest_plugin import grade_id_of, points_of, title_of

        for item in items:
            pts, vis = points_of(item)
            self.tests[item.nodeid] = TestResult(name=_short(item.nodeid), score=0.0,
                                                 max_score=pts, output="not run",
                                                 visibility=vis, title=title_of(item),
                                                 grade_id=grade_id_of(item))

    def pytest_sessionfinish(self, session) -> None:
        self.submission = getattr(self.source, "submission", None)

    def pytest_collectreport(self, report) -> None:
        if report.failed:
            self.errors.append(f"cannot load graders {report.nodeid or '.'}: "
                               + _last_line(str(report.longrepr)))

    def pytest_runtest_logreport(self, report) -> None:
        self.test_seconds += report.duration
        test = self.tests.get(report.nodeid)
        if test is None:
            return
        if report.when == "call" and report.passed:
            test.score, test.output = test.max_score, ""
        elif report.failed:
            test.score = 0.0
            test.output = getattr(report, "initkit_message", "") or "the check failed"
            test.mistake = getattr(report, "initkit_mistake", None)
        elif report.skipped and report.when in ("setup", "call"):
            test.output = "skipped"

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        if call.excinfo is not None and report.failed:
            report.initkit_message = _message(call.excinfo)
            report.initkit_mistake = _mistake(call.excinfo.value)
            from ..errors import GraderError, SandboxError

            # the kit's failure or a wrong grader: the submission is an error, not a zero
            if call.excinfo.errisinstance((SandboxError, GraderError)) \
                    and self.sandbox_error is None:
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


def _mistake(exc: BaseException) -> dict | None:
    """The recognised mistake a check's failure carries (``CheckFailed.mistake``: raised by
    grader code in this trusted process), as data, or None."""
    found = getattr(exc, "mistake", None)
    ident, sentence = getattr(found, "id", None), getattr(found, "sentence", None)
    if isinstance(ident, str) and ident and isinstance(sentence, str):
        return {"id": ident[:100], "sentence": sentence[:500]}
    return None


@contextlib.contextmanager
def _isolated_ini():
    """A throw-away empty ``pytest.ini``, and none of pytest's environment settings while it
    exists: the graders run with no project's and no user's pytest settings. An
    instructor's ``PYTEST_ADDOPTS=--junitxml=...`` (or ``-x``, ``--lf``) would otherwise be
    parsed by every grading session, which turns off ``junitxml``, so every submission
    ended as "pytest could not run the graders"; ``PYTEST_PLUGINS`` would load plugins
    into it."""
    d = Path(tempfile.mkdtemp(prefix="initkit-pytest-"))
    saved = {name: os.environ.pop(name) for name in PYTEST_ENVIRONMENT if name in os.environ}
    try:
        (d / "pytest.ini").write_text("[pytest]\n")
        yield d / "pytest.ini"
    finally:
        os.environ.update(saved)
        shutil.rmtree(d, ignore_errors=True)


def grade_one(job: Job, grader_dir: Path | None, settings: GradingSettings = DEFAULTS,
              seed: int | None = None) -> SubmissionResult:
    """Grade one submission in this process (the notebook runs in a sandboxed child).

    Args:
        job: the submission.
        grader_dir: the exercise's grader folder (None when the exercise is unknown).
        settings: limits and timeouts.
        seed: the hidden checks' seed (``grade_seed``) of this submission; None: pytest's
            session draws one.

    Returns:
        A :class:`SubmissionResult`; never raises for a bad submission.
    """
    start = time.monotonic()
    if settings.prewarm:  # warming up while this process loads the notebook and pytest
        from .lifecycle import start_template

        start_template(sys.executable)
    result = SubmissionResult(student=job.student, exercise=job.exercise, path=str(job.path),
                              status="graded", reason=job.note or "", seed=seed)
    nb = structure_checked(job, grader_dir, settings.course, result)
    result.timing["load"] = time.monotonic() - start
    if nb is None:
        return _with_zero_tests(result, grader_dir, start)
    from .pytest_plugin import SubmissionPlugin

    data = grader_dir / "data"
    source = SubmissionPlugin.of_notebook(nb, job.path.name, settings,
                                          str(data) if data.is_dir() else None)
    collector = _Collector(source)
    log = io.StringIO()
    try:
        modules = _grader_modules(grader_dir)
        _forget_stale_graders(modules)
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log), \
                _isolated_ini() as ini:
            session = time.monotonic()
            code = pytest.main([*_pytest_args(grader_dir, seed), "-c", str(ini)],
                               plugins=[collector, source, source.fixtures()])
            session = time.monotonic() - session
        _remember_graders(modules)
        _record_run(result, collector, int(code), log.getvalue(), nb.nb)
        _record_timing(result, collector, source, session)
    except Exception as exc:  # the grader itself failed: report, never crash the run
        result.status, result.reason = "error", f"{type(exc).__name__}: {exc}"
    result.seconds = time.monotonic() - start
    return result


#: Grader modules this process imported: module name -> the file and the digest of the
#: source it was imported from.
_GRADER_SOURCES: dict[str, str] = {}


def _grader_modules(grader_dir: Path) -> dict[str, str]:
    """Module name pytest gives each Python file of ``grader_dir`` -> that file's stamp
    (path and SHA-256 of its bytes).

    pytest's ``--import-mode=importlib`` names a grader module after its path below the
    rootdir (``test_variance``) and reuses whatever ``sys.modules`` holds under that name,
    so a later session in this process would run an earlier module: another exercise's
    copy of the same file name, or the graders before an edit.
    """
    from _pytest.pathlib import (
        CouldNotResolvePathError,
        module_name_from_path,
        resolve_pkg_root_and_module_name,
    )

    found = {}
    for path in sorted(Path(grader_dir).rglob("*.py")):
        try:
            name = resolve_pkg_root_and_module_name(path, consider_namespace_packages=False)[1]
        except CouldNotResolvePathError:
            name = module_name_from_path(path, Path(grader_dir))
        found[name] = f"{path}\0{hashlib.sha256(path.read_bytes()).hexdigest()}"
    return found


def _forget_stale_graders(modules: dict[str, str]) -> None:
    """Drop from ``sys.modules`` every grader module imported from another file or an older
    source than ``modules`` names: the session imports the current one."""
    for name, stamp in modules.items():
        if name in sys.modules and _GRADER_SOURCES.get(name) != stamp:
            for loaded in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
                del sys.modules[loaded]
            _GRADER_SOURCES.pop(name, None)


def _remember_graders(modules: dict[str, str]) -> None:
    for name, stamp in modules.items():
        module = sys.modules.get(name)
        if module is not None and stamp.startswith(f"{getattr(module, '__file__', '')}\0"):
            _GRADER_SOURCES[name] = stamp


def _pytest_args(grader_dir: Path, seed: int | None) -> list[str]:
    """pytest's command line for one submission's graders (the notebook and the sandbox's
    settings travel in the :class:`~initkit.grading.pytest_plugin.SubmissionPlugin`)."""
    args = [str(grader_dir), "--assert=plain", "-q", *_without_unused_plugins(),
            "--capture=sys", "--rootdir", str(grader_dir), "--confcutdir", str(grader_dir),
            "--import-mode=importlib", "-W", "ignore::pytest.PytestAssertRewriteWarning"]
    if seed is not None:
        args += ["--grade-seed", str(seed)]
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
    labels = code_cell_labels(nb)  # feedback names a cell as Jupyter shows it
    result.cell_errors = [(labels.get(i, f"code cell {i}"), t, m)
                          for i, t, m in result.cell_errors]
    result.stdout, result.stderr = sb.stdout.text(), sb.stderr.text()
    for reason in sb.restarts:
        result.notes.append(f"the notebook was restarted for the next check: {reason}")
    if sb.gone_reason:
        result.notes.append(sb.gone_reason)


def _record_timing(result: SubmissionResult, collector: _Collector, source,
                   session: float) -> None:
    """Where the session's time went (:attr:`SubmissionResult.timing`)."""
    sb = collector.submission.sandbox if collector.submission is not None else None
    result.timing.update(
        start=source.start_seconds, close=source.close_seconds,
        cells=sum(c.seconds for c in sb.cells) if sb is not None else 0.0,
        tests=collector.test_seconds, session=session,
        requests=float(sb.requests) if sb is not None else 0.0,
        request_seconds=sb.request_seconds if sb is not None else 0.0,
        child_seconds=sb.child_seconds if sb is not None else 0.0)


def _gate_on_visible_tests(result: SubmissionResult, nb) -> None:
    """A grade cell whose visible tests raised earns nothing, as under nbgrader.

    nbgrader runs an autograder cell's visible tests and then its hidden block; an error
    in the visible part scores the whole cell 0. The hidden graders of that ``grade_id``
    get 0 here too, with the visible test's sentence, so both tools agree cell for cell.
    """
    failed = {test_cells(nb).get(i): (i, m or t) for i, t, m in result.cell_errors}
    for test in result.tests:
        if test.grade_id in failed and test.score > 0:
            _, message = failed[test.grade_id]
            test.score = 0.0
            test.output = f"the visible tests of {test.grade_id} failed: {message}"


def _with_zero_tests(result: SubmissionResult, grader_dir: Path | None,
                     start: float) -> SubmissionResult:
    if grader_dir is not None:
        result.tests = [dataclasses.replace(t, score=0.0, output=result.reason)
                        for t in collect_tests(grader_dir)]
    result.seconds = time.monotonic() - start
    return result


_COLLECTED: dict[tuple[str, str], list[TestResult]] = {}


def _content_key(grader_dir: Path) -> tuple[str, str]:
    """The grader folder and a digest of its Python files' bytes (an edit changes it)."""
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
        args = [str(grader_dir), "--collect-only", "-q", *_without_unused_plugins(),
                "--rootdir", str(grader_dir), "--confcutdir", str(grader_dir),
                "--import-mode=importlib"]
        modules = _grader_modules(grader_dir)
        _forget_stale_graders(modules)
        with contextlib.redirect_stdout(io.StringIO()), _isolated_ini() as ini:
            pytest.main([*args, "-c", str(ini)], plugins=[collector])
        _remember_graders(modules)
        _COLLECTED[key] = list(collector.tests.values())
    return [dataclasses.replace(t) for t in _COLLECTED[key]]


def warm() -> None:
    """Import what grading needs (nbformat, nbgrader's checksum, matplotlib's font cache)
    in this process, so processes forked from it start with everything imported."""
    from .lifecycle import seed_matplotlib_cache
    from .notebook import import_nbformat

    import_nbformat()
    import nbgrader.utils  # noqa: F401

    d = Path(tempfile.mkdtemp(prefix="initkit-warm-"))
    seed_matplotlib_cache(d)
    shutil.rmtree(d, ignore_errors=True)

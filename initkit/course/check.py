"""``initkit check NOTEBOOK``: a student's own run of the visible tests, outside Jupyter.

The notebook runs top to bottom in the same sandbox as grading
(:class:`~initkit.grading.sandbox.Sandbox`); every nbgrader autograder cell is one visible
test, passed when the cell ran without an error, worth the points in its metadata. Hidden
test blocks, should the notebook hold any (an instructor's source), are cut out before it
runs: this command never runs a hidden check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..grading.settings import CHECK, GradingSettings

HIDDEN_BLOCK = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?^[ \t]*### END HIDDEN TESTS[^\n]*\n?",
                          re.S | re.M)


@dataclass
class VisibleTest:
    """One autograder cell's visible tests: passed, or the sentence of what went wrong."""

    grade_id: str
    cell: int
    points: float
    passed: bool
    message: str = ""


@dataclass
class CheckReport:
    """What ``initkit check`` found."""

    path: Path
    tests: list[VisibleTest] = field(default_factory=list)
    #: errors of cells that are not tests: ``(the cell as Jupyter shows it, type, message)``
    cell_errors: list[tuple[str, str, str]] = field(default_factory=list)
    manual_points: float = 0.0
    problem: str = ""

    @property
    def ok(self) -> bool:
        """Every visible test passed (and the notebook ran)."""
        return not self.problem and bool(self.tests) and all(t.passed for t in self.tests)


def strip_hidden(source: str) -> str:
    """``source`` without its ``### BEGIN/END HIDDEN TESTS`` blocks."""
    return HIDDEN_BLOCK.sub("", source)


def check_notebook(path: Path, settings: GradingSettings = CHECK, *,
                   timeout: float | None = None, cell_timeout: float | None = None,
                   memory_mb: int | None = None, unconfined: bool | None = None
                   ) -> CheckReport:
    """Run ``path`` in the grading sandbox and read off its visible tests.

    Args:
        path: the notebook.
        settings: limits [default: the generous :data:`~initkit.grading.settings.CHECK`].
        timeout / cell_timeout / memory_mb / unconfined: override one of ``settings``.

    Raises:
        NotebookError: not a usable notebook (the message names the file and why).
    """
    from ..grading.cells import cell_points, code_cell_labels, manual_items, test_cells
    from ..grading.limits import Limits
    from ..grading.notebook import load_notebook
    from ..grading.sandbox import Sandbox

    given = {"timeout": timeout, "cell_timeout": cell_timeout, "memory_mb": memory_mb,
             "unconfined": unconfined}
    settings = replace(settings, **{k: v for k, v in given.items() if v is not None})
    path = Path(path)
    nb = load_notebook(path)
    cells = [strip_hidden(c.source) for c in nb.nb.cells if c.cell_type == "code"]
    tests = test_cells(nb.nb)
    points = cell_points(nb.nb)
    report = CheckReport(path=path, manual_points=sum(m.max_score for m in manual_items(nb.nb)))
    limits = Limits(timeout=settings.timeout, cell_timeout=settings.cell_timeout,
                    memory_bytes=settings.memory_mb * 1024**2)
    data = path.parent / "data"
    with Sandbox(cells, {path.name: path.read_bytes()}, limits=limits,
                 data_dir=data if data.is_dir() else None,
                 unconfined=settings.unconfined) as sb:
        results = {c.index + 1: c for c in sb.start()}
        report.problem = sb.gone_reason or ""
    for number, grade_id in tests.items():
        cell = results.get(number)
        if cell is None:
            report.tests.append(VisibleTest(grade_id, number, points.get(grade_id, 0.0), False,
                                            report.problem or "the cell did not run"))
        else:
            report.tests.append(VisibleTest(grade_id, number, points.get(grade_id, 0.0),
                                            cell.error_type is None,
                                            _sentence(cell.error_type, cell.error_message)))
    labels = code_cell_labels(nb.nb)
    report.cell_errors = [(labels.get(n, f"code cell {n}"), c.error_type,
                           c.error_message or "")
                          for n, c in sorted(results.items())
                          if c.error_type and n not in tests]
    return report


def _sentence(error_type: str | None, message: str | None) -> str:
    if error_type is None:
        return ""
    if error_type in ("AssertionError", "CheckFailed") and message:
        return message
    if error_type == "NotImplementedError":
        return "not implemented yet: " + (message or "replace `raise NotImplementedError()`")
    return f"{error_type}: {message}" if message else error_type


def format_report(report: CheckReport) -> str:
    """A pytest-style report: one line per visible test, the sentence under a failure."""
    lines = [f"initkit check {report.path.name}: {len(report.tests)} visible test(s)"]
    width = max([len(t.grade_id) for t in report.tests] + [10])
    for t in report.tests:  # named as Jupyter shows them: by grade_id (the cell toolbar)
        status = "PASSED" if t.passed else "FAILED"
        lines.append(f"{t.grade_id:<{width}}  {status}  "
                     f"{t.points if t.passed else 0:g}/{t.points:g}")
        if not t.passed and t.message:
            lines.append(f"    {t.message}")
    for label, etype, message in report.cell_errors:
        lines.append(f"{label} raised {etype}: {message[:300]}")
    if report.problem:
        lines.append(f"the notebook stopped: {report.problem}")
    passed = sum(t.passed for t in report.tests)
    failed = len(report.tests) - passed
    earned = sum(t.points for t in report.tests if t.passed)
    total = sum(t.points for t in report.tests)
    tail = f"; {report.manual_points:g} more graded by hand" if report.manual_points else ""
    lines.append(f"===== {passed} passed, {failed} failed: {earned:g}/{total:g} points of the "
                 f"visible tests (hidden checks run when you submit{tail}) =====")
    return "\n".join(lines)

"""What grading one submission produces: plain data, JSON both ways.

A :class:`SubmissionResult` is what a task returns, what ``OUT/results/*.json`` stores
(:mod:`initkit.grading.store`) and what the tables are rebuilt from
(:mod:`initkit.grading.report`). ``seed`` (the submission's hidden-check seed) is for the
instructor only: student-facing feedback never shows it.

Statuses: ``graded`` (the graders ran; the score may be anything), ``invalid`` (the file is
not a usable notebook or its exercise is unknown: 0 points and the reason), ``error`` (the
grader itself could not work: a broken grader, an internal failure; graded again by the
next run).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields


@dataclass
class TestResult:
    """One grader test's outcome, in Gradescope's terms.

    ``name`` is the pytest id (``test_ex01.py::test_xavier_variance``), ``title`` the first
    line of its docstring (what feedback shows), ``grade_id`` its nbgrader grade cell,
    ``mistake`` the recognised mistake of a failure as data (``{"id", "sentence"}``, from
    :class:`initkit.course.checks.Mistake`; the class report counts them), or None.
    """

    __test__ = False  # not a pytest test class

    name: str
    score: float
    max_score: float
    output: str = ""
    visibility: str = "visible"
    title: str = ""
    grade_id: str | None = None
    mistake: dict | None = None


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
    #: ``(the cell as Jupyter shows it: grade_id or heading, error type, message)``
    cell_errors: list[tuple[str, str, str]] = field(default_factory=list)
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    #: the hidden checks' seed of this submission (instructor only, never in feedback)
    seed: int | None = None
    manual: list[ManualItem] = field(default_factory=list)
    #: where this grading's wall time went, in seconds (``load``: reading and checking the
    #: notebook; ``start``: the sandbox up to its cells' end, ``cells``: the cells alone;
    #: ``tests``: the checks, ``start`` included where it ran; ``close``; ``session``: the
    #: whole pytest session; ``requests``: how many requests the checks sent,
    #: ``request_seconds`` their round trips, ``child_seconds`` the child's answering;
    #: ``task``: the whole task, ``earlier``: submissions its process graded before). A
    #: measurement of this run, not part of the grade: :meth:`to_dict` leaves it out, so
    #: the same submission graded anywhere gives the same data.
    timing: dict = field(default_factory=dict, compare=False, repr=False)

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
        """Plain-data form (for JSON), without :attr:`timing`."""
        d = asdict(self)
        del d["timing"]
        d.update(score=self.score, max_score=self.max_score)
        return d

    @classmethod
    def from_dict(cls, data: dict) -> SubmissionResult:
        """The inverse of :meth:`to_dict` (derived totals recomputed, unknown keys ignored)."""
        known = {f.name for f in fields(cls)}
        d = {k: v for k, v in data.items() if k in known}
        d["tests"] = [TestResult(**t) for t in d.get("tests", [])]
        d["manual"] = [ManualItem(**m) for m in d.get("manual", [])]
        d["cell_errors"] = [tuple(e) for e in d.get("cell_errors", [])]
        return cls(**d)


def failed(job, reason: str, seed: int | None = None) -> SubmissionResult:
    """The ``error`` result of a submission whose grading itself failed (a dead worker)."""
    return SubmissionResult(student=job.student, exercise=job.exercise, path=str(job.path),
                            status="error", reason=reason, seed=seed)

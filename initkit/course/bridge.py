"""What an nbgrader autograder cell's hidden block runs: the hidden graders, in the kernel.

The checks of an exercise exist once, as pytest tests in ``graders/<slug>/`` marked
``@pytest.mark.points(n, grade_id=...)``. ``initkit grade`` runs them from a trusted process
against a sandboxed notebook; under ``nbgrader autograde`` the hidden block of each
autograder cell runs the same tests of its ``grade_id``::

    ### BEGIN HIDDEN TESTS
    from initkit.course import hidden_checks
    hidden_checks("ex01_gradient_norms", "test_xavier", globals())
    ### END HIDDEN TESTS

:func:`hidden_checks` gives the tests a :class:`~initkit.grading.submission.Submission`
whose transport answers from the kernel's own namespace, through the same data-only
protocol as the sandbox (:func:`initkit.grading.child.serve`), so every check behaves
alike in both. It prints one line per check (the docstring's first line and, for a
failure, its sentence; never the test's code or expected values) and returns the points
earned: nbgrader takes a cell whose value is a number as partial credit. Nothing goes to
stderr (nbgrader would score the cell 0).

The graders are found at ``$INITKIT_GRADERS/<slug>`` (``initkit course init`` writes an
``nbgrader_config.py`` that sets it) or in a ``graders/<slug>`` folder above the kernel's
working directory.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from pathlib import Path
from types import ModuleType

from ..errors import CourseError

#: set in nbgrader's environment by a course's config (:mod:`initkit.course.trusted`): the
#: cells are scored in the sandbox, so the hidden blocks skip their in-kernel run
SKIP_ENV = "INITKIT_HIDDEN_CHECKS"
SKIP_VALUE = "sandbox"


class KernelTransport:
    """A :class:`~initkit.grading.submission.Submission` transport over a live namespace."""

    def __init__(self, namespace: dict):
        self.namespace = namespace
        self.cells: list = []  # the kernel ran the cells itself; none are recorded here

    def request(self, header: dict, blobs: list[bytes] = ()) -> tuple[dict, list[bytes]]:
        """Answer one request as the sandboxed child would (packed and parsed both ways)."""
        from ..grading import child, protocol

        sent = protocol.FrameReader()
        sent.feed(protocol.pack(header, list(blobs)))
        req_header, req_blobs = sent.message()
        reply = protocol.FrameReader()
        reply.feed(child.serve(self.namespace, req_header, req_blobs, protocol))
        return reply.message()


def graders_for(slug: str) -> Path:
    """The folder of ``slug``'s hidden graders (see the module docstring).

    Raises:
        CourseError: not found (the message says how to point to it).
    """
    roots = []
    if os.environ.get("INITKIT_GRADERS"):
        roots.append(Path(os.environ["INITKIT_GRADERS"]))
    here = Path.cwd().resolve()
    roots += [p / "graders" for p in (here, *here.parents)]
    for root in roots:
        if (root / slug).is_dir() and any((root / slug).glob("test_*.py")):
            return root / slug
    raise CourseError(f"the hidden graders of {slug} were not found: set INITKIT_GRADERS to "
                      "the course's graders/ folder (initkit course init writes it into "
                      "nbgrader_config.py)")


class _KernelChecks:
    """pytest plugin: keep the tests of one grade_id, give them the kernel's submission."""

    def __init__(self, submission, grade_id: str):
        self.submission = submission
        self.grade_id = grade_id

    @staticmethod
    def _grade_id(item) -> str | None:
        from ..grading.pytest_plugin import grade_id_of

        return grade_id_of(item)

    def pytest_collection_modifyitems(self, config, items) -> None:
        keep = [i for i in items if self._grade_id(i) == self.grade_id]
        drop = [i for i in items if self._grade_id(i) != self.grade_id]
        if drop:
            config.hook.pytest_deselected(items=drop)
        items[:] = keep

    def fixtures(self) -> ModuleType:
        import pytest

        @pytest.fixture(scope="session", name="submission")
        def submission():
            """The notebook being autograded: the kernel's own namespace, as data."""
            return self.submission

        holder = ModuleType("initkit_kernel_fixture")
        holder.submission = submission
        return holder


def hidden_checks(slug: str, grade_id: str, namespace: dict, *,
                  seed: int | None = None) -> float | None:
    """Run the hidden graders of ``grade_id`` against ``namespace``; return points earned.

    Args:
        slug: the exercise (``graders/<slug>/``).
        grade_id: the nbgrader grade cell whose checks to run.
        namespace: the notebook's names (``globals()`` in the cell).
        seed: the hidden inputs' seed [default: drawn at random; printed].

    Returns:
        The points of the checks that passed (nbgrader's partial credit for the cell), or
        None where the course scores the cell in the sandbox instead
        (:mod:`initkit.course.trusted`: ``INITKIT_HIDDEN_CHECKS=sandbox``).
    """
    import secrets

    if os.environ.get(SKIP_ENV) == SKIP_VALUE:
        print("hidden checks: scored outside this kernel, in initkit's sandbox")
        return None

    import pytest

    from ..grading.runner import PLUGIN_MODULE, _Collector, _isolated_ini, _plugin_autoloaded
    from ..grading.submission import Submission

    grader_dir = graders_for(slug)
    seed = secrets.randbelow(2**31) if seed is None else int(seed)
    collector = _Collector()
    checks = _KernelChecks(Submission(KernelTransport(namespace)), grade_id)
    args = [str(grader_dir), "-q", "--assert=plain", "-p", "no:cacheprovider",
            "-p", "no:warnings", "--capture=no", "--rootdir", str(grader_dir),
            "--confcutdir", str(grader_dir), "--import-mode=importlib",
            "--grade-seed", str(seed)]
    if not _plugin_autoloaded():
        args += ["-p", PLUGIN_MODULE]
    log = io.StringIO()
    with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log), \
            warnings.catch_warnings(), _isolated_ini() as ini:
        warnings.simplefilter("ignore")
        code = pytest.main([*args, "-c", str(ini)],
                           plugins=[collector, checks, checks.fixtures()])
    tests = list(collector.tests.values())
    if collector.errors or int(code) not in (0, 1) or not tests:
        problem = "; ".join(collector.errors) or f"no checks for {grade_id!r} in {grader_dir}"
        raise CourseError(f"the hidden checks of {slug}/{grade_id} could not run: {problem}")
    earned = 0.0
    for t in tests:
        earned += t.score
        mark = "passed" if t.score >= t.max_score else "FAILED"
        line = f"[{mark}] {t.title} ({t.score:g}/{t.max_score:g})"
        if t.score < t.max_score and t.output:
            line += f": {t.output}"
        print(line)
    print(f"hidden checks seed {seed}")
    return earned

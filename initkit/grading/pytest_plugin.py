"""pytest plugin for hidden graders: ``--submission``, the ``submission`` fixture, ``points``.

Registered through the ``pytest11`` entry point (or ``-p initkit.grading.pytest_plugin``). It
registers the ``points`` marker and otherwise does nothing unless ``--submission PATH`` is
given: then it adds a session-scoped ``submission`` fixture, a
:class:`~initkit.grading.submission.Submission` whose notebook runs in a sandboxed child
(:mod:`initkit.grading.sandbox`) the first time a test asks for it, and is killed at the
end of the session. An instructor can run
``pytest graders/ex01 --submission alice.ipynb`` and read ordinary pytest output.

Marker: ``@pytest.mark.points(n, visibility="visible", grade_id=None)``: the test is worth
``n`` points (default 1), its Gradescope visibility is one of ``visible``, ``hidden``,
``after_due_date``, ``after_published``, and ``grade_id`` names the nbgrader grade cell its
score goes to with ``initkit grade --nbgrader``.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
#: The ``Submission`` of the last session in this process (read by the runner).
LAST_SUBMISSION = None


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--submission`` and the sandbox's limits to pytest's command line."""
    group = parser.getgroup("initkit", "initkit grading")
    group.addoption("--submission", default=None, metavar="PATH",
                    help="Grade this notebook: run it in a sandbox and give the tests the "
                         "`submission` fixture (initkit).")
    group.addoption("--submission-timeout", type=float, default=120.0, metavar="SECONDS",
                    help="Wall-clock limit for the whole submission [120].")
    group.addoption("--cell-timeout", type=float, default=30.0, metavar="SECONDS",
                    help="Wall-clock limit for one cell or one call [30].")
    group.addoption("--sandbox-hide", action="append", default=[], metavar="PATH",
                    help="Also hide this path from the notebook's process (repeatable); the "
                         "working directory and the test paths are always hidden.")
    group.addoption("--sandbox-data", default=None, metavar="DIR",
                    help="Copy the files of DIR into the notebook's working directory (the "
                         "exercise's data); `initkit grade` uses graders/<exercise>/data/.")
    group.addoption("--sandbox-fresh", action="store_true", default=False,
                    help="Start a fresh `python -I` for the notebook instead of forking the "
                         "pre-warmed template (slower, same confinement).")
    group.addoption("--sandbox-ipython", action="store_true", default=False,
                    help="Run the cells through IPython's InteractiveShell (IPython magics).")
    group.addoption("--submission-memory", type=int, default=2048, metavar="MB",
                    help="Address-space limit of the notebook's process [2048].")


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``points`` marker; activate the fixture only with ``--submission``."""
    global LAST_SUBMISSION
    # always registered (harmless), so graders collect cleanly under --strict-markers
    config.addinivalue_line(
        "markers", "points(n, visibility='visible', grade_id=None): points the test is worth "
        "(initkit)")
    path = config.getoption("submission", default=None)
    if not path:
        return
    LAST_SUBMISSION = None
    plugin = _SubmissionPlugin(Path(path), config)
    config.pluginmanager.register(plugin, "initkit-submission")
    config.pluginmanager.register(plugin.fixtures(), "initkit-submission-fixture")


def points_of(item: pytest.Item) -> tuple[float, str]:
    """``(points, visibility)`` of a test from its ``points`` marker (default 1, visible).

    Raises:
        pytest.UsageError: a negative or non-numeric points value, or unknown visibility.
    """
    marker = item.get_closest_marker("points")
    if marker is None:
        return 1.0, "visible"
    pts = marker.args[0] if marker.args else marker.kwargs.get("n", 1)
    visibility = marker.kwargs.get("visibility", marker.args[1] if len(marker.args) > 1
                                   else "visible")
    if isinstance(pts, bool) or not isinstance(pts, int | float) or pts < 0:
        raise pytest.UsageError(f"{item.nodeid}: points must be a number >= 0, got {pts!r}")
    if visibility not in VISIBILITIES:
        raise pytest.UsageError(f"{item.nodeid}: visibility must be one of "
                                f"{', '.join(VISIBILITIES)}, got {visibility!r}")
    return float(pts), visibility


class _SubmissionPlugin:
    """The part that exists only with ``--submission``."""

    def __init__(self, path: Path, config: pytest.Config):
        self.path = path
        self.config = config
        self._submission = None
        self._sandbox = None

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            points_of(item)  # refuse a bad marker before anything runs

    def _start(self):
        from .notebook import NotebookError, load_notebook
        from .sandbox import Limits, Sandbox
        from .submission import NotebookUnavailable, Submission

        opt = self.config.getoption
        limits = Limits(timeout=opt("submission_timeout"), cell_timeout=opt("cell_timeout"),
                        memory_bytes=int(opt("submission_memory")) * 1024**2)
        try:
            nb = load_notebook(self.path)
        except NotebookError as exc:
            raise NotebookUnavailable(str(exc)) from None
        from .confine import secret_root

        tests = [a.split("::")[0] for a in self.config.args]
        hide = [*opt("sandbox_hide"), str(Path.cwd()), str(self.config.rootpath), *tests,
                *(str(secret_root(Path(t))) for t in tests if Path(t).exists())]
        hide = tuple(p for p in hide if Path(p).exists())
        self._sandbox = Sandbox(nb.code_cells(), {self.path.name: self.path.read_bytes()},
                                limits=limits, hide=hide, prewarm=not opt("sandbox_fresh"),
                                data_dir=opt("sandbox_data"), ipython=opt("sandbox_ipython"))
        self._sandbox.start()
        global LAST_SUBMISSION
        self._submission = LAST_SUBMISSION = Submission(self._sandbox)
        return self._submission

    def fixtures(self) -> ModuleType:
        """A plugin object holding the session-scoped ``submission`` fixture."""

        @pytest.fixture(scope="session", name="submission")
        def submission():
            """The student's notebook, running in a sandbox (``initkit.grading.Submission``)."""
            if self._submission is None:
                self._start()
            return self._submission

        holder = ModuleType("initkit_submission_fixture")  # pytest reads fixtures off modules
        holder.submission = submission
        return holder

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self._sandbox is not None:
            self._sandbox.close()


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
score goes to with ``initkit grade --nbgrader`` (and whose hidden block runs it under
``nbgrader autograde``, :mod:`initkit.course.bridge`). A check is named, in feedback, by the
first line of its docstring.

Fixture ``grade_seed`` (always there): the submission's seed for fresh hidden inputs, from
``--grade-seed N`` or drawn at random once per session; ``initkit grade`` derives one per
submission from the run secret (:mod:`initkit.grading.seeds`), so a regrade repeats it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from .settings import DEFAULTS, GradingSettings

VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
#: The name the ``--submission`` plugin object is registered under.
SUBMISSION_PLUGIN = "initkit-submission"


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--submission`` and the sandbox's limits to pytest's command line."""
    group = parser.getgroup("initkit", "initkit grading")
    group.addoption("--submission", default=None, metavar="PATH",
                    help="Grade this notebook: run it in a sandbox and give the tests the "
                         "`submission` fixture (initkit).")
    group.addoption("--submission-timeout", type=float, default=DEFAULTS.timeout,
                    metavar="SECONDS", help="Wall-clock limit for the whole submission "
                    f"[{DEFAULTS.timeout:g}].")
    group.addoption("--cell-timeout", type=float, default=DEFAULTS.cell_timeout,
                    metavar="SECONDS", help="Wall-clock limit for one cell or one call "
                    f"[{DEFAULTS.cell_timeout:g}].")
    group.addoption("--sandbox-unconfined", action="store_true", default=False,
                    help="Run the notebook with resource limits only: no namespaces, no "
                         "allow-list root, no privilege drop (only where no confinement "
                         "can be set up, knowingly).")
    group.addoption("--sandbox-data", default=None, metavar="DIR",
                    help="Copy the files of DIR into the notebook's working directory (the "
                         "exercise's data); `initkit grade` uses graders/<exercise>/data/.")
    group.addoption("--sandbox-fresh", action="store_true", default=False,
                    help="Start a fresh `python -I` for the notebook instead of forking the "
                         "pre-warmed template (slower, same confinement).")
    group.addoption("--submission-memory", type=int, default=DEFAULTS.memory_mb, metavar="MB",
                    help=f"Address-space limit of the notebook's process [{DEFAULTS.memory_mb}].")
    group.addoption("--grade-seed", type=int, default=None, metavar="N",
                    help="Seed of the hidden checks' fresh inputs (the `grade_seed` "
                         "fixture) [default: drawn at random per session].")


@pytest.fixture(scope="session")
def grade_seed(request: pytest.FixtureRequest) -> int:
    """The run's seed for hidden inputs: ``--grade-seed`` or one random draw per session."""
    seed = request.config.getoption("grade_seed", default=None)
    if seed is None:
        seed = getattr(request.config, "_initkit_seed", None)
        if seed is None:
            import secrets

            seed = request.config._initkit_seed = secrets.randbelow(2**31)
    return int(seed)


def title_of(item: pytest.Item) -> str:
    """How feedback names a check: its docstring's first line, else the test's name."""
    doc = getattr(getattr(item, "obj", None), "__doc__", None) or ""
    first = doc.strip().splitlines()[0].strip() if doc.strip() else ""
    return first or item.name


def grade_id_of(item: pytest.Item) -> str | None:
    """The nbgrader grade cell of a test (its ``points`` marker's ``grade_id``), if any."""
    marker = item.get_closest_marker("points")
    gid = marker.kwargs.get("grade_id") if marker else None
    return gid if isinstance(gid, str) and gid else None


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``points`` marker; activate the fixture only with ``--submission``."""
    # always registered (harmless), so graders collect cleanly under --strict-markers
    config.addinivalue_line(
        "markers", "points(n, visibility='visible', grade_id=None): points the test is worth "
        "(initkit)")
    path = config.getoption("submission", default=None)
    if not path:
        return
    plugin = SubmissionPlugin.of_path(Path(path), config)
    config.pluginmanager.register(plugin, SUBMISSION_PLUGIN)
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


class SubmissionPlugin:
    """The ``submission`` fixture's source: a notebook and the settings of its sandbox.

    ``initkit grade`` hands the notebook it has loaded and checked to
    ``pytest.main(..., plugins=[p, p.fixtures()])`` (:meth:`of_notebook`: nothing is written
    to disk and read back); ``--submission PATH`` makes one that loads PATH
    (:meth:`of_path`). The sandbox starts the first time a test asks for ``submission`` and
    is closed when the session ends.
    """

    def __init__(self, load: Callable[[], tuple[list[str], dict[str, bytes]]],
                 settings: GradingSettings, data_dir: str | None = None):
        self._load = load
        self.settings = settings
        self.data_dir = data_dir
        #: the session's :class:`~initkit.grading.submission.Submission`, once started
        self.submission = None
        self._sandbox = None
        #: wall seconds the sandbox took to start (its cells included) and to close
        self.start_seconds = 0.0
        self.close_seconds = 0.0

    @classmethod
    def of_notebook(cls, nb, name: str, settings: GradingSettings,
                    data_dir: str | None = None) -> SubmissionPlugin:
        """A loaded :class:`~initkit.grading.notebook.CheckedNotebook`, saved as ``name``
        in the sandbox's working directory."""
        def load() -> tuple[list[str], dict[str, bytes]]:
            from .notebook import import_nbformat

            text = import_nbformat().writes(nb.nb)
            return nb.code_cells(), {name: (text if text.endswith("\n") else text + "\n")
                                     .encode()}

        return cls(load, settings, data_dir)

    @classmethod
    def of_path(cls, path: Path, config: pytest.Config) -> SubmissionPlugin:
        """``--submission PATH`` and the sandbox options of pytest's command line."""
        def load() -> tuple[list[str], dict[str, bytes]]:
            from .notebook import NotebookError, load_notebook
            from .submission import NotebookUnavailable

            try:
                nb = load_notebook(path)
            except NotebookError as exc:
                raise NotebookUnavailable(str(exc)) from None
            return nb.code_cells(), {path.name: path.read_bytes()}

        opt = config.getoption
        settings = GradingSettings(timeout=opt("submission_timeout"),
                                   cell_timeout=opt("cell_timeout"),
                                   memory_mb=int(opt("submission_memory")),
                                   prewarm=not opt("sandbox_fresh"),
                                   unconfined=opt("sandbox_unconfined"))
        return cls(load, settings, opt("sandbox_data"))

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            points_of(item)  # refuse a bad marker before anything runs

    def _start(self):
        from .limits import Limits
        from .sandbox import Sandbox
        from .submission import Submission

        start = time.monotonic()
        s = self.settings
        cells, files = self._load()
        self._sandbox = Sandbox(cells, files, limits=Limits.of(s), prewarm=s.prewarm,
                                data_dir=self.data_dir, unconfined=s.unconfined)
        try:
            self._sandbox.start()
        finally:
            self.start_seconds = time.monotonic() - start
        self.submission = Submission(self._sandbox)
        return self.submission

    def fixtures(self) -> ModuleType:
        """A plugin object holding the session-scoped ``submission`` fixture."""

        @pytest.fixture(scope="session", name="submission")
        def submission():
            """The student's notebook, running in a sandbox (``initkit.grading.Submission``)."""
            if self.submission is None:
                self._start()
            return self.submission

        holder = ModuleType("initkit_submission_fixture")  # pytest reads fixtures off modules
        holder.submission = submission
        return holder

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        """Kill the notebook's processes; the kernel's teardown of its namespaces is
        waited for later (:meth:`Sandbox.close` with ``wait=False``)."""
        if self._sandbox is not None:
            start = time.monotonic()
            self._sandbox.close(wait=False)
            self.close_seconds = time.monotonic() - start

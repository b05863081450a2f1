"""``initkit course init DIR``: an nbgrader course for the lesson's exercises, safe settings.

The course folder gets ``source/<slug>/<slug>.ipynb`` (from the kit's ``solutions/``),
``graders/<slug>/`` (the hidden graders, which the hidden blocks of the autograder cells
run, :mod:`.bridge`) and an ``nbgrader_config.py`` that:

- gives every cell a timeout and interrupts a cell that hangs, so one unresponsive kernel
  fails its cell instead of stopping the whole ``nbgrader autograde`` run;
- drops warnings written to stderr (``IgnorePattern``): nbgrader 0.9 scores a test cell
  that wrote anything to stderr 0, and a ``RuntimeWarning`` is not a wrong answer;
- keeps nbgrader's restoring of missing or edited locked and test cells from the source
  (``OverwriteCells``, on by default) and says so;
- strips hidden test blocks from generated feedback (nbgrader shows them by design, #917);
- makes each released stub name the function it stands in
  (:class:`~initkit.course.stubs.NamedStubs`, after nbgrader's ``ClearSolutions``);
- scores every autograded test cell from ``initkit grade``'s sandbox, not from the student's
  kernel (:class:`~initkit.course.trusted.SandboxGrades`, just before nbgrader's
  ``SaveAutoGrades``), so a notebook that patches the checks in its kernel earns nothing;
- points ``INITKIT_GRADERS`` at the course's ``graders/`` for the hidden blocks (run in the
  kernel only where the course config is not loaded, e.g. a notebook opened in Jupyter).

``nbgrader generate_assignment <slug>`` in that folder then writes ``release/<slug>/`` equal
to the kit's ``exercises/<slug>.ipynb`` (:func:`release_notebook`, :func:`release_notebooks`
for several in one nbgrader run; a test keeps them equal).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

from ..errors import CourseError, CourseWarning
from .catalog import exercises, incomplete, kit_root

NBGRADER_CONFIG = '''\
# nbgrader settings written by `initkit course init` (safe defaults for the lesson's exercises)
import os
from pathlib import Path

c = get_config()  # noqa: F821 - nbgrader's config loader provides it
HERE = Path(__file__).resolve().parent
c.CourseDirectory.root = str(HERE)
c.CourseDirectory.db_url = f"sqlite:///{HERE / 'gradebook.db'}"
# The exchange (release_assignment, fetch, submit, collect) inside the course folder, so
# formgrader and the assignment list find it without a system-wide /srv/nbgrader/exchange.
c.CourseDirectory.course_id = {course_id}
c.Exchange.root = str(HERE / "exchange")

# The hidden block of each autograder cell runs graders/<slug>/ (initkit.course.bridge).
os.environ["INITKIT_GRADERS"] = str(HERE / "graders")
# One BLAS thread per kernel, as in `initkit grade`'s sandbox: threads only spin on a busy
# machine (an eigvals of 512 x 512 went from 0.3 s to 8 s under load).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

# A per-cell timeout; a cell that hangs is interrupted and fails, the run goes on.
c.Execute.timeout = {cell_timeout}
c.Execute.interrupt_on_timeout = True
c.Execute.raise_on_iopub_timeout = False

# nbgrader scores a test cell that wrote to stderr 0: warnings are not wrong answers.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"Warning"

# Missing or edited locked and test cells are restored from the source at autograde time
# (nbgrader's OverwriteCells preprocessor, on by default): keep it on.

# Feedback shows the checks' sentences, never the hidden test blocks (nbgrader #917).
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor  # noqa: E402
from nbgrader.preprocessors import ClearHiddenTests, GetGrades  # noqa: E402

c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, CSSHTMLHeaderPreprocessor]

# Points come from outside the student's kernel: each autograded test cell is scored by
# `initkit grade` (the sandbox), just before nbgrader saves the scores; the kernel's own run
# of the hidden checks would be thrown away, so the hidden blocks skip it.
from nbgrader.converters import Autograde  # noqa: E402
from nbgrader.preprocessors import SaveAutoGrades  # noqa: E402

from initkit.course.trusted import SKIP_ENV, SKIP_VALUE, SandboxGrades  # noqa: E402

_steps = list(Autograde.class_traits()["autograde_preprocessors"].default())
_steps.insert(_steps.index(SaveAutoGrades), SandboxGrades)
c.Autograde.autograde_preprocessors = _steps
c.SandboxGrades.graders = str(HERE / "graders")
os.environ[SKIP_ENV] = SKIP_VALUE

# Released stubs say what to write ("write xavier_normal"), right after nbgrader clears the
# solutions (and before it takes the cells' checksums).
from nbgrader.converters import GenerateAssignment  # noqa: E402
from nbgrader.preprocessors import ClearSolutions  # noqa: E402

from initkit.course.stubs import NamedStubs  # noqa: E402

_steps = list(GenerateAssignment.class_traits()["preprocessors"].default())
_steps.insert(_steps.index(ClearSolutions) + 1, NamedStubs)
c.GenerateAssignment.preprocessors = _steps
'''


def init_course(dest: Path, kit: Path | None = None, slugs: list[str] | None = None,
                cell_timeout: int = 60) -> list[str]:
    """Create (or refresh) an nbgrader course in ``dest``; return the slugs it holds.

    Args:
        dest: the course folder (created if missing; existing submissions stay).
        kit: the kit checkout [default: :func:`~initkit.course.catalog.kit_root`].
        slugs: which exercises [default: every one with a source and graders].
        cell_timeout: nbgrader's per-cell timeout in seconds.

    Raises:
        CourseError: an unknown slug or an unusable destination.

    Warns:
        CourseWarning: an exercise of the kit is only half there (a source without graders,
            graders without a source): it is left out, and the warning says what to add.
    """
    kit = Path(kit) if kit else kit_root()
    for problem in incomplete(kit):
        warnings.warn(f"{problem}; it is not part of the course", CourseWarning, stacklevel=2)
    known = [e.slug for e in exercises(kit)]
    slugs = list(slugs or known)
    unknown = [s for s in slugs if s not in known]
    if unknown:
        raise CourseError(f"no source notebook and graders for {', '.join(unknown)} in {kit}; "
                          f"known: {', '.join(known)}")
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise CourseError(f"{dest} is a file: give a folder for the course")
    dest.mkdir(parents=True, exist_ok=True)
    for slug in slugs:
        src_dir = dest / "source" / slug
        src_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy2(kit / "solutions" / f"{slug}.ipynb", src_dir / f"{slug}.ipynb")
        graders = dest / "graders" / slug
        if graders.exists():
            shutil.rmtree(graders)
        shutil.copytree(kit / "graders" / slug, graders,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (dest / "exchange").mkdir(exist_ok=True)
    (dest / "nbgrader_config.py").write_text(course_config(dest.resolve().name, cell_timeout))
    return slugs


def course_config(course_id: str, cell_timeout: int = 60) -> str:
    """The text of a course's ``nbgrader_config.py`` (:data:`NBGRADER_CONFIG` filled in)."""
    return (NBGRADER_CONFIG.replace("{cell_timeout}", str(int(cell_timeout)))
            .replace("{course_id}", repr(str(course_id))))


def nbgrader_env() -> dict[str, str]:
    """The environment nbgrader needs: this interpreter's bin first (it runs ``alembic``)."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def nbgrader(course: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ``nbgrader ARGS`` in ``course`` (this environment's nbgrader).

    Raises:
        CourseError: nbgrader failed (the message has the end of its log).
    """
    exe = Path(sys.executable).with_name("nbgrader")
    proc = subprocess.run([str(exe), *args], cwd=course, env=nbgrader_env(),
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-8:])
        raise CourseError(f"nbgrader {' '.join(args)} failed in {course}:\n{tail}")
    return proc


def release_notebook(course: Path, slug: str) -> Path:
    """``nbgrader generate_assignment slug`` in ``course``; the released notebook's path."""
    return release_notebooks(course, [slug])[slug]


def release_notebooks(course: Path, slugs: list[str]) -> dict[str, Path]:
    """``nbgrader generate_assignment`` of every slug in ``course``; slug -> released notebook.

    When the slugs are every assignment of the course, one nbgrader run releases them all
    (nbgrader reads the assignment id as a glob: ``*``); nbgrader's start-up is most of a
    release, so the kit's five exercises take about 4 s together against 16 s one by one.
    Otherwise each slug gets its own run.
    """
    course = Path(course)
    sources = sorted(p.name for p in (course / "source").iterdir() if p.is_dir())
    if len(slugs) > 1 and sorted(slugs) == sources:
        nbgrader(course, "generate_assignment", "*", "--force")
    else:
        for slug in slugs:
            nbgrader(course, "generate_assignment", slug, "--force")
    return {slug: course / "release" / slug / f"{slug}.ipynb" for slug in slugs}


def refresh_exercises(kit: Path | None = None, slugs: list[str] | None = None) -> list[Path]:
    """Regenerate the kit's ``exercises/<slug>.ipynb`` from ``solutions/`` with nbgrader."""
    import tempfile

    kit = Path(kit) if kit else kit_root()
    written = []
    with tempfile.TemporaryDirectory(prefix="initkit-course-") as tmp:
        released = release_notebooks(Path(tmp), init_course(Path(tmp), kit, slugs))
        for slug, notebook in released.items():
            target = kit / "exercises" / f"{slug}.ipynb"
            target.parent.mkdir(exist_ok=True)
            shutil.copy2(notebook, target)
            written.append(target)
    return written

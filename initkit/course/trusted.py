"""nbgrader's autograde with the sandbox's scores: the kernel runs the notebook, points come
from outside it.

Under a plain ``nbgrader autograde`` every hidden check runs in the student's own kernel, so
one line in an answer cell (``initkit.course.hidden_checks = lambda *a, **k: None``) makes
every hidden block print nothing, and nbgrader gives full credit to a cell without output.
Nothing a submission's process computes may decide its points.

:class:`SandboxGrades` is an nbgrader preprocessor that ``initkit course init`` puts into
``c.Autograde.autograde_preprocessors`` just before ``SaveAutoGrades``. It takes the notebook
nbgrader has sanitized (locked and test cells already restored from the source by
``OverwriteCells``), grades that code with ``initkit grade`` (the sandbox: namespaces, the
allow-list root, limits, the hidden graders run from a trusted process over a data-only
pipe), and replaces the outputs of every autograded test cell by the sandbox's verdict: one
line per check and the cell's points as the cell's value, which nbgrader's
``determine_grade`` reads as partial credit. The kernel's own outputs of those cells (whatever
the student's code printed or faked there) are dropped, so ``nbgrader autograde`` and
``initkit grade`` give the same score per cell by construction. While it is configured,
``initkit.course.hidden_checks`` skips the in-kernel checks (:data:`SKIP_ENV`): their result
would be thrown away.

One ``nbgrader autograde`` run grades a class: nbgrader hands the preprocessor one notebook
at a time, so at the first notebook of an assignment :class:`SandboxGrades` grades every
submission of it that this run will process in one ``initkit grade`` run (the sandbox's
warm template and its parallel jobs shared), and afterwards scores each notebook from that
batch only if what nbgrader hands over is what the batch graded: the same cells, sources and
nbgrader marks (:func:`grading_digest`; nbgrader's sanitizing changes none of them in an
untouched submission). Any difference (a locked cell edited and restored by nbgrader, a
mark changed) and the notebook is graded on its own, as nbgrader hands it over.

A submission the sandbox cannot grade (the kit's or the machine's failure, status ``error``)
raises :class:`~initkit.errors.CourseError`: nbgrader then records no score for that
notebook and says so, rather than a zero the student did not earn. An assignment without
initkit graders (one written for nbgrader alone, its tests in the cells) is left to
nbgrader's own grading, with a warning in its log.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import nbformat
from nbformat.notebooknode import NotebookNode, from_dict
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Bool, Float, Int, Unicode

from ..errors import CourseError
from .bridge import SKIP_ENV, SKIP_VALUE

__all__ = ["SKIP_ENV", "SKIP_VALUE", "SandboxGrades", "cell_verdicts", "grade_in_sandbox",
           "grading_digest"]

#: the nbgrader marks of a cell that decide how it is graded
_MARKS = ("grade_id", "grade", "solution", "locked", "task", "points")


def autograded_test_cells(nb: NotebookNode) -> list[NotebookNode]:
    """The code cells nbgrader scores from their output (grade and not solution)."""
    return [c for c in nb.cells if c.cell_type == "code"
            and c.get("metadata", {}).get("nbgrader", {}).get("grade")
            and not c.metadata.nbgrader.get("solution")]


def initkit_command() -> list[str]:
    """The ``initkit`` command of this environment (nbgrader runs from the kit's venv)."""
    exe = Path(sys.executable).with_name("initkit")
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-c", "from initkit.cli.main import main; main()"]


def grading_digest(nb: Any) -> str:
    """A digest of what decides a notebook's grade in the sandbox: each cell's type and
    nbgrader marks, in order, and the source of every cell not marked locked (a locked
    cell's source is the instructor's: the sandbox restores it from the release, as
    nbgrader restores it from the source). Outputs, ids and other metadata are left out:
    grading never reads them."""
    cells = []
    for cell in nb.get("cells", []):
        marks = {k: (cell.get("metadata") or {}).get("nbgrader", {}).get(k) for k in _MARKS}
        source = cell.get("source")
        source = source if isinstance(source, str) else "".join(source or [])
        cells.append([cell.get("cell_type"), marks, None if marks["locked"] else source])
    return hashlib.sha256(json.dumps(cells, sort_keys=True, default=str).encode()).hexdigest()


def _sandbox_run(notebooks: dict[str, Any], slug: str, graders: Path, *, timeout: float,
                 unconfined: bool, jobs: int) -> tuple[subprocess.CompletedProcess, dict]:
    """One ``initkit grade`` run over ``notebooks``; (the process, student -> result)."""
    from ..grading.store import load_all

    names = ", ".join(sorted(notebooks))
    with tempfile.TemporaryDirectory(prefix="initkit-sandbox-grades-") as tmp:
        for student, nb in notebooks.items():
            folder = Path(tmp) / "submitted" / student / slug
            folder.mkdir(parents=True)
            clean = from_dict(json.loads(json.dumps(nb)))
            for cell in clean.cells:
                if cell.cell_type == "code":
                    cell.outputs, cell.execution_count = [], None
            (folder / f"{slug}.ipynb").write_text(json.dumps(clean))
        out = Path(tmp) / "out"
        cmd = [*initkit_command(), "grade", str(Path(tmp) / "submitted"), "--graders",
               str(graders), "--exercise", slug, "--out", str(out), "--jobs", str(jobs),
               "--no-progress"] + (["--unconfined"] if unconfined else [])
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise CourseError(f"initkit grade took more than {timeout:g} s for {slug} "
                              f"({names}); raise c.SandboxGrades.timeout") from None
        return proc, {r.student: r for r in load_all(out)}


def grade_in_sandbox(notebooks: dict[str, Any], slug: str, graders: Path, *,
                     timeout: float = 600, unconfined: bool = False,
                     jobs: int = 1) -> dict[str, dict]:
    """Grade the code of ``notebooks`` (student -> notebook) of exercise ``slug`` with one
    ``initkit grade`` run; student -> that submission's ``results.json`` as a dict.

    The notebooks go in nbgrader's own layout (``submitted/<student>/<slug>/``), outputs
    cleared, so the exercise comes from the instructor's side, never from their metadata.

    Raises:
        CourseError: ``initkit grade`` could not grade them (the message has its last lines).
    """
    from ..grading.report import gradescope_results

    proc, graded = _sandbox_run(notebooks, slug, graders, timeout=timeout,
                                unconfined=unconfined, jobs=jobs)
    if proc.returncode != 0 or set(graded) != set(notebooks):
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-6:])
        raise CourseError(f"initkit grade could not grade {slug} "
                          f"({', '.join(sorted(notebooks))}) in the sandbox "
                          f"(exit {proc.returncode}). Its last lines:\n{tail}")
    return {student: gradescope_results(r) for student, r in graded.items()}


def grade_batch(notebooks: dict[str, Any], slug: str, graders: Path, *, timeout: float,
                unconfined: bool, jobs: int) -> dict[str, dict]:
    """Like :func:`grade_in_sandbox`, but forgiving: student -> results of every notebook the
    run graded (status not ``error``); the others are left out, for the caller to grade
    alone (where a failure is reported as :func:`grade_in_sandbox` reports it)."""
    from ..grading.report import gradescope_results

    try:
        _, graded = _sandbox_run(notebooks, slug, graders, timeout=timeout,
                                 unconfined=unconfined, jobs=jobs)
    except CourseError:
        return {}
    return {student: gradescope_results(r) for student, r in graded.items()
            if r.status != "error"}


def cell_verdicts(results: dict) -> dict[str, tuple[float, list[str]]]:
    """grade_id -> (points earned, one line per check) from a ``results.json``."""
    verdicts: dict[str, tuple[float, list[str]]] = {}
    for test in results.get("tests", []):
        extra = test.get("extra_data") or {}
        if extra.get("manual") or not extra.get("grade_id"):
            continue
        score, lines = verdicts.get(extra["grade_id"], (0.0, []))
        mark = "passed" if test["score"] >= test["max_score"] else "FAILED"
        line = f"[{mark}] {test['name']} ({test['score']:g}/{test['max_score']:g})"
        if test["score"] < test["max_score"] and test.get("output"):
            line += f": {test['output']}"
        verdicts[extra["grade_id"]] = (score + float(test["score"]), [*lines, line])
    return verdicts


def verdict_outputs(points: float, lines: list[str], execution_count) -> list[NotebookNode]:
    """A test cell's outputs that carry the sandbox's verdict (text, then the points)."""
    text = "graded in initkit's sandbox (the kernel's own output of this cell is not used):\n"
    return [from_dict({"output_type": "stream", "name": "stdout",
                       "text": text + "".join(f"{line}\n" for line in lines)}),
            from_dict({"output_type": "execute_result", "execution_count": execution_count,
                       "metadata": {}, "data": {"text/plain": f"{points:g}"}})]


def _converter_notebooks(converter: Any, slug: str, current: str) -> dict[str, Path]:
    """student -> submitted notebook of every submission of ``slug`` that nbgrader's
    ``converter`` (its Autograde app) will process in this run, as its own
    ``init_destination`` decides (excluded students, ``--force``, newer submissions); only
    folders holding one notebook. ``current`` (being processed) is always in."""
    coursedir = converter.coursedir
    exclude = set(filter(None, (coursedir.student_id_exclude or "").split(",")))
    pattern = coursedir.format_path(coursedir.submitted_directory, "(?P<s>[^/]*)",
                                    "(?P<a>[^/]*)", escape=True)
    found: dict[str, Path] = {}
    for folder, notebooks in getattr(converter, "assignments", {}).items():
        match = re.fullmatch(pattern, folder)
        if not match or match["a"] != slug or len(notebooks) != 1 or match["s"] in exclude:
            continue
        student = match["s"]
        dest = coursedir.format_path(coursedir.autograded_directory, student, slug)
        graded = Path(dest, Path(notebooks[0]).name)
        new, old = (coursedir.get_existing_timestamp(path) for path in (folder, dest))
        newer = new is not None and old is not None and new > old
        if student == current or converter.force or not graded.exists() or newer:
            found[student] = Path(notebooks[0])
    return found


class SandboxGrades(NbGraderPreprocessor):
    """Score every autograded test cell from ``initkit grade``'s sandbox, not the kernel."""

    graders = Unicode(help="The course's graders/ folder (graders/<assignment>/test_*.py)."
                      ).tag(config=True)
    timeout = Float(600.0, help="Seconds for the whole sandboxed grading of one notebook."
                    ).tag(config=True)
    unconfined = Bool(False, help="Grade without namespaces where none can be set up "
                      "(initkit grade --unconfined): only for code you trust.").tag(config=True)
    batch = Bool(True, help="Grade every submission of an assignment this run processes in "
                 "one sandbox run, at its first notebook (False: one run per notebook)."
                 ).tag(config=True)
    jobs = Int(0, help="Parallel sandboxes of the batch (0: one per core).").tag(config=True)

    #: (converter id, graders, assignment) -> student -> (grading digest, results.json)
    _batches: dict[tuple[int, str, str], dict[str, tuple[str, dict]]] = {}

    def _batch(self, slug: str, student: str, graders: Path) -> dict[str, tuple[str, dict]]:
        """The batch of ``slug`` in this nbgrader run, graded at its first request."""
        converter = getattr(getattr(self, "parent", None), "parent", None)
        if not self.batch or not hasattr(converter, "assignments"):
            return {}
        key = (id(converter), str(graders), slug)
        if key not in self._batches:
            paths = _converter_notebooks(converter, slug, student)
            notebooks = {s: nbformat.read(str(path), as_version=4) for s, path in paths.items()}
            jobs = self.jobs or os.cpu_count() or 1
            self.log.info("%s: grading %d submission(s) in initkit's sandbox, %d at a time",
                          slug, len(notebooks), jobs)
            graded = grade_batch(notebooks, slug, graders, unconfined=self.unconfined,
                                 jobs=jobs, timeout=self.timeout * max(1, len(notebooks)))
            self._batches[key] = {s: (grading_digest(notebooks[s]), results)
                                  for s, results in graded.items()}
        return self._batches[key]

    def results_for(self, nb: NotebookNode, slug: str, student: str, graders: Path) -> dict:
        """``results.json`` of this notebook: from the assignment's batch when the batch
        graded exactly these cells, else from a sandbox run of its own."""
        digest, results = self._batch(slug, student, graders).get(student, (None, None))
        if results is not None and digest == grading_digest(nb):
            return results
        if results is not None:
            self.log.info("%s/%s: differs from the submitted file after nbgrader's "
                          "sanitizing; graded on its own", student, slug)
        return grade_in_sandbox({student: nb}, slug, graders, timeout=self.timeout,
                                unconfined=self.unconfined)[student]

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        info = resources.get("nbgrader", {})
        slug, student = info.get("assignment"), info.get("student")
        graders = Path(self.graders)
        if not self.graders or not slug or not any((graders / slug).glob("test_*.py")):
            # an assignment of nbgrader's own (its tests in the cells): nothing to sandbox
            self.log.warning("assignment %r has no initkit graders in %s: nbgrader's own "
                             "grading in the student's kernel applies to it", slug, graders)
            return nb, resources
        student = student or "student"
        results = self.results_for(nb, slug, student, graders)
        verdicts = cell_verdicts(results)
        reason = "" if results.get("tests") else results.get("output", "not graded")
        for cell in autograded_test_cells(nb):
            grade_id = cell.metadata.nbgrader["grade_id"]
            points, lines = verdicts.get(
                grade_id, (0.0, [f"no check scored this cell: {reason or 'see the report'}"]))
            cell.outputs = verdict_outputs(points, lines, cell.get("execution_count"))
        self.log.info("%s/%s: scored in initkit's sandbox (%g points)", student, slug,
                      sum(p for p, _ in verdicts.values()))
        return nb, resources

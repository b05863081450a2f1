"""Step 2 of grading a submission: load the notebook and check its structure, once.

:func:`~initkit.grading.notebook.load_notebook` (size, JSON, nbformat), then
:func:`~initkit.grading.notebook.check_cells` against the exercise's released notebook
(locked cells restored, tampering noted). A submission that fails is ``invalid`` with the
reason; a broken reference notebook is the kit's ``error``.
"""

from __future__ import annotations

from pathlib import Path

from .cells import manual_items
from .discover import Job, reference_notebook
from .results import SubmissionResult


def structure_checked(job: Job, grader_dir: Path | None, course: str | None,
                      result: SubmissionResult):
    """The submission, loaded and checked against the exercise's release (locked cells
    restored), or None with ``result``'s status and reason saying why it cannot be graded.
    ``result.manual`` and ``result.notes`` are filled in on the way."""
    from .notebook import NotebookError, check_cells, load_notebook

    if job.problem or grader_dir is None:
        result.status, result.reason = "invalid", job.problem or "unknown exercise"
        return None
    ref_path = reference_notebook(grader_dir, Path(course) if course else None)
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

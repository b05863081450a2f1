"""The course around the lesson: exercise slugs, nbgrader set-up, checks students can read.

- :mod:`.catalog`: the exercises, read from the folders (one slug each, used for
  ``solutions/<slug>.ipynb``, ``exercises/<slug>.ipynb``, ``graders/<slug>/`` and the
  nbgrader assignment) and where a kit checkout keeps them.
- :mod:`.checks`: the helpers visible tests use, each failure one sentence that names the
  usual mistake it recognises (:func:`~initkit.course.checks.diagnose`).
- :mod:`.bridge`: what an nbgrader autograder cell's hidden block calls: it runs the hidden
  pytest graders of its ``grade_id`` against the kernel's names (one source for both
  ``nbgrader autograde`` and ``initkit grade``) and returns the points for partial credit.
- :mod:`.setup`: ``initkit course init DIR`` (an nbgrader course with safe settings).
- :mod:`.check`: ``initkit check NOTEBOOK`` (the visible tests, in the grading sandbox).

No hidden check lives in this package: the graders stay in the instructor's ``graders/``.
"""

from __future__ import annotations

from .bridge import hidden_checks
from .catalog import LESSON, Exercise, exercise, exercises
from .checks import (
    CheckFailed,
    Mistake,
    check_close,
    check_normal,
    check_shape,
    check_variance,
    diagnose,
)

__all__ = [
    "EXERCISES",
    "LESSON",
    "CheckFailed",
    "Exercise",
    "Mistake",
    "check_close",
    "check_normal",
    "check_shape",
    "check_variance",
    "diagnose",
    "exercise",
    "exercises",
    "hidden_checks",
]


def __getattr__(name: str):
    """``EXERCISES``: the kit checkout's exercises, read from its folders when asked for."""
    if name == "EXERCISES":
        return exercises()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""Safe, fast autograding of untrusted notebooks with hidden pytest graders.

The student's notebook runs in a sandboxed child process (:mod:`.sandbox`, :mod:`.child`,
forked from a pre-warmed template, :mod:`.zygote`; confined by :mod:`.confine`,
:mod:`.rootfs` and :mod:`.userns` within :mod:`.limits`, started and ended by
:mod:`.lifecycle`, read through :mod:`.pipes`), after structure checks (:mod:`.notebook`,
:mod:`.validate`); submissions are
found by :mod:`.discover`; the hidden graders run in the trusted process and reach the
student's names only as data over a pipe (:mod:`.protocol`, :mod:`.submission`), through the
pytest plugin (:mod:`.pytest_plugin`). :mod:`.pipeline` grades a class (``grade_course``:
the steps in one place) with :mod:`.settings`, :mod:`.seeds`, :mod:`.store` and
:mod:`.task`; :mod:`.runner` grades one submission; :mod:`.report` writes grades.csv,
Gradescope ``results.json`` and feedback, :mod:`.gradebook` fills nbgrader's
gradebook. Heavy imports stay inside functions: importing this package is cheap.
"""

from .pipeline import GradingRun, grade_course
from .protocol import Rng
from .settings import GradingSettings
from .submission import (
    Axes,
    BadValue,
    Figure,
    Line,
    MissingName,
    NotebookUnavailable,
    Probe,
    StudentError,
    StudentException,
    Submission,
    expect,
)

__all__ = [
    "Axes",
    "BadValue",
    "Figure",
    "GradingRun",
    "GradingSettings",
    "Line",
    "MissingName",
    "NotebookUnavailable",
    "Probe",
    "Rng",
    "StudentError",
    "StudentException",
    "Submission",
    "expect",
    "grade_course",
]

"""The exercises of the lesson and where a kit checkout keeps their files.

One slug per exercise names everything: ``solutions/<slug>.ipynb`` (the nbgrader source),
``exercises/<slug>.ipynb`` (the student release), ``graders/<slug>/test_*.py`` (the hidden
graders) and the nbgrader assignment ``<slug>``. An instructor who writes a sixth exercise
adds the three files under a new slug; nothing here has to change for grading, checking or
``initkit course init`` (they read the folders), only :data:`EXERCISES` for its title.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import CourseError


@dataclass(frozen=True)
class Exercise:
    """One mini exercise of the lesson (section 10 of "Weight initialization")."""

    slug: str
    title: str


#: The lesson notebook (not graded).
LESSON = "00_lesson"

EXERCISES: tuple[Exercise, ...] = (
    Exercise("ex01_gradient_norms",
             "Replace Xavier with small constants; plot gradient norms across 20 layers"),
    Exercise("ex02_mnist_collapse", "Train MNIST with constant init to observe collapse"),
    Exercise("ex03_orthogonal_rnn",
             "Use orthogonal init for an RNN and compare to random Gaussian"),
    Exercise("ex04_he_vs_xavier", "Compare training curves: He vs Xavier for ReLU nets"),
    Exercise("ex05_eigenvalues",
             "Visualize eigenvalues of weight matrices for different initializations"),
)


def exercise(slug: str) -> Exercise:
    """The exercise called ``slug``.

    Raises:
        CourseError: no such exercise (the message lists the known slugs).
    """
    for ex in EXERCISES:
        if ex.slug == slug:
            return ex
    raise CourseError(f"unknown exercise {slug!r}; the exercises are "
                      f"{', '.join(e.slug for e in EXERCISES)}")


def kit_root(start: Path | None = None) -> Path:
    """The kit checkout holding ``solutions/`` and ``graders/``.

    Looked for from ``start`` (default: the current folder) upwards, then next to the
    installed ``initkit`` package (an editable install of the checkout).

    Raises:
        CourseError: none found (a wheel install has no solutions: pass ``--kit DIR``).
    """
    candidates = []
    here = (start or Path.cwd()).resolve()
    candidates += [here, *here.parents]
    candidates.append(Path(__file__).resolve().parents[2])
    for path in candidates:
        if (path / "solutions").is_dir() and (path / "graders").is_dir():
            return path
    raise CourseError("no kit checkout (a folder with solutions/ and graders/) found from "
                      f"{here}: run inside the initkit checkout or pass --kit DIR")

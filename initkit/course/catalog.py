"""The exercises of a course and where a kit checkout (or an nbgrader course) keeps them.

One slug per exercise names everything: ``solutions/<slug>.ipynb`` (the nbgrader source;
``source/<slug>/<slug>.ipynb`` in a course made by ``initkit course init``),
``exercises/<slug>.ipynb`` (the student release), ``graders/<slug>/test_*.py`` (the hidden
graders) and the nbgrader assignment ``<slug>``. The list of exercises is read from the
folders, titles from each source notebook's first heading: an instructor who writes a sixth
exercise adds its files under a new slug and nothing here changes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import CourseError


@dataclass(frozen=True)
class Exercise:
    """One exercise: its slug and its title (the source notebook's first heading)."""

    slug: str
    title: str


#: The lesson notebook (not graded).
LESSON = "00_lesson"
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*$", re.M)


def source_notebooks(root: Path) -> dict[str, Path]:
    """slug -> source notebook of every exercise in a kit checkout (``solutions/``) or an
    nbgrader course (``source/<slug>/<slug>.ipynb``) at ``root``."""
    found = {p.stem: p for p in sorted((root / "solutions").glob("*.ipynb"))}
    found.update({p.parent.name: p for p in sorted((root / "source").glob("*/*.ipynb"))
                  if p.stem == p.parent.name})
    found.pop(LESSON, None)
    return found


def has_graders(root: Path, slug: str) -> bool:
    """Whether ``graders/<slug>/`` holds at least one ``test_*.py``."""
    return any((root / "graders" / slug).glob("test_*.py"))


def title_of(notebook: Path) -> str:
    """The first Markdown heading of ``notebook`` (its slug where it has none)."""
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError, AttributeError):
        return notebook.stem
    for cell in cells:
        if isinstance(cell, dict) and cell.get("cell_type") == "markdown":
            source = cell.get("source", "")
            match = _HEADING.search("".join(source) if isinstance(source, list) else source)
            if match:
                return match.group(1)
    return notebook.stem


def exercises(root: Path | None = None) -> tuple[Exercise, ...]:
    """The exercises at ``root`` (a kit checkout or a course; default :func:`kit_root`): each
    source notebook that has graders, in slug order. :func:`incomplete` lists the rest."""
    root = Path(root) if root else kit_root()
    return tuple(Exercise(slug, title_of(path))
                 for slug, path in source_notebooks(root).items() if has_graders(root, slug))


def incomplete(root: Path) -> list[str]:
    """One sentence per exercise that is only half there (a source without graders, or
    graders without a source): what to add."""
    sources = source_notebooks(root)
    problems = [f"{path} has no graders: add {root / 'graders' / slug}/test_{slug}.py "
                "(initkit course new writes a skeleton)"
                for slug, path in sources.items() if not has_graders(root, slug)]
    graders = root / "graders"
    problems += [f"{folder} has no source notebook: add {root / 'solutions' / folder.name}"
                 ".ipynb" for folder in sorted(graders.iterdir() if graders.is_dir() else [])
                 if folder.is_dir() and any(folder.glob("test_*.py"))
                 and folder.name not in sources]
    return problems


def exercise(slug: str, root: Path | None = None) -> Exercise:
    """The exercise called ``slug`` at ``root`` (default: the kit checkout).

    Raises:
        CourseError: no such exercise (the message lists the known slugs).
    """
    known = exercises(root)
    for ex in known:
        if ex.slug == slug:
            return ex
    raise CourseError(f"unknown exercise {slug!r}; the exercises are "
                      f"{', '.join(e.slug for e in known) or '(none)'}")


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

"""``initkit course``: set up an nbgrader course for the lesson's exercises.

``initkit course init DIR`` writes the course (:func:`initkit.course.setup.init_course`);
``initkit course release`` regenerates the kit's ``exercises/`` from ``solutions/`` with
nbgrader (what maintainers run after editing a source notebook), after the cheap checks of
``initkit course validate`` (:mod:`initkit.course.validate`), which also runs the reference
and the blank release in the sandbox.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import click

from ..errors import CourseError


def _echo_warnings(caught: list[warnings.WarningMessage]) -> None:
    for w in caught:
        click.echo(f"warning: {w.message}", err=True)


def _validated(kit: Path | None, slugs: list[str], full: bool) -> list[str]:
    """Validate ``slugs`` (default: every exercise); print each problem; their slugs.

    Raises:
        CourseError: some exercise has a problem (after printing every one of them).
    """
    from ..course.catalog import exercises, kit_root
    from ..course.validate import problems

    root = Path(kit) if kit else kit_root()
    slugs = slugs or [e.slug for e in exercises(root)]
    bad = 0
    for slug in slugs:
        found = problems(root, slug, full=full)
        for problem in found:
            click.echo(f"{slug}: {problem}", err=True)
        bad += bool(found)
    if bad:
        raise CourseError(f"{bad} exercise(s) need fixing (see above)")
    return slugs


@click.group("course")
def course() -> None:
    """Set up and maintain the nbgrader course of the lesson's exercises."""


@course.command("init")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--kit", type=click.Path(file_okay=False, exists=True, path_type=Path),
              default=None, help="The kit checkout with solutions/ and graders/ "
              "[default: found from here or next to the installed package].")
@click.option("--exercise", "slugs", multiple=True, metavar="SLUG",
              help="Only these exercises (repeatable) [default: every exercise with a "
                   "source notebook and graders].")
@click.option("--cell-timeout", type=click.IntRange(min=1), default=60, show_default=True,
              help="nbgrader's per-cell timeout in seconds.")
def init(directory: Path, kit: Path | None, slugs: tuple[str, ...], cell_timeout: int) -> None:
    """Create an nbgrader course in DIRECTORY: sources, hidden graders, safe settings."""
    from ..course.setup import init_course

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        made = init_course(directory, kit, list(slugs) or None, cell_timeout=cell_timeout)
    _echo_warnings(caught)
    click.echo(f"course in {directory}: {', '.join(made)}")
    click.echo(f"next: cd {directory} && nbgrader generate_assignment {made[0]}")


@course.command("release")
@click.option("--kit", type=click.Path(file_okay=False, exists=True, path_type=Path),
              default=None, help="The kit checkout [default: found from here].")
@click.option("--exercise", "slugs", multiple=True, metavar="SLUG",
              help="Only these exercises (repeatable).")
def release(kit: Path | None, slugs: tuple[str, ...]) -> None:
    """Regenerate exercises/<slug>.ipynb from solutions/ with nbgrader generate_assignment
    (after the cheap checks of `initkit course validate`)."""
    from ..course.setup import refresh_exercises

    checked = _validated(kit, list(slugs), full=False)
    for path in refresh_exercises(kit, checked):
        click.echo(f"wrote {path}")


@course.command("new")
@click.argument("slug")
@click.option("--title", default=None, help="The exercise's title (its first heading).")
@click.option("--kit", type=click.Path(file_okay=False, exists=True, path_type=Path),
              default=None, help="The kit checkout [default: found from here].")
def new(slug: str, title: str | None, kit: Path | None) -> None:
    """Write a working skeleton of exercise SLUG: source notebook and graders, one check of
    each kind, which releases, checks and grades as it is. Edit it, then release it."""
    from ..course.catalog import kit_root
    from ..course.new import new_exercise

    root = Path(kit) if kit else kit_root()
    for path in new_exercise(root, slug, title):
        click.echo(f"wrote {path}")
    click.echo(f"next: edit them, then initkit course release --exercise {slug} && "
               f"initkit course validate {slug}")


@course.command("validate")
@click.argument("slugs", nargs=-1, metavar="[SLUG]...")
@click.option("--kit", type=click.Path(file_okay=False, exists=True, path_type=Path),
              default=None, help="The kit checkout [default: found from here].")
@click.option("--quick", is_flag=True,
              help="Only the checks that run no notebook (markers, points, hidden blocks).")
def validate(slugs: tuple[str, ...], kit: Path | None, quick: bool) -> None:
    """Check exercises for an author's mistakes: every marker's grade_id is an autograded
    cell, each cell's points equal its checks' markers, every cell has checks, the release
    is up to date, and in the sandbox the reference gets full marks and the blank release 0.
    """
    for slug in _validated(kit, list(slugs), full=not quick):
        click.echo(f"{slug}: ok")


COMMANDS = [course]

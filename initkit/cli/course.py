"""``initkit course``: set up an nbgrader course for the lesson's exercises.

``initkit course init DIR`` writes the course (:func:`initkit.course.setup.init_course`);
``initkit course release`` regenerates the kit's ``exercises/`` from ``solutions/`` with
nbgrader (what maintainers run after editing a source notebook).
"""

from __future__ import annotations

from pathlib import Path

import click


@click.group("course")
def course() -> None:
    """Set up and maintain the nbgrader course of the lesson's exercises."""


@course.command("init")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--kit", type=click.Path(file_okay=False, exists=True, path_type=Path),
              default=None, help="The kit checkout with solutions/ and graders/ "
              "[default: found from here or next to the installed package].")
@click.option("--exercise", "slugs", multiple=True, metavar="SLUG",
              help="Only these exercises (repeatable) [default: all five].")
@click.option("--cell-timeout", type=click.IntRange(min=1), default=60, show_default=True,
              help="nbgrader's per-cell timeout in seconds.")
def init(directory: Path, kit: Path | None, slugs: tuple[str, ...], cell_timeout: int) -> None:
    """Create an nbgrader course in DIRECTORY: sources, hidden graders, safe settings."""
    from ..course.setup import init_course

    made = init_course(directory, kit, list(slugs) or None, cell_timeout=cell_timeout)
    click.echo(f"course in {directory}: {', '.join(made)}")
    click.echo(f"next: cd {directory} && nbgrader generate_assignment {made[0]}")


@course.command("release")
@click.option("--kit", type=click.Path(file_okay=False, exists=True, path_type=Path),
              default=None, help="The kit checkout [default: found from here].")
@click.option("--exercise", "slugs", multiple=True, metavar="SLUG",
              help="Only these exercises (repeatable).")
def release(kit: Path | None, slugs: tuple[str, ...]) -> None:
    """Regenerate exercises/<slug>.ipynb from solutions/ with nbgrader generate_assignment."""
    from ..course.setup import refresh_exercises

    for path in refresh_exercises(kit, list(slugs) or None):
        click.echo(f"wrote {path}")


COMMANDS = [course]

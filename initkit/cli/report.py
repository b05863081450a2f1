"""``initkit report OUT``: the class report of a grading run (:mod:`initkit.grading.classreport`).

Reads the results an ``initkit grade`` run recorded in ``OUT``, writes ``OUT/report/index.html``
and ``OUT/report/report.json`` and prints a short summary. ``--compare OLD_OUT`` lists whose
scores change, per check, before anything is published; ``--releases DIR`` adds the similarity
screen (near-identical answers, flagged for review: never a penalty).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..errors import InitkitError


def _load(out: Path):
    """(key, result) of every submission graded into ``out``."""
    from ..grading import store

    if not out.is_dir():
        raise InitkitError(f"{out} is not a folder: give the --out folder of an initkit grade run")
    keyed = store.load_keyed(out)
    if not keyed:
        raise InitkitError(f"no graded results in {out}: run initkit grade ... --out {out} first")
    return keyed


@click.command("report")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--compare", "old", type=click.Path(path_type=Path), default=None,
              help="An earlier run's folder: list the students whose scores change, per check.")
@click.option("--releases", type=click.Path(file_okay=False, exists=True, path_type=Path),
              default=None, help="Folder of released notebooks (<exercise>.ipynb): add the "
              "similarity screen of the answers.")
@click.option("--pass-mark", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="Share of an exercise's points that passes.")
@click.option("--gradebook", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=None, help="Report on a course graded with nbgrader: its gradebook.db "
              "(the report goes to OUT/report/).")
def report(out: Path, old: Path | None, releases: Path | None, pass_mark: float,
           gradebook: Path | None) -> None:
    """Write OUT/report/index.html and report.json: what a class got wrong, per check.

    OUT is an initkit grade output folder, or with --gradebook any folder for the report.
    """
    import os

    from ..grading import classreport
    from ..grading.report import submission_dir
    from ..grading.store import why_changed

    if gradebook is not None:
        results, roster = classreport.from_gradebook(gradebook)
        keyed, links = [], {}
        if not results:
            raise InitkitError(f"{gradebook} holds no submissions: run nbgrader autograde "
                               "first")
    else:
        keyed, roster = _load(out), None
        results = [result for _, result in keyed]
        links = {(r.student, r.exercise or "unknown"): os.path.relpath(
            submission_dir(out, r) / "feedback.html", out / "report") for r in results}
    data = classreport.build(results, pass_mark=pass_mark, feedback=links, roster=roster)
    if releases is not None:
        from ..grading.similarity import screen

        for ex in data["exercises"]:
            release = releases / f"{ex['exercise']}.ipynb"
            if release.exists():
                ex["similar"] = screen({r.student: Path(r.path) for r in results
                                        if r.exercise == ex["exercise"]
                                        and Path(r.path).exists()}, release)
    if old is not None and gradebook is None:
        before = _load(old)
        was = {(r.student, r.exercise or ""): key for key, r in before}
        reasons = {(r.student, r.exercise or ""): why_changed(key, was[(r.student,
                                                                         r.exercise or "")])
                   for key, r in keyed if (r.student, r.exercise or "") in was}
        data["changes"] = classreport.compare(results, [r for _, r in before], reasons)
    page = classreport.write(out, data)
    for line in classreport.summary(data):
        click.echo(line)
    for ex in data["exercises"]:
        for pair in ex.get("similar", []):
            click.echo(f"{ex['exercise']}: {' and '.join(pair['students'])} answered alike "
                       f"({100 * pair['similarity']:.0f}%): flagged for review")
    for change in data.get("changes", []):
        old_score = "-" if change["old"] is None else f"{change['old']:g}"
        click.echo(f"changed: {change['student']} {change['exercise']}: {old_score} -> "
                   f"{change['new']:g} {json.dumps(change['checks'])} {change['reason']}")
    click.echo(f"report: {page}")


COMMANDS = [report]

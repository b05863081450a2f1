"""The class report: what a whole class got wrong, per exercise and per check.

Built from the graded results of a run (:func:`build`), written as ``report.json`` (the
numbers, for a script or an LMS), ``index.html`` (one self-contained page: figures embedded
as PNG data, no network) and a short terminal summary (:func:`summary`).

Per exercise: how many were graded, invalid, errored or are missing (a student of the class
with no submission for it), the points still pending by hand, the score distribution
(median, the share at or above the pass mark), and per check the share of the class that
passed it and the recognised mistakes behind its failures, ranked by frequency: each failed
check records its mistake as data (``TestResult.mistake``: a stable id and the sentence, from
:mod:`initkit.course.checks`), so "41% used fan_in alone" is a count, not a guess from text.
Failures no recognised mistake explains are counted apart, with two example messages.
Shares are of the graded submissions of that exercise.
"""

from __future__ import annotations

import base64
import html
import io
import statistics
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from .results import ManualItem, SubmissionResult, TestResult

#: share of a check's graded students below which / above which it is flagged to look at
NOBODY, EVERYBODY = 0.0, 1.0


def _mistake(test) -> tuple[str, str] | None:
    found = getattr(test, "mistake", None)
    if isinstance(found, dict) and found.get("id"):
        return str(found["id"]), str(found.get("sentence", ""))
    return None


def _check_stats(results: list[SubmissionResult]) -> list[dict[str, Any]]:
    """Per check (by test name, in first-seen order): passes, mistakes, unexplained failures."""
    order: list[str] = []
    by_name: dict[str, list] = defaultdict(list)
    for r in results:
        for t in r.tests:
            if t.name not in by_name:
                order.append(t.name)
            by_name[t.name].append(t)
    n = len(results)
    checks = []
    for name in order:
        tests = by_name[name]
        failed = [t for t in tests if t.score < t.max_score]
        mistakes: Counter = Counter()
        sentences: dict[str, str] = {}
        unexplained = []
        for t in failed:
            found = _mistake(t)
            if found:
                mistakes[found[0]] += 1
                sentences.setdefault(found[0], found[1])
            else:
                unexplained.append(t.output)
        checks.append({
            "name": name, "title": tests[0].title or name, "grade_id": tests[0].grade_id,
            "max_score": tests[0].max_score, "graded": n, "passed": n - len(failed),
            "pass_share": (n - len(failed)) / n if n else 0.0,
            "mistakes": [{"id": m, "sentence": sentences[m], "count": c, "share": c / n}
                         for m, c in sorted(mistakes.items(), key=lambda kv: (-kv[1], kv[0]))],
            "unexplained": len(unexplained), "unexplained_share": len(unexplained) / n if n else 0,
            "examples": [e for e in dict.fromkeys(unexplained) if e][:2],
        })
    return checks


def build(results: list[SubmissionResult], pass_mark: float = 0.5,
          feedback: dict[tuple[str, str], str] | None = None,
          roster: list[str] | None = None) -> dict[str, Any]:
    """The report's numbers (what ``report.json`` holds).

    Args:
        results: every submission of the run (any status, any exercise).
        pass_mark: the share of an exercise's points that passes.
        feedback: (student, exercise) -> link to that submission's feedback page.
        roster: the class [default: every student with a submission]; a student of it
            without a submission of an exercise is missing there.
    """
    students = sorted({r.student for r in results} | set(roster or ()))
    exercises: dict[str, list[SubmissionResult]] = defaultdict(list)
    for r in results:
        exercises[r.exercise or "unknown"].append(r)
    report: dict[str, Any] = {"pass_mark": pass_mark, "students": len(students), "exercises": []}
    for exercise in sorted(exercises):
        subs = exercises[exercise]
        graded = [r for r in subs if r.status == "graded"]
        present = {r.student for r in subs}
        fractions = [r.score / r.max_score for r in graded if r.max_score]
        checks = _check_stats(graded)
        report["exercises"].append({
            "exercise": exercise,
            "graded": len(graded),
            "invalid": sum(r.status == "invalid" for r in subs),
            "errored": sum(r.status == "error" for r in subs),
            "missing": sorted(set(students) - present),
            "pending_points": sum(r.pending for r in subs),
            "max_score": max((r.max_score for r in graded), default=0.0),
            "median_share": statistics.median(fractions) if fractions else None,
            "passed_share": (sum(f >= pass_mark for f in fractions) / len(fractions)
                             if fractions else None),
            "scores": [r.score for r in graded],
            "checks": checks,
            "fail_most": [c["name"] for c in sorted(checks, key=lambda c: c["pass_share"])
                          if c["pass_share"] < 1][:3],
            "nobody_fails": [c["name"] for c in checks if c["graded"] and
                             c["pass_share"] >= EVERYBODY],
            "everybody_fails": [c["name"] for c in checks if c["graded"] and
                                c["pass_share"] <= NOBODY],
            "students": [{"student": r.student, "status": r.status, "score": r.score,
                          "max_score": r.max_score, "pending": r.pending,
                          "feedback": (feedback or {}).get((r.student, exercise))}
                         for r in sorted(subs, key=lambda r: r.student)],
        })
    return report


def from_gradebook(db: Path) -> tuple[list[SubmissionResult], list[str]]:
    """The submissions of an nbgrader gradebook as results, and its roster: one result per
    student and assignment, each autograded cell a check (its grade_id its name; nbgrader
    records no mistakes, so its failures count as unexplained), each manually graded cell
    pending until graded."""
    from nbgrader.api import Gradebook

    results = []
    with Gradebook(f"sqlite:///{Path(db).resolve()}") as gb:
        for assignment in gb.assignments:
            for sub in gb.assignment_submissions(assignment.name):
                tests, manual = [], []
                for nb in sub.notebooks:
                    for grade in nb.grades:
                        if grade.cell.cell_type == "code" and not grade.needs_manual_grade \
                                and grade.auto_score is not None:
                            tests.append(TestResult(
                                name=grade.name, title=grade.name, grade_id=grade.name,
                                score=float(grade.score), max_score=float(grade.max_score),
                                output="" if grade.score >= grade.max_score else
                                "the cell's checks did not all pass"))
                        else:
                            manual.append(ManualItem(grade.name, float(grade.max_score),
                                                     None if grade.needs_manual_grade
                                                     else grade.score))
                results.append(SubmissionResult(student=sub.student.id, exercise=assignment.name,
                                                path="", status="graded", tests=tests,
                                                manual=manual))
        roster = sorted(s.id for s in gb.students)
    return results, roster


def summary(report: dict[str, Any]) -> list[str]:
    """A few terminal lines: per exercise the counts, the median and the top mistakes."""
    lines = []
    for ex in report["exercises"]:
        median = ex["median_share"]
        lines.append(f"{ex['exercise']}: {ex['graded']} graded, {ex['invalid']} invalid, "
                     f"{ex['errored']} errored, {len(ex['missing'])} missing; median "
                     + ("-" if median is None else f"{100 * median:.0f}%")
                     + (f"; {ex['pending_points']:g} points pending by hand"
                        if ex["pending_points"] else ""))
        ranked = sorted(((m["share"], c["title"], m["sentence"]) for c in ex["checks"]
                         for m in c["mistakes"]), reverse=True)[:3]
        for share, title, sentence in ranked:
            lines.append(f"  {100 * share:.0f}% {sentence} ({title})")
    return lines


def _histogram_png(scores: list[float], max_score: float, pass_mark: float) -> str:
    """The score histogram with the median and the pass mark, as base64 PNG data."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 2.6))
    ax = fig.subplots()
    top = max(max_score, max(scores, default=0.0), 1.0)
    ax.hist(scores, bins=min(20, max(5, int(top) + 1)), range=(0, top), color="#4c72b0")
    if scores:
        ax.axvline(statistics.median(scores), color="black", label="median")
    ax.axvline(pass_mark * max_score, color="#c44e52", linestyle="--", label="pass mark")
    ax.set_xlabel("points")
    ax.set_ylabel("students")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def render_html(report: dict[str, Any]) -> str:
    """One self-contained page (no script, no network): every figure is embedded."""
    e = html.escape
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>Class report</title>",
             "<style>body{font-family:sans-serif;max-width:60em;margin:auto}table{border-"
             "collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}.bar{background:"
             "#4c72b0;height:.8em;display:inline-block}</style></head><body>",
             f"<h1>Class report</h1><p>{report['students']} students; pass mark "
             f"{100 * report['pass_mark']:.0f}% of an exercise's points.</p>"]
    for ex in report["exercises"]:
        png = _histogram_png(ex["scores"], ex["max_score"], report["pass_mark"])
        parts.append(f"<h2 id='{e(ex['exercise'])}'>{e(ex['exercise'])}</h2>"
                     f"<p>{ex['graded']} graded, {ex['invalid']} invalid, {ex['errored']} "
                     f"errored, {len(ex['missing'])} missing, {ex['pending_points']:g} points "
                     "pending by hand.</p>"
                     f"<img alt='score distribution of {e(ex['exercise'])}' "
                     f"src='data:image/png;base64,{png}'>")
        titles = {c["name"]: c["title"] for c in ex["checks"]}
        if ex["nobody_fails"] or ex["everybody_fails"]:
            parts.append("<p><b>Look at</b> (a grader or a contract?): "
                         + "; ".join([f"nobody fails “{e(titles[n])}”"
                                      for n in ex["nobody_fails"]]
                                     + [f"everybody fails “{e(titles[n])}”"
                                        for n in ex["everybody_fails"]]) + "</p>")
        parts.append("<h3>Checks</h3><table><tr><th>check</th><th>passed</th>"
                     "<th>why the others failed</th></tr>")
        for c in sorted(ex["checks"], key=lambda c: c["pass_share"]):
            why = "".join(f"<li>{100 * m['share']:.0f}% {e(m['sentence'])}</li>"
                          for m in c["mistakes"])
            if c["unexplained"]:
                examples = "".join(f"<br><code>{e(x)}</code>" for x in c["examples"])
                why += (f"<li>{100 * c['unexplained_share']:.0f}% no recognised mistake"
                        f"{examples}</li>")
            parts.append(f"<tr><td>{e(c['title'])}</td><td><span class='bar' style='width:"
                         f"{4 * c['pass_share']:.2f}em'></span> {100 * c['pass_share']:.0f}%"
                         f"</td><td><ul>{why}</ul></td></tr>")
        parts.append("</table>")
        if ex.get("similar"):
            parts.append("<h3>Answers alike (flagged for review, never a penalty)</h3>")
            for pair in ex["similar"]:
                a, b = (e(n) for n in pair["students"])
                parts.append(f"<p>{a} and {b}: {100 * pair['similarity']:.0f}% alike</p>"
                             f"<table><tr><th>cell</th><th>{a}</th><th>{b}</th></tr>")
                for cell, (left, right) in pair["cells"].items():
                    parts.append(f"<tr><td>{e(cell)}</td><td><pre>{e(left)}</pre></td>"
                                 f"<td><pre>{e(right)}</pre></td></tr>")
                parts.append("</table>")
        parts.append("<h3>Students</h3><table><tr><th>student</th><th>status</th>"
                     "<th>points</th><th>pending</th></tr>")
        for s in ex["students"]:
            name = e(s["student"])
            if s["feedback"]:
                name = f"<a href='{e(s['feedback'])}'>{name}</a>"
            parts.append(f"<tr><td>{name}</td><td>{e(s['status'])}</td><td>{s['score']:g} / "
                         f"{s['max_score']:g}</td><td>{s['pending']:g}</td></tr>")
        parts.append("</table>")
    parts.append("</body></html>\n")
    return "".join(parts)


def compare(new: list[SubmissionResult], old: list[SubmissionResult],
            reasons: dict[tuple[str, str], str] | None = None) -> list[dict[str, Any]]:
    """The rows whose scores change from ``old`` to ``new``: per student and exercise, each
    check whose score differs (``None`` where a check exists on one side only), and why
    (``reasons[(student, exercise)]``, e.g. "the graders changed")."""
    before = {(r.student, r.exercise or ""): r for r in old}
    changed = []
    for r in sorted(new, key=lambda r: (r.student, r.exercise or "")):
        key = (r.student, r.exercise or "")
        was = before.get(key)
        old_scores = {t.name: t.score for t in was.tests} if was else {}
        new_scores = {t.name: t.score for t in r.tests}
        checks = {n: (old_scores.get(n), new_scores.get(n))
                  for n in list(old_scores) + [n for n in new_scores if n not in old_scores]
                  if old_scores.get(n) != new_scores.get(n)}
        if checks or (was is None) or was.score != r.score:
            changed.append({"student": r.student, "exercise": r.exercise,
                            "old": was.score if was else None, "new": r.score,
                            "checks": checks,
                            "reason": (reasons or {}).get(key, "new submission" if was is None
                                                          else "")})
    return changed


def write(out: Path, report: dict[str, Any]) -> Path:
    """Write ``OUT/report/index.html`` and ``OUT/report/report.json``; the page's path."""
    import json

    folder = Path(out) / "report"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(json.dumps(report, indent=2))
    page = folder / "index.html"
    page.write_text(render_html(report), encoding="utf-8")
    return page

"""Write a grading run's outputs: grades.csv, Gradescope results.json, feedback MD + HTML.

Layout under ``--out DIR``::

    grades.csv                                  one row per submission
    <student>/<exercise>/results.json           Gradescope autograder format
    <student>/<exercise>/feedback.md, .html     what the student may read
    <student>/<exercise>/notebook_output.txt    what the notebook printed (capped), for staff

``results.json`` follows Gradescope's specification
(https://gradescope-autograders.readthedocs.io/en/latest/specs/): top-level ``score``,
``output``, ``execution_time``, ``stdout_visibility`` and ``tests``, each test with
``name``, ``score``, ``max_score``, ``output`` and ``visibility``.

Feedback never contains the hidden tests' source: a test contributes its title (the first
line of its docstring), points and the message of its failure (the grader's assertion
message or the exception's type and message, taken with ``--assert=plain``); tests whose
visibility is not ``visible`` show their points only. Manually graded cells count in
``max_score`` everywhere and show as pending until someone grades them (``initkit grade
--nbgrader`` takes their scores from the gradebook once they are graded there).

Student-controlled text (printed output, exception messages, names, file names, cell ids)
is made safe for the format it lands in (:func:`plain` everywhere, then per format):

- everywhere: terminal escapes (CSI, OSC including OSC 52 clipboard writes, DCS/APC/PM,
  C1 controls), control characters other than tab and newline, and bidirectional overrides
  ("Trojan Source", CVE-2021-42574) are removed; a name's bytes that are not UTF-8
  (``os.fsdecode``'s surrogate escapes) show as ``\xe9``, so no output file fails to encode;
- Markdown: HTML-escaped (``<script>`` is text), ``[``/``]`` backslash-escaped (no links or
  images), one line per field, ``|`` escaped in tables;
- HTML: ``html.escape``; CSV: a cell never starts a formula (OWASP CSV injection);
- ``results.json``: every text field has ``output_format: text``.

Nothing student-facing (``feedback.md``/``.html``, ``results.json``, which Gradescope shows
the student) carries the hidden-check seed: it is in ``grades.csv`` (column ``seed``), for
the instructor, so a regrade can repeat it.
"""

from __future__ import annotations

import csv
import hashlib
import html
import json
import re
from pathlib import Path

from .results import SubmissionResult

#: Terminal escape sequences (ECMA-48): OSC (``ESC ]`` ... BEL/ST, e.g. OSC 52 clipboard
#: writes and OSC 8 links), DCS/SOS/PM/APC strings, CSI (``ESC [`` ... final byte), their
#: 8-bit C1 forms, and two-byte escapes. An unterminated string runs to the end of the text.
_TERMINAL = re.compile(
    r"(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|\x1b[ -/]*[0-~]?")
#: Control characters but tab and newline, and the bidirectional formatting characters.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _unsurrogate(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}"


def plain(text) -> str:
    """``text`` safe to show anywhere: terminal escapes, control characters (but tab and
    newline) and bidi overrides removed, ``\\r\\n`` and ``\\r`` made newlines, and the
    surrogate escapes of non-UTF-8 bytes (``os.fsdecode``) shown as ``\\xNN``.

    Example:
        >>> plain("ok\\x1b]52;c;ZXZpbA==\\x07\\x1b[2Jdone\\rcaf\\udce9")
        'okdone\\ncaf\\\\xe9'
    """
    text = _SURROGATE.sub(_unsurrogate, str(text))
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", _TERMINAL.sub("", text))


def _md(text) -> str:
    """Student text inside one line of Markdown: :func:`plain`, HTML-escaped, no links."""
    text = html.escape(plain(text), quote=False)
    return _oneline(text.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]"))


def _e(text) -> str:
    """Student text in HTML."""
    return html.escape(plain(text))


def _safe(name: str) -> str:
    """A folder name for ``name``: only ``[A-Za-z0-9._-]``, never ``.``/``..`` or hidden.

    A name that had to change gets a short hash of the original appended, so two names
    that clean up alike (``bob!`` and ``bob?``) never share a folder.
    """
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name)
    if safe.startswith("."):
        safe = "_" + safe[1:]
    safe = safe or "_"
    if safe != name:
        safe += "-" + hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return safe


def _cell(value):
    """A CSV cell: :func:`plain` text that spreadsheets will not run as a formula (OWASP
    CSV injection)."""
    if isinstance(value, str):
        value = plain(value)
        if value.startswith(("=", "+", "-", "@", "\t", "\r", "\n")):
            return "'" + value
    return value


def submission_dir(out: Path, result: SubmissionResult) -> Path:
    """Folder of one submission's files under ``out``."""
    return Path(out) / _safe(result.student) / _safe(result.exercise or "unknown")


def write_grades_csv(results: list[SubmissionResult], path: Path) -> None:
    """``student, exercise, <a column per test and per manual cell>, total, pending,
    max_score, status, seed, reason``; a manual cell not graded yet reads ``pending``."""
    names: list[str] = []
    for r in results:
        for col in [f"{r.exercise}:{t.name}" for t in r.tests] + \
                   [f"{r.exercise}:{m.grade_id} (manual)" for m in r.manual]:
            if col not in names:
                names.append(col)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow([_cell(c) for c in ["student", "exercise", *names, "total", "pending",
                                            "max_score", "status", "seed", "reason"]])
        for r in results:
            by = {f"{r.exercise}:{t.name}": t.score for t in r.tests}
            by.update({f"{r.exercise}:{m.grade_id} (manual)":
                       "pending" if m.score is None else m.score for m in r.manual})
            writer.writerow([_cell(r.student), _cell(r.exercise or ""),
                             *(_num(by.get(n, "")) for n in names),
                             _num(r.score), _num(r.pending), _num(r.max_score),
                             _cell(r.status), "" if r.seed is None else r.seed,
                             _cell(r.reason)])


def _num(v):
    return f"{v:g}" if isinstance(v, float) else v


def gradescope_results(result: SubmissionResult) -> dict:
    """The Gradescope ``results.json`` dictionary of one submission (what the student sees
    on Gradescope: :func:`plain` text, no seed)."""
    output = [f"status: {result.status}"]
    if result.reason:
        output.append(result.reason)
    if result.pending:
        output.append(f"{result.pending:g} point(s) of manually graded answers are pending")
    output += result.notes
    tests = [{"name": plain(t.title or t.name), "name_format": "text", "score": t.score,
              "max_score": t.max_score, "output": plain(t.output), "output_format": "text",
              "visibility": t.visibility, "tags": [plain(t.name)],
              "extra_data": {"grade_id": t.grade_id and plain(t.grade_id),
                             "mistake": t.mistake and {k: plain(v) for k, v in
                                                       t.mistake.items()}}}
             for t in result.tests]
    tests += [{"name": plain(f"{m.grade_id} (graded by hand)"), "name_format": "text",
               "score": m.score or 0.0, "max_score": m.max_score,
               "status": "pending" if m.score is None else "graded",
               "output": "pending: graded by hand" if m.score is None else "",
               "output_format": "text", "visibility": "visible",
               "extra_data": {"grade_id": plain(m.grade_id), "manual": True}}
              for m in result.manual]
    return {
        "score": result.score,
        "max_score": result.max_score,
        "output": plain("\n".join(output)),
        "output_format": "text",
        "execution_time": round(result.seconds, 3),
        "stdout_visibility": "hidden",
        "visibility": "visible",
        "extra_data": {"pending": result.pending},
        "tests": tests,
    }


def feedback_markdown(result: SubmissionResult) -> str:
    """Feedback for the student, in Markdown (no hidden test source, ever; student text
    escaped by :func:`_md`)."""
    lines = [f"# Feedback: {_md(result.exercise or 'unknown exercise')}", "",
             f"Student: **{_md(result.student)}**  ", f"Score: **{result.score:g} / "
             f"{result.max_score:g}**{_pending_note(result)}", ""]
    if result.status != "graded":
        lines += [f"Your notebook could not be graded: {_md(result.reason)}", ""]
    if result.notes:
        lines += ["## Notes", "", *(f"- {_md(n)}" for n in result.notes), ""]
    if result.cell_errors:
        lines += ["## Cells that raised an error", ""]
        lines += [f"- {_md(str(c))}: `{_md(t)}` {_md(m[:200])}" for c, t, m in result.cell_errors]
        lines.append("")
    lines += ["## Checks", "", "| check | points | result |", "| --- | --- | --- |"]
    for t in result.tests:
        if t.visibility == "visible":
            verdict = "passed" if t.score >= t.max_score else (t.output or "failed")
            verdict = _md(verdict).replace("|", "\\|")
            name = _md(t.title or t.name).replace("|", "\\|")
            lines.append(f"| {name} | {t.score:g} / {t.max_score:g} | {verdict} |")
        else:
            lines.append(f"| (hidden check) | {t.score:g} / {t.max_score:g} | "
                         "details after release |")
    for m in result.manual:
        lines.append(f"| {_md(m.grade_id)} (graded by hand) | "
                     + (f"pending / {m.max_score:g} | not graded yet |" if m.score is None
                        else f"{m.score:g} / {m.max_score:g} | graded |"))
    return "\n".join(lines) + "\n"


def _pending_note(result: SubmissionResult) -> str:
    return f" ({result.pending:g} pending manual grading)" if result.pending else ""


def _oneline(text: str) -> str:
    """One Markdown line: newlines escaped, so a message cannot start new Markdown blocks."""
    return str(text).replace("\r", "\\r").replace("\n", "\\n").replace("`", "'")


def feedback_html(result: SubmissionResult) -> str:
    """The same feedback as a small standalone HTML page (every field escaped by
    :func:`_e`; a hidden check shows its points only, as in Markdown)."""
    e = _e
    rows = []
    for t in result.tests:
        if t.visibility == "visible":
            verdict = "passed" if t.score >= t.max_score else (t.output or "failed")
            name = t.title or t.name
        else:
            verdict, name = "details after release", "(hidden check)"
        rows.append(f"<tr><td>{e(name)}</td><td>{t.score:g} / {t.max_score:g}</td>"
                    f"<td><pre>{e(verdict)}</pre></td></tr>")
    for m in result.manual:
        points = f"pending / {m.max_score:g}" if m.score is None else \
            f"{m.score:g} / {m.max_score:g}"
        rows.append(f"<tr><td>{e(m.grade_id)} (graded by hand)</td><td>{points}</td>"
                    f"<td>{'not graded yet' if m.score is None else 'graded'}</td></tr>")
    notes = "".join(f"<li>{e(n)}</li>" for n in result.notes)
    errors = "".join(f"<li>{e(str(c))}: <code>{e(t)}</code> {e(m[:200])}</li>"
                     for c, t, m in result.cell_errors)
    reason = f"<p>Your notebook could not be graded: {e(result.reason)}</p>" \
        if result.status != "graded" else ""
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>Feedback: {e(result.exercise or '')}</title></head><body>\n"
        f"<h1>Feedback: {e(result.exercise or 'unknown exercise')}</h1>\n"
        f"<p>Student: <b>{e(result.student)}</b><br>Score: <b>{result.score:g} / "
        f"{result.max_score:g}</b>{e(_pending_note(result))}</p>\n{reason}"
        + (f"<h2>Notes</h2><ul>{notes}</ul>\n" if notes else "")
        + (f"<h2>Cells that raised an error</h2><ul>{errors}</ul>\n" if errors else "")
        + "<h2>Checks</h2><table border='1'><tr><th>check</th><th>points</th><th>result</th>"
        "</tr>\n" + "\n".join(rows) + "\n</table></body></html>\n")


def notebook_output(result: SubmissionResult) -> str:
    """What the notebook printed (capped upstream), for staff: :func:`plain` text."""
    return f"--- stdout ---\n{plain(result.stdout)}\n--- stderr ---\n{plain(result.stderr)}\n"


def write_submission(result: SubmissionResult, out: Path) -> Path:
    """Write one submission's results.json, feedback.md/.html and notebook_output.txt
    (UTF-8, whatever the locale) under :func:`submission_dir`; returns that folder."""
    d = submission_dir(out, result)
    d.mkdir(parents=True, exist_ok=True)
    (d / "results.json").write_text(json.dumps(gradescope_results(result), indent=2),
                                    encoding="utf-8")
    (d / "feedback.md").write_text(feedback_markdown(result), encoding="utf-8")
    (d / "feedback.html").write_text(feedback_html(result), encoding="utf-8")
    (d / "notebook_output.txt").write_text(notebook_output(result), encoding="utf-8")
    return d


def write_outputs(results: list[SubmissionResult], out: Path) -> None:
    """Write grades.csv and every submission's results.json and feedback under ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_grades_csv(results, out / "grades.csv")
    for r in results:
        write_submission(r, out)

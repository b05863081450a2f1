"""What a grading run writes: student text escaped per format, hidden checks and the seed
kept from the student, any file name written."""

import csv
import os
import re

import pytest

from initkit.grading.report import plain, submission_dir, write_outputs
from initkit.grading.results import ManualItem, SubmissionResult, TestResult

SEED = 918273645
HIDDEN_TITLE = "The curve of the hidden plot check"
HIDDEN_MESSAGE = "expected 20 points, found 3 (HIDDEN-DETAIL-5521)"
#: an OSC 52 clipboard write, a CSI screen clear, a title change and a bell, a C1 CSI,
#: a right-to-left override
TERMINAL = ("\x1b]52;c;Y3VybCBldmlsLnNoIHwgc2g=\x07\x1b[2J\x1b[1;31m\x1b]0;pwned\x1b\\"
            "\x9b31m\x07\u202e")
MARKUP = "<script>alert(1)</script><img src=x onerror=alert(2)>[link](javascript:alert(3))"


def _result(student="mallory", **kw) -> SubmissionResult:
    tests = [
        TestResult(name="test_v.py::test_visible", score=0.0, max_score=2.0,
                   output=f"ValueError: {MARKUP}{TERMINAL}", title=f"visible {MARKUP}"),
        TestResult(name="test_v.py::test_hidden", score=0.0, max_score=1.0,
                   output=HIDDEN_MESSAGE, visibility="after_published", title=HIDDEN_TITLE),
    ]
    base = dict(student=student, exercise="variance", path=f"/subs/{student}.ipynb",
                status="graded", tests=tests, seed=SEED,
                notes=[f"cell 'x{MARKUP}' is not in the exercise{TERMINAL}"],
                cell_errors=[("xavier_normal", f"Err{MARKUP}", f"boom {MARKUP}{TERMINAL}")],
                stdout=f"hello{TERMINAL}\r\nworld\rover{MARKUP}", stderr=f"warn{TERMINAL}",
                manual=[ManualItem("essay", 3.0)])
    base.update(kw)
    return SubmissionResult(**base)


@pytest.fixture
def written(tmp_path):
    results = [_result(), _result("=HYPERLINK(\"http://x\")" + TERMINAL, status="invalid",
                                  reason=f"{MARKUP}{TERMINAL}")]
    write_outputs(results, tmp_path)
    return tmp_path, results


def _files(out, result):
    d = submission_dir(out, result)
    return {name: (d / name).read_text(encoding="utf-8") for name in
            ("feedback.md", "feedback.html", "notebook_output.txt", "results.json")}


CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]")


def test_no_terminal_escape_or_control_character_reaches_any_output(written):
    """OSC 52, CSI, title changes, C1 controls, bells and bidi overrides from student text
    are in no output file; the printed text around them is kept, each line on its own."""
    out, results = written
    for r in results:
        for name, text in [*_files(out, r).items(),
                           ("grades.csv", (out / "grades.csv").read_text(encoding="utf-8"))]:
            assert not CONTROL.search(text.replace("\r\n", "\n")), (name, text)
            assert "52;c;" not in text and "pwned" not in text and "[2J" not in text
    printed = _files(out, results[0])["notebook_output.txt"]
    assert printed.startswith("--- stdout ---\nhello\nworld\nover<script>")


def test_markdown_shows_student_markup_as_text(written):
    """<script>, <img onerror> and a javascript: link from outputs, errors, notes and names
    are HTML-escaped and bracket-escaped in feedback.md, so no renderer runs or links them."""
    out, results = written
    md = _files(out, results[0])["feedback.md"]
    assert "<script" not in md and "<img" not in md and not re.search(r"(?<!\\)\]\(", md)
    escaped = ("&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;"
               "\\[link\\](javascript:alert(3))")
    assert f"| visible {escaped} | 0 / 2 | ValueError: {escaped} |" in md
    assert f"- xavier_normal: `Err{escaped}` boom {escaped}" in md
    assert f"- cell 'x{escaped}' is not in the exercise" in md
    bad = _files(out, results[1])["feedback.md"]
    assert f"Your notebook could not be graded: {escaped}\n" in bad


def test_html_escapes_every_student_field(written):
    """In feedback.html the only tags are the page's own: student markup is escaped text."""
    out, results = written
    page = _files(out, results[0])["feedback.html"]
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    tags = set(re.findall(r"</?([a-zA-Z0-9]+)", page))
    assert tags == {"html", "head", "meta", "title", "body", "h1", "h2", "p", "b", "br",
                    "ul", "li", "code", "table", "tr", "th", "td", "pre"}


def test_hidden_checks_show_only_points_in_both_feedback_formats(written):
    """Before release, a hidden check's title and failure message are in neither
    feedback.md nor feedback.html: both show '(hidden check)', its points and 'details
    after release'."""
    out, results = written
    files = _files(out, results[0])
    for name in ("feedback.md", "feedback.html"):
        assert HIDDEN_TITLE not in files[name] and "HIDDEN-DETAIL" not in files[name], name
    assert "| (hidden check) | 0 / 1 | details after release |" in files["feedback.md"]
    assert ("<tr><td>(hidden check)</td><td>0 / 1</td><td><pre>details after release</pre>"
            "</td></tr>") in files["feedback.html"]


def test_the_seed_is_for_the_instructor_only(written):
    """The hidden-check seed is in grades.csv's seed column and in no file the student sees
    (feedback.md, feedback.html, results.json, which Gradescope shows the student)."""
    out, results = written
    for r in results:
        for name, text in _files(out, r).items():
            if name != "notebook_output.txt":
                assert str(SEED) not in text, name
    with open(out / "grades.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [row["seed"] for row in rows] == [str(SEED)] * 2


def test_csv_cells_stay_formula_safe_after_cleaning(written):
    """A name that becomes a formula once its escapes are removed is still quoted."""
    out, _ = written
    with open(out / "grades.csv", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[2][0] == "'=HYPERLINK(\"http://x\")"
    assert rows[2][-1] == MARKUP


def test_a_name_that_is_not_utf8_loses_nothing(tmp_path):
    """Three submissions, one named with a byte that is not UTF-8 (b'caf\\xe9', as
    os.fsdecode gives it): grades.csv gets 3 rows, each submission its 4 files, the odd name
    shows as caf\\xe9, and its folder differs from a plain 'caf'."""
    odd = os.fsdecode(b"caf\xe9")
    results = [_result("alice"), _result(odd, path=os.fsdecode(b"/subs/caf\xe9.ipynb")),
               _result("caf")]
    write_outputs(results, tmp_path)
    with open(tmp_path / "grades.csv", encoding="utf-8") as fh:
        students = [row["student"] for row in csv.DictReader(fh)]
    assert students == ["alice", "caf\\xe9", "caf"]
    folders = {submission_dir(tmp_path, r) for r in results}
    assert len(folders) == 3
    for folder in folders:
        assert sorted(p.name for p in folder.iterdir()) == [
            "feedback.html", "feedback.md", "notebook_output.txt", "results.json"]
    assert "Student: **caf\\\\xe9**" in _files(tmp_path, results[1])["feedback.md"]


def test_plain_keeps_ordinary_text():
    """Tabs, newlines, accents, emoji and CJK pass unchanged; an unterminated OSC string is
    dropped to the end (it would swallow the rest in a terminal too)."""
    text = "tab\there\nnaïve 😀 数据 µ ±"
    assert plain(text) == text
    assert plain("before\x1b]52;c;AAAA") == "before"
    assert plain("a\x1b[31mred\x1b[0m b\x1bcc") == "ared bc"


# --------------------------------------------------------------------------------------
# report.py's functions called directly, each output compared with text written out by
# hand (what a student or Gradescope reads), so every field, sum and escape is pinned.

from initkit.grading.report import (  # noqa: E402
    feedback_html,
    feedback_markdown,
    gradescope_results,
    notebook_output,
    write_grades_csv,
    write_submission,
)


def _plain_result(**kw) -> SubmissionResult:
    """ann's ex01: a passed check, a half-failed one with a recognised mistake, a hidden
    one, a hand-graded cell still pending and one graded (4 of 9.5 points, 3 pending)."""
    base = dict(
        student="ann", exercise="ex01", path="/subs/ann.ipynb", status="graded",
        seconds=1.23456, seed=42, notes=["note one"], cell_errors=[("cell-3", "ValueError", "bad")],
        stdout="printed", stderr="warned",
        tests=[TestResult(name="test_ex01.py::test_a", score=2.0, max_score=2.0, title="Check A",
                          grade_id="test_a"),
               TestResult(name="test_ex01.py::test_b", score=0.5, max_score=1.5,
                          output="AssertionError: too big",
                          mistake={"id": "fan_in_alone", "sentence": "use fan_in alone"}),
               TestResult(name="test_ex01.py::test_h", score=0.0, max_score=1.0,
                          output="HIDDEN-DETAIL", visibility="after_published",
                          title="Hidden one")],
        manual=[ManualItem("essay", 3.0), ManualItem("plot", 2.0, 1.5)])
    base.update(kw)
    return SubmissionResult(**base)


def _manual_entry(grade_id, score, max_score, pending):
    return {"name": f"{grade_id} (graded by hand)", "name_format": "text", "score": score,
            "max_score": max_score, "status": "pending" if pending else "graded",
            "output": "pending: graded by hand" if pending else "", "output_format": "text",
            "visibility": "visible", "extra_data": {"grade_id": grade_id, "manual": True}}


def test_gradescope_results_is_the_documented_dictionary():
    """results.json of a graded submission, field by field (Gradescope's spec): the score
    sums the checks and the graded hand cell (2 + 0.5 + 0 + 1.5 = 4 of 9.5), the output
    names the status, the 3 pending points and the notes, a pending hand cell scores 0 with
    status 'pending', and no seed anywhere."""
    text = {"name_format": "text", "output_format": "text"}
    assert gradescope_results(_plain_result()) == {
        "score": 4.0, "max_score": 9.5,
        "output": "status: graded\n3 point(s) of manually graded answers are pending\nnote one",
        "output_format": "text", "execution_time": 1.235, "stdout_visibility": "hidden",
        "visibility": "visible", "extra_data": {"pending": 3.0},
        "tests": [
            {"name": "Check A", "score": 2.0, "max_score": 2.0, "output": "",
             "visibility": "visible", "tags": ["test_ex01.py::test_a"],
             "extra_data": {"grade_id": "test_a", "mistake": None}, **text},
            {"name": "test_ex01.py::test_b", "score": 0.5, "max_score": 1.5,
             "output": "AssertionError: too big", "visibility": "visible",
             "tags": ["test_ex01.py::test_b"],
             "extra_data": {"grade_id": None, "mistake": {"id": "fan_in_alone",
                                                          "sentence": "use fan_in alone"}},
             **text},
            {"name": "Hidden one", "score": 0.0, "max_score": 1.0, "output": "HIDDEN-DETAIL",
             "visibility": "after_published", "tags": ["test_ex01.py::test_h"],
             "extra_data": {"grade_id": None, "mistake": None}, **text},
            _manual_entry("essay", 0.0, 3.0, pending=True),
            _manual_entry("plot", 1.5, 2.0, pending=False),
        ]}


def test_gradescope_results_of_a_refused_submission_gives_the_reason():
    """An invalid submission's output is its status and reason; with nothing pending and no
    notes nothing else is said, and a hand cell graded 0 is graded (not pending)."""
    got = gradescope_results(_plain_result(status="invalid", reason="not a notebook", tests=[],
                                           notes=[], manual=[ManualItem("essay", 3.0, 0.0)]))
    assert got["output"] == "status: invalid\nnot a notebook"
    assert (got["score"], got["max_score"], got["extra_data"]) == (0.0, 3.0, {"pending": 0})
    assert got["tests"] == [_manual_entry("essay", 0.0, 3.0, pending=False)]


def test_gradescope_results_cleans_every_student_field():
    """Terminal escapes in a title, a name, an output, a grade_id, a mistake and the reason
    are removed in results.json (Gradescope shows them to the student)."""
    esc = "\x1b[2J\x07"
    got = gradescope_results(_plain_result(
        status="invalid", reason=f"why{esc}", notes=[f"n{esc}"], manual=[ManualItem(f"e{esc}", 1.0)],
        tests=[TestResult(name=f"t{esc}", score=0.0, max_score=1.0, output=f"o{esc}",
                          title=f"T{esc}", grade_id=f"g{esc}",
                          mistake={"id": f"i{esc}", "sentence": f"s{esc}"})]))
    assert got["output"] == "status: invalid\nwhy\n1 point(s) of manually graded answers are " \
        "pending\nn"
    test, manual = got["tests"]
    assert (test["name"], test["output"], test["tags"], test["extra_data"]) == (
        "T", "o", ["t"], {"grade_id": "g", "mistake": {"id": "i", "sentence": "s"}})
    assert (manual["name"], manual["extra_data"]["grade_id"]) == ("e (graded by hand)", "e")


MARKDOWN = """\
# Feedback: ex01

Student: **ann**\x20\x20
Score: **4 / 9.5** (3 pending manual grading)

## Notes

- note one

## Cells that raised an error

- cell-3: `ValueError` bad

## Checks

| check | points | result |
| --- | --- | --- |
| Check A | 2 / 2 | passed |
| test_ex01.py::test_b | 0.5 / 1.5 | AssertionError: too big |
| (hidden check) | 0 / 1 | details after release |
| essay (graded by hand) | pending / 3 | not graded yet |
| plot (graded by hand) | 1.5 / 2 | graded |
"""


def test_feedback_markdown_is_the_whole_expected_page():
    """feedback.md line by line: title, student, the 4 / 9.5 score and its 3 pending points,
    notes, cell errors, a passed check (score = max), a failed one with its message, the
    hidden check as points only, a pending and a graded hand cell."""
    assert feedback_markdown(_plain_result()) == MARKDOWN


def test_feedback_markdown_of_a_refused_submission():
    """No notes, errors, checks or pending: the header, the reason, the empty table; an
    unknown exercise is named as such; a failed check without output reads 'failed'."""
    got = feedback_markdown(_plain_result(
        exercise=None, status="invalid", reason="not a notebook", notes=[], cell_errors=[],
        manual=[], tests=[TestResult(name="t", score=0.0, max_score=1.0)]))
    assert got == ("# Feedback: unknown exercise\n\nStudent: **ann**  \nScore: **0 / 1**\n\n"
                   "Your notebook could not be graded: not a notebook\n\n## Checks\n\n"
                   "| check | points | result |\n| --- | --- | --- |\n| t | 0 / 1 | failed |\n")


def test_feedback_markdown_escapes_student_text_on_one_line():
    """In Markdown a student's quotes stay quotes, a backslash is doubled, brackets and
    table pipes are escaped, newlines and backticks cannot open a block or a code span, and
    a cell error's message is cut at 200 characters."""
    got = feedback_markdown(_plain_result(
        student='a"b\'c\\d', notes=["x\ny`z"], cell_errors=[("c|1", "E`", "m" * 250)],
        tests=[TestResult(name="n", score=0.0, max_score=1.0, title="ti|tle [x]",
                          output="line1\nline2 | [a](b)")], manual=[]))
    assert "Student: **a\"b'c\\\\d**  \n" in got
    assert "- x\\ny'z\n" in got
    assert f"- c|1: `E'` {'m' * 200}\n" in got
    assert "| ti\\|tle \\[x\\] | 0 / 1 | line1\\nline2 \\| \\[a\\](b) |\n" in got


HTML = """\
<!DOCTYPE html>
<html><head><meta charset='utf-8'><title>Feedback: ex01</title></head><body>
<h1>Feedback: ex01</h1>
<p>Student: <b>ann</b><br>Score: <b>4 / 9.5</b> (3 pending manual grading)</p>
<h2>Notes</h2><ul><li>note one</li></ul>
<h2>Cells that raised an error</h2><ul><li>cell-3: <code>ValueError</code> bad</li></ul>
<h2>Checks</h2><table border='1'><tr><th>check</th><th>points</th><th>result</th></tr>
<tr><td>Check A</td><td>2 / 2</td><td><pre>passed</pre></td></tr>
<tr><td>test_ex01.py::test_b</td><td>0.5 / 1.5</td><td><pre>AssertionError: too big</pre></td></tr>
<tr><td>(hidden check)</td><td>0 / 1</td><td><pre>details after release</pre></td></tr>
<tr><td>essay (graded by hand)</td><td>pending / 3</td><td>not graded yet</td></tr>
<tr><td>plot (graded by hand)</td><td>1.5 / 2</td><td>graded</td></tr>
</table></body></html>
"""


def test_feedback_html_is_the_whole_expected_page():
    """feedback.html tag by tag, the same content as the Markdown: the hidden check's title
    and message are not on the page before release."""
    assert feedback_html(_plain_result()) == HTML


def test_feedback_html_of_a_refused_submission():
    """No notes or errors sections; the reason paragraph; an unknown exercise; a failed
    check without output reads 'failed'; quotes in student text are escaped."""
    got = feedback_html(_plain_result(
        exercise=None, status="invalid", reason='not "a" notebook', notes=[], cell_errors=[],
        manual=[], tests=[TestResult(name="t'", score=0.0, max_score=1.0)]))
    assert got == (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>Feedback: </title></head>"
        "<body>\n<h1>Feedback: unknown exercise</h1>\n<p>Student: <b>ann</b><br>Score: "
        "<b>0 / 1</b></p>\n<p>Your notebook could not be graded: not &quot;a&quot; notebook"
        "</p><h2>Checks</h2><table border='1'><tr><th>check</th><th>points</th><th>result"
        "</th></tr>\n<tr><td>t&#x27;</td><td>0 / 1</td><td><pre>failed</pre></td></tr>\n"
        "</table></body></html>\n")


def test_feedback_html_lists_every_note_and_cell_error():
    """Each note and each cell error is its own list item, back to back; a long error
    message shows its first 200 characters only, as in Markdown."""
    page = feedback_html(_plain_result(notes=["n1", "n2"], cell_errors=[
        ("c", "E", "m" * 199 + "xyz"), ("d", "F", "short")]))
    assert "<h2>Notes</h2><ul><li>n1</li><li>n2</li></ul>\n" in page
    assert (f"<ul><li>c: <code>E</code> {'m' * 199}x</li><li>d: <code>F</code> short</li>"
            "</ul>\n") in page


def test_notebook_output_gives_both_streams_cleaned():
    """notebook_output.txt: the stdout and stderr headings and each stream's plain text."""
    assert notebook_output(_plain_result(stdout="a\x1b[31mb\r\n", stderr="c\x07")) == \
        "--- stdout ---\nab\n\n--- stderr ---\nc\n"


def test_grades_csv_has_a_column_per_check_and_hand_cell_and_the_sums(tmp_path):
    """grades.csv for two exercises: the union of the columns in first-seen order, a blank
    where a submission has no such check, floats written short (0.5, 2), 'pending' for a hand
    cell not graded, the totals (score, pending, max) and the seed (blank when none)."""
    other = SubmissionResult(
        student="bob", exercise="ex02", path="", status="error", reason="=crash", seed=None,
        tests=[TestResult(name="test_ex02.py::test_z", score=1.0, max_score=1.0),
               TestResult(name="test_ex01.py::test_a", score=0.0, max_score=3.0)])
    refused = SubmissionResult(student="cy", exercise=None, path="", status="invalid")
    write_grades_csv([_plain_result(), other, refused], tmp_path / "g.csv")
    with open(tmp_path / "g.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows == [
        ["student", "exercise", "ex01:test_ex01.py::test_a", "ex01:test_ex01.py::test_b",
         "ex01:test_ex01.py::test_h", "ex01:essay (manual)", "ex01:plot (manual)",
         "ex02:test_ex02.py::test_z", "ex02:test_ex01.py::test_a", "total", "pending",
         "max_score", "status", "seed", "reason"],
        ["ann", "ex01", "2", "0.5", "0", "pending", "1.5", "", "", "4", "3", "9.5", "graded",
         "42", ""],
        ["bob", "ex02", "", "", "", "", "", "1", "0", "1", "0", "4", "error", "", "'=crash"],
        ["cy", "", "", "", "", "", "", "", "", "0", "0", "0", "invalid", "", ""],
    ]


def test_csv_cells_never_start_a_formula():
    """Every formula lead-in (=, +, -, @, tab, a line break) is quoted with an apostrophe;
    other text and numbers pass unchanged (OWASP CSV injection)."""
    from initkit.grading.report import _cell

    for lead in ("=", "+", "-", "@", "\t", "\r", "\n"):
        assert _cell(f"{lead}1+1") == "'" + plain(f"{lead}1+1")
    assert _cell("a=1") == "a=1" and _cell(-3) == -3 and _cell(None) is None


def test_submission_folders_are_safe_and_distinct(tmp_path):
    """A clean name is its own folder; a name that had to change gets the first 8 hex of
    its SHA-256 (bob! and bob? differ), a hidden or empty name never becomes '.', '..' or
    a dot-folder, and a missing exercise is 'unknown'."""
    def folder(student, exercise="ex01"):
        r = SubmissionResult(student=student, exercise=exercise, path="", status="graded")
        return submission_dir(tmp_path, r).relative_to(tmp_path).as_posix()

    assert folder("Ann.B-c_1") == "Ann.B-c_1/ex01"
    assert folder("bob!") == "bob_-be1b4959/ex01"
    assert folder(".hidden") == "_hidden-16924190/ex01"
    assert folder("..") == "_.-5ec1f7e7/ex01"
    assert folder("") == "_-e3b0c442/ex01"
    assert folder("a b", None) == "a_b-c8687a08/unknown"
    assert folder(os.fsdecode(b"caf\xe9")) == "caf_-0dabcef4/ex01"


def test_write_submission_writes_the_four_files_as_utf8(tmp_path):
    """write_submission (into a folder that does not exist yet, then again over it) writes
    results.json (indented JSON of gradescope_results), feedback.md, feedback.html and
    notebook_output.txt, UTF-8 encoded, and returns their folder; write_outputs adds
    grades.csv under a new nested folder."""
    import json

    r = _plain_result(student="zoë", notes=["µ ±"])
    out = tmp_path / "a" / "b"
    for _ in range(2):
        d = write_submission(r, out)
    assert d == submission_dir(out, r) and d.is_dir()
    raw = (d / "results.json").read_bytes().decode("utf-8")
    assert json.loads(raw) == gradescope_results(r) and raw.startswith('{\n  "score": 4.0,')
    assert (d / "feedback.md").read_bytes().decode("utf-8") == feedback_markdown(r)
    assert (d / "feedback.html").read_bytes().decode("utf-8") == feedback_html(r)
    assert (d / "notebook_output.txt").read_bytes().decode("utf-8") == notebook_output(r)
    write_outputs([r], tmp_path / "c" / "d")
    assert (tmp_path / "c" / "d" / "grades.csv").read_bytes().decode("utf-8").startswith(
        "student,exercise,")


def test_plain_removes_every_kind_of_terminal_sequence():
    """Each ECMA-48 form is removed with its payload: OSC ended by BEL, ST or 8-bit ST;
    DCS, SOS, PM, APC; their C1 forms; CSI (7- and 8-bit) with parameters and
    intermediates; two-byte escapes; and every other control character but tab and
    newline (C0, DEL, C1) and the bidi marks and overrides; their neighbours stay."""
    for seq in ("\x1b]0;t\x07", "\x1b]8;;http://x\x1b\\", "\x1b]52;c;QQ\x9c", "\x1bPq#0\x1b\\",
                "\x1bXsos\x1b\\", "\x1b^pm\x1b\\", "\x1b_apc\x1b\\", "\x90dcs\x9c",
                "\x98sos\x9c", "\x9dosc\x07", "\x9epm\x9c", "\x9fapc\x9c", "\x1b[1;31m",
                "\x1b[?25l", "\x1b[ q", "\x9b2J", "\x1b(B", "\x1b7", "\x1b#8", "\x1bc"):
        assert plain(f"a{seq}b") == "ab", repr(seq)
    starts = {0x0d, 0x1b, 0x90, 0x98, 0x9b, 0x9d, 0x9e, 0x9f}  # \r and the escapes above
    controls = "".join(chr(c) for c in [*range(0, 9), *range(11, 32), *range(127, 160)]
                       if c not in starts)
    bidi = "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
    assert plain(f"a{controls}{bidi}\tb\nc") == "a\tb\nc"
    assert plain("\u200d\u2065\u2070\u202f") == "\u200d\u2065\u2070\u202f"


def test_plain_shows_surrogate_escapes_as_bytes_or_code_points():
    """os.fsdecode's escapes U+DC80..U+DCFF show as the bytes \\x80..\\xff; any other lone
    surrogate as its code point \\uXXXX; \\r\\n and \\r become newlines."""
    assert plain("\udc80\udce9\udcff") == "\\x80\\xe9\\xff"
    assert plain("\udc7f\udd00\ud800\udfff") == "\\udc7f\\udd00\\ud800\\udfff"
    assert plain("a\r\nb\rc") == "a\nb\nc"


@pytest.fixture
def ascii_locale():
    """The process's LC_CTYPE set to C, where open()'s default encoding is ASCII (as on a
    machine without a UTF-8 locale), restored afterwards."""
    import locale

    before = locale.setlocale(locale.LC_CTYPE)
    locale.setlocale(locale.LC_CTYPE, "C")
    try:
        yield
    finally:
        locale.setlocale(locale.LC_CTYPE, before)


def test_every_file_is_utf8_whatever_the_locale(tmp_path, ascii_locale):
    """Under an ASCII locale, a student named zoë with a note in Greek and CJK still gets
    all five files written, each UTF-8 (results.json is ASCII-escaped JSON)."""
    import json

    r = _plain_result(student="zoë", notes=["αβγ 数据"], stdout="µ", stderr="±")
    write_outputs([r], tmp_path)
    d = submission_dir(tmp_path, r)
    assert "zoë,ex01," in (tmp_path / "grades.csv").read_bytes().decode("utf-8")
    assert "αβγ 数据" in (d / "feedback.md").read_bytes().decode("utf-8")
    assert "αβγ 数据" in (d / "feedback.html").read_bytes().decode("utf-8")
    assert "µ" in (d / "notebook_output.txt").read_bytes().decode("utf-8")
    assert json.loads((d / "results.json").read_bytes())["output"].endswith("\nαβγ 数据")

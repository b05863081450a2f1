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

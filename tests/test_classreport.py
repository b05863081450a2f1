"""The class report and the similarity screen: exact shares of recognised mistakes, the
checks to look at, a self-contained page, regrade differences, and copies flagged while
common honest answers are not."""

import json
import re
from pathlib import Path

import nbformat
import pytest

from initkit.grading import classreport
from initkit.grading.results import ManualItem, SubmissionResult, TestResult
from initkit.grading.similarity import canonical_tokens, screen

FAN_IN = {"id": "fan_in_alone", "sentence": "used fan_in alone (2/fan_in is He's rule)"}
GLOBAL = {"id": "global_rng", "sentence": "drew from the global np.random"}


def result(student: str, exercise: str, fails: dict[str, dict | str | None],
           status: str = "graded", manual: float | None = None) -> SubmissionResult:
    """A graded submission whose checks c1..c3 pass unless named in ``fails`` (a mistake dict,
    an unexplained message, or None for a plain failure)."""
    tests = []
    for name in ("c1", "c2", "c3"):
        failed = name in fails
        test = TestResult(name=name, score=0.0 if failed else 1.0, max_score=1.0,
                          title=f"title of {name}", grade_id="cell",
                          output=fails[name] if isinstance(fails.get(name), str) else "")
        test.mistake = fails[name] if isinstance(fails.get(name), dict) else None
        tests.append(test)
    return SubmissionResult(student=student, exercise=exercise, path="", status=status,
                            tests=tests if status == "graded" else [],
                            manual=[ManualItem("why", 2.0, manual)])


@pytest.fixture()
def cohort() -> list[SubmissionResult]:
    """40 students: in exA 10 use fan_in alone, 4 the global rng, 2 fail c1 unexplained;
    everybody fails c3 and nobody c2; in exB one is invalid and one is missing."""
    out = []
    for i in range(40):
        c1 = FAN_IN if i < 10 else GLOBAL if i < 14 else f"odd {i % 3}" if i < 16 else None
        fails = {"c3": None} | ({"c1": c1} if c1 is not None else {})
        out.append(result(f"s{i:02d}", "exA", fails, manual=1.0 if i % 2 else None))
        if i == 39:
            continue  # missing exB
        out.append(result(f"s{i:02d}", "exB", {}, status="invalid" if i == 0 else "graded"))
    return out


def test_each_mistake_share_is_exact_and_checks_to_look_at_are_named(cohort):
    """Shares are counts over the graded class; unexplained failures are apart with two
    examples; the most failed, never failed and always failed checks are listed."""
    report = classreport.build(cohort)
    ex_a, ex_b = report["exercises"]
    c1, c2, c3 = ex_a["checks"]
    assert c1["pass_share"] == 24 / 40
    assert [(m["id"], m["count"], m["share"]) for m in c1["mistakes"]] == [
        ("fan_in_alone", 10, 0.25), ("global_rng", 4, 0.1)]
    assert c1["unexplained"] == 2 and c1["examples"] == ["odd 2", "odd 0"]
    assert ex_a["fail_most"] == ["c3", "c1"]
    assert ex_a["nobody_fails"] == ["c2"] and ex_a["everybody_fails"] == ["c3"]
    assert ex_a["pending_points"] == 20 * 2.0
    assert (ex_b["graded"], ex_b["invalid"], ex_b["missing"]) == (38, 1, ["s39"])
    assert classreport.summary(report)[1] == "  25% used fan_in alone (2/fan_in is He's rule) " \
                                            "(title of c1)"


def test_the_page_is_self_contained_and_escapes_names(cohort, tmp_path):
    """index.html has no script and no network reference, one embedded PNG per exercise, and
    a student's markup shown as text; report.json holds the same numbers."""
    cohort[0].student = "<img src=x onerror=alert(1)>"
    report = classreport.build(cohort, feedback={("s01", "exA"): "../s01/exA/feedback.html"})
    page = classreport.write(tmp_path, report)
    text = page.read_text()
    assert "<script" not in text.lower() and not re.search(r"(src|href)=['\"]?https?:", text)
    assert text.count("src='data:image/png;base64,") == 2
    assert "&lt;img src=x onerror=alert(1)&gt;" in text and "<img src=x" not in text
    assert "<a href='../s01/exA/feedback.html'>s01</a>" in text
    assert json.loads((tmp_path / "report" / "report.json").read_text()) == \
        json.loads(json.dumps(report))


def test_compare_lists_exactly_the_students_whose_scores_change(cohort):
    """After a grader change that fails c2 for three students, exactly they are listed, with
    the check that moved and the reason given."""
    new = [result(r.student, r.exercise, {}) for r in cohort if r.exercise == "exA"]
    old = [result(r.student, r.exercise, {}) for r in cohort if r.exercise == "exA"]
    for r in new[5:8]:
        r.tests[1].score = 0.0
    changes = classreport.compare(new, old, {(r.student, "exA"): "the graders changed"
                                             for r in new})
    assert [(c["student"], c["checks"], c["reason"]) for c in changes] == [
        (f"s{i:02d}", {"c2": (1.0, 0.0)}, "the graders changed") for i in (5, 6, 7)]


SCAFFOLD = "def xavier_normal(shape, rng):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n"
COMMON = """def xavier_normal(shape, rng):
    fan_out, fan_in = shape
    return rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), size=shape)
"""
STYLES = [
    "def xavier_normal(shape, rng):\n    a, b = shape\n    var = 2 / (a + b)\n"
    "    w = rng.standard_normal(shape)\n    return w * var ** 0.5\n",
    "def xavier_normal(shape, rng):\n    n = sum(shape)\n    out = np.empty(shape)\n"
    "    out[...] = rng.normal(size=shape)\n    out *= np.sqrt(2.0 / n)\n    return out\n",
    "def xavier_normal(shape, rng):\n    fan_out = shape[0]\n    fan_in = shape[1]\n"
    "    scale = math.sqrt(2.0 / float(fan_in + fan_out))\n"
    "    return scale * rng.normal(loc=0.0, scale=1.0, size=(fan_out, fan_in))\n",
    "def xavier_normal(shape, rng):\n    return np.array([[rng.normal() for _ in range(shape[1])]"
    " for _ in range(shape[0])]) * np.sqrt(2 / (shape[0] + shape[1]))\n",
]
ORIGINAL = """def xavier_normal(shape, rng):
    rows, cols = shape
    draws = []
    for r in range(rows):
        draws.append(rng.normal(0, 1, cols) * (2 / (rows + cols)) ** 0.5)
    return np.stack(draws)
"""
COPY = """def xavier_normal(shape, rng):
    # my own work
    n_out, n_in = shape
    result = []
    for i in range(n_out):
        result.append(rng.normal(0, 1.0, n_in) * (2 / (n_out + n_in)) ** 0.5)
    return np.stack(result)
"""


def notebook(path: Path, answer: str) -> Path:
    cell = nbformat.v4.new_code_cell(answer)
    cell.metadata["nbgrader"] = {"grade_id": "xavier_normal", "solution": True}
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), path)
    return path


def test_the_screen_flags_the_copy_and_no_honest_pair(tmp_path):
    """Renamed variables and comments do not hide a copy; six students with the common
    answer and four with styles of their own are not flagged."""
    answers = {f"common{i}": COMMON for i in range(6)}
    answers |= {f"style{i}": s for i, s in enumerate(STYLES)}
    answers |= {"alice": ORIGINAL, "bob": COPY}
    paths = {s: notebook(tmp_path / f"{s}.ipynb", a) for s, a in answers.items()}
    flagged = screen(paths, notebook(tmp_path / "release.ipynb", SCAFFOLD))
    assert [f["students"] for f in flagged] == [["alice", "bob"]]
    assert flagged[0]["similarity"] == 1.0
    assert flagged[0]["cells"]["xavier_normal"] == [ORIGINAL, COPY]


def test_canonical_tokens_ignore_names_literals_and_comments():
    """Two answers that differ only in names, constants and comments give one stream."""
    assert canonical_tokens("x = 1  # one\ny = x + 2\n") == canonical_tokens("a = 5\nb = a + 7")
    assert canonical_tokens("x = 1\ny = x + 2") != canonical_tokens("x = 1\ny = x * 2")

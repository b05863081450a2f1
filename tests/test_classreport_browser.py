"""The class report's page in a real headless browser (Debian's chromium with selenium),
opened from a file as on an offline laptop: no console error, every figure rendered."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from browser import chromium, console_errors, screenshot  # noqa: E402

from initkit.grading import classreport  # noqa: E402
from initkit.grading.results import ManualItem, SubmissionResult, TestResult  # noqa: E402

CHECKS = [  # (name, title, [(mistake id, sentence, how many of 48)], unexplained)
    ("test_xavier_variance", "xavier_normal draws N(0, 2/(fan_in + fan_out))",
     [("fan_in_alone", "used fan_in alone (2/fan_in is He's rule)", 14),
      ("variance_as_std", "passed the variance where the std is meant", 5)], 2),
    ("test_xavier_uses_rng", "xavier_normal draws from the rng it is given",
     [("global_rng", "drew from the global np.random", 6)], 0),
    ("test_gradient_norms", "gradient_norms are the Frobenius norms, input layer first",
     [("reversed_layers", "listed the output layer first", 4)], 3),
    ("test_constant_init", "constant_init is a float array of exactly that shape", [], 0),
]


def cohort() -> list[SubmissionResult]:
    """48 students of ex01 with the mistakes above in those proportions."""
    results = []
    for i in range(48):
        tests = []
        for name, title, mistakes, unexplained in CHECKS:
            test = TestResult(name=name, score=1.0, max_score=1.0, title=title)
            test.mistake, start = None, 0
            for mistake_id, sentence, count in mistakes:
                if start <= i < start + count:
                    test.score, test.mistake = 0.0, {"id": mistake_id, "sentence": sentence}
                start += count
            if start <= i < start + unexplained:
                test.score, test.output = 0.0, f"ValueError: shapes ({i}, 3) and (4,) differ"
            tests.append(test)
        results.append(SubmissionResult(student=f"student{i:02d}", exercise="ex01_gradient_norms",
                                        path="", status="graded", tests=tests,
                                        manual=[ManualItem("why_constants_fail", 2.0,
                                                           2.0 if i % 3 else None)]))
    return results


def test_the_report_page_renders_offline_without_console_errors(tmp_path):
    """From file://, the page loads with no console error, its histogram image decodes, and
    the top mistake is on screen; a screenshot is written."""
    page = classreport.write(tmp_path, classreport.build(cohort()))
    with chromium() as driver:
        driver.get(page.as_uri())
        assert console_errors(driver) == []
        images = driver.execute_script(
            "return Array.from(document.images).map(i => [i.complete, i.naturalWidth])")
        assert images and all(done and width > 100 for done, width in images), images
        assert "29% used fan_in alone (2/fan_in is He's rule)" in \
            driver.find_element("tag name", "body").text
        shot = screenshot(driver, "report.png", tmp_path)
    assert shot.stat().st_size > 10_000

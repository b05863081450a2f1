"""Benchmark: ``initkit report`` on 1,000 graded submissions (target: under 10 s).

Writes 1,000 results (two exercises of 500 students, four checks each, planted mistakes in
fixed shares) into a fresh ``OUT/results/`` through the grading store, as ``initkit grade``
would, then times the command as a user runs it: a fresh ``initkit report OUT`` process
(start-up, loading every result, the numbers, the page with its two histograms, the JSON).
Printed: the seconds, best and median of the rounds. Run:
``python benchmarks/bench_report.py [--students 500] [--rounds 3]``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from initkit.grading.results import SubmissionResult, TestResult
from initkit.grading.store import ResultKey, save

MISTAKES = [("fan_in_alone", "used fan_in alone"), ("variance_as_std", "passed the variance"),
            ("global_rng", "drew from the global np.random")]


def write_results(out: Path, students: int) -> None:
    """``students`` per exercise, each with four checks; every seventh fails one."""
    for exercise in ("ex01", "ex04"):
        for i in range(students):
            tests = []
            for c in range(4):
                failed = (i + c) % 7 == 0
                mistake_id, sentence = MISTAKES[(i + c) % 3]
                tests.append(TestResult(
                    name=f"test_{exercise}.py::check_{c}", title=f"check {c} of {exercise}",
                    score=0.0 if failed else 1.0, max_score=1.0, grade_id=f"cell_{c}",
                    output="the check failed" if failed else "",
                    mistake={"id": mistake_id, "sentence": sentence} if failed and c else None))
            result = SubmissionResult(student=f"student{i:04d}", exercise=exercise, path="",
                                      status="graded", tests=tests)
            save(out, ResultKey(result.student, exercise, f"{i:064x}", "g" * 64, i), result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=500, help="per exercise (two of them)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    exe = str(Path(sys.executable).with_name("initkit"))
    with tempfile.TemporaryDirectory(prefix="initkit-bench-report-") as tmp:
        out = Path(tmp) / "graded"
        write_results(out, args.students)
        times = []
        for _ in range(args.rounds):
            start = time.perf_counter()
            subprocess.run([exe, "report", str(out)], check=True, capture_output=True)
            times.append(time.perf_counter() - start)
    print(f"initkit report on {2 * args.students} graded submissions (target: under 10 s)")
    print(f"  best {min(times):.2f} s, median {statistics.median(times):.2f} s "
          f"over {args.rounds} rounds")


if __name__ == "__main__":
    main()

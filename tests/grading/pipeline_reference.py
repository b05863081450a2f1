"""The local runtime's results, for tests that compare another executor with it."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path


def grade_locally(submissions, graders, settings, out: Path, tmp: Path):
    """:func:`initkit.grading.pipeline.grade_course` on local processes, one at a time, in a
    fresh interpreter (not under this pytest, whose assertion rewriting would reach the
    graders' asserts); returns the run's rows."""
    (tmp / "in.pickle").write_bytes(pickle.dumps((submissions, graders, settings, out)))
    script = ("import pickle, sys\n"
              "from initkit.grading.pipeline import grade_course\n"
              "subs, graders, settings, out = pickle.load(open(sys.argv[1], 'rb'))\n"
              "run = grade_course(subs, graders, settings, out=out)\n"
              "pickle.dump(run.results, open(sys.argv[2], 'wb'))\n")
    subprocess.run([sys.executable, "-c", script, str(tmp / "in.pickle"),
                    str(tmp / "out.pickle")], check=True, timeout=300)
    return pickle.loads((tmp / "out.pickle").read_bytes())

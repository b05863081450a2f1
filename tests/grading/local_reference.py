"""The local runtime's results, for tests that compare another executor with it."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path


def grade_locally(jobs, exercises, options, tmp: Path):
    """``grade_all`` in a fresh interpreter, one at a time (not under this pytest, whose
    assertion rewriting would reach the graders' asserts)."""
    (tmp / "in.pickle").write_bytes(pickle.dumps((jobs, exercises, options)))
    script = ("import pickle, sys\n"
              "from initkit.grading.runner import grade_all\n"
              "jobs, exercises, options = pickle.load(open(sys.argv[1], 'rb'))\n"
              "results = grade_all(jobs, exercises, options, n_jobs=1)\n"
              "pickle.dump(results, open(sys.argv[2], 'wb'))\n")
    subprocess.run([sys.executable, "-c", script, str(tmp / "in.pickle"),
                    str(tmp / "out.pickle")], check=True, timeout=300)
    return pickle.loads((tmp / "out.pickle").read_bytes())

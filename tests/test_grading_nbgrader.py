"""initkit grade next to real nbgrader: same scores on honest work, written to its gradebook."""

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

from nbgrader.api import Gradebook

HERE = Path(__file__).parent / "grading"
BIN = Path(sys.executable).parent
HONEST = {"carol": "honest_correct", "dave": "honest_wrong_he"}


def _env():
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"  # nbgrader runs `alembic`
    return env


def _scores(course: Path) -> dict[str, float]:
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return {s: gb.find_submission("variance", s).score for s in HONEST}


def test_initkit_and_nbgrader_autograde_agree_on_honest_submissions(tmp_path, monkeypatch):
    """Both graders give 8/8 and 6/8; initkit's scores land in nbgrader's gradebook."""
    monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    course = tmp_path / "course"
    shutil.copytree(HERE / "course" / "source", course / "source")
    sys.path.insert(0, str(HERE))
    from build_example import nbgrader_config

    nbgrader_config(course)
    nbgrader = [str(BIN / "nbgrader")]
    subprocess.run([*nbgrader, "generate_assignment", "variance", "--force"], cwd=course,
                   env=_env(), check=True, capture_output=True, timeout=120)
    for student, case in HONEST.items():
        dest = course / "submitted" / student / "variance"
        dest.mkdir(parents=True)
        shutil.copy(HERE / "corpus" / f"{case}_variance.ipynb", dest / "variance.ipynb")

    out = tmp_path / "out"
    proc = subprocess.run([str(BIN / "initkit"), "grade", "--nbgrader", str(course),
                           "--graders", str(HERE / "graders"), "--out", str(out),
                           "--jobs", "2", "--no-progress"], env=_env(), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    with open(out / "grades.csv") as fh:
        initkit_csv = {r["student"]: float(r["total"]) for r in csv.DictReader(fh)}
    initkit_gradebook = _scores(course)

    proc = subprocess.run([*nbgrader, "autograde", "variance", "--force"], cwd=course,
                          env=_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    nbgrader_scores = _scores(course)

    assert nbgrader_scores == {"carol": 8.0, "dave": 6.0}, _errors(course)
    assert initkit_csv == nbgrader_scores
    assert initkit_gradebook == nbgrader_scores


def _errors(course: Path) -> str:
    """The errors nbgrader recorded in the autograded notebooks (for a failing assert)."""
    import nbformat

    lines = []
    for path in sorted((course / "autograded").glob("*/variance/*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            for o in cell.get("outputs", []):
                if o.get("output_type") == "error":
                    lines.append(f"{path.parent.parent.name} "  # noqa: PERF401
                                 f"{cell.metadata.get('nbgrader', {}).get('grade_id')}: "
                                 f"{o.get('ename')} {o.get('evalue')}")
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for s in HONEST:
            sub = gb.find_submission("variance", s)
            lines.append(f"{s}: " + ", ".join(f"{g.name}={g.auto_score}" for nb in sub.notebooks
                                              for g in nb.grades))
    return "\n".join(lines)

"""The pytest plugin: by hand with --submission, and inert without it."""

import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent / "grading"
GRADERS = HERE / "graders" / "variance"
CORPUS = HERE / "corpus"


def _pytest(*args, cwd=None):
    # no `-p initkit.grading.pytest_plugin`: the installed package registers it through its
    # pytest11 entry point, exactly as an instructor's `pytest` finds it
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                           *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


def test_instructor_runs_graders_by_hand_with_submission():
    """`pytest graders/variance --submission NB` gives ordinary pytest output and exit 1."""
    proc = _pytest(GRADERS, "--submission", CORPUS / "honest_wrong_he_variance.ipynb", "-q")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 failed, 3 passed" in proc.stdout
    assert "he_std(2) = 0.707107 is not sqrt(2 / fan_in)" in proc.stdout


def test_plugin_is_inert_without_submission_but_registers_points(tmp_path):
    """Without --submission there is no submission fixture, but the points marker is known."""
    (tmp_path / "test_own.py").write_text(
        "import pytest\n\n"
        "def test_no_fixture(request):\n"
        "    assert 'submission' not in request.fixturenames\n"
        "    with pytest.raises(pytest.FixtureLookupError):\n"
        "        request.getfixturevalue('submission')\n\n"
        "@pytest.mark.points(2)\n"
        "def test_marker_registered(pytestconfig):\n"
        "    assert any(m.startswith('points') for m in pytestconfig.getini('markers'))\n")
    proc = _pytest(tmp_path, "-q", "--strict-markers", "-W", "error", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 passed" in proc.stdout


def test_graders_collect_under_strict_markers_without_submission(tmp_path):
    """Collecting the graders without --submission raises no unknown-marker error."""
    graders = tmp_path / "variance"
    shutil.copytree(GRADERS, graders)  # out of tests/grading, whose conftest skips graders
    proc = _pytest(graders, "--collect-only", "-q", "--strict-markers", "-W", "error",
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "4 tests collected" in proc.stdout


def test_bad_points_marker_is_a_usage_error(tmp_path):
    """A negative points value stops the run with a message naming the test."""
    (tmp_path / "test_bad.py").write_text(
        "import pytest\n\n@pytest.mark.points(-1)\ndef test_x(submission):\n    pass\n")
    proc = _pytest(tmp_path, "--submission", CORPUS / "honest_correct_variance.ipynb",
                   cwd=tmp_path)
    assert proc.returncode != 0
    assert "test_bad.py::test_x: points must be a number >= 0, got -1" in proc.stderr

"""Which exercise a submission is graded as, and which files are refused: the instructor's
layout decides, links out of the submission folder are never followed."""

import json
import os
import shutil
from pathlib import Path

from initkit.grading.discover import discover

HERE = Path(__file__).parent / "grading"
CORRECT = HERE / "corpus" / "honest_correct_variance.ipynb"


def _exercises(tmp_path: Path) -> dict[str, Path]:
    """Two exercises: the real 'variance' and an easy 'decoy'."""
    out = {}
    for name in ("variance", "decoy"):
        d = tmp_path / "graders" / name
        d.mkdir(parents=True)
        (d / f"test_{name}.py").write_text("def test_x(submission):\n    pass\n")
        out[name] = d
    return out


def _notebook(path: Path, exercise_in_metadata: str | None = None) -> Path:
    nb = json.loads(CORRECT.read_text())
    if exercise_in_metadata is not None:
        nb["metadata"]["initkit"] = {"exercise": exercise_in_metadata}
    else:
        nb["metadata"].pop("initkit", None)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb))
    return path


def _one(jobs):
    (job,) = jobs
    return job.exercise, job.problem, job.note


def test_metadata_naming_an_easier_exercise_does_not_choose_the_graders(tmp_path):
    """eve_variance.ipynb whose metadata names 'decoy' is graded as 'variance' (its file
    name), with a note that says so."""
    ex = _exercises(tmp_path)
    nb = _notebook(tmp_path / "subs" / "eve_variance.ipynb", "decoy")
    assert _one(discover([nb.parent], ex)) == (
        "variance", None, "eve_variance.ipynb: its metadata names exercise 'decoy' but its "
        "file name names 'variance'; graded as 'variance'")


def test_exercise_option_beats_the_folder_which_beats_the_file_name(tmp_path):
    """--exercise decides over nbgrader's folder; the folder decides over the file name;
    the metadata agreeing with the layout adds no note."""
    ex = _exercises(tmp_path)
    nb = _notebook(tmp_path / "submitted" / "eve" / "decoy" / "eve_variance.ipynb",
                   "decoy")
    root = tmp_path / "submitted"
    assert _one(discover([root], ex)) == ("decoy", None, None)
    assert _one(discover([root], ex, exercise="variance")) == (
        "variance", None, f"{nb.name}: its metadata names exercise 'decoy' but --exercise "
        "is 'variance'; graded as 'variance'")


def test_metadata_is_the_last_resort_and_says_so(tmp_path):
    """A notebook whose name, folder and options name no exercise is graded as its metadata
    says, with a note; without metadata it cannot be graded and the problem says why."""
    ex = _exercises(tmp_path)
    nb = _notebook(tmp_path / "subs" / "homework.ipynb", "variance")
    assert _one(discover([nb], ex)) == (
        "variance", None, "homework.ipynb: the exercise 'variance' was taken from the "
        "notebook's own metadata: no --exercise, folder or file name names one")
    _notebook(nb)
    exercise, problem, _ = _one(discover([nb], ex))
    assert exercise is None and problem.startswith("homework.ipynb: cannot tell which")


def test_links_out_of_the_submission_folder_are_refused(tmp_path):
    """A notebook linking to a 0600 file outside the submission folder, and a student folder
    linking outside, are refused with the target named; a link to a notebook inside the
    folder is graded."""
    ex = _exercises(tmp_path)
    secret = _notebook(tmp_path / "instructor" / "variance" / "solution.ipynb")
    secret.chmod(0o600)
    root = tmp_path / "submitted"
    alice = _notebook(root / "alice" / "variance" / "variance.ipynb")
    (root / "mallory" / "variance").mkdir(parents=True)
    os.symlink(secret, root / "mallory" / "variance" / "variance.ipynb")
    os.symlink(tmp_path / "instructor", root / "trudy")
    (root / "bob" / "variance").mkdir(parents=True)
    os.symlink("../../alice/variance/variance.ipynb", root / "bob" / "variance" /
               "variance.ipynb")
    jobs = {j.student: j for j in discover([root], ex)}
    assert sorted(jobs) == ["alice", "bob", "mallory", "trudy"]
    assert jobs["mallory"].problem == (
        f"variance.ipynb: refused: link to {secret.resolve()} outside the submission folder "
        "(submit the notebook itself, not a link)")
    assert jobs["trudy"].problem == (
        f"solution.ipynb: refused: link to {secret.resolve()} outside the submission folder "
        "(submit the notebook itself, not a link)")
    assert (jobs["bob"].problem, jobs["alice"].problem) == (None, None)
    assert jobs["bob"].exercise == "variance" and alice.exists()
    shutil.rmtree(tmp_path / "instructor")
    assert discover([root], ex)[2].problem.startswith("variance.ipynb: refused: link to ")


def test_one_students_nbgrader_folder_is_found(tmp_path):
    """`initkit grade submitted/alice` grades alice's notebooks, exercise from the folder."""
    exercises = _exercises(tmp_path)
    _notebook(tmp_path / "submitted" / "alice" / "variance" / "mine.ipynb")
    (job,) = discover([tmp_path / "submitted" / "alice"], exercises)
    assert (job.student, job.exercise, job.problem) == ("alice", "variance", None)


def test_a_missing_release_is_an_error_naming_where_it_looked(tmp_path):
    """Without a released notebook grading stops with every place looked in, instead of
    silently dropping the hand-graded cells and the locked-cell restore."""
    import pytest

    from initkit.errors import GradersNotFound
    from initkit.grading.discover import require_reference

    grader_dir = _exercises(tmp_path)["variance"]
    with pytest.raises(GradersNotFound) as caught:
        require_reference(grader_dir, tmp_path / "course")
    message = str(caught.value)
    for place in (grader_dir / "variance.ipynb", tmp_path / "release" / "variance" / "variance.ipynb",
                  tmp_path / "exercises" / "variance.ipynb"):
        assert str(place) in message
    release = _notebook(tmp_path / "exercises" / "variance.ipynb")
    assert require_reference(grader_dir) == release

"""pytest graders equivalent to the autograder cells of nbgrader's own fixture
``submitted-unchanged.ipynb`` (nbgrader/tests/apps/files), cell for cell: ``foo`` prints
"Success!" (it passes whenever the notebook runs), ``bar`` asserts ``a == 1``. The manually
graded cells ``baz`` (2 points) and ``quux`` (3) are not checks: they stay pending."""

import pytest


@pytest.mark.points(1, grade_id="foo")
def test_foo(submission):
    """The notebook runs and answers (nbgrader's cell only prints "Success!")."""
    assert "__name__" in submission, "the notebook's process did not answer"


@pytest.mark.points(1, grade_id="bar")
def test_bar(submission):
    """The notebook sets a = 1."""
    assert "a" in submission, "the notebook does not define a"
    assert submission.get("a") == 1, f"a is {submission.get('a')!r}, not 1"

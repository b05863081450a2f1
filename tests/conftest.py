"""Guards for the whole suite (each test module may share a process with any other)."""

import os

import pytest

from initkit.course.bridge import SKIP_ENV

#: modules that take minutes (a whole course graded by nbgrader and initkit): collected first,
#: so that pytest-xdist (--dist loadfile hands out modules in collection order) starts them
#: at once instead of leaving them as the run's tail
START_FIRST = ("test_course_honest.py", "test_course.py")


def pytest_collection_modifyitems(items):
    def rank(item):
        name = item.path.name
        return START_FIRST.index(name) if name in START_FIRST else len(START_FIRST)

    items.sort(key=rank)  # stable: the order within each module is kept


@pytest.fixture(autouse=True)
def _course_environment_does_not_leak():
    """A course's nbgrader_config.py sets nbgrader's environment when loaded; a test that
    loads one in process must restore it, or later kernels in this process skip their hidden
    checks. Fails the test that leaks, not the one that would suffer."""
    before = os.environ.get(SKIP_ENV)
    yield
    assert os.environ.get(SKIP_ENV) == before, \
        f"this test left {SKIP_ENV}={os.environ.get(SKIP_ENV)!r} in the environment"

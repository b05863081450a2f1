"""Keep the example exercise's hidden graders out of the project's own test run.

``graders/*/test_*.py`` are graders, collected only when a submission is given
(``pytest tests/grading/graders/variance --submission NB``, or ``initkit grade``).
"""

from pathlib import Path

HERE = Path(__file__).parent


def pytest_ignore_collect(collection_path, config):
    """Ignore graders/, course/, corpus/ and nbgrader_fixture/ unless ``--submission``."""
    rel = collection_path.relative_to(HERE).parts if collection_path.is_relative_to(HERE) \
        else ()
    if rel and rel[0] in ("graders", "course", "corpus", "nbgrader_fixture"):
        try:
            submission = config.getoption("submission")
        except ValueError:  # the grading plugin is not loaded at all
            submission = None
        return None if submission else True
    return None

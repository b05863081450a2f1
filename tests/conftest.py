"""Test-run plumbing: how ``make test`` spreads the suite over processes (pytest-xdist).

``make test`` runs ``pytest -n auto --dist loadgroup``. Every test module is one group, so a
module's fixtures (a Dask cluster, a graded corpus) are built once, on one worker, as with
``--dist loadfile``; the course's end-to-end module is one group per exercise instead, because
each exercise's fixture (a release, real ``nbgrader autograde`` and ``initkit grade``) is the
longest single piece of the run and the exercises are independent.
"""

from __future__ import annotations

import pytest

_PER_PARAM_MODULES = {"tests/test_course.py"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        group = item.nodeid.split("::")[0]
        if group in _PER_PARAM_MODULES and hasattr(item, "callspec"):
            group = f"{group}[{item.callspec.params.get('graded', '')}]"
        item.add_marker(pytest.mark.xdist_group(group))

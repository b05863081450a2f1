"""``parametrize_with_checks``: the suite as pytest tests (scikit-learn's pattern).

sklearn's ``parametrize_with_checks(estimators)`` turns each (estimator, check) pair into a
pytest test whose id names both; this is the same for initializers. The initializers are
resolved when the decorator runs (at collection), so a plugin must be loaded by then: an
installed one is, a file can be loaded with ``initkit.load_plugin(path)`` at module level.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..registry import Initializer
from .checks import initializer_checks
from .report import as_initializer


def parametrize_with_checks(names: Iterable[str | Initializer | Callable[..., Any]]) -> Any:
    """A ``pytest.mark.parametrize`` over ``(initializer, check)`` pairs.

    Ids read ``<initializer>-<check>`` so ``pytest -k "he_normal and variance"`` selects one.
    A check that lacks the metadata it needs raises ``CheckSkipped``, which pytest reports
    as a skip with its reason (``pytest -rs`` lists them).

    Args:
        names: registered names or aliases, ``Initializer`` objects, or plain functions.

    Returns:
        The decorator for a test function ``test(initializer, check)`` whose body is
        ``check(initializer)``.

    Example:
        >>> from initkit.testing import parametrize_with_checks
        >>> @parametrize_with_checks(["he_normal", "orthogonal"])
        ... def test_conformance(initializer, check):
        ...     check(initializer)
    """
    import pytest  # late: only a test run needs it

    inits = [as_initializer(name) for name in names]
    pairs = [(init, check) for init in inits for check in initializer_checks(init)]
    return pytest.mark.parametrize(
        "initializer, check", pairs,
        ids=[f"{init.name}-{check.__name__}" for init, check in pairs])

"""The conformance suite for initializer plugins (``initkit.testing``).

What scikit-learn's ``sklearn.utils.estimator_checks`` is to estimators: every contract an
initializer makes (the shape and dtype it returns, seeds, the global random state, its
declared variance and mean, gain, mode, orthogonality, undefined fans) is one check, runnable
as pytest tests (:func:`parametrize_with_checks`) or from code (:func:`check_initializer`),
and the kit runs the same suite on its own built-ins.

Example:
    >>> import initkit.testing as t
    >>> report = t.check_initializer("xavier_uniform")
    >>> report.ok
    True
"""

from __future__ import annotations

from .activation_checks import ACTIVATION_CHECKS, activation_checks
from .checks import CORE_CHECKS, CheckSkipped, initializer_checks
from .pytest_support import parametrize_with_checks
from .report import (
    CheckResult,
    ConformanceError,
    Report,
    as_initializer,
    check_activation,
    check_all,
    check_initializer,
)
from .stats import SIGMAS, sample_mean, sample_variance

__all__ = [
    "ACTIVATION_CHECKS",
    "CORE_CHECKS",
    "SIGMAS",
    "CheckResult",
    "CheckSkipped",
    "ConformanceError",
    "Report",
    "activation_checks",
    "as_initializer",
    "check_activation",
    "check_all",
    "check_initializer",
    "initializer_checks",
    "parametrize_with_checks",
    "sample_mean",
    "sample_variance",
]

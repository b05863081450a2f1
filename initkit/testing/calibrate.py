"""Measure a statistical check's false-failure rate: run it on a correct initializer over
many seeds and count the failures.

Each statistical check in :mod:`initkit.testing.checks` takes a ``seed`` keyword (its
default is the fixed seed the suite uses). A correct initializer fails a 5-standard-error
comparison with probability about 5.7e-7 (``stats.FALSE_FAILURE_RATE``), so over a few
hundred seeds the count must be 0; a tolerance taken from the wrong distribution (a
Gaussian SE for a heavy-tailed target) shows up as failures here long before users see
them. ``python -m initkit.testing.calibrate`` prints the table the checks' docstrings quote.

Example:
    >>> from initkit.testing.calibrate import false_failures
    >>> from initkit.testing.checks import check_mean
    >>> false_failures(check_mean, "xavier_uniform", range(20)).failures
    0
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .report import as_initializer


@dataclass(frozen=True)
class Calibration:
    """How often a check failed a correct initializer over ``seeds`` seeds."""

    check: str
    initializer: str
    seeds: int
    failures: int
    messages: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.failures / self.seeds if self.seeds else float("nan")

    def line(self) -> str:
        bound = 3.0 / self.seeds  # the 95% upper bound of a rate with 0 events in n trials
        extra = f" (rate <= {bound:.2g} at 95%)" if not self.failures else ""
        return (f"{self.check} on {self.initializer}: {self.failures} failures in "
                f"{self.seeds} seeds{extra}")


def false_failures(check: Callable[..., None], init: Any, seeds: Iterable[int]) -> Calibration:
    """Run ``check(init, seed=s)`` for every seed; count the AssertionErrors."""
    initializer = as_initializer(init)
    seeds = list(seeds)
    messages = []
    for seed in seeds:
        try:
            check(initializer, seed=seed)
        except AssertionError as exc:
            messages.append(f"seed {seed}: {exc}")
    return Calibration(check.__name__, initializer.name, len(seeds), len(messages), messages)


#: (check name, initializers) measured by ``python -m initkit.testing.calibrate``.
PLAN = (
    ("check_variance", ("he_normal", "xavier_uniform", "truncated_normal", "orthogonal")),
    ("check_mean", ("he_normal", "xavier_uniform", "truncated_normal", "orthogonal")),
    ("check_gain_scales", ("xavier_normal", "orthogonal")),
    ("check_mode_fan", ("he_normal", "he_uniform")),
)


def main(argv: list[str] | None = None) -> int:
    """Print one line per (check, initializer) over ``argv[0]`` seeds (default 200)."""
    from . import checks

    args = sys.argv[1:] if argv is None else argv
    n = int(args[0]) if args else 200
    only = set(args[1:])
    failed = 0
    for check_name, names in PLAN:
        for name in names:
            if only and name not in only:
                continue
            result = false_failures(getattr(checks, check_name), name, range(1000, 1000 + n))
            print(result.line(), flush=True)
            for message in result.messages[:3]:
                print("   ", message, flush=True)
            failed += result.failures
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

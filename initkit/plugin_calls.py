"""Turn an exception raised inside a plugin's code into one line with its context.

"raised ValueError: could not broadcast ..." says nothing a plugin author can act on. When
initkit calls a plugin's function (an initializer, its declared variance or mean, an
activation or its derivative) and that function raises, :func:`plugin_failure` builds a
:class:`initkit.errors.PluginCallError` whose message names the plugin, the item, the call
with its arguments (the requested shape and the keyword parameters) and the innermost frame
of the plugin's own module (``file:line``), e.g.::

    initializer 'scaled' (plugin 'more_inits') raised ValueError: could not broadcast ...
    in scaled(shape=(8, 4, 2, 2), rng, scale=2.0) at /home/me/more_inits.py:14

Errors initkit raises on purpose (``InitkitError``: a ``FanError`` from ``compute_fans``)
pass through unchanged. The new error also derives from the original exception's type (a
``ValueError`` stays catchable as one), and keeps the original as ``__cause__``.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

from .errors import PluginCallError


def _source_file(fn: Callable[..., Any]) -> str | None:
    """The file that defines ``fn`` (through ``functools.partial`` and decorators)."""
    target = fn
    while isinstance(target, functools.partial):
        target = target.func
    target = inspect.unwrap(target)
    code = getattr(target, "__code__", None)
    if code is None:
        code = getattr(type(target).__dict__.get("__call__"), "__code__", None)
    return os.path.realpath(code.co_filename) if code is not None else None


def plugin_frame(fn: Callable[..., Any], tb: TracebackType | None) -> str:
    """``file:line`` of the innermost traceback frame in ``fn``'s own file ("" if none)."""
    source = _source_file(fn)
    found = ""
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if source is not None and os.path.realpath(filename) == source:
            found = f"{filename}:{tb.tb_lineno}"
        tb = tb.tb_next
    return found


def describe_call(name: str, positional: Mapping[str, Any], params: Mapping[str, Any]) -> str:
    """``scaled(shape=(8, 4), rng, scale=2.0)``: the call as the plugin received it."""
    parts = [f"{k}={v!r}" if v is not None else k for k, v in positional.items()]
    parts += [f"{k}={v!r}" for k, v in params.items()]
    return f"{name}({', '.join(parts)})"


@functools.cache
def _error_type(original: type[BaseException]) -> type[PluginCallError]:
    """PluginCallError that is also an ``original`` (where the two can be combined)."""
    if not issubclass(original, Exception) or original is Exception:
        return PluginCallError
    try:
        return type(f"PluginCallError[{original.__name__}]", (PluginCallError, original),
                    {"__module__": PluginCallError.__module__, "__doc__": PluginCallError.__doc__,
                     "__str__": lambda self: str(self.args[0]) if self.args else "",
                     "__init__": lambda self, message: Exception.__init__(self, message),
                     # pickled (to a Dask client) as the plain error: the class is dynamic
                     "__reduce__": lambda self: (PluginCallError, self.args)})
    except TypeError:  # an incompatible layout: the plain error
        return PluginCallError


def plugin_failure(what: str, plugin: str, fn: Callable[..., Any], exc: BaseException,
                   call: str) -> PluginCallError:
    """The one-line error for ``exc`` raised by ``fn`` of ``what`` (e.g. "initializer 'x'")."""
    frame = plugin_frame(fn, exc.__traceback__)
    where = f" at {frame}" if frame else ""
    message = (f"{what} (plugin {plugin!r}) raised {type(exc).__name__}: {exc} in {call}"
               f"{where}; fix the plugin or call it with other arguments")
    return _error_type(type(exc))(message)

"""The ``submission`` proxy graders use: the student's names, reached only as data.

``submission.call("f", *args, **kwargs)`` asks the child to call ``f`` and returns what came
back over the pipe, decoded by :func:`initkit.grading.protocol.decode` and validated:
plain Python data and numpy arrays, finite unless :meth:`Submission.call_unchecked` is
used. A check that compares these values compares real floats and arrays built in the
trusted process, so a student object's rigged ``__eq__``/``__sub__``, a shadowed ``abs``
or a monkeypatched numpy in the child changes nothing.

Every failure that is the student's (a name not defined, the function raised, a value that
is not data or not finite, the notebook's process died or timed out) raises a subclass of
:class:`StudentError`, an ``AssertionError``: the check fails with a readable reason and
the grader carries on.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import protocol
from .delegation import Delegation, find_delegation
from .sandbox import ChildGone, Sandbox

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_SCALES = {"linear", "log", "symlog", "logit", "function", "functionlog", "asinh"}


class StudentError(AssertionError):
    """A check failed because of the submission; the message says why, for the student."""


class MissingName(StudentError):
    """The notebook does not define the requested name."""


class StudentException(StudentError):
    """The student's function raised an exception (its type and message are kept)."""


class BadValue(StudentError):
    """The value is not data, not finite, or not of the expected type/shape/dtype."""


class NotebookUnavailable(StudentError):
    """The notebook's process is gone (exited, crashed, timed out) or never started."""


@dataclass
class Line:
    """One line or scatter series of a figure, as data.

    Attributes:
        kind: ``"line"`` (``Axes.plot``) or ``"scatter"`` (``Axes.scatter``).
        x, y: 1-D float arrays of equal length.
        label: the legend label (matplotlib's ``_childN`` when unlabelled).
    """

    kind: str
    x: np.ndarray
    y: np.ndarray
    label: str


@dataclass
class Axes:
    """One axes of a figure: its labels, scales and series."""

    title: str
    xlabel: str
    ylabel: str
    xscale: str
    yscale: str
    lines: list[Line] = field(default_factory=list)


@dataclass
class Probe:
    """What one watched call did (:meth:`Submission.probe`), as data.

    Attributes:
        value: the validated return value (None when the call raised).
        error: ``"Type: message"`` of the exception the call raised, else None.
        error_type: the exception's type name, else None.
        calls: notebook function name -> how many times it ran during the call.
        forbidden: the forbidden kit implementations the function delegates to: those the
            trusted reading of the notebook's source found
            (:func:`initkit.grading.delegation.find_delegation`), then those the runtime
            watch in the child saw run (a second signal the student's process can blind).
        flagged: the trusted finding as one sentence for the feedback ("xavier_normal calls
            initkit.get_initializer('xavier_normal') on line 4 of code cell 3: the exercise
            is to write it; flagged for review"), else None.
        ran: the ``watch`` names whose code ran during the call (runtime only).
    """

    value: Any
    error: str | None
    error_type: str | None
    calls: dict[str, int]
    forbidden: list[str]
    flagged: str | None = None
    ran: list[str] = field(default_factory=list)

    def delegation_message(self, default: str) -> str | None:
        """Why the call does not count as the student's own work: the trusted evidence
        sentence, else ``default`` when only the runtime watch saw a forbidden run, else
        None (no delegation seen)."""
        if self.flagged:
            return self.flagged
        return default if self.forbidden else None


@dataclass
class Figure:
    """A figure the notebook left open or holds in a variable: its axes, the notebook
    variables that name it (``["fig"]``), and its PNG image (checked signature).

    The image is drawn in the child only when a check first reads :attr:`png` (drawing
    costs more than the data, and most checks read only the data), so read it while the
    submission's sandbox runs (within the pytest session).
    """

    number: int
    axes: list[Axes] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    _draw: Callable[[], bytes] | None = field(default=None, repr=False, compare=False)
    _png: bytes | None = field(default=None, repr=False, compare=False)

    @property
    def png(self) -> bytes:
        """The figure as a PNG image at 60 dpi (empty if it cannot be drawn)."""
        if self._png is None:
            self._png = self._draw() if self._draw is not None else b""
        return self._png


class Submission:
    """Trusted-side proxy of one running submission.

    Args:
        sandbox: a started :class:`~initkit.grading.sandbox.Sandbox`.
    """

    def __init__(self, sandbox: Sandbox):
        self.sandbox = sandbox
        self._figures: list[Figure] | None = None
        self._delegations: dict[tuple[str, tuple[str, ...]], Delegation | None] = {}

    # ------------------------------------------------------------------ public API

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call the student's function ``name`` in the child; return its validated result.

        Raises:
            StudentError: the name is missing, the call raised, or the result is not
                finite data.
        """
        return self._call(name, args, kwargs, finite=True)

    def call_many(self, name: str, arg_lists: Iterable[tuple | list], *,
                  finite: bool = True) -> list[Any]:
        """``[call(name, *args) for args in arg_lists]`` in one round trip to the child.

        For a check that calls the same function many times (300 draws of a random matrix
        for a distribution test): one request instead of one per call, the same values.
        The whole batch must finish within one cell timeout.

        Raises:
            StudentError: the name is missing, a call raised (the message says which), or
                a result is not (finite) data.
        """
        calls = [list(args) for args in arg_lists]
        tree, blobs = protocol.encode(calls)
        _refuse_opaque(tree)
        values = self._value(self._request({"op": "calls", "name": _name(name), "args": tree},
                                           blobs))
        if not isinstance(values, list) or len(values) != len(calls):
            raise BadValue(f"the notebook sent {name}'s results in an unexpected form")
        return [_validated(v, finite, f"{name}(...) returned a value that") for v in values]

    def call_unchecked(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Like :meth:`call`, but NaN and infinities are returned instead of refused."""
        return self._call(name, args, kwargs, finite=False)

    def probe(self, name: str, *args: Any, hide: tuple[str, ...] | list[str] = (),
              spy: tuple[str, ...] | list[str] = (), forbid: tuple[str, ...] | list[str] = (),
              watch: tuple[str, ...] | list[str] = (), finite: bool = True,
              **kwargs: Any) -> Probe:
        """Call ``name`` inside the notebook's process with names hidden or watched.

        Args:
            name: the student's function.
            *args, **kwargs: its arguments (data only).
            hide: notebook names removed for the duration of the call (then restored), e.g.
                to check that ``sum_of_squares`` really calls ``squares``.
            spy: notebook functions whose calls are counted (``Probe.calls``), e.g. to
                check that the training run used the student's ``he_normal``.
            forbid: dotted names of the kit's own implementations the function must not
                delegate to (e.g. ``"initkit.builtin_initializers.xavier_normal"``);
                ``Probe.forbidden`` lists those the notebook's source reaches (decided
                here, from the cells: :meth:`delegation`) or whose code ran during the call
                (seen in the child), ``Probe.flagged`` the source evidence.
            watch: dotted names of kit implementations the call is expected to run (e.g.
                ``"initkit.train.fit"``); ``Probe.ran`` lists those whose code ran
                (runtime evidence only, no source check: a function meant to use the kit).
            finite: refuse NaN and infinities in the value.

        Returns:
            A :class:`Probe`; an exception of the call is in ``Probe.error``, not raised.

        Raises:
            StudentError: the name is missing, or the value is not (finite) data.
            GraderError: a ``forbid``/``watch`` name names no importable object (a misspelled
                name would never match): the grader's mistake, never the student's.
        """
        for dotted in (*forbid, *watch):
            _require_object(str(dotted), name)
        tree_args, blobs = protocol.encode(list(args))
        tree_kwargs, blobs2 = protocol.encode(dict(kwargs))
        _refuse_opaque(tree_args)
        _refuse_opaque(tree_kwargs)
        header = {"op": "probe", "name": _name(name), "args": tree_args,
                  "kwargs": _shift_blobs(tree_kwargs, len(blobs)),
                  "hide": [_name(n) for n in hide], "spy": [_name(n) for n in spy],
                  "forbid": [str(d) for d in (*forbid, *watch)]}
        raw = self._value(self._request(header, blobs + blobs2))
        if not isinstance(raw, dict) or not isinstance(raw.get("calls"), dict):
            raise BadValue("the notebook sent a malformed probe result")
        err = raw.get("error") if isinstance(raw.get("error"), dict) else None
        error_type = str(err.get("type", "Error"))[:100] if err else None
        message = str(err.get("message", ""))[:2000] if err else ""
        value = None if err else _validated(raw.get("value"), finite,
                                            f"{name}(...) returned a value that")
        calls = {str(k): int(v) for k, v in raw["calls"].items()
                 if type(v) is int and str(k) in spy}
        seen = [str(d) for d in raw.get("forbidden", []) if isinstance(d, str)] \
            if isinstance(raw.get("forbidden"), list) else []
        found = self.delegation(name, forbid) if forbid else None
        forbidden = [found.target] if found else []
        forbidden += [d for d in seen if d in set(map(str, forbid)) and d not in forbidden]
        ran = [d for d in seen if d in set(map(str, watch))]
        return Probe(value=value, error=f"{error_type}: {message}" if err else None,
                     error_type=error_type, calls=calls, forbidden=forbidden,
                     flagged=found.sentence() if found else None, ran=ran)

    def delegation(self, name: str, forbid: tuple[str, ...] | list[str]) -> Delegation | None:
        """Whether the notebook's ``name`` delegates to one of the kit's ``forbid``
        implementations, decided in this (trusted) process from the cells' source alone.

        Returns:
            The evidence (:class:`~initkit.grading.delegation.Delegation`, whose
            ``sentence()`` is the feedback), or None: the source shows no delegation, or
            there is no source to read (the in-kernel transport of nbgrader's cells).
        """
        key = (_name(name), tuple(str(d) for d in forbid))
        if key not in self._delegations:
            cells = getattr(self.sandbox, "cells_src", None)
            self._delegations[key] = find_delegation(list(cells), key[0], key[1]) \
                if cells is not None and key[1] else None
        return self._delegations[key]

    def get(self, name: str, *, finite: bool = True) -> Any:
        """Read the student's variable ``name`` (validated data)."""
        value = self._value(self._request({"op": "get", "name": _name(name)}))
        return _validated(value, finite, f"variable {name!r}")

    def __contains__(self, name: str) -> bool:
        return self._value(self._request({"op": "has", "name": _name(name)})) is True

    @property
    def figures(self) -> list[Figure]:
        """The figures the notebook made (open at the end of its cells), as data."""
        if self._figures is None:
            raw = self._value(self._request({"op": "figures"}))
            self._figures = _parse_figures(raw, self._png)
        return self._figures

    def _png(self, index: int) -> bytes:
        """The image of the ``index``-th figure of :attr:`figures`, drawn in the child."""
        png = self._value(self._request({"op": "png", "index": index}))
        if not isinstance(png, bytes) or (png and not png.startswith(_PNG_SIGNATURE)):
            raise BadValue("a figure's image is not PNG data")
        return png

    def figure(self, name: str) -> Figure:
        """The figure the notebook's variable ``name`` holds.

        Raises:
            MissingName: no variable of that name holds a matplotlib figure.
        """
        for fig in self.figures:
            if name in fig.names:
                return fig
        raise MissingName(f"no variable {name!r} holding a matplotlib Figure: make the "
                          f"figure with `{name}, ax = plt.subplots()` and keep `{name}`")

    @property
    def cell_errors(self) -> list[tuple[int, str, str]]:
        """``(cell number from 1, error type, message)`` of every code cell that raised."""
        return [(c.index + 1, c.error_type, c.error_message or "")
                for c in self.sandbox.cells if c.error_type]

    # ------------------------------------------------------------------ internals

    def _call(self, name: str, args: tuple, kwargs: dict, finite: bool) -> Any:
        tree_args, blobs = protocol.encode(list(args))
        tree_kwargs, blobs2 = protocol.encode(dict(kwargs))
        _refuse_opaque(tree_args)
        _refuse_opaque(tree_kwargs)
        tree_kwargs = _shift_blobs(tree_kwargs, len(blobs))
        header = {"op": "call", "name": _name(name), "args": tree_args, "kwargs": tree_kwargs}
        value = self._value(self._request(header, blobs + blobs2))
        return _validated(value, finite, f"{name}(...) returned a value that")

    def _request(self, header: dict, blobs: list[bytes] = ()) -> tuple[dict, list[bytes]]:
        try:
            return self.sandbox.request(header, blobs)
        except ChildGone as exc:
            raise NotebookUnavailable(f"the notebook cannot answer: {exc}") from None

    def _value(self, reply: tuple[dict, list[bytes]]) -> Any:
        header, blobs = reply
        if header.get("ok") is not True:
            err = header.get("error") if isinstance(header.get("error"), dict) else {}
            etype = str(err.get("type", "Error"))[:100]
            msg = str(err.get("message", ""))[:2000]
            if etype == "NameError":
                raise MissingName(f"{msg}: run the notebook top to bottom and check the name")
            raise StudentException(f"{etype}: {msg}" if msg else etype)
        try:
            return protocol.decode(header.get("value"), blobs)
        except protocol.ProtocolError as exc:
            raise BadValue(f"the notebook sent malformed data: {exc}") from None


def _name(name: str) -> str:
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"{name!r} is not a Python identifier")
    return name


def _validated(value: Any, finite: bool, what: str) -> Any:
    try:
        return protocol.validate(value, finite=finite, what=what)
    except (TypeError, ValueError) as exc:
        raise BadValue(str(exc).replace("returned a value that is", "returned")) from None


def _refuse_opaque(tree: Any) -> None:
    if isinstance(tree, dict):
        if tree.get("$") == "opaque":
            raise TypeError(f"cannot send an object of type {tree.get('type')} to the "
                            "notebook: only data (numbers, str, lists, dicts, arrays)")
        for v in tree.values():
            _refuse_opaque(v)
    elif isinstance(tree, list):
        for v in tree:
            _refuse_opaque(v)


def _shift_blobs(tree: Any, offset: int) -> Any:
    if isinstance(tree, dict):
        if tree.get("$") in ("nd", "bytes"):
            return dict(tree, i=tree["i"] + offset)
        return {k: _shift_blobs(v, offset) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_shift_blobs(v, offset) for v in tree]
    return tree


def _parse_figures(raw: Any, draw: Callable[[int], bytes]) -> list[Figure]:
    """Build :class:`Figure` objects from decoded data, checking every field's type;
    ``draw(i)`` fetches the image of the ``i``-th when a check reads it."""
    if not isinstance(raw, list):
        raise BadValue("the notebook sent figures in an unexpected form")
    figures = []
    for position, f in enumerate(raw):
        if not isinstance(f, dict):
            raise BadValue("a figure is not a record")
        axes = []
        for a in f.get("axes", []) if isinstance(f.get("axes"), list) else []:
            if not isinstance(a, dict):
                continue
            lines = []
            for s in a.get("lines", []) if isinstance(a.get("lines"), list) else []:
                if not isinstance(s, dict):
                    continue
                x, y = _series(s.get("x")), _series(s.get("y"))
                if x is None or y is None or x.shape != y.shape:
                    continue
                kind = s.get("kind") if s.get("kind") in ("line", "scatter") else "line"
                lines.append(Line(kind=kind, x=x, y=y, label=_str(s.get("label"))))
            axes.append(Axes(title=_str(a.get("title")), xlabel=_str(a.get("xlabel")),
                             ylabel=_str(a.get("ylabel")), xscale=_scale(a.get("xscale")),
                             yscale=_scale(a.get("yscale")), lines=lines))
        number = f.get("number")
        names = [n[:100] for n in f.get("names", []) if isinstance(n, str)] \
            if isinstance(f.get("names"), list) else []
        figures.append(Figure(number=number if type(number) is int else len(figures) + 1,
                              axes=axes, names=names,
                              _draw=functools.partial(draw, position)))
    return figures


def _series(v: Any) -> np.ndarray | None:
    if isinstance(v, np.ndarray) and v.dtype.kind in "biuf" and v.ndim == 1:
        return v.astype(float)
    if isinstance(v, list) and all(type(x) in (int, float) for x in v):
        return np.asarray(v, dtype=float)
    return None


def _str(v: Any) -> str:
    return v[:500] if isinstance(v, str) else ""


def _scale(v: Any) -> str:
    return v if isinstance(v, str) and v in _SCALES else "linear"


def expect(value: Any, kind: type | tuple[type, ...] | None = None, *,
           shape: tuple[int, ...] | None = None, dtype: str | None = None,
           finite: bool = True, what: str = "the value") -> Any:
    """Assert ``value`` has the expected type / shape / dtype kind and is finite.

    Args:
        value: a value from :meth:`Submission.call` or :meth:`Submission.get`.
        kind: expected Python type(s); ``float`` also accepts ``int``.
        shape: expected array shape (the value must then be a numpy array).
        dtype: expected numpy dtype kind(s), e.g. ``"f"`` or ``"iu"``.
        finite: refuse NaN and infinities.
        what: how the failure message names the value.

    Returns:
        ``value`` (a plain ``float`` when ``kind`` is float).

    Raises:
        BadValue: with a message the student can act on.
    """
    if kind is not None:
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if float in kinds and type(value) is int:
            value = float(value)
        if float in kinds and isinstance(value, np.ndarray) and value.shape == ():
            value = float(value)
        if type(value) is bool and bool not in kinds or not isinstance(value, kinds):
            names = " or ".join(k.__name__ for k in kinds)
            raise BadValue(f"{what} should be a {names}, got {_describe(value)}")
    if shape is not None or dtype is not None:
        if not isinstance(value, np.ndarray):
            raise BadValue(f"{what} should be a numpy array, got {_describe(value)}")
        if shape is not None and tuple(value.shape) != tuple(shape):
            raise BadValue(f"{what} should have shape {tuple(shape)}, got {value.shape}")
        if dtype is not None and value.dtype.kind not in dtype:
            raise BadValue(f"{what} should have a dtype of kind {dtype!r}, got {value.dtype}")
    if finite:
        if type(value) is float and not math.isfinite(value):
            raise BadValue(f"{what} is {value}, not a finite number")
        _validated(value, True, what)
    return value


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, protocol.Opaque):
        return f"an object of type {value.type_name}"
    return f"a {type(value).__name__}"


@functools.cache
def _require_object(dotted: str, probed: str) -> None:
    """Import ``dotted`` (``package.module.attr``) here, in the trusted process, as the
    child resolves it (:func:`initkit.grading.child.resolve_dotted`).

    Raises:
        GraderError: it names nothing importable.
    """
    from ..errors import GraderError
    from .child import resolve_dotted

    try:
        resolve_dotted(dotted)
        return
    except (ImportError, AttributeError):
        pass
    raise GraderError(f"probe({probed!r}, forbid/watch=...) names {dotted!r}, which is not an "
                      "importable object: fix the grader (a misspelled name never matches, so "
                      "a student who delegates would pass)")

"""The data-only wire format between the trusted grader and the sandboxed child.

A *message* is one JSON header frame followed by ``header["nblobs"]`` binary frames; every
frame is an 8-byte big-endian length and that many bytes. Values travel as a tagged JSON
tree: ``None``, ``bool``, ``int``, finite ``float``, ``str`` and lists are plain JSON;
everything else is a one-key-``"$"`` object:

===================================  ================================================
``{"$": "float", "v": "nan"}``       a non-finite float (``nan``, ``inf``, ``-inf``)
``{"$": "nd", "i": k}``              a numpy array, blob ``k`` in ``.npy`` format
``{"$": "bytes", "i": k}``           raw bytes, blob ``k``
``{"$": "tuple", "v": [...]}``       a tuple
``{"$": "dict", "v": [[k, v], ...]}``  a dict whose keys are str or int
``{"$": "opaque", "type": "T"}``     an object that is not data (the trusted side refuses it)
``{"$": "rng", "seed": n}``          a seed for a fresh ``numpy.random.default_rng(n)``
===================================  ================================================

A grader passes a random generator to a student's function as :class:`Rng` (``Rng(7)``):
only its seed crosses, and the child hands the function ``numpy.random.default_rng(7)``
(:func:`materialize`), so "same seed, same draw" can be checked from outside.

The trusted side decodes with :func:`decode` only: ``json.loads`` that refuses the
``NaN``/``Infinity`` literals, and for arrays a strict pattern of ``numpy.save``'s own
header (numeric/bool/str dtypes, C order, data exactly as long as the shape says), anything
else going to ``numpy.load(..., allow_pickle=False)``. Nothing
the child sends is ever unpickled, imported or evaluated, and every value is checked on
arrival (:func:`validate`): only the types above, numeric/bool/str arrays only, bounded
sizes and depth. A rigged ``__eq__``/``__sub__`` cannot cross the pipe: only its data can.
This is the design of Python's own ``multiprocessing`` without its pickle (see the warning in
https://docs.python.org/3/library/pickle.html: "never unpickle data received from an
untrusted source").

What a reply may cost the trusted process is bounded *before* ``json.loads`` builds anything
(:func:`loads_header`): the JSON part of a message is at most :data:`MAX_HEADER` bytes (the
length prefix is checked before the bytes are read), holds at most :data:`MAX_ITEMS` JSON
values and nests at most :data:`MAX_JSON_DEPTH` levels, counted on the raw bytes with the
strings blanked out. Without the item bound, 24 MB of ``[[],[],...]`` (8 million empty lists,
all valid) grows the reader from 78 MB to 1.2 GB: a Python list costs 56 bytes, its JSON
three. Arrays are not limited by these: they travel as binary blobs. A violation is a
:class:`ProtocolError`: the check that asked fails with it, as the student's invalid reply.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import struct
from typing import Any

import numpy as np

#: Largest frame either side accepts (bytes); bigger means a protocol error.
MAX_FRAME = 256 * 1024 * 1024
#: Most bytes a reader holds at once (frames of unread messages plus partial input).
MAX_MESSAGE = 256 * 1024 * 1024
#: Most binary blobs one message may carry.
MAX_BLOBS = 4096
#: Deepest nesting of lists/dicts/tuples accepted.
MAX_DEPTH = 32
#: Largest JSON part (header frame) of a message, in bytes; large data travel as blobs.
MAX_HEADER = 4 * 1024 * 1024
#: Most JSON values (scalars and containers) in one header: 200,000 objects of at most a few
#: hundred bytes each, so a header never costs the reader more than some tens of MB.
MAX_ITEMS = 200_000
#: Deepest JSON nesting of a header: a tagged dict costs 3 levels per level of the value
#: (``{"$": "dict", "v": [[k, v]]}``), plus the header object and an opaque marker.
MAX_JSON_DEPTH = 3 * (MAX_DEPTH + 2) + 2
#: Array dtype kinds that may cross: bool, signed, unsigned, float, complex, bytes, unicode.
ALLOWED_KINDS = frozenset("biufcSU")

_HEADER = struct.Struct(">Q")


class ProtocolError(Exception):
    """The other side sent something that is not a well-formed, data-only message."""


# ----------------------------------------------------------------------------- encoding


def encode(value: Any) -> tuple[Any, list[bytes]]:
    """Turn a Python value into a tagged JSON tree and its binary blobs.

    Used by the child (on the student's values) and by the trusted side (on arguments).
    Exact type checks (``type(v) is float``) plus the base class's own methods mean a
    subclass's overridden dunders are never what produces the data.

    Args:
        value: any value; objects that are not data become ``{"$": "opaque"}``.

    Returns:
        ``(tree, blobs)``, ready for :func:`pack`.
    """
    blobs: list[bytes] = []
    return _enc(value, blobs, 0), blobs


class Rng:
    """A ``numpy.random.Generator`` to be made on the other side: ``default_rng(seed)``."""

    __slots__ = ("seed",)

    def __init__(self, seed: int):
        if type(seed) is not int or not 0 <= seed < 2**63:
            raise ValueError(f"an Rng seed is an int in [0, 2**63), got {seed!r}")
        self.seed = seed

    def __repr__(self) -> str:
        return f"Rng({self.seed})"


def materialize(value: Any) -> Any:
    """``value`` with every :class:`Rng` replaced by ``numpy.random.default_rng(seed)``."""
    if isinstance(value, Rng):
        return np.random.default_rng(value.seed)
    if type(value) is list:
        return [materialize(x) for x in value]
    if type(value) is tuple:
        return tuple(materialize(x) for x in value)
    if type(value) is dict:
        return {k: materialize(x) for k, x in value.items()}
    return value


def _enc(v: Any, blobs: list[bytes], depth: int) -> Any:
    if depth > MAX_DEPTH:
        return {"$": "opaque", "type": f"nesting deeper than {MAX_DEPTH}"}
    if v is None or v is True or v is False:
        return v
    if isinstance(v, Rng):
        return {"$": "rng", "seed": v.seed}
    if isinstance(v, bool | np.bool_):
        return bool(v)
    if isinstance(v, int | np.integer) and not isinstance(v, bool):
        return int.__index__(v) if isinstance(v, int) else int(v)
    if isinstance(v, float | np.floating):
        f = float.__float__(v) if isinstance(v, float) else float(v)
        return f if math.isfinite(f) else {"$": "float", "v": repr(f)}
    if isinstance(v, str):
        return str.__str__(v)
    if isinstance(v, bytes | bytearray):
        blobs.append(bytes(v))
        return {"$": "bytes", "i": len(blobs) - 1}
    if isinstance(v, np.ndarray | np.generic) or _is_array_like(v):
        try:
            arr = np.asarray(v)
            if arr.dtype.kind not in ALLOWED_KINDS:
                return {"$": "opaque", "type": f"array of dtype {arr.dtype}"}
            buf = io.BytesIO()
            np.save(buf, np.ascontiguousarray(arr), allow_pickle=False)
        except Exception as exc:  # a broken array subclass: report, never crash
            return {"$": "opaque", "type": f"array ({type(exc).__name__})"}
        blobs.append(buf.getvalue())
        return {"$": "nd", "i": len(blobs) - 1}
    if isinstance(v, list):
        return [_enc(x, blobs, depth + 1) for x in list.__iter__(v)]
    if isinstance(v, tuple):
        return {"$": "tuple", "v": [_enc(x, blobs, depth + 1) for x in tuple.__iter__(v)]}
    if isinstance(v, dict):
        items = []
        for k, x in dict.items(v):
            if not isinstance(k, str | int) or isinstance(k, bool):
                return {"$": "opaque", "type": f"dict with {type(k).__name__} keys"}
            items.append([_enc(k, blobs, depth + 1), _enc(x, blobs, depth + 1)])
        return {"$": "dict", "v": items}
    return {"$": "opaque", "type": _type_name(v)}


def _is_array_like(v: Any) -> bool:
    # memoryview and array.array: buffer-protocol data
    return isinstance(v, memoryview) or type(v).__module__ == "array"


def _type_name(v: Any) -> str:
    t = type(v)
    mod = getattr(t, "__module__", "") or ""
    name = getattr(t, "__qualname__", "?")
    return f"{mod}.{name}" if mod not in ("builtins", "") else str(name)


# ----------------------------------------------------------------------------- framing


def pack(header: dict, blobs: list[bytes] = ()) -> bytes:
    """Serialise one message: the JSON header (with ``nblobs`` set) and its blobs."""
    header = dict(header, nblobs=len(blobs))
    data = json.dumps(header, allow_nan=False, separators=(",", ":")).encode()
    parts = [_HEADER.pack(len(data)), data]
    for blob in blobs:
        parts += [_HEADER.pack(len(blob)), blob]
    return b"".join(parts)


def write_message(fd: int, header: dict, blobs: list[bytes] = ()) -> None:
    """Write one whole message to a pipe file descriptor (blocking)."""
    write_bytes(fd, pack(header, blobs))


def write_bytes(fd: int, data: bytes) -> None:
    """Write already packed bytes (:func:`pack`) to a pipe file descriptor (blocking)."""
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


class FrameReader:
    """Incremental parser: feed it bytes as they arrive, take whole messages out.

    Used by the trusted side with a non-blocking pipe, so a silent or slow child can be
    timed out, and a child that sends garbage gets a :class:`ProtocolError`. What it holds
    is bounded: no frame over ``max_frame`` bytes, no message with more than ``max_blobs``
    blobs (checked as soon as the header arrives), and never more than ``max_total`` bytes
    buffered in all (whole frames kept plus the partial input), so a child streaming an
    endless message cannot fill the trusted process's memory.
    """

    def __init__(self, max_frame: int = MAX_FRAME, max_total: int = MAX_MESSAGE,
                 max_blobs: int = MAX_BLOBS, max_header: int = MAX_HEADER):
        self._buf = bytearray()
        self._done: list[tuple[dict, list[bytes], int]] = []
        self._header: dict | None = None
        self._blobs: list[bytes] = []
        self._need = 0
        self._held = 0
        self._max = min(max_frame, max_total)
        self._max_total = max_total
        self._max_blobs = max_blobs
        self._max_header = max_header

    def _check_total(self) -> None:
        if self._held + len(self._buf) > self._max_total:
            raise ProtocolError(f"more than {self._max_total} bytes of messages at once")

    def feed(self, data: bytes) -> None:
        """Append bytes read from the pipe.

        Raises:
            ProtocolError: a frame, a blob count or the bytes held exceed the limits, or a
                header is not a JSON object with a valid ``nblobs``.
        """
        self._buf += data
        self._check_total()
        while len(self._buf) >= _HEADER.size:
            (n,) = _HEADER.unpack_from(self._buf)
            if n > self._max:
                raise ProtocolError(f"frame of {n} bytes exceeds the {self._max}-byte limit")
            if self._header is None and n > self._max_header:
                raise ProtocolError(f"a message's JSON part of {n} bytes exceeds the "
                                    f"{self._max_header}-byte limit (return large data as "
                                    "numpy arrays)")
            if len(self._buf) < _HEADER.size + n:
                break
            frame = bytes(self._buf[_HEADER.size:_HEADER.size + n])
            del self._buf[:_HEADER.size + n]
            self._held += n
            if self._header is None:
                header = loads_header(frame)
                k = header.get("nblobs", 0)
                if type(k) is not int or not 0 <= k <= self._max_blobs:
                    raise ProtocolError("header field 'nblobs' is not an int from 0 to "
                                        f"{self._max_blobs}")
                self._header, self._need, self._size = header, k, n
            else:
                self._blobs.append(frame)
                self._need -= 1
                self._size += n
            if self._need == 0:
                self._done.append((self._header, self._blobs, self._size))
                self._header, self._blobs = None, []
        self._check_total()

    def message(self) -> tuple[dict, list[bytes]] | None:
        """Return the next complete ``(header, blobs)``, or None if not all here yet."""
        if not self._done:
            return None
        header, blobs, size = self._done.pop(0)
        self._held -= size
        return header, blobs


def read_message(fd: int) -> tuple[dict, list[bytes]]:
    """Blocking read of one message (used by the child, which trusts nobody either)."""
    reader = FrameReader()
    while True:
        msg = reader.message()
        if msg is not None:
            return msg
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            raise EOFError("pipe closed")
        reader.feed(chunk)


def _reject_constant(name: str) -> Any:
    raise ProtocolError(f"non-standard JSON constant {name!r}")


def check_json_shape(data: bytes, max_items: int = MAX_ITEMS,
                     max_depth: int = MAX_JSON_DEPTH, what: str = "a message's JSON part"
                     ) -> None:
    """Refuse JSON text with more than ``max_items`` values or deeper than ``max_depth``.

    Counted on the raw bytes, before any Python object is built: a document holds
    ``1 + commas + non-empty containers`` values (a container of k >= 1 items has k - 1
    commas), and its depth is the running maximum of opening minus closing brackets. Only
    the structure counts: escaped backslashes and quotes are dropped (``bytes.replace``),
    the remaining quotes delimit strings (a running parity, in numpy), and everything
    inside a string is ignored, so brackets and commas in text do not count. The common
    case (a header with few brackets) costs two ``bytes.count`` calls; otherwise the scan
    is linear, about a second and five times the text's size in temporary arrays for a
    20 MB notebook (a 4 MB reply: a fifth of that).

    Raises:
        ProtocolError: too many values or too deep, with the numbers.
    """
    opens = data.count(b"[") + data.count(b"{")
    if opens + data.count(b",") + 1 <= max_items and opens <= max_depth:
        return
    raw = np.frombuffer(data.replace(b"\\\\", b"").replace(b'\\"', b""), dtype=np.uint8)
    quote = raw == ord('"')
    inside = np.bitwise_xor.accumulate(quote.view(np.uint8)).view(bool)  # from an opening
    # quote up to, not including, its closing one; keep each string's opening quote only
    keep = ~(inside & ~quote) & ~(quote & ~inside)
    keep &= (raw != ord(" ")) & (raw != ord("\n")) & (raw != ord("\r")) & (raw != ord("\t"))
    stream = raw[keep]
    del raw, quote, inside, keep
    is_open = (stream == ord("[")) | (stream == ord("{"))
    is_close = (stream == ord("]")) | (stream == ord("}"))
    empty = int(np.count_nonzero(is_open[:-1] & is_close[1:]))
    containers = int(np.count_nonzero(is_open))
    items = 1 + int(np.count_nonzero(stream == ord(","))) + containers - empty
    if items > max_items:
        raise ProtocolError(f"{what} holds {items} values, more than the {max_items} "
                            "allowed (return large data as numpy arrays)")
    if containers > max_depth:
        steps = is_open[is_open | is_close].astype(np.int32) * 2 - 1  # +1 open, -1 close
        depth = int(np.cumsum(steps).max()) if steps.size else 0
        if depth > max_depth:
            raise ProtocolError(f"{what} nests {depth} levels deep, more than the "
                                f"{max_depth} allowed")


def loads_header(data: bytes, max_bytes: int = MAX_HEADER) -> dict:
    """Parse a JSON header strictly (no NaN/Infinity literals, must be an object), after
    bounding its size, its number of values and its depth (:func:`check_json_shape`)."""
    if len(data) > max_bytes:
        raise ProtocolError(f"a message's JSON part of {len(data)} bytes exceeds the "
                            f"{max_bytes}-byte limit (return large data as numpy arrays)")
    check_json_shape(data)
    try:
        header = json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        # ValueError: also an int of more digits than Python converts (sys.int_info)
        raise ProtocolError(f"header is not JSON: {exc}") from None
    if not isinstance(header, dict):
        raise ProtocolError("header is not a JSON object")
    return header


# ----------------------------------------------------------------------------- decoding


def decode(tree: Any, blobs: list[bytes]) -> Any:
    """Rebuild a value from its tagged tree, validating every node (trusted side).

    Args:
        tree: the JSON tree from :func:`encode`, as parsed by :func:`loads_header`.
        blobs: the message's binary frames.

    Returns:
        Plain Python data: None, bool, int, float, str, bytes, list, tuple, dict,
        :class:`Opaque` and ``numpy.ndarray`` (numeric, bool or string dtypes only).

    Raises:
        ProtocolError: anything malformed (unknown tag, bad blob index, pickled array...).
    """
    return _dec(tree, blobs, 0)


class Opaque:
    """Stands for a student object that is not data; it only knows its type's name."""

    __slots__ = ("type_name",)

    def __init__(self, type_name: str):
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"<object of type {self.type_name}>"


def _dec(t: Any, blobs: list[bytes], depth: int) -> Any:
    if depth > MAX_DEPTH + 1:
        raise ProtocolError("value nested too deeply")
    if t is None or type(t) in (bool, int, str):
        return t
    if type(t) is float:
        if not math.isfinite(t):
            raise ProtocolError("bare non-finite float")
        return t
    if type(t) is list:
        return [_dec(x, blobs, depth + 1) for x in t]
    if type(t) is not dict or "$" not in t:
        raise ProtocolError(f"unexpected JSON node of type {type(t).__name__}")
    tag = t["$"]
    if tag == "float":
        if t.get("v") not in ("nan", "inf", "-inf"):
            raise ProtocolError(f"bad float tag value {t.get('v')!r}")
        return float(t["v"])
    if tag in ("nd", "bytes"):
        i = t.get("i")
        if type(i) is not int or not 0 <= i < len(blobs):
            raise ProtocolError(f"blob index {i!r} out of range")
        if tag == "bytes":
            return blobs[i]
        return _load_array(blobs[i])
    if tag == "tuple":
        v = t.get("v")
        if type(v) is not list:
            raise ProtocolError("tuple without a list")
        return tuple(_dec(x, blobs, depth + 1) for x in v)
    if tag == "dict":
        out = {}
        v = t.get("v")
        if type(v) is not list:
            raise ProtocolError("dict without a list of pairs")
        for pair in v:
            if type(pair) is not list or len(pair) != 2:
                raise ProtocolError("dict item is not a pair")
            k = _dec(pair[0], blobs, depth + 1)
            if type(k) not in (str, int):
                raise ProtocolError("dict key is not str or int")
            out[k] = _dec(pair[1], blobs, depth + 1)
        return out
    if tag == "opaque":
        return Opaque(str(t.get("type", "?"))[:200])
    if tag == "rng":
        try:
            return Rng(t.get("seed"))
        except ValueError as exc:
            raise ProtocolError(str(exc)) from None
    raise ProtocolError(f"unknown tag {tag!r}")


#: The header ``numpy.save`` writes for a C-ordered array, format 1.0: magic, version, a
#: 2-byte length, the dict with its three keys in this order (a dtype of the allowed kinds,
#: as numpy writes it), spaces, a newline.
_NPY_V1 = re.compile(rb"\x93NUMPY\x01\x00..\{'descr': '([<>|][biufcSU][0-9]{0,3})', "
                     rb"'fortran_order': False, 'shape': \(((?:[0-9]{1,12}, ?){0,32}"
                     rb"[0-9]{0,12})\), \} *\n", re.S)


def _fast_array(blob: bytes) -> np.ndarray | None:
    """The array of a plain ``numpy.save`` blob read without ``ast.literal_eval`` (numpy's
    header parser, ~50 us a header; ex03's checks receive 900 arrays), or None for any
    other blob, which :func:`_load_array` then reads with ``numpy.load``."""
    m = _NPY_V1.match(blob)
    if m is None or len(m.group(0)) != 10 + int.from_bytes(blob[8:10], "little"):
        return None
    try:
        dtype = np.dtype(m.group(1).decode("ascii"))
    except TypeError:
        return None
    shape = tuple(int(d) for d in m.group(2).split(b",") if d.strip())
    size = math.prod(shape) * dtype.itemsize
    if dtype.kind not in ALLOWED_KINDS or not dtype.itemsize or len(blob) - m.end() != size:
        return None  # a zero-width dtype ('<U0') is numpy.load's to refuse
    return np.frombuffer(blob, dtype=dtype, offset=m.end()).reshape(shape).copy()


def _load_array(blob: bytes) -> np.ndarray:
    fast = _fast_array(blob)
    if fast is not None:
        return fast
    try:
        arr = np.load(io.BytesIO(blob), allow_pickle=False)
    except Exception as exc:  # ValueError for object arrays, others for garbage
        raise ProtocolError(f"array blob is not a plain .npy array: {exc}") from None
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in ALLOWED_KINDS:
        raise ProtocolError(f"array dtype {getattr(arr, 'dtype', '?')} is not allowed")
    if arr.dtype.fields is not None:
        raise ProtocolError("structured arrays are not allowed")
    return arr


def validate(value: Any, *, finite: bool = True, what: str = "value") -> Any:
    """Check a decoded value is data (and finite, unless ``finite=False``).

    Args:
        value: output of :func:`decode`.
        finite: also refuse NaN and infinities anywhere in the value.
        what: how to name the value in the error message.

    Returns:
        ``value`` unchanged.

    Raises:
        TypeError: an :class:`Opaque` object somewhere inside.
        ValueError: a NaN or infinity, when ``finite``.
    """
    if isinstance(value, Opaque | Rng):
        name = value.type_name if isinstance(value, Opaque) else "Rng"
        raise TypeError(f"{what} is an object of type {name}, not data "
                        "(return numbers, strings, lists, dicts or numpy arrays)")
    if finite and type(value) is float and not math.isfinite(value):
        raise ValueError(f"{what} is {value!r}, not a finite number")
    if finite and isinstance(value, np.ndarray) and value.dtype.kind in "fc":
        if not np.all(np.isfinite(value)):
            bad = int(np.size(value) - np.count_nonzero(np.isfinite(value)))
            raise ValueError(f"{what} contains {bad} NaN or infinite entries")
    if isinstance(value, list | tuple):
        for i, x in enumerate(value):
            validate(x, finite=finite, what=f"{what}[{i}]")
    if isinstance(value, dict):
        for k, x in value.items():
            validate(x, finite=finite, what=f"{what}[{k!r}]")
    return value

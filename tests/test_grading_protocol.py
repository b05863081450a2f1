"""The data-only wire format: what crosses, what is refused, and how it is validated."""

import io
import math
import os

import numpy as np
import pytest

from initkit.grading import protocol


def roundtrip(value):
    tree, blobs = protocol.encode(value)
    reader = protocol.FrameReader()
    reader.feed(protocol.pack({"value": tree}, blobs))
    header, got_blobs = reader.message()
    return protocol.decode(header["value"], got_blobs)


def test_plain_data_roundtrips_exactly():
    """Nested lists, tuples, dicts, str, bytes, ints, floats and None come back equal."""
    value = {"a": [1, 2.5, None, True, "x"], 3: (b"\x00\xff", -7), "nested": {"k": [[]]}}
    assert roundtrip(value) == value


def test_arrays_roundtrip_with_dtype_and_shape():
    """Numeric arrays keep dtype, shape and every value (through .npy, no pickle)."""
    for arr in [np.arange(12, dtype=np.int16).reshape(3, 4), np.linspace(0, 1, 5),
                np.array([1 + 2j]), np.zeros((0, 3)), np.array(["ab", "c"])]:
        got = roundtrip(arr)
        assert got.dtype == arr.dtype and got.shape == arr.shape
        np.testing.assert_array_equal(got, arr)


def test_non_finite_floats_are_tagged_and_refused_by_validate():
    """NaN and inf cross as tagged values; validate() refuses them unless finite=False."""
    got = roundtrip([math.nan, math.inf, -math.inf])
    assert math.isnan(got[0]) and got[1] == math.inf and got[2] == -math.inf
    with pytest.raises(ValueError, match="not a finite number"):
        protocol.validate(got[0], what="x")
    with pytest.raises(ValueError, match="1 NaN or infinite"):
        protocol.validate(np.array([1.0, np.nan]), what="x")
    assert protocol.validate(got, finite=False) is got


def test_rigged_float_subclass_crosses_as_a_plain_float():
    """A float subclass whose __eq__/__sub__ lie arrives as the plain float of its value."""
    class Liar(float):
        def __eq__(self, other):
            return True

        def __sub__(self, other):
            return 0.0

        def __float__(self):
            return 0.5

    got = roundtrip(Liar(123.0))
    assert type(got) is float and got == 123.0 and got != 0.5


def test_objects_that_are_not_data_become_opaque_and_fail_validation():
    """Arbitrary objects and object arrays never cross; validate names their type."""
    class Thing:
        pass

    for value in [Thing(), np.array([Thing()], dtype=object), {"k": {1, 2}}]:
        with pytest.raises(TypeError, match="not data"):
            protocol.validate(roundtrip(value))


def test_pickled_array_blob_is_refused():
    """A .npy blob holding a pickled object array raises ProtocolError, never unpickles."""
    buf = io.BytesIO()
    np.save(buf, np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(protocol.ProtocolError, match="not a plain .npy"):
        protocol.decode({"$": "nd", "i": 0}, [buf.getvalue()])


def test_malformed_messages_raise_protocol_error():
    """Unknown tags, bad blob indices, NaN literals and oversized frames are refused."""
    with pytest.raises(protocol.ProtocolError, match="unknown tag"):
        protocol.decode({"$": "pickle", "v": "..."}, [])
    with pytest.raises(protocol.ProtocolError, match="out of range"):
        protocol.decode({"$": "nd", "i": 3}, [])
    with pytest.raises(protocol.ProtocolError, match="non-standard JSON"):
        protocol.loads_header(b'{"value": NaN}')
    reader = protocol.FrameReader(max_frame=10)
    with pytest.raises(protocol.ProtocolError, match="exceeds"):
        reader.feed(protocol.pack({"value": "x" * 100}))


def test_messages_cross_a_real_pipe():
    """write_message and read_message carry a header and blobs through an OS pipe."""
    r, w = os.pipe()
    try:
        tree, blobs = protocol.encode({"arr": np.ones(3)})
        protocol.write_message(w, {"op": "x", "value": tree}, blobs)
        header, got = protocol.read_message(r)
        np.testing.assert_array_equal(protocol.decode(header["value"], got)["arr"], np.ones(3))
    finally:
        os.close(r)
        os.close(w)


def test_validate_descends_into_tuples():
    """A NaN or a non-data object inside a tuple (also a tuple in a list or a dict) is
    refused by validate, naming where it sits, as it is inside a list."""
    class Thing:
        pass

    with pytest.raises(ValueError, match=r"^v\[1\] is nan, not a finite number$"):
        protocol.validate(roundtrip((1.0, float("nan"))), what="v")
    with pytest.raises(ValueError, match=r"v\[0\]\[1\] contains 1 NaN"):
        protocol.validate(roundtrip([(0, np.array([1.0, np.inf]))]), what="v")
    with pytest.raises(TypeError, match=r"^v\['k'\]\[0\] is an object of type .*Thing, not"):
        protocol.validate(roundtrip({"k": (Thing(),)}), what="v")
    assert protocol.validate(roundtrip((1.0, float("nan"))), finite=False)[0] == 1.0


# A reply's JSON written by a separate process straight into a pipe; this process reads it
# as the trusted side does (FrameReader, decode, validate) and prints its peak RSS growth.
_AMPLIFIED_READER = """
import os, resource, sys
from initkit.grading import protocol
n = int(sys.argv[1])
r, w = os.pipe()
pid = os.fork()
if pid == 0:  # the student's side: millions of empty lists, valid JSON, no blob
    os.close(r)
    body = b'{"ok":true,"value":[' + b",".join([b"[]"] * n) + b'],"nblobs":0}'
    try:
        protocol.write_bytes(w, protocol._HEADER.pack(len(body)) + body)
    finally:
        os._exit(0)
os.close(w)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
reader = protocol.FrameReader()
outcome = "no message"
try:
    while True:
        chunk = os.read(r, 1 << 20)
        if not chunk:
            break
        reader.feed(chunk)
        msg = reader.message()
        if msg is not None:
            value = protocol.validate(protocol.decode(msg[0].get("value"), msg[1]))
            outcome = f"decoded {len(value)} values"
            break
except protocol.ProtocolError as exc:
    outcome = f"ProtocolError: {exc}"
os.close(r)
os.waitpid(pid, 0)
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(grown // 1024, outcome)
"""


@pytest.mark.parametrize("lists, refusal", [
    (8_000_000, "a message's JSON part of 24000032 bytes exceeds the 4194304-byte limit"),
    (1_300_000, "a message's JSON part holds 1300004 values, more than the 200000"),
], ids=["24MB", "3.9MB"])
def test_a_reply_of_millions_of_empty_lists_keeps_the_reader_small(lists, refusal):
    """A valid reply of 8 million (24 MB) or 1.3 million (3.9 MB, under the byte cap) empty
    lists is refused as a protocol error before json.loads builds it, and the reading
    process grows by less than 48 MB (it grew by 1.2 GB for 24 MB before the caps)."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", _AMPLIFIED_READER, str(lists)],
                          capture_output=True, text=True, timeout=300)
    grown, outcome = proc.stdout.strip().split(" ", 1)
    assert outcome.startswith(f"ProtocolError: {refusal}"), proc.stdout + proc.stderr
    assert int(grown) < 48, f"the reader grew by {grown} MB"


def test_json_shape_is_counted_exactly_outside_strings():
    """Values and depth are counted on the structure only: brackets and commas inside
    strings (with escaped quotes) do not count, and the limits are exact."""
    protocol.check_json_shape(b'["[[[[,,,,", "\\"[[[,", [], {}, [1, 2]]', max_items=8,
                              max_depth=2)
    with pytest.raises(protocol.ProtocolError, match="holds 9 values, more than the 8"):
        protocol.check_json_shape(b'["a", [], {}, [1, 2, 3, 4]]', max_items=8, max_depth=2)
    with pytest.raises(protocol.ProtocolError, match="nests 3 levels deep, more than the 2"):
        protocol.check_json_shape(b'[[["[[[["]]]', max_items=8, max_depth=2)
    deep = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(protocol.ProtocolError, match="nests 100001 levels deep, more than the 104"):
        protocol.loads_header(b'{"value": ' + deep + b"}")


def test_an_honest_large_header_still_crosses():
    """Values at the limits the encoder produces (32 nested levels of dicts, the deepest
    JSON per level, or of dicts and tuples; a list of 150,000 floats) pass the caps and
    round-trip exactly."""
    for mixed in (False, True):
        value: object = [1.5]
        for i in range(protocol.MAX_DEPTH - 1):
            value = (value, i) if mixed and i % 2 else {"k": value}
        assert roundtrip(value) == value
    floats = [i / 7 for i in range(150_000)]
    assert roundtrip(floats) == floats


def test_an_oversized_json_part_is_refused_from_its_length_prefix():
    """The 8-byte length of a header over MAX_HEADER is refused before any of its bytes
    are buffered; a blob of the same size (binary data) is accepted."""
    with pytest.raises(protocol.ProtocolError, match="JSON part of 4194305 bytes exceeds"):
        protocol.FrameReader().feed(protocol._HEADER.pack(protocol.MAX_HEADER + 1))
    big = bytes(protocol.MAX_HEADER + 1)
    tree, blobs = protocol.encode(big)
    reader = protocol.FrameReader()
    reader.feed(protocol.pack({"value": tree}, blobs))
    header, got = reader.message()
    assert protocol.decode(header["value"], got) == big

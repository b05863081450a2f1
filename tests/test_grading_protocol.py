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

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


# --------------------------------------------------------------------------------------
# Each rule of the wire format on its own, against trees and bytes written out by hand.


def test_encode_gives_the_documented_tagged_tree():
    """Plain JSON for None, bools, ints, finite floats and str (numpy scalars and
    subclasses as their plain values); tags for non-finite floats, bytes, arrays, tuples,
    dicts, Rng; one blob per bytes or array, numbered in order."""
    class Text(str):
        pass

    tree, blobs = protocol.encode([None, True, False, np.bool_(True), 7, np.int8(-3), 0.5,
                                   np.float32(0.25), Text("s"), float("inf"),
                                   np.float64("-inf"), float("nan"), b"ab", bytearray(b"c"),
                                   np.arange(2), (1,), {"k": 1, 2: "v"},
                                   protocol.Rng(7)])
    assert tree == [None, True, False, True, 7, -3, 0.5, 0.25, "s",
                    {"$": "float", "v": "inf"}, {"$": "float", "v": "-inf"},
                    {"$": "float", "v": "nan"}, {"$": "bytes", "i": 0},
                    {"$": "bytes", "i": 1}, {"$": "nd", "i": 2}, {"$": "tuple", "v": [1]},
                    {"$": "dict", "v": [["k", 1], [2, "v"]]}, {"$": "rng", "seed": 7}]
    assert [type(x) for x in tree[3:9]] == [bool, int, int, float, float, str]
    assert blobs[:2] == [b"ab", b"c"]
    np.testing.assert_array_equal(np.load(io.BytesIO(blobs[2])), np.arange(2))


def test_encode_turns_what_is_not_data_into_an_opaque_marker():
    """A set, a class instance, an object array, a dict with bool or float keys, a broken
    array-like and a value nested deeper than MAX_DEPTH become opaque markers naming what
    they were; the value at the deepest allowed level still crosses."""
    class Thing:
        pass

    class Broken:  # claims to come from the array module; its buffer cannot be read
        __module__ = "array"

        def __array__(self, *args, **kwargs):
            raise RuntimeError("no data")

    def nested(levels, inner):
        for _ in range(levels):
            inner = [inner]
        return inner

    tree, blobs = protocol.encode([set(), Thing(), np.array([None]), {True: 1}, {1.5: 1},
                                   Broken()])
    assert tree == [{"$": "opaque", "type": "set"},
                    {"$": "opaque", "type": f"{__name__}.test_encode_turns_what_is_not_data_"
                                            "into_an_opaque_marker.<locals>.Thing"},
                    {"$": "opaque", "type": "array of dtype object"},
                    {"$": "opaque", "type": "dict with bool keys"},
                    {"$": "opaque", "type": "dict with float keys"},
                    {"$": "opaque", "type": "array (RuntimeError)"}]
    assert blobs == []
    assert protocol.encode(nested(protocol.MAX_DEPTH, 5))[0] == nested(protocol.MAX_DEPTH, 5)
    assert protocol.encode(nested(protocol.MAX_DEPTH + 1, 5))[0] == nested(
        protocol.MAX_DEPTH + 1, {"$": "opaque", "type": "nesting deeper than 32"})


def test_buffers_cross_as_arrays():
    """memoryview and array.array travel as numeric arrays of their items."""
    import array

    got = roundtrip([memoryview(b"\x01\x02"), array.array("d", [1.5, 2.5])])
    np.testing.assert_array_equal(got[0], np.array([1, 2], dtype=np.uint8))
    np.testing.assert_array_equal(got[1], np.array([1.5, 2.5]))


def test_an_rng_seed_is_an_int_from_0_to_2_to_the_63():
    """Rng takes an int seed in [0, 2**63) and nothing else (no bool, no float), shows as
    Rng(seed), and materializes, at any depth, into default_rng(seed)'s generator."""
    assert repr(protocol.Rng(0)) == "Rng(0)" and protocol.Rng(2**63 - 1).seed == 2**63 - 1
    for bad in (-1, 2**63, True, 1.0, "1"):
        with pytest.raises(ValueError, match=r"an Rng seed is an int in \[0, 2\*\*63\), got"):
            protocol.Rng(bad)
    made = protocol.materialize([protocol.Rng(7), (protocol.Rng(8),), {"k": protocol.Rng(9)},
                                 "x"])
    want = [np.random.default_rng(s).random(3) for s in (7, 8, 9)]
    np.testing.assert_array_equal(made[0].random(3), want[0])
    assert type(made[1]) is tuple
    np.testing.assert_array_equal(made[1][0].random(3), want[1])
    np.testing.assert_array_equal(made[2]["k"].random(3), want[2])
    assert made[3] == "x"
    rng = roundtrip(protocol.Rng(5))
    assert type(rng) is protocol.Rng and rng.seed == 5
    with pytest.raises(TypeError, match="^v is an object of type Rng, not data"):
        protocol.validate(rng, what="v")
    with pytest.raises(protocol.ProtocolError, match=r"got -1"):
        protocol.decode({"$": "rng", "seed": -1}, [])


def test_pack_writes_length_prefixed_frames():
    """A message is an 8-byte big-endian length and compact JSON (nblobs added), then each
    blob with its length; a NaN in the header is refused."""
    assert protocol.pack({"a": 1}, [b"xy"]) == (b"\0\0\0\0\0\0\0\x12" + b'{"a":1,"nblobs":1}'
                                                + b"\0\0\0\0\0\0\0\x02" + b"xy")
    assert protocol.pack({}) == b"\0\0\0\0\0\0\0\x0c" + b'{"nblobs":0}'
    with pytest.raises(ValueError):
        protocol.pack({"a": float("nan")})


def test_the_reader_assembles_messages_fed_a_byte_at_a_time():
    """Two messages fed byte by byte come out whole and in order (None before each is
    complete), with their blobs."""
    data = protocol.pack({"n": 1}, [b"ab", b""]) + protocol.pack({"n": 2})
    reader = protocol.FrameReader()
    got = []
    for i in range(len(data)):
        reader.feed(data[i:i + 1])
        while (msg := reader.message()) is not None:
            got.append((i, msg))
    assert got == [(len(data) - 27, ({"n": 1, "nblobs": 2}, [b"ab", b""])),
                   (len(data) - 1, ({"n": 2, "nblobs": 0}, []))]
    assert reader.message() is None


def test_the_reader_limits_are_exact():
    """A frame of exactly max_frame bytes, a header of exactly max_header, nblobs of exactly
    max_blobs and exactly max_total bytes held are accepted; one more of each is refused,
    with the limit in the message; the frame limit is the smaller of max_frame and
    max_total."""
    msg = protocol.pack({}, [b"x" * 20])  # header of 12 bytes, blob of 20
    protocol.FrameReader(max_frame=20, max_total=len(msg), max_header=12).feed(msg)
    with pytest.raises(protocol.ProtocolError, match="^frame of 20 bytes exceeds the 19-byte "
                                                     "limit$"):
        protocol.FrameReader(max_frame=19).feed(msg)
    with pytest.raises(protocol.ProtocolError, match="^frame of 20 bytes exceeds the 19-byte"):
        protocol.FrameReader(max_frame=100, max_total=19).feed(protocol._HEADER.pack(20))
    with pytest.raises(protocol.ProtocolError, match=r"^a message's JSON part of 12 bytes "
                                                     r"exceeds the 11-byte limit \(return large "
                                                     r"data as numpy arrays\)$"):
        protocol.FrameReader(max_header=11).feed(msg)
    with pytest.raises(protocol.ProtocolError, match=f"^more than {len(msg) - 1} bytes of "
                                                     "messages at once$"):
        protocol.FrameReader(max_total=len(msg) - 1).feed(msg)
    three = protocol.pack({}, [b"a", b"b", b"c"])
    protocol.FrameReader(max_blobs=3).feed(three)
    for header, limit in ((three, 2), (b'{"nblobs":-1}', 5), (b'{"nblobs":"1"}', 5),
                          (b'{"nblobs":true}', 5)):
        if not header.startswith(b"\0"):
            header = protocol._HEADER.pack(len(header)) + header
        with pytest.raises(protocol.ProtocolError, match=f"^header field 'nblobs' is not an "
                                                         f"int from 0 to {limit}$"):
            protocol.FrameReader(max_blobs=limit).feed(header)


def test_the_reader_frees_what_it_handed_out():
    """The byte budget counts messages not yet taken: taking one frees its bytes (header
    and blobs) for the next, leaving it unread refuses the next."""
    msg = protocol.pack({"n": 1}, [b"x" * 50])
    reader = protocol.FrameReader(max_total=len(msg))
    for _ in range(3):
        reader.feed(msg)
        assert reader.message() == ({"n": 1, "nblobs": 1}, [b"x" * 50])
    reader.feed(msg)
    with pytest.raises(protocol.ProtocolError, match="bytes of messages at once"):
        reader.feed(msg[:17])  # the frames' lengths are not held: 16 bytes


def test_a_message_larger_than_the_pipe_crosses_whole():
    """write_message loops over partial writes: 1 MB of blob through a 64 kB pipe buffer,
    read by read_message in another thread, arrives byte for byte; a closed pipe with no
    message is EOFError."""
    import threading

    blob = np.random.default_rng(0).bytes(1 << 20)
    r, w = os.pipe()
    writer = threading.Thread(target=protocol.write_message, args=(w, {"op": "big"}, [blob]))
    writer.start()
    try:
        assert protocol.read_message(r) == ({"op": "big", "nblobs": 1}, [blob])
    finally:
        writer.join()
        os.close(w)
    with pytest.raises(EOFError, match="^pipe closed$"):
        protocol.read_message(r)
    os.close(r)


def test_json_shape_limits_are_exact_and_ignore_whitespace():
    """Exactly max_items values and max_depth levels pass, one more fails, whether or not
    the text has brackets in strings (the slow path); an empty container with whitespace
    inside is one value; a string ending in an escaped backslash closes."""
    protocol.check_json_shape(b"[[1, 2], 3]", max_items=5, max_depth=2)
    with pytest.raises(protocol.ProtocolError, match="^a message's JSON part holds 5 values, "
                                                     "more than the 4 allowed"):
        protocol.check_json_shape(b"[[1, 2], 3]", max_items=4, max_depth=2)
    with pytest.raises(protocol.ProtocolError, match="^x nests 2 levels deep, more than the 1 "
                                                     "allowed$"):
        protocol.check_json_shape(b"[[1, 2], 3]", max_items=5, max_depth=1, what="x")
    spaced = b'[ [ ] ,\t[\n]\r, { } , "a\\\\", "[" ]'  # 6 values, depth 2
    protocol.check_json_shape(spaced, max_items=6, max_depth=2)
    with pytest.raises(protocol.ProtocolError, match="holds 6 values, more than the 5"):
        protocol.check_json_shape(spaced, max_items=5, max_depth=2)
    with pytest.raises(protocol.ProtocolError, match="nests 2 levels deep, more than the 1"):
        protocol.check_json_shape(spaced, max_items=6, max_depth=1)
    protocol.check_json_shape(b'["[[[", {"k": [1]}]', max_items=5, max_depth=3)


def test_loads_header_refuses_what_is_not_one_json_object():
    """More bytes than max_bytes, bytes that are not UTF-8, text that is not JSON, an int
    of more digits than Python converts, the Infinity literal, and JSON that is not an
    object are each a ProtocolError saying which."""
    cases = [(b'{"a": 1}', 7, r"^a message's JSON part of 8 bytes exceeds the 7-byte limit"),
             (b"\xff", None, "^header is not JSON: 'utf-8' codec"),
             (b'{"a": }', None, "^header is not JSON: Expecting value"),
             (b'{"a": ' + b"1" * 5000 + b"}", None, "^header is not JSON: Exceeds the limit"),
             (b'{"a": -Infinity}', None, "^non-standard JSON constant '-Infinity'$"),
             (b"[1]", None, "^header is not a JSON object$")]
    for data, limit, message in cases:
        with pytest.raises(protocol.ProtocolError, match=message):
            protocol.loads_header(data, *([limit] if limit else []))
    assert protocol.loads_header(b'{"a": 1}', 8) == {"a": 1}


def test_decode_refuses_every_malformed_node():
    """Each malformed tree is a ProtocolError naming its fault: a bare non-finite float, a
    node that is not JSON data or has no tag, a bad float tag, blob indices that are not an
    in-range int, a tuple or dict without a list, a dict item that is not a pair, a key
    that is not str or int, nesting beyond MAX_DEPTH + 1."""
    blobs = [b"raw"]
    cases = [(float("inf"), "^bare non-finite float$"),
             ({"v": 1}, "^unexpected JSON node of type dict$"),
             ((1,), "^unexpected JSON node of type tuple$"),
             ({"$": "float", "v": "1.5"}, r"^bad float tag value '1.5'$"),
             ({"$": "float"}, "^bad float tag value None$"),
             ({"$": "bytes", "i": 1}, "^blob index 1 out of range$"),
             ({"$": "bytes", "i": -1}, "^blob index -1 out of range$"),
             ({"$": "bytes", "i": "0"}, "^blob index '0' out of range$"),
             ({"$": "nd", "i": True}, "^blob index True out of range$"),
             ({"$": "tuple", "v": {}}, "^tuple without a list$"),
             ({"$": "dict", "v": "ab"}, "^dict without a list of pairs$"),
             ({"$": "dict", "v": [[1, 2, 3]]}, "^dict item is not a pair$"),
             ({"$": "dict", "v": [(1, 2)]}, "^dict item is not a pair$"),
             ({"$": "dict", "v": [[1.5, 2]]}, "^dict key is not str or int$"),
             ({"$": "dict", "v": [[None, 2]]}, "^dict key is not str or int$")]
    for tree, message in cases:
        with pytest.raises(protocol.ProtocolError, match=message):
            protocol.decode(tree, blobs)
    assert protocol.decode({"$": "bytes", "i": 0}, blobs) == b"raw"
    deep: object = 1
    for _ in range(protocol.MAX_DEPTH + 1):
        deep = [deep]
    assert protocol.decode(deep, []) == deep
    with pytest.raises(protocol.ProtocolError, match="^value nested too deeply$"):
        protocol.decode([deep], [])


def test_decode_gives_plain_values_and_capped_opaque_names():
    """Finite floats, tagged non-finite ones, tuples and dicts of str and int keys come back
    as such; an opaque marker keeps at most 200 characters of its type name ('?' when
    none)."""
    got = protocol.decode([0.5, {"$": "float", "v": "-inf"}, {"$": "tuple", "v": [1, "a"]},
                           {"$": "dict", "v": [["k", None], [3, False]]}], [])
    assert got == [0.5, -math.inf, (1, "a"), {"k": None, 3: False}]
    long = protocol.decode({"$": "opaque", "type": "T" * 300}, [])
    assert type(long) is protocol.Opaque and long.type_name == "T" * 200
    assert repr(protocol.decode({"$": "opaque"}, [])) == "<object of type ?>"


def test_only_a_plain_npy_array_of_an_allowed_kind_is_loaded():
    """An .npz archive, garbage and void or datetime arrays are refused; every allowed kind
    (bool, int, uint, float, complex, bytes, str) loads."""
    def npy(arr):
        buf = io.BytesIO()
        np.save(buf, arr)
        return buf.getvalue()

    archive = io.BytesIO()
    np.savez(archive, a=np.ones(2))
    for blob, message in [(archive.getvalue(), "^array dtype \\? is not allowed$"),
                          (b"garbage", "^array blob is not a plain .npy array: "),
                          (npy(np.zeros(2, dtype="V4")), "^array dtype |V4 is not allowed$"),
                          (npy(np.zeros(2, dtype=[("a", "<f8")])),
                           r"^array dtype \[\('a', '<f8'\)\] is not allowed$"),
                          (npy(np.array(["2020-01-01"], dtype="M8[D]")),
                           r"^array dtype datetime64\[D\] is not allowed$")]:
        with pytest.raises(protocol.ProtocolError, match=message):
            protocol.decode({"$": "nd", "i": 0}, [blob])
    for arr in [np.array([True]), np.array([-1], np.int8), np.array([1], np.uint16),
                np.array([1.5]), np.array([1j]), np.array([b"x"]), np.array(["y"])]:
        got = protocol.decode({"$": "nd", "i": 0}, [npy(arr)])
        assert got.dtype == arr.dtype and got.tolist() == arr.tolist()


def test_the_fast_npy_reader_agrees_with_numpy_load_and_defers_the_rest():
    """A plain numpy.save blob is read without numpy's header parser, to the same array
    (dtype, shape, values, writeable); a blob whose header length, data length or order
    differ from what numpy.save writes is left to numpy.load (same array or ProtocolError)."""
    def npy(arr):
        buf = io.BytesIO()
        np.save(buf, arr)
        return buf.getvalue()

    arrays = [np.arange(12.0).reshape(3, 4), np.array(2.5), np.zeros((0, 3)),
              np.array([1, -2], ">i2"), np.ones(3, np.complex64), np.array(["ab", "c"]),
              np.zeros((1,) * 20), np.array([True, False])]
    for arr in arrays:
        fast = protocol._fast_array(npy(arr))
        assert fast is not None and fast.dtype == arr.dtype and fast.shape == arr.shape
        assert np.array_equal(fast, arr) and fast.flags.writeable
    blob = npy(np.arange(4.0))
    assert protocol._fast_array(blob + b"\0" * 8) is None  # data longer than the shape
    assert protocol._fast_array(blob[:-8]) is None  # shorter
    with pytest.raises(protocol.ProtocolError):
        protocol.decode({"$": "nd", "i": 0}, [blob[:-8]])
    fortran = npy(np.asfortranarray(np.arange(6.0).reshape(2, 3)))
    assert protocol._fast_array(fortran) is None
    assert protocol.decode({"$": "nd", "i": 0}, [fortran]).tolist() == [[0, 1, 2], [3, 4, 5]]
    wrong_length = blob[:8] + (int.from_bytes(blob[8:10], "little") - 16).to_bytes(2, "little") \
        + blob[10:]
    assert protocol._fast_array(wrong_length) is None
    assert protocol._fast_array(npy(np.array([None], dtype=object))) is None
    header = b"{'descr': '<U0', 'fortran_order': False, 'shape': (5,), }"
    header += b" " * (63 - 10 - len(header)) + b"\n"
    zero_width = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header
    assert protocol._fast_array(zero_width) is None  # numpy.frombuffer would raise
    empty = protocol.decode({"$": "nd", "i": 0}, [zero_width])  # numpy.load reads it
    assert empty.shape == (5,) and empty.tolist() == [""] * 5


def test_validate_checks_every_value_it_holds():
    """validate returns its value; it refuses an opaque object (naming its type), a NaN or
    infinite float or float/complex array entry (counting the bad entries), anywhere in
    lists, tuples and dicts, naming the path; integer arrays and finite=False pass."""
    value = {"a": [1, (2.0, np.arange(3))], "b": np.array([1 + 1j])}
    assert protocol.validate(value) is value
    cases = [(protocol.Opaque("Mod.T"), TypeError,
              r"^v is an object of type Mod.T, not data \(return numbers, strings, lists, "
              r"dicts or numpy arrays\)$"),
             ([1, {"k": [math.inf]}], ValueError, r"^v\[1\]\['k'\]\[0\] is inf, not a finite "
                                                  r"number$"),
             ((np.array([np.nan, 1, np.inf]),), ValueError,
              r"^v\[0\] contains 2 NaN or infinite entries$"),
             ({"c": np.array([complex(1, np.nan)])}, ValueError,
              r"^v\['c'\] contains 1 NaN or infinite entries$")]
    for bad, error, message in cases:
        with pytest.raises(error, match=message):
            protocol.validate(bad, what="v")
    nan = [math.nan, np.array([np.nan]), (math.inf,), {"k": math.nan}]
    assert protocol.validate(nan, finite=False) is nan
    with pytest.raises(TypeError, match=r"^value\[0\] is an object"):
        protocol.validate([protocol.Opaque("T")], finite=False)


def test_an_opaque_marker_names_the_type_by_module_and_qualified_name():
    """A builtin type is named alone, any other by module.qualname; a class whose module is
    unset (None or empty) by its qualified name alone."""
    class Local:
        pass

    class NoModule:
        __module__ = None

    class EmptyModule:
        __module__ = ""

    names = [protocol.encode(v)[0]["type"] for v in
             (range(2), Local(), NoModule(), EmptyModule())]
    prefix = "test_an_opaque_marker_names_the_type_by_module_and_qualified_name.<locals>"
    assert names == ["range", f"{__name__}.{prefix}.Local", f"{prefix}.NoModule",
                     f"{prefix}.EmptyModule"]


def test_a_rigged_int_subclass_crosses_as_its_value():
    """An int subclass whose __int__/__index__ lie arrives as the plain int of its value."""
    class Liar(int):
        def __int__(self):
            return 0

        def __index__(self):
            return 0

    got = roundtrip([Liar(5), {Liar(6): 1}])
    assert got == [5, {6: 1}] and type(got[0]) is int


def _tuples(levels, inner):
    for _ in range(levels):
        inner = (inner,)
    return inner


def _dicts(levels, inner):
    for _ in range(levels):
        inner = {"k": inner}
    return inner


def test_encode_depth_is_bounded_for_tuples_and_dict_keys_and_values():
    """MAX_DEPTH bounds tuples and dicts as it bounds lists: a value (or a dict's key) at
    depth 32 crosses, one at depth 33 is an opaque marker; 32 nested dicts round-trip."""
    deep = {"$": "opaque", "type": "nesting deeper than 32"}
    tree = protocol.encode(_tuples(protocol.MAX_DEPTH + 1, 1))[0]
    for _ in range(protocol.MAX_DEPTH + 1):
        tree = tree["v"][0]
    assert tree == deep
    assert roundtrip(_tuples(protocol.MAX_DEPTH, 1)) == _tuples(protocol.MAX_DEPTH, 1)
    assert roundtrip(_dicts(protocol.MAX_DEPTH, 1)) == _dicts(protocol.MAX_DEPTH, 1)
    tree = protocol.encode(_dicts(protocol.MAX_DEPTH + 1, 1))[0]
    for _ in range(protocol.MAX_DEPTH):
        tree = tree["v"][0][1]
    assert tree == {"$": "dict", "v": [[deep, deep]]}


def _decode_chain(kind, levels):
    """A decode tree ``levels`` deep of one container kind around the int 1."""
    tree: object = 1
    for _ in range(levels):
        tree = {"list": [tree], "tuple": {"$": "tuple", "v": [tree]},
                "dict": {"$": "dict", "v": [["k", tree]]}}[kind]
    return tree


def _lists(levels, inner):
    for _ in range(levels):
        inner = [inner]
    return inner


@pytest.mark.parametrize("kind", ["list", "tuple", "dict"])
def test_decode_depth_is_bounded_in_every_container(kind):
    """A tree of lists, tuples or dict values MAX_DEPTH + 1 levels deep decodes; one level
    more is refused; a dict key is one level below its dict, and is bounded too."""
    protocol.decode(_decode_chain(kind, protocol.MAX_DEPTH + 1), [])
    with pytest.raises(protocol.ProtocolError, match="^value nested too deeply$"):
        protocol.decode(_decode_chain(kind, protocol.MAX_DEPTH + 2), [])
    key_at_limit = {"$": "dict", "v": [[1, 2]]}
    for _ in range(protocol.MAX_DEPTH):
        key_at_limit = [key_at_limit]
    assert protocol.decode(key_at_limit, []) == _lists(protocol.MAX_DEPTH, {1: 2})
    deep_key = {"$": "dict", "v": [[_decode_chain("list", protocol.MAX_DEPTH + 1), 2]]}
    with pytest.raises(protocol.ProtocolError, match="^value nested too deeply$"):
        protocol.decode(deep_key, [])


def test_a_dict_key_that_is_a_blob_is_refused():
    """A dict key that decodes to bytes (a blob) is not a str or int key."""
    with pytest.raises(protocol.ProtocolError, match="^dict key is not str or int$"):
        protocol.decode({"$": "dict", "v": [[{"$": "bytes", "i": 0}, 1]]}, [b"k"])


def test_a_header_without_nblobs_is_a_message_without_blobs():
    """A header frame with no 'nblobs' field is a whole message of its own (no blobs)."""
    reader = protocol.FrameReader()
    reader.feed(protocol._HEADER.pack(8) + b'{"op":1}')
    assert reader.message() == ({"op": 1}, [])


def _reference_shape(text: bytes) -> tuple[int, int]:
    """(values, depth) of a JSON text, counted on the parsed document."""
    import json

    def walk(node, level):
        if isinstance(node, dict):
            inner = [walk(v, level + 1) for v in node.values()]
        elif isinstance(node, list):
            inner = [walk(v, level + 1) for v in node]
        else:
            return 1, level
        return 1 + sum(n for n, _ in inner), max([level + 1] + [d for _, d in inner])

    return walk(json.loads(text), 0)


@pytest.mark.parametrize("text", [
    b'{"a": {"b": {"c": {}}}}',
    b'["a\\\\", ",", "[", {"k\\\\": ["]"]}]',
    b'[" \\\\\\" [ ", {"x": "\\\\"}, [[[]]]]',
    b'{ "a" : [ 1 ,\t2 ] ,\r\n "b" : { } }',
    b'[[], {}, "", "{}", [["\\"]"]]]',
])
def test_json_shape_matches_a_count_on_the_parsed_document(text):
    """check_json_shape's values and depth, counted on raw bytes, equal a count on the parsed
    document (objects, escaped backslashes before a closing quote, escaped quotes, brackets
    and commas in strings, whitespace): those limits pass, one less fails."""
    values, depth = _reference_shape(text)
    protocol.check_json_shape(text, max_items=values, max_depth=depth)
    with pytest.raises(protocol.ProtocolError, match=f"holds {values} values, more than"):
        protocol.check_json_shape(text, max_items=values - 1, max_depth=depth)
    with pytest.raises(protocol.ProtocolError, match=f"nests {depth} levels deep, more than"):
        protocol.check_json_shape(text, max_items=values, max_depth=depth - 1)


def test_a_write_interrupted_by_a_signal_carries_on():
    """A blocking write into a full pipe cut short by a signal (a partial write) is resumed
    where it stopped: 1 MB written while SIGALRM arrives every 5 ms, read whole."""
    import signal
    import threading
    import time

    blob = np.random.default_rng(1).bytes(1 << 20)
    r, w = os.pipe()
    got = []

    def read():
        time.sleep(0.05)  # the pipe fills and the writer blocks meanwhile
        got.append(protocol.read_message(r))

    reader = threading.Thread(target=read)
    previous = signal.signal(signal.SIGALRM, lambda *args: None)
    reader.start()
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.005, 0.005)
        protocol.write_message(w, {"op": "big"}, [blob])
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        os.close(w)
        reader.join()
        os.close(r)
    assert got == [({"op": "big", "nblobs": 1}, [blob])]

"""Read and write the IDX format of the MNIST files (LeCun, Cortes & Burges).

An IDX file is a 4-byte magic number ``0x00 0x00 <type> <ndim>`` (type 0x08 = unsigned
byte), then ``ndim`` big-endian uint32 dimension sizes, then the data in C order. MNIST's
images are ``0x00000803`` (n, 28, 28), its labels ``0x00000801`` (n,). Files may be gzipped.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from .dataset import DataError

UBYTE = 0x08


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                return fh.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: cannot read it ({exc}); the file is damaged or not gzip. "
                        "Delete it and run `initkit data fetch mnist` again.") from None


def read_idx(path: str | Path, ndim: int | None = None) -> np.ndarray:
    """Read an unsigned-byte IDX file (optionally gzipped) into a uint8 array.

    Args:
        path: the file.
        ndim: the number of dimensions the caller expects (3 for images, 1 for labels).

    Raises:
        DataError: wrong magic number, wrong number of dimensions, or a size that does not
            match the header (a truncated download); the message names the file.
    """
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{path}: not an IDX file (bad magic number {raw[:4].hex() or 'empty'}); "
                        "expected 0x00000801 (labels) or 0x00000803 (images)")
    dtype_code, dims = raw[2], raw[3]
    if dtype_code != UBYTE:
        raise DataError(f"{path}: IDX data type 0x{dtype_code:02x} is not unsigned byte (0x08)")
    if ndim is not None and dims != ndim:
        raise DataError(f"{path}: magic number 0x{raw[:4].hex()} says {dims} dimensions, "
                        f"expected {ndim} (0x0000080{ndim}); is it the right file?")
    header = 4 + 4 * dims
    if len(raw) < header:
        raise DataError(f"{path}: truncated header ({len(raw)} bytes); download it again")
    shape = struct.unpack(f">{dims}I", raw[4:header])
    expected = int(np.prod(shape))
    if len(raw) - header != expected:
        raise DataError(f"{path}: header says shape {shape} ({expected} bytes of data) but the "
                        f"file holds {len(raw) - header}: it is truncated or corrupt. Delete it "
                        "and run `initkit data fetch mnist` again.")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def write_idx(path: str | Path, array: np.ndarray) -> Path:
    """Write a uint8 array as an IDX file (gzipped when ``path`` ends with ``.gz``)."""
    path = Path(path)
    array = np.ascontiguousarray(array, dtype=np.uint8)
    data = bytes([0, 0, UBYTE, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data += array.tobytes()
    if path.suffix == ".gz":
        with gzip.open(path, "wb") as fh:
            fh.write(data)
    else:
        path.write_bytes(data)
    return path

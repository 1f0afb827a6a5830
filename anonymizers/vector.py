"""Batch helpers: numpy and pyarrow views of a batch's digest block (indexes, hex tags, joined strings)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

DIGEST = 32


def words(block: bytes, start: int, width: int) -> np.ndarray:
    """int.from_bytes(digest[start:start + width], "big") of every digest in block, as uint64 (width <= 8)."""
    if width in (1, 2, 4, 8) and start % width == 0:  # an aligned big-endian word: one strided view
        view = np.frombuffer(block, dtype=f">u{width}").reshape(-1, DIGEST // width)
        return view[:, start // width].astype(np.uint64)
    cols = np.frombuffer(block, dtype=np.uint8).reshape(-1, DIGEST)[:, start:start + width]
    out = np.zeros(len(cols), dtype=np.uint64)
    for j in range(width):
        out = (out << np.uint64(8)) | cols[:, j]
    return out


def hex_column(block: bytes, start: int, chars: int) -> pa.StringArray:
    """digest[start:].hex()[:chars] of every digest in block, as an Arrow string array."""
    cols = np.frombuffer(block, dtype=np.uint8).reshape(-1, DIGEST)[:, start:start + (chars + 1) // 2]
    text = np.frombuffer(cols.tobytes().hex().encode("ascii"), dtype=np.uint8)
    if chars % 2:  # (an explicit width: an empty block reshapes too)
        text = text.reshape(len(cols), 2 * cols.shape[1])[:, :chars].tobytes()
    n = len(cols)
    offsets = np.arange(0, (n + 1) * chars, chars, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(text))


def pool_array(pool: Sequence[str]) -> pa.StringArray:
    return pa.array(pool, pa.string())


def pick(pool: pa.StringArray, indexes: np.ndarray) -> pa.StringArray:
    """pool[i] for every i."""
    return pool.take(pa.array(indexes.astype(np.int64)))


def numbers(values: np.ndarray) -> pa.StringArray:
    """str(v) for every integer v."""
    return pc.cast(pa.array(values.astype(np.int64)), pa.string())


def join(*parts: pa.Array | str, sep: str = "") -> pa.Array:
    """sep.join(parts) row by row; a str part is the same in every row."""
    return pc.binary_join_element_wise(*parts, sep)

"""The batch codec: PostgreSQL's COPY text format (parse, unescape, encode), the one place that knows it."""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from prodlike.pipelines.errors import ProdlikeError

NULL = b"\\N"
ESCAPED = (b"\\", b"\n", b"\r", b"\t")  # the bytes encode() escapes inside a value
_UNESCAPES = {b"\\": b"\\", b"n": b"\n", b"t": b"\t", b"r": b"\r", b"b": b"\b", b"f": b"\f", b"v": b"\v"}
_ESCAPE = re.compile(rb"\\(?:([0-7]{1,3})|x([0-9A-Fa-f]{1,2})|(.))", re.DOTALL)
_NEEDS_ESCAPE = re.compile(r"[\\\n\r\t]")
_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


class MalformedRows(ProdlikeError, ValueError):
    """COPY rows that do not split into the expected fields (the rows themselves are withheld)."""


# ---- one field --------------------------------------------------------------------------------------------------

def unescape(raw: bytes) -> bytes:
    """One field's bytes as COPY wrote them -> the value's bytes (backslash escapes resolved)."""
    return _ESCAPE.sub(_unescape_one, raw) if b"\\" in raw else raw


def _unescape_one(m: re.Match) -> bytes:
    if m.group(1):
        return bytes([int(m.group(1), 8) & 0xFF])
    if m.group(2):
        return bytes([int(m.group(2), 16)])
    return _UNESCAPES.get(m.group(3), m.group(3))


def decode_field(raw: bytes) -> str | None:
    """One field of COPY text as a Python str (None for NULL)."""
    if raw == NULL:
        return None
    return unescape(raw).decode("utf-8")


def unescape_text(text: str) -> str:
    """One field of COPY text, already UTF-8 decoded, as the value it stands for."""
    if "\\" not in text:
        return text
    return unescape(text.encode("utf-8")).decode("utf-8", errors="replace")


def encode_field(value: str | None) -> bytes:
    """A Python str (or None) as one field of COPY text."""
    if value is None:
        return NULL
    if _NEEDS_ESCAPE.search(value):
        value = _NEEDS_ESCAPE.sub(lambda m: _ESCAPES[m.group(0)], value)
    return value.encode("utf-8")


# ---- a batch of whole rows ----------------------------------------------------------------------------------------

def parse(data: bytes | memoryview, names: list[str], *, types: dict[str, pa.DataType] | None = None,
          include: list[str] | None = None, nulls: bool = False, threads: bool = False,
          one_chunk: bool = True) -> pa.Table:
    """Whole COPY text rows as one Arrow column per field, each field's bytes exactly as COPY wrote them (escapes
    kept). COPY escapes every tab, newline and carriage return inside a value, so these bytes only ever delimit
    fields and rows. `types` per column (default large_binary); with `nulls`, \\N fields become nulls of a
    string column, else \\N stays as its bytes; `one_chunk` parses the batch as one block (one chunk per column),
    else in pyarrow's default blocks (less memory at once). A malformed batch raises MalformedRows (pyarrow's
    message would quote the row)."""
    wanted = include or names
    column_types = {name: (types or {}).get(name, pa.string() if nulls else pa.large_binary()) for name in wanted}
    try:
        return pacsv.read_csv(
            pa.BufferReader(data),
            read_options=pacsv.ReadOptions(column_names=names, use_threads=threads,
                                           **({"block_size": max(len(data) + 1, 1 << 20)} if one_chunk else {})),
            parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False, escape_char=False,
                                             ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(include_columns=wanted, null_values=[NULL.decode()],
                                                 strings_can_be_null=nulls, column_types=column_types))
    except pa.ArrowInvalid:
        raise MalformedRows(f"COPY rows do not have {len(names)} fields each (rows withheld)") from None


def buffer_bytes(arr: pa.Array) -> bytes:
    """The bytes of a string or binary array's data buffer: every value's bytes (a sliced array's neighbours too,
    so a search of them can only say "maybe"), searched at memchr speed instead of one compute pass a value."""
    data = arr.buffers()[2]
    return data.to_pybytes() if data is not None else b""


def as_text(raw: pa.Array) -> pa.Array:
    """Fields as COPY wrote them (escapes kept) in an Arrow string array, \\N as NULL."""
    return pc.if_else(pc.equal(raw, NULL), pa.scalar(None, pa.string()), raw.cast(pa.string()))


def decode_column(raw: pa.Array) -> pa.Array:
    """decode_field() of every field of a binary column (\\N kept as bytes), as an Arrow string array with NULLs;
    one vectorized pass when no value has an escape (the common case), value by value otherwise."""
    if buffer_bytes(raw).count(b"\\") == (pc.sum(pc.equal(raw, NULL)).as_py() or 0):  # escapes: NULLs only
        return as_text(raw)
    return pa.array([decode_field(v) for v in raw.to_pylist()], pa.string())


def unescape_column(text: pa.Array) -> pa.Array:
    """A string column of COPY text with NULLs already null -> the values they stand for (what staging's
    `value::text` reads); vectorized when no value has an escape."""
    if b"\\" not in buffer_bytes(text):
        return text
    return pa.array([None if v is None else unescape_text(v) for v in text.to_pylist()], pa.string())


def value_lengths(text: pa.Array) -> pa.Array:
    """The length in characters of the value each field of a string column of COPY text stands for (what
    staging's `length(value::text)` counts), without unescaping: every escape COPY writes is a backslash and one
    character standing for one character. Vectorized and linear, whatever the value's size."""
    lengths = pc.utf8_length(text)
    if b"\\" not in buffer_bytes(text):
        return lengths
    return pc.subtract(lengths, pc.count_substring_regex(text, r"\\."))


def encode_column(text: pa.Array) -> pa.Array:
    """encode_field() of every value of an Arrow string array, as a binary array; vectorized unless a value needs
    escaping."""
    data = buffer_bytes(text)
    if not any(c in data for c in ESCAPED):
        return text.fill_null(NULL.decode()).cast(pa.large_binary())
    return pa.array([encode_field(v) for v in text.to_pylist()], pa.large_binary())


def join_rows(columns: list[pa.Array]) -> bytes:
    """Binary columns (fields as COPY text) joined back into whole COPY text rows, each ending with a newline."""
    tab, newline, nothing = (pa.scalar(c, pa.large_binary()) for c in (b"\t", b"\n", b""))
    parts: list = []
    for column in columns:
        parts += [column, tab]
    parts[-1] = newline
    lines = pc.binary_join_element_wise(*parts, nothing)
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)
    start, end = int(offsets[lines.offset]), int(offsets[lines.offset + len(lines)])
    return lines.buffers()[2].slice(start, end - start).to_pybytes()

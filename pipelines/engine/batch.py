"""One batch of COPY text rows through a table's transforms (used in the copy thread and in worker processes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import pyarrow as pa

from prodlike.validators import copytext

HASH_FIELD = "\x00hash:"  # stream-only field names: production's keyed hash of an identifier column


class BatchPlan(Protocol):
    """What a batch needs of a table's anonymization: the columns a transform reads and a batch function
    returning the new values of the columns it changes (Arrow string arrays in and out)."""

    needs: list[str]

    def apply(self, columns: dict[str, pa.Array], same: dict[str, int] | None = None) -> dict[str, pa.Array]: ...


def identifier_columns(plan: BatchPlan) -> list[str]:
    """The columns whose transformer makes identifiers (leak check b compares them across all rows)."""
    return [name for name, t in getattr(plan, "transformers", {}).items() if getattr(t, "identifier", False)]


def transform_batch(data: bytes, plan: BatchPlan, columns: list[str], same: dict[str, int] | None = None,
                    hashed: dict | None = None, tap: Callable[[int, dict[str, pa.Array]], None] | None = None) -> bytes:
    """Whole COPY text rows (each ending with a newline) through the table's transforms, as COPY text rows.
    The batch is parsed into Arrow columns and joined back by Arrow: no Python step per row; the columns a transform
    reads are decoded (COPY escapes) into Arrow string arrays, which transformers with an Arrow form never turn into
    Python strings. `same` counts, per transformed column, the rows whose output
    equals their own input (leak check a). With `hashed`, each row ends with production's keyed hash of every
    identifier column (added by the COPY query); they leave the rows into `hashed` (column -> (its non-NULL
    hashes, their count); leak check b, which counts distinct values itself). A `tap` receives the row count and
    every copied column as parsed (production's values as COPY wrote them, before any transform), so a profile
    needs no parse of its own."""
    if not data:
        return b""
    extra = [HASH_FIELD + name for name in identifier_columns(plan)] if hashed is not None else []
    table = copytext.parse(data, columns + extra, types={name: pa.int64() for name in extra})
    for name in extra:
        found = table.column(name).drop_null().to_numpy()
        hashed[name[len(HASH_FIELD):]] = (found, len(found))
    raw = {name: table.column(name).combine_chunks() for name in columns}
    rows = table.num_rows
    del table
    if tap is not None:
        tap(rows, raw)
    decoded = {name: copytext.decode_column(raw[name]) for name in plan.needs}
    for name, text in plan.apply(decoded, same).items():
        raw[name] = copytext.encode_column(text)
    del decoded
    return copytext.join_rows([raw[name] for name in columns])

"""The copy engine's batch transform: COPY text in, Arrow columns, COPY text out; kept fields byte for byte,
transformed fields decoded and encoded exactly as COPY's text format defines them."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from prodlike.pipelines.engine.batch import HASH_FIELD, transform_batch
from prodlike.validators.copytext import decode_field, encode_field

AWKWARD = ["plain", "", None, "tab\there", "new\nline", "cr\rret", "back\\slash", "\\N", "ünïcödé 😀", "x" * 70_000,
           "trailing\\", "\x01\x7f"]


class Upper:
    """A plan that upper-cases one column and records what it was given."""

    def __init__(self, column: str, identifier: bool = False):
        self.needs, self.seen = [column], []
        self.transformers = {column: type("T", (), {"identifier": identifier})()}

    def apply(self, columns, kept=None):
        (name, values), = columns.items()
        self.seen.append(values.to_pylist())
        out = [None if v is None else v.upper() for v in self.seen[-1]]
        if kept is not None:  # rows equal to their input (leak check a), as TablePlan.apply counts them
            kept[name] = kept.get(name, 0) + sum(1 for a, b in zip(self.seen[-1], out) if a is not None and a == b)
        return {name: pa.array(out, pa.string())}


def rows(*columns: list) -> bytes:
    return b"".join(b"\t".join(map(encode_field, row)) + b"\n" for row in zip(*columns))


@pytest.mark.parametrize("escaped", [False, True], ids=["no-escapes", "escapes"])
def test_kept_fields_pass_byte_for_byte_and_transformed_ones_decode_exactly(escaped):
    values = AWKWARD if escaped else [v for v in AWKWARD if v is None or not any(c in v for c in "\t\n\r\\")]
    kept = list(reversed(values))
    plan, same = Upper("v"), {}
    out = transform_batch(rows(kept, values), plan, ["k", "v"], same)
    assert plan.seen == [values]  # the transform saw the values themselves, not their COPY text
    assert out == rows(kept, [None if v is None else v.upper() for v in values])
    assert same == {"v": sum(v is not None and v == v.upper() for v in values)}
    assert [decode_field(f) for f in out.split(b"\n")[0].split(b"\t")] == [kept[0], values[0].upper()]


def test_a_one_column_table_keeps_its_empty_strings():
    plan = Upper("v")
    assert transform_batch(b"\n\\N\nabc\n\n", plan, ["v"]) == b"\n\\N\nABC\n\n"
    assert plan.seen == [["", None, "abc", ""]]


def test_production_hashes_leave_the_rows():
    plan, hashed = Upper("v", identifier=True), {}
    out = transform_batch(b"1\ta\t-5\n2\t\\N\t\\N\n3\tb\t7\n", plan, ["k", "v"], hashed=hashed)
    assert out == b"1\tA\n2\t\\N\n3\tB\n"
    found, present = hashed["v"]
    assert sorted(found.tolist()) == [-5, 7] and present == 2 and found.dtype == np.int64
    assert HASH_FIELD + "v" not in out.decode()


def test_a_row_with_the_wrong_number_of_fields_is_refused_without_quoting_it():
    with pytest.raises(ValueError, match="do not have 2 fields each") as err:
        transform_batch(b"1\tSECRET\nSECRET2\n", Upper("v"), ["k", "v"])
    assert "SECRET" not in str(err.value) and err.value.__cause__ is None

"""The Transformer contract: a named, described, typed, keyed, batch-at-a-time column transform."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, ValidationError

from prodlike.pipelines.errors import ProdlikeError

from . import pools, vector
from .fit import FittedPool
from .keys import Keyed
from .patterns import kept_pii

# PostgreSQL type categories (pg_type.typcategory) a transformer may accept.
STRING, NUMERIC, DATETIME, NETWORK, USER, ARRAY, BOOLEAN, BIT, GEOMETRIC, TIMESPAN, ENUM, PSEUDO, COMPOSITE = (
    "S", "N", "D", "I", "U", "A", "B", "V", "G", "T", "E", "P", "C")
ANY = frozenset("SNDIUABVGTEPCRXZ")


SAMPLE = 16384  # values sampled per batch to decide whether to compute each distinct value once


def _distinct_share(sample: list) -> float:
    """Distinct values / values of an evenly spread sample, NULLs left out (about 0.92 when values repeat 10 times
    each; a column of unique values with NULLs is still 1.0)."""
    present = [v for v in sample if v is not None]
    return len(set(present)) / len(present) if present else 0.0


class ParameterError(ProdlikeError, ValueError):
    """A transformer parameter is invalid (raised when the policy loads, never per row)."""


class NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass
class ColumnInfo:
    """What a transformer knows of its target column."""

    table: str = ""
    name: str = ""
    type_name: str = "text"
    type_category: str = STRING
    max_length: int | None = None  # varchar(n)/char(n)
    unique: bool = False
    type_sql: str = "text"


@dataclass
class Batch:
    """The decoded columns of one batch that transforms may read (e.g. an entity key column)."""

    columns: dict[str, list[str | None]] = field(default_factory=dict)


class Transformer:
    """Base of every transformer; subclasses set the class attributes and implement `one`."""

    name: ClassVar[str]
    description: ClassVar[str]
    Params: ClassVar[type[BaseModel]] = NoParams
    accepts: ClassVar[frozenset[str]] = frozenset(STRING)
    injective: ClassVar[bool] = False  # unique inputs give unique outputs by construction
    identifier: ClassVar[bool] = False  # outputs must never contain a production value (leak check b)
    chance_rate: ClassVar[float] = 0.0  # documented chance that an output equals its own input
    max_output_length: ClassVar[int | None] = None  # longest output, when bounded
    # Capabilities the policy, init and the checks read (never a list of names elsewhere):
    format_keeping: ClassVar[bool] = False  # outputs keep the input's format (the distribution check holds them to it)
    partial: ClassVar[bool] = False  # rewrites only what it finds inside a value (not judged by the chance rate)
    opaque: ClassVar[bool] = False  # identifier outputs drawn from 2^64+ values: any production value in staging leaks
    min_width: ClassVar[int | None] = None  # narrowest varchar(n)/char(n) it fits (None: never longer than input)
    keyed_output: ClassVar[bool] = True  # outputs depend on the anonymization key (rotating it changes them)
    person_name: ClassVar[bool] = False  # its values name a person (free text in the row replaces them alike)
    fallback: ClassVar[int | None] = None  # rank among content-agnostic rules init falls back on (None: not one)
    reads: ClassVar[tuple[str, ...]] = ()  # other columns of the row the transform needs

    def __init__(self, params: dict[str, Any] | None, key: bytes, column: ColumnInfo | None = None):
        try:
            self.params = self.Params.model_validate(params or {})
        except ValidationError as err:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'params'}: {e['msg'].removeprefix('Value error, ')}"
                for e in err.errors())
            raise ParameterError(f"transformer {self.name!r}: {problems}") from None
        self.column = column or ColumnInfo()
        self.keyed = Keyed(key, self.name, self.params.model_dump())
        self.setup()

    def setup(self) -> None:
        """Validate parameters against the column and build lookup tables (once per policy load)."""

    def bind(self, siblings: dict[str, Transformer]) -> None:
        """Called once by the policy with the table's transformers by column (a transformer that reads other
        columns of the row sets `reads` here)."""

    def leaked(self, inputs: list[str | None], outputs: list[str | None], batch: Batch | None = None) -> int:
        """Rows of a partial transformer whose output still holds production data of the row (leak check a):
        here an e-mail or phone number of the input; transformers that know more (names) say more."""
        return sum(1 for raw, out in zip(inputs, outputs) if raw is not None and out is not None
                   and kept_pii(raw, out))

    @property
    def fingerprint(self) -> tuple:
        """Two transformers with equal fingerprints give equal outputs for equal inputs."""
        return (self.name, tuple(sorted(self.params.model_dump().items(), key=lambda kv: kv[0])).__repr__())

    def one(self, value: str) -> str | None:
        raise NotImplementedError

    def many(self, values: list[str]) -> list[str | None]:
        """Transform distinct non-NULL values; override with a vectorized version where it pays."""
        one = self.one
        return [one(v) for v in values]

    def transform(self, values: list[str | None], batch: Batch | None = None) -> list[str | None]:
        """Transform a whole column of a batch; NULL stays NULL; each distinct value is computed once (unless a
        sample shows no repeats: then the lookup table would cost more than it saves)."""
        if len(values) >= 4 * SAMPLE and _distinct_share(values[::len(values) // SAMPLE]) > 0.99:
            return self._each(values)
        distinct = dict.fromkeys(values)
        nulls = values.count(None) if None in distinct else 0
        distinct.pop(None, None)
        keys = list(distinct)
        if len(keys) + nulls == len(values):  # no repeats: no lookup table to build
            if not nulls:
                return self.many(keys)
            out = iter(self.many(keys))
            return [None if v is None else next(out) for v in values]
        distinct.update(zip(keys, self.many(keys)))
        distinct[None] = None
        return list(map(distinct.__getitem__, values))

    def many_arrow(self, values: pa.Array) -> pa.Array | None:
        """many() of an Arrow string array of distinct or repeated non-NULL values, as an Arrow string array; None
        when this transformer (or these values) has no Arrow form. Override where the vectorized form never needs
        Python strings: the copy path then neither decodes nor re-encodes the column."""
        return None

    def transform_arrow(self, values: pa.Array, batch: Batch | None = None) -> pa.Array:
        """transform() of an Arrow string array, as an Arrow string array (the copy path): the same outputs. With
        an Arrow form, NULLs are set aside and repeats computed once by dictionary encoding, all in Arrow."""
        if not self.reads and len(values) > values.null_count:
            n = len(values)
            if n >= 4 * SAMPLE and _distinct_share(values.take(np.arange(0, n, n // SAMPLE)).to_pylist()) > 0.99:
                present = values.drop_null() if values.null_count else values
                out = self.many_arrow(present)
                if out is not None and values.null_count:
                    out = out.take(_positions(values))
            else:
                codes = values.dictionary_encode()
                out = self.many_arrow(codes.dictionary)
                if out is not None:
                    out = out.take(codes.indices)
            if out is not None:
                return out if out.type == pa.string() else out.cast(pa.string())
        return pa.array(self.transform(values.to_pylist(), batch), pa.string())

    def _each(self, values: list[str | None]) -> list[str | None]:
        """many() over the non-NULL values, repeats included."""
        if None not in values:
            return self.many(values)
        out = iter(self.many([v for v in values if v is not None]))
        return [None if v is None else next(out) for v in values]


def _positions(values: pa.Array) -> pa.Array:
    """For each value, its position among the non-NULL values (NULL where it is NULL): take() from the outputs of
    the non-NULL values puts them back in place."""
    valid = values.is_valid().to_numpy(zero_copy_only=False)
    return pa.array(np.cumsum(valid) - 1, mask=~valid)


class DigestTransformer(Transformer):
    """A transformer whose output is a function of the value's keyed digest alone, built for a whole batch from
    its digest block (numpy and Arrow), from Python strings or straight from an Arrow column."""

    def from_digests(self, block: bytes) -> pa.Array:
        """The outputs of the values whose digests `block` holds (Keyed.block), as an Arrow string array."""
        raise NotImplementedError

    def many(self, values: list[str]) -> list[str | None]:
        return self.from_digests(self.keyed.block(values)).to_pylist()

    def many_arrow(self, values: pa.Array) -> pa.Array | None:
        return self.from_digests(self.keyed.block_arrow(values))

    def one(self, value: str) -> str | None:
        return self.many([value])[0]


class PoolTransformer(DigestTransformer):
    """A transformer that picks one value of a seeded pool by the keyed hash of the input; under a length limit,
    a pick that does not fit is replaced by one among the entries that do (again by the keyed hash)."""

    pool_name: ClassVar[str]

    def setup(self) -> None:
        self.pool = getattr(pools, self.pool_name)()
        self.fitted = FittedPool(self.pool)
        self.min_width = self.fitted.min_width()

    def from_digests(self, block: bytes) -> pa.Array:
        picks = vector.words(block, 0, 8) % np.uint64(len(self.pool))
        limit = self.column.max_length
        if limit is not None and limit < self.fitted.longest:
            picks = self.fitted.within(picks.astype(np.int64), vector.words(block, 8, 8), limit)
        return self.fitted.take(picks)

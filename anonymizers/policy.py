"""The anonymization policy: every copied column resolved to a transformer (fail closed), FK columns
given exactly their key's transform, unique columns held to injective transforms, types respected."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from prodlike.pipelines.errors import ProdlikeError, Refused

from .base import STRING, Batch, ColumnInfo, ParameterError, Transformer
from .fit import pad
from .registry import UnknownTransformerError, get

KEEP = "keep"
_VARCHAR = re.compile(r"^(?:character varying|character|varchar|char|bpchar)\((\d+)\)")
INTEGER_TYPES = {"int2", "int4", "int8"}


class PolicyError(Refused, ValueError):
    """The policy cannot be applied; `problems` lists every column and the fix."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("anonymization policy refused:\n" + "\n".join(f"  - {p}" for p in problems))


class TransformFailed(ProdlikeError, RuntimeError):
    """A transformer raised on a batch; the message never includes the value."""


@dataclass
class ColumnShape:
    name: str
    type_name: str
    type_category: str
    type_sql: str
    not_null: bool = False


@dataclass
class TableShape:
    """What the policy needs to know of one table."""

    name: str  # schema.table
    columns: list[ColumnShape]
    unique: list[list[str]] = field(default_factory=list)  # PK and unique constraints
    foreign_keys: list[tuple[list[str], str, list[str]]] = field(default_factory=list)
    checked: set[str] = field(default_factory=set)  # columns under a CHECK constraint or checked domain


Rule = tuple[str, dict[str, Any]]


@dataclass
class TablePlan:
    """The transforms of one table, applied batch by batch (the copy engine's hook)."""

    table: str
    transformers: dict[str, Transformer]
    watched: dict[str, Transformer] = field(default_factory=dict)  # kept text columns judged as free text
    needs: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        wanted = list(self.transformers) + list(self.watched)
        for t in [*self.transformers.values(), *self.watched.values()]:
            wanted += [c for c in t.reads if c]
        self.needs = list(dict.fromkeys(wanted))

    def spec(self) -> list[tuple[str, str, dict, dict, bool]]:
        """What another process needs to rebuild this plan: (column, transformer, params, column info, watched)."""
        return [(col, t.name, t.params.model_dump(), dataclasses.asdict(t.column), col in self.watched)
                for col, t in [*self.transformers.items(), *self.watched.items()]]

    @classmethod
    def rebuild(cls, table: str, spec: list[tuple[str, str, dict, dict, bool]], key: bytes) -> TablePlan:
        """The plan spec() describes, its transformers bound to each other as the policy binds them."""
        made = [(col, get(name)(params, key, ColumnInfo(**info)), watched) for col, name, params, info, watched in spec]
        transformers = {col: t for col, t, watched in made if not watched}
        watched = {col: t for col, t, is_watched in made if is_watched}
        for t in [*transformers.values(), *watched.values()]:
            t.bind(transformers)
        return cls(table, transformers, watched)

    def apply(self, columns: dict[str, pa.Array], kept: dict[str, int] | None = None) -> dict[str, pa.Array]:
        """The transformed columns of one batch (Arrow string arrays in and out); a transformer that reads other
        columns of the row gets them as Python lists. `kept` counts, per column, the rows that keep production data
        (leak check a): outputs equal to their input or, for partial transformers (free text), outputs still
        holding a production name, e-mail or phone of the row."""
        batch = None
        out = {}
        for name, t in self.transformers.items():
            if (t.reads or (t.partial and kept is not None)) and batch is None:
                batch = Batch({c: columns[c].to_pylist() for c in self.needs})
            try:
                out[name] = t.transform_arrow(columns[name], batch)
                if t.column.type_name == "bpchar" and t.column.max_length:  # char(n): padded as PostgreSQL pads
                    out[name] = pad(out[name], t.column.max_length)
                if kept is not None:
                    kept[name] = kept.get(name, 0) + _kept(t, columns[name], out[name], batch)
            except Exception as err:  # the value must never reach the message
                raise TransformFailed(
                    f"transformer {t.name!r} failed on {self.table}.{name} ({type(err).__name__}; value withheld)"
                ) from None
        if kept is not None:
            for name, watch in self.watched.items():
                if batch is None:
                    batch = Batch({c: columns[c].to_pylist() for c in self.needs})
                values = batch.columns[name]
                kept[name] = kept.get(name, 0) + watch.leaked(values, values, batch, kept_as_is=True)
        return out


def _kept(t: Transformer, inputs: pa.Array, outputs: pa.Array, batch: Batch | None) -> int:
    if t.partial:
        return t.leaked(inputs.to_pylist(), outputs.to_pylist(), batch)
    return pc.sum(pc.equal(inputs, outputs)).as_py() or 0


@dataclass
class Policy:
    """Resolved rules per table: (transformer, params, where the rule came from) for every column."""

    rules: dict[str, dict[str, tuple[str, dict, str]]]
    plans: dict[str, TablePlan | None]


# Column-name patterns and the transformer they suggest, first match wins (order matters: "email_address"
# is an email, not an address).
NAME_RULES: list[tuple[re.Pattern, str]] = [(re.compile(p), t) for p, t in [
    (r"(^|_)ip(_|$)|ip_?addr", "ip"),
    (r"e_?mail", "email"),
    (r"phone|mobile|fax|msisdn|tel(_|$)", "phone"),
    (r"first_?name|given_?name|forename", "first_name"),
    (r"last_?name|surname|family_?name", "last_name"),
    (r"^(name|full_?name|contact_name|customer_name)$", "full_name"),
    (r"birth|dob", "birth_date"),
    (r"street|address_?line", "street"),
    (r"address", "address"),
    (r"city|town", "city"),
    (r"zip|post_?code|postal", "postcode"),
    (r"card|iban|ssn|passport|tax_?id|national_?id|account_?n", "hash"),
    (r"passw|secret|token|salt|api_?key|otp|twofa", "hash"),
    (r"user_?name|login", "tokenize"),
]]
# A bare `name` column is a person's only in a table about people (else free text: dictionary names replaced).
PEOPLE = re.compile(r"user|customer|person|people|member|employee|owner|contact|client|patient|student|author|"
                    r"subscriber|vet|passenger|staff|profile|account|lead|guest|actor|director|artist|player")


def suggest(column: ColumnShape, table: str = "") -> str:
    """A transformer suggestion from the column's name and type (used in errors, scan and init)."""
    n = column.name.lower()
    if column.type_name in ("inet", "cidr"):
        return "ip"
    if column.type_name in ("json", "jsonb"):
        return "json"
    for pattern, transformer in NAME_RULES:
        if pattern.search(n) and (transformer != "full_name" or n != "name" or PEOPLE.search(table.lower())) and (
                transformer != "address" or column.type_category == STRING):
            return transformer
    if column.type_category == STRING and column.type_name != "bpchar" and not n.endswith(("_id", "code")):
        return "regex_redact"
    return KEEP


def _max_length(type_sql: str) -> int | None:
    m = _VARCHAR.match(type_sql)
    return int(m.group(1)) if m else None


def _make(rule: Rule, key: bytes, shape: TableShape, col: ColumnShape, unique: bool) -> Transformer:
    info = ColumnInfo(shape.name, col.name, col.type_name, col.type_category, _max_length(col.type_sql), unique,
                      col.type_sql)
    return get(rule[0])(rule[1], key, info)


def _column_problems(t: Transformer, shape: TableShape, col: ColumnShape, unique: bool) -> list[str]:
    where = f"{shape.name}.{col.name}"
    out = []
    if col.type_category not in t.accepts and not (col.type_category == "U" and STRING in t.accepts):
        out.append(f"{where} ({col.type_sql}): transformer {t.name!r} does not accept this type")
    if unique and not t.injective:
        out.append(f"{where} is unique (primary key or unique constraint) but {t.name!r} is not injective: "
                   f"use tokenize, hash or email (unique by construction)")
    if col.name in shape.checked:
        out.append(f"{where} has a CHECK constraint that {t.name!r} could violate: keep it or drop the check")
    if t.name == "null" and col.not_null:
        out.append(f"{where} is NOT NULL: transformer 'null' cannot be used")
    limit = _max_length(col.type_sql)
    if limit is not None and t.max_output_length is not None and t.max_output_length > limit:
        out.append(f"{where} is {col.type_sql} but {t.name!r} writes up to {t.max_output_length} characters")
    if limit is not None and t.min_width is not None and limit < t.min_width:
        out.append(f"{where} is {col.type_sql}: {t.name!r} needs at least {t.min_width} characters (its shortest "
                   f"realistic value); widen the column to varchar({t.min_width}) or more, or use mask/tokenize "
                   f"(length-preserving)")
    return out


def build(
    config_rules: dict[str, str | dict[str, Rule]],
    shapes: dict[str, TableShape],
    key: bytes,
    tables: list[str],
) -> Policy:
    """Resolve every column of `tables`; raise PolicyError listing every problem at once.

    config_rules maps `schema.table` to "keep" or {column: (transformer, params)}."""
    problems: list[str] = []
    rules: dict[str, dict[str, tuple[str, dict, str]]] = {}
    unique_cols = {(s.name, cols[0]) for s in shapes.values() for cols in s.unique if len(cols) == 1}
    unique_any = {(s.name, c) for s in shapes.values() for cols in s.unique for c in cols}
    for q in tables:
        shape, configured = shapes[q], config_rules.get(q, {})
        names = {c.name for c in shape.columns}
        rules[q] = {}
        if configured == KEEP:
            rules[q] = {c.name: (KEEP, {}, "table keep") for c in shape.columns}
            continue
        for col_name, (name, params) in configured.items():
            if col_name not in names:
                problems.append(f"anonymization.tables.{q}.columns.{col_name}: no such column in production "
                                f"(columns: {', '.join(sorted(names))})")
                continue
            rules[q][col_name] = (name, dict(params), "config")
    _propagate_foreign_keys(shapes, tables, rules, problems)
    for q in tables:
        shape = shapes[q]
        pk_like = {c for cols in shape.unique for c in cols} | {c for fk in shape.foreign_keys for c in fk[0]}
        unclassified = []
        for col in shape.columns:
            if col.name in rules[q]:
                continue
            if col.name in pk_like and col.type_name in INTEGER_TYPES:
                rules[q][col.name] = (KEEP, {}, "integer key")
            else:
                unclassified.append(f"{col.name} (suggested: {suggest(col, q)})")
        if unclassified:
            problems.append(f"{q}: unclassified column(s) {', '.join(unclassified)}; classify each under "
                            f"anonymization.tables.{q}.columns (a transformer or keep), or declare the table keep")
    plans: dict[str, TablePlan | None] = {}
    for q in tables:
        shape = shapes[q]
        transformers = {}
        for col in shape.columns:
            rule = rules[q].get(col.name)
            if rule is None or rule[0] == KEEP:
                continue
            try:
                t = _make((rule[0], rule[1]), key, shape, col, (q, col.name) in unique_cols)
            except (UnknownTransformerError, ParameterError) as err:
                problems.append(f"anonymization.tables.{q}.columns.{col.name}: {err}")
                continue
            problems += _column_problems(t, shape, col, (q, col.name) in unique_any)
            transformers[col.name] = t
        for t in transformers.values():
            t.bind(transformers)
        watched = _watched(key, shape, rules[q], transformers)
        plans[q] = TablePlan(q, transformers, watched) if transformers else None
    if problems:
        raise PolicyError(problems)
    return Policy(rules, plans)


def _watched(key: bytes, shape: TableShape, rules: dict[str, tuple], transformers: dict[str, Transformer]
             ) -> dict[str, Transformer]:
    """Kept text columns of a table with person-name columns: the leak check judges them as free text (a note
    holding the row's own names, e-mail or phone must not pass as keep)."""
    if not any(t.person_name for t in transformers.values()):
        return {}
    out = {}
    for col in shape.columns:
        rule = rules.get(col.name)
        if rule is not None and rule[0] == KEEP and col.type_category == STRING and col.type_name != "bpchar":
            watch = get("regex_redact")({}, key, ColumnInfo(shape.name, col.name, col.type_name, col.type_category))
            watch.bind(transformers)
            out[col.name] = watch
    return out


def _propagate_foreign_keys(shapes, tables, rules, problems) -> None:
    """Give each FK column exactly the rule of the key it references, across any depth of tables."""
    wanted = set(tables)
    changed = True
    while changed:
        changed = False
        for q in tables:
            for cols, ref, ref_cols in shapes[q].foreign_keys:
                if ref not in wanted:
                    continue
                for col, ref_col in zip(cols, ref_cols):
                    parent = rules[ref].get(ref_col)
                    if parent is None:
                        continue
                    mine = rules[q].get(col)
                    derived = (parent[0], parent[1], f"foreign key to {ref}.{ref_col}")
                    if mine is None:
                        rules[q][col] = derived
                        changed = True
                    elif (mine[0], mine[1]) != (parent[0], parent[1]):
                        if mine[2] == "config" or parent[2] == "config":
                            problems.append(
                                f"{q}.{col} references {ref}.{ref_col}, which uses {_describe(parent)}; {q}.{col} "
                                f"must use exactly the same transform (remove its rule: FK columns inherit their "
                                f"key's transform)"
                            )
                        rules[q][col] = derived
                        changed = True
    return None


def _describe(rule: tuple) -> str:
    return rule[0] + (f" {rule[1]}" if rule[1] else "")

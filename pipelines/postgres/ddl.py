"""DDL that recreates a production catalog inside staging's shadow schemas (pre-data, post-data)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from prodlike.pipelines.postgres.catalog import Catalog, Column, Table, qident, qname

_IDENT = r'(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)'
_QUALIFIED = re.compile(rf'(?<![\w$".])({_IDENT})\.({_IDENT})')
_FUNCTION_BODY = re.compile(r"^AS \$", re.MULTILINE)


def _unquote(ident: str) -> str:
    return ident[1:-1].replace('""', '"') if ident.startswith('"') else ident.lower()


def shadow_name(schema: str) -> str:
    """Staging schema that receives the copy of production schema `schema` before release."""
    return f"_prodlike_shadow_{schema}"[:63]


def previous_name(schema: str) -> str:
    """Staging schema that keeps the previous release of `schema` for rollback."""
    return f"_prodlike_prev_{schema}"[:63]


@dataclass
class Renamer:
    """Rewrites schema-qualified names: refreshed schemas to their shadow, extension members to
    the schema where staging keeps that extension."""

    schemas: dict[str, str]  # production schema -> staging schema
    extension_members: set[tuple[str, str]]
    extension_schemas: dict[str, str]  # production extension schema -> staging extension schema

    def _sub(self, m: re.Match) -> str:
        schema, name = _unquote(m.group(1)), _unquote(m.group(2))
        if (schema, name) in self.extension_members and schema in self.extension_schemas:
            return f"{qident(self.extension_schemas[schema])}.{m.group(2)}"
        if schema in self.schemas:
            return f"{qident(self.schemas[schema])}.{m.group(2)}"
        return m.group(0)

    def __call__(self, sql: str) -> str:
        return _QUALIFIED.sub(self._sub, sql)

    def routine(self, definition: str) -> str:
        """Rewrite a function's signature but never its body (bodies bind by name at run time)."""
        m = _FUNCTION_BODY.search(definition)
        if not m:
            return self(definition)
        return self(definition[: m.start()]) + definition[m.start():]

    def table(self, qualified: str) -> str:
        schema, name = qualified.split(".", 1)
        return qname(self.schemas.get(schema, schema), name)


def _column_sql(col: Column, rename: Renamer) -> str:
    parts = [qident(col.name), rename(col.type_sql)]
    if col.collation:
        parts.append(f"COLLATE {col.collation}")
    if col.identity:
        parts.append(f"GENERATED {'ALWAYS' if col.identity == 'a' else 'BY DEFAULT'} AS IDENTITY")
    elif col.generated:
        kind = "VIRTUAL" if col.generated == "v" else "STORED"
        parts.append(f"GENERATED ALWAYS AS ({rename(col.default or '')}) {kind}")
    elif col.default is not None:
        parts.append(f"DEFAULT {rename(col.default)}")
    if col.not_null:
        parts.append("NOT NULL")
    return " ".join(parts)


def create_table_sql(table: Table, rename: Renamer) -> str:
    target = rename.table(table.qualified)
    opts = f" WITH ({', '.join(table.options)})" if table.options else ""
    if table.parent:
        sql = f"CREATE TABLE {target} PARTITION OF {rename.table(table.parent)} {table.partition_bound}"
    else:
        cols = ",\n    ".join(_column_sql(c, rename) for c in table.columns)
        sql = f"CREATE TABLE {target} (\n    {cols}\n)"
    if table.kind == "p":
        sql += f" PARTITION BY {table.partition_key}"
    return sql + opts


def pre_data(cat: Catalog, rename: Renamer, tables: list[str]) -> list[str]:
    """Schemas, types, sequences, functions and empty tables, in dependency order."""
    out = [f"CREATE SCHEMA {qident(rename.schemas[s])}" for s in cat.schemas]
    out += [rename(t.definition) for t in cat.types]
    out += [rename(s.definition) for s in cat.sequences if not s.identity]
    out += [rename.routine(r.definition) for r in cat.routines]
    wanted = set(tables)
    def depth(t) -> int:
        return 0 if t.parent is None else 1 + depth(cat.tables[t.parent])

    ordered = sorted((t for t in cat.tables.values() if t.qualified in wanted), key=depth)
    out += [create_table_sql(t, rename) for t in ordered]
    for s in cat.sequences:
        if s.owned_by and not s.identity and f"{s.schema}.{s.owned_by[0]}" in wanted:
            out.append(f"ALTER SEQUENCE {rename.table(f'{s.schema}.{s.name}')} OWNED BY "
                       f"{rename.table(f'{s.schema}.{s.owned_by[0]}')}.{qident(s.owned_by[1])}")
    return out


def table_post_data(cat: Catalog, rename: Renamer, qualified: str) -> list[str]:
    """Keys, unique and check constraints and indexes of one table and its partitions (built after the
    rows load). Partitioned indexes are created ON ONLY the parent, each partition's index on the
    partition under its production name, then attached deepest first, as pg_dump does."""
    schema, name = qualified.split(".", 1)
    target = rename.table(qualified)
    out = [f"ALTER TABLE {target} ADD CONSTRAINT {qident(c.name)} {rename(c.definition)}"
           for c in cat.constraints if (c.schema, c.table) == (schema, name) and c.kind in "pucx"]
    tree = cat.partition_tree(qualified)
    order = {t.qualified: d for d, t in enumerate(tree)}  # parents before children
    indexes = [i for i in cat.indexes if f"{i.schema}.{i.table}" in order]
    out += [rename(i.definition) for i in indexes]
    attached = sorted((i for i in indexes if i.parent), key=lambda i: -order[f"{i.schema}.{i.table}"])
    out += [f"ALTER INDEX {rename.table(i.parent)} ATTACH PARTITION {rename.table(f'{i.schema}.{i.name}')}"
            for i in attached]
    return out


def final_post_data(cat: Catalog, rename: Renamer, tables: list[str]) -> list[str]:
    """Foreign keys, triggers, views and materialized views (after every table has loaded)."""
    wanted = set(tables)
    out = [f"ALTER TABLE {rename.table(f'{c.schema}.{c.table}')} ADD CONSTRAINT {qident(c.name)} "
           f"{rename(c.definition)}"
           for c in cat.foreign_keys() if f"{c.schema}.{c.table}" in wanted]
    for t in cat.triggers:
        if f"{t.schema}.{t.table}" in wanted:
            out.append(rename(t.definition))
            if t.enabled == "D":
                out.append(f"ALTER TABLE {rename.table(f'{t.schema}.{t.table}')} DISABLE TRIGGER {qident(t.name)}")
    for v in cat.views:
        target = rename.table(f"{v.schema}.{v.name}")
        opts = f" WITH ({', '.join(v.options)})" if v.options else ""
        if v.materialized:
            out.append(f"CREATE MATERIALIZED VIEW {target}{opts} AS {rename(v.definition.rstrip(';'))} WITH NO DATA")
        else:
            out.append(f"CREATE VIEW {target}{opts} AS {rename(v.definition)}")
    matviews = {(v.schema, v.name) for v in cat.views if v.materialized}
    out += [rename(i.definition) for i in cat.indexes if (i.schema, i.table) in matviews]
    out += [f"REFRESH MATERIALIZED VIEW {rename.table(f'{s}.{n}')}" for s, n in sorted(matviews)]
    return out


def sequence_sync_sql(cat: Catalog, rename: Renamer, tables: list[str]) -> list[str]:
    """setval for every sequence: past the copied max of its column and production's last value."""
    wanted = set(tables)
    out = []
    for s in cat.sequences:
        seq = rename.table(f"{s.schema}.{s.name}")
        last = s.last_value
        if s.owned_by and f"{s.schema}.{s.owned_by[0]}" in wanted:
            tbl, col = rename.table(f"{s.schema}.{s.owned_by[0]}"), qident(s.owned_by[1])
            floor = f"coalesce((SELECT max({col}) FROM {tbl}), 0)"
            value = f"greatest({floor}, {last if last is not None else 0})"
            out.append(f"SELECT setval('{seq}', greatest({value}, 1), {value} > 0 OR {last is not None})")
        elif last is not None:
            out.append(f"SELECT setval('{seq}', {last}, true)")
    return out

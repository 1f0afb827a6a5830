"""Production's pg_dump entries turned into the shadow schemas' DDL: pre-data before the rows, each table's keys
and indexes after its rows, the rest of post-data after every table; run statement by statement, naming the
object on failure."""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from prodlike.pipelines.errors import ProdlikeError
from prodlike.pipelines.postgres.catalog import Catalog
from prodlike.pipelines.postgres.dump import Entry
from prodlike.pipelines.postgres.rename import Renamer
from prodlike.pipelines.postgres.sqltokens import Token, significant, tokenize

__all__ = ["DDLError", "Renamer", "ShadowDDL", "Statement", "plan", "previous_name", "run", "shadow_name"]

# entries built per table right after its rows load (pg_dump's post-data: keys, unique/exclusion, indexes)
_PER_TABLE_KINDS = {"CONSTRAINT", "INDEX"}
# entries prodlike makes itself: the shadow schemas are created before the dump's DDL runs
_SKIPPED_KINDS = {"SCHEMA"}


def shadow_name(schema: str) -> str:
    """Staging schema that receives the copy of production schema `schema` before release."""
    return f"_prodlike_shadow_{schema}"[:63]


def previous_name(schema: str) -> str:
    """Staging schema that keeps the previous release of `schema` for rollback."""
    return f"_prodlike_prev_{schema}"[:63]


EXTENSION_SCHEMA = "prodlike_ext"  # staging's home of extensions: never refreshed, so no release drop reaches them

class DDLError(ProdlikeError, RuntimeError):
    """A DDL statement failed in staging; says which object (kind and qualified name), never row values."""

    def __init__(self, label: str, err: psycopg.Error):
        from prodlike.pipelines.errors import safe_message

        self.label, self.sqlstate = label, getattr(err, "sqlstate", None)
        super().__init__(f"creating {label} in staging failed: {safe_message(err)}")


@dataclass
class Statement:
    label: str  # kind and qualified name of the object, as errors show it
    sql: str


@dataclass
class ShadowDDL:
    """The shadow schemas' DDL in pg_dump's dependency order, cut where the rows load."""

    pre_data: list[Statement] = field(default_factory=list)
    table_post_data: dict[str, list[Statement]] = field(default_factory=dict)  # top-level table -> statements
    post_data: list[Statement] = field(default_factory=list)
    matviews: list[tuple[str, str]] = field(default_factory=list)  # (schema, name) in creation order


def _qualified_after(sig: list[Token], start: int) -> tuple[str, str] | None:
    """The schema-qualified name at sig[start:] (after an optional ONLY)."""
    i = start + (1 if start < len(sig) and sig[start].upper == "ONLY" else 0)
    if i + 2 < len(sig) and sig[i + 1].text == "." and sig[i].name and sig[i + 2].name:
        return sig[i].name, sig[i + 2].name
    return None


def target_table(entry: Entry) -> tuple[str, str] | None:
    """The table an INDEX or CONSTRAINT entry builds on, read from its tokens."""
    sig = significant(tokenize(entry.sql))
    words = [t.upper for t in sig]
    if entry.kind == "INDEX" and "ON" in words:
        return _qualified_after(sig, words.index("ON") + 1)
    if entry.kind == "CONSTRAINT" and words[:2] == ["ALTER", "TABLE"]:
        return _qualified_after(sig, 2)
    return None


def built_index(entry: Entry) -> tuple[str, str] | None:
    """(schema, name) of the index an INDEX entry creates or a key/unique/exclusion CONSTRAINT entry builds
    (the constraint's index carries its name), read from its tokens."""
    sig = significant(tokenize(entry.sql))
    words = [t.upper for t in sig]
    if entry.schema is None:
        return None
    if entry.kind == "INDEX" and "INDEX" in words:
        i = words.index("INDEX") + 1
        i += 3 if words[i:i + 3] == ["IF", "NOT", "EXISTS"] else 0
        return (entry.schema, sig[i].name) if i < len(sig) and sig[i].name and words[i] != "ON" else None
    if entry.kind == "CONSTRAINT" and "CONSTRAINT" in words:
        i = words.index("CONSTRAINT") + 1
        return (entry.schema, sig[i].name) if i < len(sig) and sig[i].name else None
    return None


def plan(entries: list[Entry], rename: Renamer, owners: dict[tuple[str, str], str],
         index_oids: dict[tuple[str, str], int] | None = None) -> ShadowDDL:
    """Split the dump: pre-data; per table (owners maps each created relation, partitions included, to its
    top-level table) the keys and indexes, in production's index OID order where index_oids gives it (the
    planner breaks cost ties between a table's indexes by OID: built in pg_dump's name order, staging picked
    the other of two equally cheap indexes); everything else of post-data after all tables have loaded."""
    out = ShadowDDL()
    per_table: dict[str, list[tuple[float, Statement]]] = {}
    for e in entries:
        if e.kind in _SKIPPED_KINDS:
            continue
        stmt = Statement(e.label, rename(e.sql))
        if e.section == "pre-data":
            out.pre_data.append(stmt)
            if e.kind == "MATERIALIZED VIEW" and e.schema is not None:
                out.matviews.append((e.schema, e.name))
            continue
        owner = owners.get(target_table(e) or ("", "")) if e.kind in _PER_TABLE_KINDS else None
        if owner is not None:
            oid = (index_oids or {}).get(built_index(e) or ("", ""), float("inf"))
            per_table.setdefault(owner, []).append((oid, stmt))
        else:
            out.post_data.append(stmt)
    # stable: entries of no known index keep pg_dump's order, last
    out.table_post_data = {t: [st for _, st in sorted(pairs, key=lambda p: p[0])] for t, pairs in per_table.items()}
    return out


def run(conn: psycopg.Connection, statements: list[Statement]) -> None:
    """Execute each statement; a failure raises DDLError naming the object (the server's DETAIL, which can hold
    row values, is dropped and the original error is not chained)."""
    for s in statements:
        try:
            conn.execute(s.sql)
        except psycopg.Error as err:
            raise DDLError(s.label, err) from None


def refresh_matviews(cat: Catalog, rename: Renamer, matviews: list[tuple[str, str]]) -> list[Statement]:
    """REFRESH of every materialized view production has populated (computed in staging from the copied rows)."""
    populated = {(v.schema, v.name) for v in cat.views if v.materialized and v.populated}
    return [Statement(f"materialized view data {s}.{n}",
                      sql.SQL("REFRESH MATERIALIZED VIEW {}").format(rename.identifier(s, n)).as_string(None))
            for s, n in matviews if (s, n) in populated]


def sequence_sync(cat: Catalog, rename: Renamer, tables: list[str]) -> list[Statement]:
    """setval for every copied sequence: past the copied max of its column and production's last value."""
    wanted = set(tables)
    out = []
    for s in cat.sequences:
        owner = f"{s.schema}.{s.owned_by[0]}" if s.owned_by else None
        if owner is not None and owner not in wanted:
            continue  # the sequence of an excluded table is not created
        seq = rename.identifier(s.schema, s.name)
        label = f"sequence value {s.schema}.{s.name}"
        last = sql.Literal(s.last_value if s.last_value is not None else 0)
        called = sql.Literal(s.last_value is not None)
        if owner is not None:
            floor = sql.SQL("coalesce((SELECT max({}) FROM {}), 0)").format(
                sql.Identifier(s.owned_by[1]), rename.identifier(s.schema, s.owned_by[0]))
            value = sql.SQL("greatest({}, {})").format(floor, last)
            query = sql.SQL("SELECT setval({}::regclass, greatest({}, 1), {} > 0 OR {})").format(
                sql.Literal(seq.as_string(None)), value, value, called)
        elif s.last_value is not None:
            query = sql.SQL("SELECT setval({}::regclass, {}, true)").format(sql.Literal(seq.as_string(None)), last)
        else:
            continue
        out.append(Statement(label, query.as_string(None)))
    return out

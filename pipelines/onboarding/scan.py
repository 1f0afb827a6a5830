"""`prodlike scan`: every production column with its classification, or a suggestion and masked evidence;
`--write` appends commented suggestions for unclassified columns to the config (a person must review)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql

from prodlike.anonymizers.patterns import SCAN_CHARS
from prodlike.anonymizers.policy import INTEGER_TYPES, ColumnShape
from prodlike.anonymizers.scan import Finding, classify
from prodlike.pipelines.config.model import Config
from prodlike.pipelines.engine.preflight import select_tables
from prodlike.pipelines.engine.refresh import shapes
from prodlike.pipelines.postgres import connections
from prodlike.pipelines.postgres.catalog import Catalog, read_catalog

SAMPLE_VALUES = 200  # non-NULL values classified per column
SAMPLE_ROWS = 2000  # rows read per table in the first pass
SAMPLED_TABLE = 20_000  # estimated rows above which the passes read a TABLESAMPLE SYSTEM of about 5 x SAMPLE_ROWS
SAMPLE_SEED = 20261203  # TABLESAMPLE ... REPEATABLE: the same blocks for every pass of one table


def _current(cfg: Config, table: str, column: str, pk_like: set[str], type_name: str) -> str | None:
    policy = cfg.anonymization.tables.get(table)
    if policy is not None and policy.keep:
        return "keep (table)"
    if policy is not None and column in policy.columns:
        return policy.columns[column].transformer
    if column in pk_like and type_name in INTEGER_TYPES:
        return "keep (integer key)"
    return None


def _value(col: ColumnShape) -> sql.Composable:
    """A column's value as text, at most SCAN_CHARS characters (bytea: its first SCAN_CHARS bytes), cut by the
    server: a 30 MB value never leaves production whole."""
    name = sql.Identifier(col.name)
    if col.type_name == "bytea":
        return sql.SQL("substring({} from 1 for {})::text").format(name, sql.Literal(SCAN_CHARS))
    return sql.SQL("left({}::text, {})").format(name, sql.Literal(SCAN_CHARS))


def _source(conn: psycopg.Connection, schema: str, table: str) -> tuple[sql.Composable, bool]:
    """The FROM clause of the sample (a TABLESAMPLE of about 5 x SAMPLE_ROWS rows on a large table) and whether
    it holds every row."""
    estimate = conn.execute("SELECT c.reltuples FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                            "WHERE n.nspname = %s AND c.relname = %s", (schema, table)).fetchone()
    relation = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table))
    rows = estimate[0] if estimate else -1
    if rows <= SAMPLED_TABLE:
        return relation, True
    percent = min(100.0, 100.0 * 5 * SAMPLE_ROWS / rows)
    return sql.SQL("{} TABLESAMPLE SYSTEM ({}) REPEATABLE ({})").format(
        relation, sql.Literal(percent), sql.Literal(SAMPLE_SEED)), False


def _sample(conn: psycopg.Connection, schema: str, table: str, columns: list[ColumnShape],
            wanted: int = SAMPLE_VALUES) -> list[list[str]]:
    """Up to `wanted` non-NULL values per column, each cut to SCAN_CHARS: one pass over the first
    SAMPLE_ROWS rows (of the sample), then one per column that pass left short (a column filled only in later
    rows is still classified from its values)."""
    if not columns:
        return []
    source, _ = _source(conn, schema, table)
    query = sql.SQL("SELECT {} FROM {} LIMIT {}").format(sql.SQL(", ").join(map(_value, columns)), source,
                                                         sql.Literal(max(SAMPLE_ROWS, wanted)))
    rows = conn.execute(query).fetchall()
    values = [[r[i] for r in rows if r[i] is not None][:wanted] for i in range(len(columns))]
    if len(rows) < max(SAMPLE_ROWS, wanted):
        return values
    for i, col in enumerate(columns):
        if len(values[i]) < wanted:
            more = sql.SQL("SELECT {} FROM {} WHERE {} IS NOT NULL LIMIT {}").format(
                _value(col), source, sql.Identifier(col.name), sql.Literal(wanted))
            values[i] = [r[0] for r in conn.execute(more)]
    return values


def scan(cfg: Config, source_dsn: str, sample_values: int = SAMPLE_VALUES) -> list[Finding]:
    """Classify every copied column of production (values stay in this process; evidence is counts)."""
    findings: list[Finding] = []
    with connections.production(source_dsn, cfg.copy_.lock_timeout) as conn:
        cat: Catalog = read_catalog(conn, cfg.schemas)
        copied = select_tables(cfg, cat).copied
        for q, shape in shapes(cat, copied).items():
            schema, name = q.split(".", 1)
            values = _sample(conn, schema, name, shape.columns, sample_values)
            pk_like = {c for cols in shape.unique for c in cols} | {c for fk in shape.foreign_keys for c in fk[0]}
            derived = {c for fk in shape.foreign_keys for c in fk[0]}
            for i, col in enumerate(shape.columns):
                f = classify(q, col, values[i])
                f.current = _current(cfg, q, col.name, pk_like, col.type_name)
                if f.current is None and col.name in derived:
                    f.current = "(from its foreign key)"
                findings.append(f)
            conn.rollback()
    return findings


def write_suggestions(path: Path, findings: list[Finding]) -> int:
    """Append commented suggestions for unclassified columns; returns how many were written."""
    todo = [f for f in findings if f.current is None]
    if not todo:
        return 0
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = ["", f"# prodlike scan suggestions ({stamp}): unclassified columns. Review each, then move it",
             "# under anonymization.tables (uncommented); the refresh stays refused until then."]
    for table in dict.fromkeys(f.table for f in todo):
        lines.append(f"#   {table}:")
        lines.append("#     columns:")
        for f in (x for x in todo if x.table == table):
            lines.append(f"#       {f.column}: {f.suggestion}    # {f.type_sql}; {f.evidence}")
    with path.open("a") as fh:
        fh.write("\n".join(lines) + "\n")
    return len(todo)

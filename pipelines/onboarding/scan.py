"""`prodlike scan`: every production column with its classification, or a suggestion and masked evidence;
`--write` appends commented suggestions for unclassified columns to the config (a person must review)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import psycopg

from prodlike.anonymizers.policy import INTEGER_TYPES
from prodlike.anonymizers.scan import Finding, classify
from prodlike.pipelines.config.model import Config
from prodlike.pipelines.engine.preflight import select_tables
from prodlike.pipelines.engine.refresh import shapes
from prodlike.pipelines.postgres import connections
from prodlike.pipelines.postgres.catalog import Catalog, qident, qname, read_catalog

SAMPLE_ROWS = 200


def _current(cfg: Config, table: str, column: str, pk_like: set[str], type_name: str) -> str | None:
    policy = cfg.anonymization.tables.get(table)
    if policy is not None and policy.keep:
        return "keep (table)"
    if policy is not None and column in policy.columns:
        return policy.columns[column].transformer
    if column in pk_like and type_name in INTEGER_TYPES:
        return "keep (integer key)"
    return None


def _sample(conn: psycopg.Connection, schema: str, table: str, columns: list[str], rows: int) -> list[tuple]:
    cols = ", ".join(f"{qident(c)}::text" for c in columns)
    return conn.execute(f"SELECT {cols} FROM {qname(schema, table)} LIMIT {int(rows)}").fetchall()


def scan(cfg: Config, source_dsn: str, sample_rows: int = SAMPLE_ROWS) -> list[Finding]:
    """Classify every copied column of production (values stay in this process; evidence is counts)."""
    findings: list[Finding] = []
    with connections.production(source_dsn, cfg.copy_.lock_timeout) as conn:
        cat: Catalog = read_catalog(conn, cfg.schemas)
        copied = select_tables(cfg, cat).copied
        for q, shape in shapes(cat, copied).items():
            schema, name = q.split(".", 1)
            rows = _sample(conn, schema, name, [c.name for c in shape.columns], sample_rows)
            pk_like = {c for cols in shape.unique for c in cols} | {c for fk in shape.foreign_keys for c in fk[0]}
            derived = {c for fk in shape.foreign_keys for c in fk[0]}
            for i, col in enumerate(shape.columns):
                f = classify(q, col, [r[i] for r in rows if r[i] is not None])
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

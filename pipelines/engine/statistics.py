"""Production's planner statistics restored into the shadow copy (staging on PostgreSQL 18+), so a freshly
loaded copy plans like production instead of flapping on its own sample: relation sizes of every copied
table, column statistics of `keep` columns only (an anonymized column's most-common values are raw PII,
so its statistics never leave production and staging keeps its own ANALYZE of the anonymized values)."""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg

from prodlike.pipelines.postgres.ddl import shadow_name

_RELATIONS = """
SELECT n.nspname, c.relname, c.relpages, c.reltuples, c.relallvisible
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY(%s) AND c.relkind IN ('r', 'p')
"""
_ATTRIBUTE_FIELDS = ["null_frac", "avg_width", "n_distinct", "most_common_vals::text", "most_common_freqs",
                     "histogram_bounds::text", "correlation", "most_common_elems::text", "most_common_elem_freqs",
                     "elem_count_histogram"]
_RANGE_FIELDS = ["range_length_histogram::text", "range_empty_frac", "range_bounds_histogram::text"]  # 17+
_TYPES = {"null_frac": "real", "avg_width": "integer", "n_distinct": "real", "most_common_freqs": "real[]",
          "correlation": "real", "most_common_elem_freqs": "real[]", "elem_count_histogram": "real[]",
          "range_empty_frac": "real"}


@dataclass
class Statistics:
    """Statistics read from production inside the run's snapshot (held in memory only)."""

    relations: list[tuple] = field(default_factory=list)
    attributes: list[dict] = field(default_factory=list)

    def summary(self) -> dict:
        return {"restored": True, "tables": len({(r[0], r[1]) for r in self.relations}),
                "columns": len({(a["schemaname"], a["tablename"], a["attname"]) for a in self.attributes})}


def enabled(setting: bool | None, stage: psycopg.Connection) -> tuple[bool, str]:
    """Whether to restore (None: where staging can, i.e. PostgreSQL 18+), and why not when not."""
    can = stage.info.server_version >= 180000
    if setting is False:
        return False, "copy.restore_statistics is false"
    if not can:
        if setting:
            raise ValueError("copy.restore_statistics: true needs staging on PostgreSQL 18+ "
                             "(pg_restore_relation_stats); set it to false or leave it unset")
        return False, f"staging is PostgreSQL {stage.info.server_version // 10000} (restoring needs 18+)"
    return True, ""


def read(prod: psycopg.Connection, tables: dict[str, set[str]]) -> Statistics:
    """Relation sizes of the copied tables (and their partitions) and pg_stats of their `keep` columns.
    tables: schema.table (each partition leaf included) -> the names of its keep columns."""
    schemas = sorted({q.split(".", 1)[0] for q in tables})
    stats = Statistics()
    stats.relations = [r for r in prod.execute(_RELATIONS, (schemas,)).fetchall() if f"{r[0]}.{r[1]}" in tables]
    fields = _ATTRIBUTE_FIELDS + (_RANGE_FIELDS if prod.info.server_version >= 170000 else [])
    cols = ", ".join(fields)
    with prod.cursor(row_factory=psycopg.rows.dict_row) as cur:
        rows = cur.execute(f"SELECT schemaname, tablename, attname, inherited, {cols} FROM pg_stats "
                           f"WHERE schemaname = ANY(%s)", (schemas,)).fetchall()
    stats.attributes = [r for r in rows if r["attname"] in tables.get(f"{r['schemaname']}.{r['tablename']}", ())]
    return stats


def restore(stage: psycopg.Connection, stats: Statistics) -> dict:
    """Apply them to the shadow tables (after staging's own ANALYZE, which they override)."""
    for schema, table, pages, tuples, visible in stats.relations:
        stage.execute("SELECT pg_restore_relation_stats('schemaname', %s::text, 'relname', %s::text, "
                      "'relpages', %s::integer, 'reltuples', %s::real, 'relallvisible', %s::integer)",
                      (shadow_name(schema), table, pages, tuples, visible))
    for a in stats.attributes:
        args, values = ["'schemaname', %s::text", "'relname', %s::text", "'attname', %s::text",
                        "'inherited', %s::boolean"], [shadow_name(a["schemaname"]), a["tablename"], a["attname"],
                                                      a["inherited"]]
        for key, value in a.items():
            name = key.removesuffix("::text")
            if name in ("schemaname", "tablename", "attname", "inherited") or value is None:
                continue
            args.append(f"'{name}', %s::{_TYPES.get(name, 'text')}")
            values.append(value)
        stage.execute(f"SELECT pg_restore_attribute_stats({', '.join(args)})", values)
    return stats.summary()


def keep_columns(copied: dict[str, list[str]], transformed: dict[str, set[str]]) -> dict[str, set[str]]:
    """schema.table -> its columns that are copied unchanged."""
    return {q: set(cols) - transformed.get(q, set()) for q, cols in copied.items()}


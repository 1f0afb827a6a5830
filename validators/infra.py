"""Infrastructure parity: server major version, planner settings, extensions, encoding and collation, index
definitions, table properties (persistence, inheritance, row-level security) and row-level security policies,
production vs staging; each difference is one result with its own severity."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg

from .results import CheckResult, Threshold, Verdict

PLANNER_SETTINGS = ("work_mem", "random_page_cost", "seq_page_cost", "effective_cache_size", "cpu_tuple_cost",
                    "cpu_index_tuple_cost", "cpu_operator_cost", "default_statistics_target", "jit",
                    "from_collapse_limit", "join_collapse_limit", "geqo_threshold", "plan_cache_mode")
# default severity per item kind; the config overrides them per item ("setting:work_mem": "warn")
DEFAULT_SEVERITY = {"version": Verdict.WARN, "setting": Verdict.ERROR, "extension": Verdict.ERROR,
                    "extension_version": Verdict.WARN, "encoding": Verdict.ERROR, "index": Verdict.ERROR,
                    "table": Verdict.ERROR, "policy": Verdict.ERROR}


@dataclass
class ServerFacts:
    major: int
    settings: dict[str, str]
    extensions: dict[str, str]
    encoding: dict[str, str]
    indexes: dict[str, str]  # "table.index" -> definition without schema
    tables: dict[str, str] = field(default_factory=dict)  # table -> "unlogged, inherits a, rls, force rls"
    policies: dict[str, str] = field(default_factory=dict)  # "table.policy" -> definition


_SCHEMA_PREFIX = re.compile(r'\bON (?:ONLY )?(?:"(?:[^"]|"")+"|[a-z_][a-z0-9_$]*)\.')

# per table: its top-level table (partitions follow their root), persistence, parents, row-level security
_TABLES = """
SELECT c.relname, coalesce(r.relname, c.relname),
       concat_ws(', ', CASE c.relpersistence WHEN 'u' THEN 'unlogged' END,
                 (SELECT 'inherits ' || string_agg(quote_ident(p.relname), ', ' ORDER BY i.inhseqno)
                  FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent
                  WHERE i.inhrelid = c.oid AND NOT c.relispartition),
                 CASE WHEN c.relrowsecurity THEN 'row level security' END,
                 CASE WHEN c.relforcerowsecurity THEN 'forced row level security' END)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_class r ON r.oid = pg_partition_root(c.oid)
WHERE n.nspname = %s AND c.relkind IN ('r', 'p')
"""

_POLICIES = """
SELECT tablename, policyname, concat_ws(' ', permissive, cmd, 'TO', array_to_string(roles, ','),
                                       'USING', qual, 'WITH CHECK', with_check)
FROM pg_policies WHERE schemaname = %s
"""


def facts(conn: psycopg.Connection, schema: str, compared: Callable[[str], bool] | None = None) -> ServerFacts:
    """What parity compares, read from one server (schema: where the copied tables live there). compared(table)
    says whether a top-level table of the schema is part of the copy (an excluded table's indexes, properties and
    policies exist in production only, so they are not compared); default: every table."""
    settings = dict(conn.execute(
        "SELECT name, setting || coalesce(unit, '') FROM pg_settings WHERE name = ANY(%s) OR name LIKE 'enable\\_%%'",
        (list(PLANNER_SETTINGS),)).fetchall())
    extensions = dict(conn.execute("SELECT extname, extversion FROM pg_extension").fetchall())
    enc = conn.execute("SELECT pg_encoding_to_char(encoding), datcollate, datctype FROM pg_database "
                       "WHERE datname = current_database()").fetchone()
    roots = {}
    tables = {}
    for name, root, props in conn.execute(_TABLES, (schema,)):
        roots[name] = root
        tables[name] = props
    keep = {t for t, root in roots.items() if compared is None or compared(root)}
    indexes = {f"{t}.{i}": _SCHEMA_PREFIX.sub("ON ", d) for t, i, d in conn.execute(
        "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = %s", (schema,)) if t in keep
        or t not in roots}
    policies = {f"{t}.{p}": d for t, p, d in conn.execute(_POLICIES, (schema,)) if t in keep}
    return ServerFacts(conn.info.server_version // 10000, settings, extensions,
                       {"encoding": enc[0], "lc_collate": enc[1], "lc_ctype": enc[2]}, indexes,
                       {t: p for t, p in tables.items() if t in keep}, policies)


def _result(kind: str, item: str, prod, stage, severity: dict[str, Verdict], what: str) -> CheckResult:
    verdict = severity.get(f"{kind}:{item}", severity.get(kind, DEFAULT_SEVERITY[kind]))
    table = item.split(".", 1)[0] if kind in ("index", "policy") else item if kind == "table" else None
    return CheckResult("infrastructure", table, None, f"{kind}:{item}", prod, stage, None, Threshold(), verdict,
                       what)


def compare(prod: ServerFacts, stage: ServerFacts, severity: dict[str, Verdict] | None = None) -> list[CheckResult]:
    """Every difference as a result (an empty list means full parity)."""
    sev = severity or {}
    out: list[CheckResult] = []
    if prod.major != stage.major:
        out.append(_result("version", "major", prod.major, stage.major, sev,
                           f"staging runs PostgreSQL {stage.major}, production {prod.major}: plans may differ"))
    for name in sorted(set(prod.settings) | set(stage.settings)):
        a, b = prod.settings.get(name), stage.settings.get(name)
        if a != b:
            out.append(_result("setting", name, a, b, sev, f"planner setting {name} is {b} on staging, {a} on "
                                                           f"production"))
    for name in sorted(set(prod.extensions) | set(stage.extensions)):
        a, b = prod.extensions.get(name), stage.extensions.get(name)
        if a is None or b is None:
            where = "staging only" if a is None else "production only"
            out.append(_result("extension", name, a, b, sev, f"extension {name} is installed on {where}"))
        elif a != b:
            out.append(_result("extension_version", name, a, b, sev, f"extension {name} is {b} on staging, {a} "
                                                                      f"on production"))
    for key in prod.encoding:
        if prod.encoding[key] != stage.encoding[key]:
            out.append(_result("encoding", key, prod.encoding[key], stage.encoding[key], sev,
                               f"database {key} is {stage.encoding[key]} on staging, {prod.encoding[key]} on "
                               f"production: sort order and text comparisons may differ"))
    for name in sorted(set(prod.indexes) | set(stage.indexes)):
        a, b = prod.indexes.get(name), stage.indexes.get(name)
        if a != b:
            what = ("missing on staging" if b is None else "only on staging" if a is None else "defined differently")
            out.append(_result("index", name, a, b, sev, f"index {name} is {what}"))
    for name in sorted(set(prod.tables) | set(stage.tables)):
        a, b = prod.tables.get(name), stage.tables.get(name)
        if a != b:
            what = ("missing on staging" if b is None else "only on staging" if a is None else
                    f"'{b or 'a plain logged table'}' on staging, '{a or 'a plain logged table'}' on production")
            out.append(_result("table", name, a, b, sev, f"table {name} is {what}"))
    for name in sorted(set(prod.policies) | set(stage.policies)):
        a, b = prod.policies.get(name), stage.policies.get(name)
        if a != b:
            what = ("missing on staging" if b is None else "only on staging" if a is None else "defined differently")
            out.append(_result("policy", name, a, b, sev, f"row-level security policy {name} is {what}"))
    return out

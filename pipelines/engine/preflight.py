"""Checks the config against the production catalog before any data moves; every refusal says what to change."""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from prodlike.pipelines.config.model import Config
from prodlike.pipelines.errors import Refused
from prodlike.pipelines.postgres import dependencies
from prodlike.pipelines.postgres.catalog import Catalog

LARGE_OBJECT_TYPES = {"oid", "lo"}


class PreflightError(Refused, RuntimeError):
    """The refresh is refused before any data moves; `problems` lists each reason with its fix."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"preflight refused the refresh ({len(problems)} problem(s)):\n{lines}")


@dataclass
class Selection:
    """Which production tables the refresh copies, copies as structure only, or leaves out."""

    copied: list[str] = field(default_factory=list)
    schema_only: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)

    @property
    def created(self) -> list[str]:
        return self.copied + self.schema_only


@dataclass
class PreflightReport:
    selection: Selection
    production_bytes: int
    staging_bytes_needed: int


def select_tables(cfg: Config, cat: Catalog) -> Selection:
    sel = Selection()
    for t in cat.top_level():
        if cfg.is_excluded(t.qualified):
            sel.excluded.append(t.qualified)
        elif cfg.is_schema_only(t.qualified):
            sel.schema_only.append(t.qualified)
        else:
            sel.copied.append(t.qualified)
    return sel


def _with_partitions(cat: Catalog, tables: list[str]) -> list[str]:
    return [t.qualified for q in tables for t in cat.partition_tree(q)]


def all_created(cat: Catalog, sel: Selection) -> list[str]:
    """Every table to create in the shadow, partitions included."""
    return _with_partitions(cat, sel.created)


def _config_problems(cfg: Config, cat: Catalog, sel: Selection) -> list[str]:
    problems = []
    policy = cfg.anonymization.tables
    for q in sel.copied:
        if q not in policy:
            problems.append(
                f"production table {q} is not in the config: classify it under anonymization.tables "
                f"(`{q}: keep` if it holds no PII), or add it to exclude: or schema_only:"
            )
    for q in policy:
        if q not in cat.tables:
            problems.append(f"anonymization.tables.{q}: no such table in production; remove it from the config")
        elif cat.tables[q].parent:
            problems.append(f"anonymization.tables.{q}: is a partition; classify its parent {cat.tables[q].parent}")
    return problems


def _fk_problems(cat: Catalog, sel: Selection) -> list[str]:
    created = set(sel.created)
    problems = []
    for fk in cat.foreign_keys():
        src = f"{fk.schema}.{fk.table}"
        if src in created and fk.ref_table not in created:
            where = "excluded" if fk.ref_table in sel.excluded else "outside the refreshed schemas"
            problems.append(
                f"foreign key {fk.name}: {src} ({', '.join(fk.columns)}) references {fk.ref_table}, which is "
                f"{where}: copy {fk.ref_table} too, or exclude {src} as well"
            )
    return problems


def _column_problems(cfg: Config, cat: Catalog, sel: Selection) -> list[str]:
    problems = []
    for q in sel.copied:
        table = cat.tables[q]
        for col in table.columns:
            if col.type_name in LARGE_OBJECT_TYPES:
                problems.append(
                    f"{q}.{col.name} is a large object reference ({col.type_name}); large objects are not "
                    f"copied: exclude {q}, list it under schema_only:, or store the data in a bytea column"
                )
    return problems


def _privilege_problems(conn: psycopg.Connection, cat: Catalog, sel: Selection) -> list[str]:
    problems = []
    bypass = conn.execute("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user").fetchone()
    for schema in cat.schemas:
        if not conn.execute("SELECT has_schema_privilege(%s, 'USAGE')", (schema,)).fetchone()[0]:
            problems.append(f"the production role lacks USAGE on schema {schema}: GRANT pg_read_all_data TO <role>")
    for q in _with_partitions(cat, sel.copied):
        t = cat.tables[q]
        if t.kind == "p":
            continue
        relation = sql.Identifier(t.schema, t.name).as_string(conn)  # the text argument is parsed as a name
        if not conn.execute("SELECT has_table_privilege(%s, 'SELECT')", (relation,)).fetchone()[0]:
            problems.append(f"the production role cannot SELECT {q}: GRANT pg_read_all_data TO <role>")
        if t.rls and not (bypass and bypass[0]):
            problems.append(
                f"{q} has row-level security and the production role lacks BYPASSRLS: prodlike refuses to "
                f"copy a filtered subset; ALTER ROLE <role> BYPASSRLS"
            )
    return problems


_VIEWS_ON_EXCLUDED = """
SELECT DISTINCT CASE v.relkind WHEN 'm' THEN 'materialized view' ELSE 'view' END, vn.nspname || '.' || v.relname,
       tn.nspname || '.' || t.relname
FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid JOIN pg_class v ON v.oid = r.ev_class
JOIN pg_namespace vn ON vn.oid = v.relnamespace JOIN pg_class t ON t.oid = d.refobjid
JOIN pg_namespace tn ON tn.oid = t.relnamespace
WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass AND v.oid <> t.oid
  AND v.relkind IN ('v', 'm') AND vn.nspname = ANY(%(schemas)s) AND tn.nspname || '.' || t.relname = ANY(%(excluded)s)
ORDER BY 2, 3
"""


def _dependency_problems(conn: psycopg.Connection, cat: Catalog, sel: Selection,
                         stage: psycopg.Connection | None) -> list[str]:
    """Objects the shadow DDL could not create: they need an object of a schema that is not refreshed (and that
    staging lacks or defines differently), or a view reads an excluded table."""
    problems = []
    for dep in dependencies.outside(conn, cat.schemas):
        if stage is not None and dependencies.staging_has(conn, stage, dep):
            continue
        problems.append(
            f"{dep.kind} {dep.what} depends on {dep.needs_kind} {dep.needs} of schema {dep.schema!r}, which is "
            f"not refreshed: add {dep.schema} to schemas: (prodlike then copies it too), or create {dep.needs} "
            f"in staging with the same definition")
    if sel.excluded:
        for kind, view, table in conn.execute(_VIEWS_ON_EXCLUDED, {"schemas": cat.schemas,
                                                                   "excluded": sel.excluded}):
            problems.append(f"{kind} {view} reads {table}, which is excluded: staging cannot create the view "
                            f"without it; copy {table}, or list it under schema_only: to create it empty")
    return problems


def check(cfg: Config, cat: Catalog, conn: psycopg.Connection, extra: list[str] | None = None,
          stage: psycopg.Connection | None = None) -> PreflightReport:
    """Raise PreflightError listing every problem, or return what will be copied and the space it needs.
    With a staging connection, a dependency on an unrefreshed schema is accepted where staging has the same
    object with the same definition."""
    present = {r[0] for r in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s)",
                                          (list(cfg.schemas),))}
    sel = select_tables(cfg, cat)
    problems = [f"schemas: production has no schema {s!r}; check the name or the DSN's database"
                for s in cfg.schemas if s not in present]
    problems += _config_problems(cfg, cat, sel)
    problems += _fk_problems(cat, sel)
    problems += _column_problems(cfg, cat, sel)
    problems += _privilege_problems(conn, cat, sel)
    problems += _dependency_problems(conn, cat, sel, stage)
    problems += extra or []
    if problems:
        raise PreflightError(problems)
    size = sum(cat.tables[q].estimated_bytes for q in _with_partitions(cat, sel.copied))
    return PreflightReport(sel, size, size * (3 if cfg.keep_previous else 2))

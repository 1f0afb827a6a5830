"""`prodlike init`: a starter prodlike.yaml (and workload file) for an existing production database, every
column classified by the scanner as an active rule, suggestions marked for review, comments on every key."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import yaml

from prodlike.anonymizers import policy as anon_policy
from prodlike.anonymizers import registry
from prodlike.anonymizers.keys import KEY_ENV
from prodlike.anonymizers.scan import CATEGORICAL, Finding
from prodlike.pipelines.config.model import Config, Thresholds
from prodlike.pipelines.config.secrets import resolve
from prodlike.pipelines.engine.refresh import shapes
from prodlike.pipelines.errors import ProdlikeError
from prodlike.pipelines.onboarding.scan import scan
from prodlike.pipelines.postgres import connections, dependencies
from prodlike.pipelines.postgres.catalog import qident, read_catalog
from prodlike.validators import plans

SOURCE_ENV, TARGET_ENV = "PRODLIKE_SOURCE_DSN", "PRODLIKE_TARGET_DSN"
SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast", "prodlike", "prodlike_ext")
MAX_WORKLOAD = 15
_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class InitError(ProdlikeError, RuntimeError):
    """init cannot write the starter config (file exists, production unreadable)."""


@dataclass
class ColumnLine:
    """One column of the starter config: the rule written, or a comment when it is derived or unresolved."""

    name: str
    rule: str | None  # transformer name; None: not written as a rule (derived from its FK, or unresolved)
    comment: str
    review: bool = False


@dataclass
class TableBlock:
    name: str
    columns: list[ColumnLine] = field(default_factory=list)


_USER_OBJECTS = """
SELECT DISTINCT n.nspname FROM pg_namespace n JOIN (
    SELECT relnamespace, 'pg_class'::regclass, oid FROM pg_class WHERE relkind IN ('r', 'p', 'v', 'm', 'S')
    UNION ALL SELECT pronamespace, 'pg_proc'::regclass, oid FROM pg_proc
    UNION ALL SELECT typnamespace, 'pg_type'::regclass, oid FROM pg_type WHERE typtype IN ('e', 'd', 'r')
) o(nsp, classid, objid) ON o.nsp = n.oid
WHERE NOT n.nspname = ANY(%s) AND n.nspname NOT LIKE 'pg\\_temp%%' AND n.nspname NOT LIKE 'pg\\_toast%%'
  AND n.nspname NOT LIKE '\\_prodlike%%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = o.classid AND d.objid = o.objid AND d.deptype = 'e')
ORDER BY 1
"""


def production_schemas(conn: psycopg.Connection) -> list[str]:
    """Schemas holding user objects: tables, views, sequences, functions, enums, domains, ranges (system schemas,
    prodlike's own and extension members left out); pg_dump would copy each of them."""
    return [r[0] for r in conn.execute(_USER_OBJECTS, (list(SYSTEM_SCHEMAS),)).fetchall()]


def _refusal(rule: str, table: str, shape: anon_policy.TableShape, col: anon_policy.ColumnShape) -> str | None:
    """Why the policy refuses `rule` on this one column (type, uniqueness, length, CHECK, NOT NULL); None: it fits."""
    unique = [[c for c in cols if c == col.name] for cols in shape.unique if col.name in cols]
    alone = anon_policy.TableShape(table, [col], unique, [], shape.checked & {col.name})
    try:
        anon_policy.build({table: {col.name: (rule, {})}}, {table: alone}, b"k" * 32, [table])
    except anon_policy.PolicyError as err:
        return "; ".join(p.split(": ", 1)[-1] for p in err.problems)
    return None


def fallbacks(unique: bool) -> list[str]:
    """The content-agnostic rules tried, in order, when the scanner's suggestion does not fit a column (unique,
    too narrow, wrong type): by each transformer's `fallback` rank; a unique column only injective ones, opaque
    identifiers first."""
    found = [cls for cls in map(registry.get, registry.names()) if cls.fallback is not None
             and (cls.injective or not unique)]
    return [cls.name for cls in sorted(found, key=lambda cls: (unique and not cls.opaque, cls.fallback))]


def _fitting_rule(finding: Finding, table: str, shape: anon_policy.TableShape,
                  col: anon_policy.ColumnShape) -> tuple[str | None, str | None]:
    """The first rule that fits the column (the scanner's suggestion, then the fallbacks), and why the suggestion
    did not fit (None when it did)."""
    unique = any(col.name in cols for cols in shape.unique)
    why = None
    for rule in dict.fromkeys([finding.suggestion, *fallbacks(unique)]):
        refused = _refusal(rule, table, shape, col)
        if refused is None:
            return rule, why
        if rule == finding.suggestion:
            why = refused
    return None, why


def _has_evidence(finding: Finding) -> bool:
    """Whether sampled values (not just the column's name and type) point at PII."""
    return not finding.evidence.startswith(("name and type suggest", "0/", "no values sampled"))


def column_line(finding: Finding, table: str, shape: anon_policy.TableShape) -> ColumnLine:
    col = next(c for c in shape.columns if c.name == finding.column)
    fk = next(((ref, ref_cols[cols.index(col.name)]) for cols, ref, ref_cols in shape.foreign_keys
               if col.name in cols), None)
    if finding.current == "keep (integer key)":
        note = f"; foreign key to {fk[0]}.{fk[1]} (inherits its transform)" if fk is not None else ""
        return ColumnLine(col.name, "keep", f"{col.type_sql}; integer key{note}")
    if fk is not None:
        return ColumnLine(col.name, None, f"{col.type_sql}; foreign key: gets exactly the transform of "
                                          f"{fk[0]}.{fk[1]} (do not set one here)")
    if finding.suggestion == "keep":
        review = finding.evidence.startswith(CATEGORICAL)  # kept for its real categories: a person confirms it
        return ColumnLine(col.name, "keep", f"{'review: ' if review else ''}{col.type_sql}; {finding.evidence}",
                          review=review)
    rule, refused = _fitting_rule(finding, table, shape, col)
    if rule is None and col.name in shape.checked and not _has_evidence(finding):
        return ColumnLine(col.name, "keep", f"review: {col.type_sql}; under a CHECK constraint, which no "
                                            f"transformer may touch; {finding.evidence}", review=True)
    if rule is None and not _has_evidence(finding):  # e.g. a boolean `email_sent`: only its name looks like PII
        return ColumnLine(col.name, "keep", f"review: {col.type_sql}; suggested {finding.suggestion} by its name "
                                            f"but no transformer fits the type and no value looks like PII; "
                                            f"{finding.evidence}", review=True)
    if rule is None:
        return ColumnLine(col.name, None, f"{col.type_sql}; suggested {finding.suggestion} but no transformer "
                                          f"fits (CHECK constraint or type), values look like PII: classify it by hand",
                          review=True)
    if rule == finding.suggestion and finding.params:  # written in the flow form a config line takes
        rule = "{" + ", ".join([f"transformer: {rule}", *(f"{k}: {json.dumps(v)}" for k, v in
                                                         finding.params.items())]) + "}"
        return ColumnLine(col.name, rule, f"review: {col.type_sql}; {finding.evidence}", review=True)
    why = finding.evidence if rule == finding.suggestion else \
        f"{finding.suggestion} does not fit this column ({refused}), {rule} instead; {finding.evidence}"
    return ColumnLine(col.name, rule, f"review: {col.type_sql}; {why}", review=True)


def classify_tables(cfg: Config, source_dsn: str) -> list[TableBlock]:
    """Every copied table with one line per column, from the scanner and production's catalog."""
    findings = scan(cfg, source_dsn)
    with connections.production(source_dsn, cfg.copy_.lock_timeout) as conn:
        cat = read_catalog(conn, cfg.schemas)
    table_shapes = shapes(cat, [t.qualified for t in cat.top_level()])
    blocks: dict[str, TableBlock] = {}
    for f in findings:
        block = blocks.setdefault(f.table, TableBlock(f.table))
        block.columns.append(column_line(f, f.table, table_shapes[f.table]))
    for q in table_shapes:  # tables without columns still need their entry
        blocks.setdefault(q, TableBlock(q))
    return [blocks[q] for q in sorted(blocks)]


# ---- workload ---------------------------------------------------------------------------------

def _statements_from_pg_stat_statements(conn: psycopg.Connection) -> list[str]:
    try:
        with conn.transaction():
            rows = conn.execute(
                "SELECT s.query FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid "
                "WHERE d.datname = current_database() AND s.query ~* '^\\s*(select|with)\\s' "
                "AND s.query !~* '(pg_catalog|information_schema|pg_stat|pg_class|prodlike)' "
                "ORDER BY s.calls DESC LIMIT 200").fetchall()
    except psycopg.Error:
        return []
    return [r[0] for r in rows]


def _generated_statements(conn: psycopg.Connection, schemas: list[str]) -> list[str]:
    """Point lookups on the leading column of each index (parameterized: planned with GENERIC_PLAN)."""
    rows = conn.execute(
        "SELECT DISTINCT ON (c.relname, a.attname) c.relname, a.attname FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0] "
        "WHERE n.nspname = ANY(%s) AND NOT c.relispartition AND i.indkey[0] <> 0 ORDER BY 1, 2",
        (schemas,)).fetchall()
    return [f"SELECT * FROM {qident(t)} WHERE {qident(c)} = $1 LIMIT 20" for t, c in rows]


def _plannable(conn: psycopg.Connection, sql: str, schemas: list[str]) -> bool:
    """Plans on production with the refreshed schemas on the search path, and names no schema explicitly
    (staging plans the copy through its search_path, so a schema-qualified name would miss it)."""
    if any(re.search(rf"\b{re.escape(s)}\s*\.", sql) for s in schemas):
        return False
    queries = plans.load_workload(sql)
    if len(queries) != 1 or queries[0].error:
        return False
    try:
        plans.explain(conn, queries[0])
    except psycopg.Error:
        return False
    return True


def workload_text(source_dsn: str, schemas: list[str]) -> tuple[str, str]:
    """(SQL file text, where the queries came from)."""
    with connections.production(source_dsn) as conn:
        conn.autocommit = True
        conn.execute(f"SET search_path = {', '.join(qident(s) for s in schemas)}, public")
        found = [q for q in _statements_from_pg_stat_statements(conn) if _plannable(conn, q, schemas)]
        origin = "pg_stat_statements (the most frequently called queries)"
        if not found:
            found = [q for q in _generated_statements(conn, schemas) if _plannable(conn, q, schemas)]
            origin = "generated point lookups on indexed columns (pg_stat_statements was not available)"
    lines = ["-- Workload for prodlike's EXPLAIN-plan checks: each query is planned on production and on the",
             f"-- staging copy and the plans are compared. Source: {origin}.",
             "-- Replace these with your application's real queries; one statement per query, ending with ';'.",
             "-- Write table names without their schema (staging plans the copy through its search_path).", ""]
    for sql in found[:MAX_WORKLOAD]:
        lines.append(sql.strip().rstrip(";") + ";")
    return "\n".join(lines) + "\n", origin


# ---- writing the YAML -------------------------------------------------------------------------

def _key(name: str) -> str:
    return name if _PLAIN.match(name.replace(".", "_")) else json.dumps(name)


def _rule(name: str) -> str:
    """A transformer name as a YAML scalar: quoted where YAML would read another type (`null`, `true`, `on`)."""
    if name.startswith("{"):  # a rule with parameters, written as a YAML flow mapping
        return name
    return name if yaml.safe_load(name) == name else json.dumps(name)


def _tables_yaml(blocks: list[TableBlock]) -> list[str]:
    lines = []
    for b in blocks:
        written = [c for c in b.columns if c.rule is not None]
        if b.columns and all(c.rule == "keep" for c in written) and not any(c.review for c in b.columns) \
                and len(written) == len(b.columns):
            reviewed = ", ".join(_key(c.name) for c in b.columns)
            lines += [f"    {_key(b.name)}:",
                      f"      keep: [{reviewed}]   # no PII found; a column added later refuses the refresh"]
            continue
        lines += [f"    {_key(b.name)}:", "      columns:"]
        if not written:  # no column of its own to set (none, or only foreign keys that inherit): an empty map
            lines[-1] = "      columns: {}"
        width = max((len(_key(c.name)) + len(c.rule or "") for c in b.columns), default=0) + 4
        for c in b.columns:
            if c.rule is None:
                lines.append(f"        # {_key(c.name)}: {'REVIEW ' if c.review else ''}{c.comment}")
            else:
                entry = f"{_key(c.name)}: {_rule(c.rule)}"
                lines.append(f"        {entry:<{width}}# {c.comment}")
    return lines


def _thresholds_yaml() -> list[str]:
    lines = ["thresholds:                     # one vocabulary everywhere: warn (alerts) and error (blocks release)"]
    defaults = Thresholds()
    for name, info in Thresholds.model_fields.items():
        value = getattr(defaults, name)
        if not hasattr(value, "warn"):
            continue
        desc = (info.description or "").split(". ")[0].split(" (")[0]
        lines.append(f"  # {desc}")
        lines.append(f"  {name}: {{warn: {_num(value.warn)}, error: {_num(value.error)}}}")
    return lines


def _num(v: float | None) -> str:
    return "null" if v is None else f"{v:g}"


def config_text(blocks: list[TableBlock], schemas: list[str], source_env: str, target_env: str, key_env: str,
                workload_file: str | None, workload_origin: str, freshness: bool) -> str:
    review = sum(c.review for b in blocks for c in b.columns)
    lines = [
        "# prodlike.yaml written by `prodlike init`: a starting point, not a finished policy.",
        f"# {review} column(s) carry a `# review` note: the scanner's PII suggestions, already active. Check each;",
        "# free text and JSON are redacted (regex_redact/json) until you decide otherwise, never kept.",
        "# Validate with `prodlike config check`; compare with production with `prodlike preflight`.",
        "# Reference of every key: README.md, 'Config reference'; editors: `prodlike config schema`.",
        "version: 1",
        "",
        "source:                         # production: prodlike only reads (README: 'Production role')",
        f"  dsn: ${{{source_env}}}",
        "target:                         # staging: prodlike writes shadow, live, previous and control schemas",
        f"  dsn: ${{{target_env}}}",
        "",
        f"schemas: [{', '.join(_key(s) for s in schemas)}]   # production schemas to refresh",
        "exclude: []                     # schema.table globs not copied at all, e.g. public.audit_*",
        "schema_only: []                 # schema.table globs whose structure is copied but no rows",
        "",
        "anonymization:",
        f"  key: ${{{key_env}}}      # secret, at least 32 bytes; rotating it changes every anonymized value",
        "  tables:                       # every copied table, every column: a transformer or keep (fail closed)",
        *_tables_yaml(blocks),
        "",
        *_thresholds_yaml(),
        "",
        "schedule:                       # when scheduled refreshes run (Dagster schedule `refresh_schedule`)",
        '  cron: "0 3 * * *"             # daily at 03:00',
        "  timezone: UTC",
        "  enabled: false                # true: starts running as soon as Dagster loads the code location",
        "",
    ]
    fresh = ["freshness:                      # the SLA: age = now - production snapshot time of the live release",
             "  warn_after: 26h               # `prodlike status` warns (exit 1), freshness.warn alert",
             "  error_after: 50h              # breached: `prodlike status` exits 2, freshness.breached alert"]
    lines += fresh if freshness else ["# " + ln for ln in fresh]
    lines += [
        "",
        "keep_previous: true             # keep the previous release for `prodlike rollback`",
        "copy:",
        "  workers: 4                    # tables copied in parallel",
        "  lock_timeout: 5s              # production lock_timeout per table",
        "# state_dir: .prodlike/<this file's name>  # the default: this config's own Dagster home, reports, alert log",
    ]
    if workload_file:
        lines.append(f"workload: {workload_file}         # queries whose plans are compared ({workload_origin})")
    else:
        lines.append("# workload: workload.sql       # queries whose EXPLAIN plans are compared (none found)")
    return "\n".join(lines) + "\n"


def init(output: Path, source_env: str = SOURCE_ENV, target_env: str = TARGET_ENV, key_env: str = KEY_ENV,
         force: bool = False) -> tuple[Path, Path | None, int]:
    """Write the starter config (and its workload file); (config path, workload path, columns to review)."""
    workload_path = output.with_name("workload.sql")
    for p in (output, workload_path):
        if p.exists() and not force:
            raise InitError(f"{p} exists; pass --force to overwrite it, or -o ANOTHER.yaml")
    source_dsn = resolve(f"${{{source_env}}}", "--source-dsn-env")
    with connections.production(source_dsn) as conn:
        schemas = production_schemas(conn)
        schemas = dependencies.needed_schemas(conn, schemas) if schemas else schemas
    if not schemas:
        raise InitError("production has no tables outside the system schemas: nothing to configure")
    draft = Config.model_validate({"source": {"dsn": f"${{{source_env}}}"}, "target": {"dsn": f"${{{target_env}}}"},
                                   "schemas": schemas})
    blocks = classify_tables(draft, source_dsn)
    sql, origin = workload_text(source_dsn, schemas)
    has_queries = any(ln and not ln.startswith("--") for ln in sql.splitlines())
    if has_queries:
        workload_path.write_text(sql)
    freshness = "freshness" in Config.model_fields
    text = config_text(blocks, schemas, source_env, target_env, key_env,
                       workload_path.name if has_queries else None, origin, freshness)
    output.write_text(text)
    return output, workload_path if has_queries else None, sum(c.review for b in blocks for c in b.columns)

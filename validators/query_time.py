"""Query-time parity: production's top queries from pg_stat_statements, replayed on staging with parameters drawn
from staging's own data, each judged by its staging/production time ratio against the workload's median ratio."""

from __future__ import annotations

import json
import math
import random
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import psycopg
import sqlglot
from psycopg import sql
from sqlglot import exp
from sqlglot.optimizer.scope import Scope, traverse_scope

from .plans import fingerprint, shape
from .results import CheckResult, Threshold, Verdict

CHECK = "query_time"
FLOOR_MS = 0.5  # times below this count as this: under it, cache state, timer and instrumentation noise dominate
MIN_TIMED = 3  # fewer timed queries than this make no median to judge against
SAMPLE_VALUES = 200  # values drawn per compared column
MAX_LIMIT = 10_000
MAX_PLAN_LINES = 60
SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "prodlike", "pg_toast")
COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Like, exp.ILike)
LOWER, UPPER, EQUAL = "lower", "upper", "equal"
PREPARED = "prodlike_query_time"  # the replayed statement's name on staging, deallocated after each query
STATEMENT_START = ("select", "with", "insert", "update", "delete", "merge", "values", "table", "(")
SUMMARY, TIME, ROWS, CACHE = "median_time_ratio", "time_vs_median", "rows_per_call", "shared_hit_ratio"


# ---- production's side: pg_stat_statements, read inside the refresh ------------------------------------------

@dataclass
class Statement:
    """One normalized query's counters on production, summed over the users that ran it."""

    fingerprint: str
    sql: str
    calls: int
    total_ms: float
    sumsq_ms: float  # sum of squared execution times (from mean and stddev), so windows have a stddev too
    rows: int
    hit: int
    read: int

    @property
    def mean_ms(self) -> float:
        return self.total_ms / self.calls if self.calls else 0.0

    @property
    def stddev_ms(self) -> float:
        if not self.calls:
            return 0.0
        return math.sqrt(max(0.0, self.sumsq_ms / self.calls - self.mean_ms ** 2))

    @property
    def rows_per_call(self) -> float:
        return self.rows / self.calls if self.calls else 0.0

    @property
    def hit_ratio(self) -> float | None:
        return self.hit / (self.hit + self.read) if self.hit + self.read else None


@dataclass
class ProductionStats:
    """What production's pg_stat_statements said at one refresh (cumulative counters), or why it could not say."""

    available: bool
    reason: str = ""
    stats_reset: datetime | None = None
    statements: list[Statement] = field(default_factory=list)
    ignored: int = 0  # entries that are not application queries on tables (catalog reads, utility statements)


_FIND_EXTENSION = "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace " \
                  "WHERE e.extname = 'pg_stat_statements'"
_READ = sql.SQL("""
SELECT s.query, s.calls, s.total_exec_time, s.stddev_exec_time, s.rows, s.shared_blks_hit, s.shared_blks_read
FROM {view} s
WHERE s.dbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())
  AND s.toplevel AND s.calls > 0
ORDER BY s.total_exec_time DESC
LIMIT %s""")


def read_production(conn: psycopg.Connection, limit: int = 500) -> ProductionStats:
    """Production's top statements of the current database by total execution time (only catalog and
    pg_stat_statements reads, in a savepoint when conn is inside a transaction, so a failure costs nothing)."""
    try:
        with conn.transaction():
            found = conn.execute(_FIND_EXTENSION).fetchone()
            if found is None:
                return ProductionStats(False, "pg_stat_statements is not installed in production's database "
                                              "(CREATE EXTENSION pg_stat_statements; the server needs "
                                              "shared_preload_libraries = 'pg_stat_statements')")
            view = sql.Identifier(found[0], "pg_stat_statements")
            info = sql.Identifier(found[0], "pg_stat_statements_info")
            rows = conn.execute(_READ.format(view=view), (limit,)).fetchall()
            reset = conn.execute(sql.SQL("SELECT stats_reset FROM {}").format(info)).fetchone()[0]
    except psycopg.Error as err:
        return ProductionStats(False, _unavailable(err))
    if rows and all(r[0] == "<insufficient privilege>" for r in rows):
        return ProductionStats(False, "production's role cannot read other users' query texts in "
                                      "pg_stat_statements: GRANT pg_read_all_stats TO it")
    statements, ignored = _application_statements(rows)
    return ProductionStats(True, "", reset, statements, ignored)


def _unavailable(err: psycopg.Error) -> str:
    if getattr(err, "sqlstate", "") == "55000":
        return ("pg_stat_statements is installed but not loaded on production: add it to "
                "shared_preload_libraries and restart the server")
    return f"pg_stat_statements could not be read on production ({type(err).__name__}, {err.sqlstate})"


def _application_statements(rows: list[tuple]) -> tuple[list[Statement], int]:
    """Rows of pg_stat_statements that are queries on tables, merged by sqlglot fingerprint (pg_stat_statements'
    own queryid differs by user and between servers)."""
    merged: dict[str, Statement] = {}
    ignored = 0
    for text, calls, total, stddev, nrows, hit, read in rows:
        tree = _parse(text)
        if tree is None or not _reads_tables(tree):
            ignored += 1
            continue
        fp, _ = fingerprint(tree)
        mean = total / calls
        sumsq = calls * (stddev ** 2 + mean ** 2)
        if fp in merged:
            m = merged[fp]
            m.calls, m.total_ms, m.sumsq_ms = m.calls + calls, m.total_ms + total, m.sumsq_ms + sumsq
            m.rows, m.hit, m.read = m.rows + nrows, m.hit + hit, m.read + read
        else:
            merged[fp] = Statement(fp, tree.sql(dialect="postgres", comments=False), calls, total, sumsq, nrows,
                                   hit, read)
    return list(merged.values()), ignored


def _parse(text: str) -> exp.Expression | None:
    """The statement's tree, or None when sqlglot cannot read it as a query or DML (utility statements)."""
    if not text.lstrip().lower().startswith(STATEMENT_START):
        return None
    try:
        tree = sqlglot.parse_one(text, dialect="postgres")
    except sqlglot.errors.SqlglotError:
        return None
    if isinstance(tree, exp.Command) or not isinstance(tree, (exp.Query, exp.DML)):
        return None
    return tree


def _reads_tables(tree: exp.Expression) -> bool:
    """Whether the statement names a table and no system catalog (prodlike's and monitoring's own reads)."""
    tables = list(tree.find_all(exp.Table))
    if not tables:
        return False
    return not any(t.db in SYSTEM_SCHEMAS or t.name.startswith("pg_") for t in tables)


def window(current: ProductionStats, previous: ProductionStats | None) -> tuple[list[Statement], str]:
    """Each statement's counters since the previous refresh, where the counters allow; a reset (of all
    statistics, or of one evicted entry) is detected, and then the counters since that reset are used."""
    if previous is None or not previous.available:
        return current.statements, "cumulative since pg_stat_statements was last reset (no previous refresh read it)"
    if current.stats_reset != previous.stats_reset:
        return current.statements, (f"pg_stat_statements was reset at {current.stats_reset:%Y-%m-%d %H:%M:%S %Z} "
                                    f"since the previous refresh: counters since that reset")
    before = {s.fingerprint: s for s in previous.statements}
    out, evicted = [], 0
    for s in current.statements:
        p = before.get(s.fingerprint)
        if p is None:
            out.append(s)
        elif s.calls < p.calls or s.total_ms < p.total_ms:
            evicted += 1  # the entry was evicted and counted again: its counters since then
            out.append(s)
        elif s.calls > p.calls:
            out.append(Statement(s.fingerprint, s.sql, s.calls - p.calls, s.total_ms - p.total_ms,
                                 max(0.0, s.sumsq_ms - p.sumsq_ms), s.rows - p.rows, s.hit - p.hit,
                                 s.read - p.read))
    note = "since the previous refresh"
    if evicted:
        note += f" ({evicted} entr{'y was' if evicted == 1 else 'ies were'} evicted and restarted: counted since)"
    return out, note


def top(statements: list[Statement], n: int, min_calls: int) -> list[Statement]:
    """The n statements with the most execution time in the window (at least min_calls calls)."""
    eligible = [s for s in statements if s.calls >= min_calls]
    return sorted(eligible, key=lambda s: (-s.total_ms, s.fingerprint))[:n]


def to_json(stats: ProductionStats) -> dict:
    d = asdict(stats)
    d["stats_reset"] = stats.stats_reset.isoformat() if stats.stats_reset else None
    return d


def from_json(d: dict) -> ProductionStats:
    reset = datetime.fromisoformat(d["stats_reset"]) if d.get("stats_reset") else None
    return ProductionStats(d["available"], d.get("reason", ""), reset,
                           [Statement(**s) for s in d.get("statements", [])], d.get("ignored", 0))


# ---- binding: which column each $n is compared with ---------------------------------------------------------

@dataclass
class Target:
    """Where a parameter's values come from: a column of a table (roles: equal, lower or upper bound), or the
    LIMIT / OFFSET of the statement."""

    kind: str  # "column", "limit", "offset"
    table: tuple[str, str] | None = None  # (production schema, table)
    column: str | None = None
    role: str = EQUAL


@dataclass
class Binding:
    targets: dict[int, Target] = field(default_factory=dict)
    reason: str = ""  # why a parameter cannot be bound (empty: all bound)


Columns = dict[tuple[str, str], set[str]]  # (production schema, table) -> column names


def bind(tree: exp.Expression, columns: Columns, search_path: list[str]) -> Binding:
    """Find, for every $n of the statement, the column it is compared with (or its LIMIT/OFFSET)."""
    params = sorted({_number(p) for p in tree.find_all(exp.Parameter, exp.Placeholder)} - {None})
    if not params:
        return Binding()
    found: dict[int, Target] = {}
    unbound: dict[int, str] = {}
    for node in tree.find_all(exp.Limit, exp.Offset):
        n = _number(_unwrap(node.expression))
        if n is not None:
            found[n] = Target("limit" if isinstance(node, exp.Limit) else "offset")
    for scope in traverse_scope(tree):
        for param in _own_parameters(scope):
            n = _number(param)
            if n is None or n in found:
                continue
            target = _compared_column(param, scope, columns, search_path)
            if isinstance(target, Target):
                found[n] = target
                unbound.pop(n, None)
            else:
                unbound.setdefault(n, target)
    missing = [n for n in params if n not in found]
    if missing:
        n = missing[0]
        return Binding(found, f"${n} {unbound.get(n, 'is not compared with a column')}")
    return Binding(found)


def _number(node: exp.Expression | None) -> int | None:
    if isinstance(node, (exp.Parameter, exp.Placeholder)):
        text = node.sql(dialect="postgres").lstrip("$")
        return int(text) if text.isdigit() else None
    return None


def _unwrap(node: exp.Expression | None) -> exp.Expression | None:
    while isinstance(node, (exp.Cast, exp.Paren)):
        node = node.this
    return node


def _own_parameters(scope: Scope) -> list[exp.Expression]:
    """Parameters of this scope's own SELECT (not of its subqueries, which are scopes of their own)."""
    inner = {id(s.expression) for s in scope.subquery_scopes + scope.derived_table_scopes + scope.cte_scopes
             + scope.set_operation_scopes + scope.udtf_scopes + scope.table_scopes}
    out = []
    for p in scope.expression.find_all(exp.Parameter, exp.Placeholder):
        node, nested = p.parent, False
        while node is not None and node is not scope.expression:
            if id(node) in inner:
                nested = True
                break
            node = node.parent
        if not nested:
            out.append(p)
    return out


def _compared_column(param: exp.Expression, scope: Scope, columns: Columns, search_path: list[str]) -> Target | str:
    """The column param is compared with, or why there is none (in words, for the report)."""
    node = param
    while isinstance(node.parent, (exp.Cast, exp.Paren)):
        node = node.parent
    parent = node.parent
    other, role = None, EQUAL
    if isinstance(parent, COMPARISONS):
        this_side = parent.this is node
        other = _unwrap(parent.expression if this_side else parent.this)
        if isinstance(parent, (exp.GT, exp.GTE)):
            role = UPPER if this_side else LOWER
        elif isinstance(parent, (exp.LT, exp.LTE)):
            role = LOWER if this_side else UPPER
    elif isinstance(parent, exp.Between):
        other = _unwrap(parent.this)
        role = LOWER if parent.args.get("low") is node else UPPER
    elif isinstance(parent, exp.In):
        other = _unwrap(parent.this)
    elif isinstance(parent, exp.Any):
        return "is an array (= ANY), which is not bound"
    if not isinstance(other, exp.Column):
        return f"is not compared with a column (it is used in {_short(parent)})"
    table = _column_table(other, scope, columns, search_path)
    if isinstance(table, str):
        return table
    return Target("column", table, other.name, role)


def _short(node: exp.Expression | None) -> str:
    text = node.sql(dialect="postgres") if node is not None else ""
    return text if len(text) <= 80 else text[:77] + "..."


def _column_table(col: exp.Column, scope: Scope, columns: Columns,
                  search_path: list[str]) -> tuple[str, str] | str:
    """The (schema, table) a column belongs to, looking through this scope and the scopes around it."""
    s: Scope | None = scope
    while s is not None:
        if col.table:
            source = s.sources.get(col.table)
            if source is not None:
                return _table_of(source, col, columns, search_path)
        else:
            hits = [t for src in s.sources.values() if isinstance(src, exp.Table)
                    and (t := _resolve(src, columns, search_path)) and col.name in columns.get(t, ())]
            if len(hits) == 1:
                return hits[0]
            if len(hits) > 1:
                return f"is compared with {col.name}, which several tables of the query have"
            if any(isinstance(src, Scope) for src in s.sources.values()):
                return f"is compared with {col.name}, a column of a subquery or CTE"
        s = s.parent
    return f"is compared with {col.sql(dialect='postgres')}, which is not a column of a copied table"


def _table_of(source, col: exp.Column, columns: Columns, search_path: list[str]) -> tuple[str, str] | str:
    if not isinstance(source, exp.Table):
        return f"is compared with {col.sql(dialect='postgres')}, a column of a subquery or CTE"
    t = _resolve(source, columns, search_path)
    if t is None or col.name not in columns.get(t, ()):
        return f"is compared with {col.sql(dialect='postgres')}, which is not a column of a copied table"
    return t


def _resolve(table: exp.Table, columns: Columns, search_path: list[str]) -> tuple[str, str] | None:
    if table.db:
        return (table.db, table.name) if (table.db, table.name) in columns else None
    return next(((s, table.name) for s in search_path if (s, table.name) in columns), None)


# ---- staging's side: replay under statement_timeout in a read-only transaction, rolled back -------------------

@dataclass
class Replay:
    """How a statement is replayed on staging."""

    runs: int = 5
    warmup: int = 1
    statement_timeout_ms: int = 5000
    budget_s: float = 60.0
    seed: int = 20


@dataclass
class Timing:
    """One production statement on staging: measured, explained only (DML, locking reads), or skipped."""

    statement: Statement
    status: str  # "timed", "timed_out", "explained", "skipped", "failed"
    reason: str = ""
    staging_ms: float | None = None  # median execution time of the measured runs
    staging_rows: float | None = None
    staging_hit_ratio: float | None = None
    runs: int = 0
    staging_plan: list[str] = field(default_factory=list)
    production_plan: list[str] = field(default_factory=list)


def replay_all(conn: psycopg.Connection, statements: list[Statement], columns: Columns, schemas: dict[str, str],
               search_path: list[str], settings: Replay) -> list[Timing]:
    """Replay every statement on staging (conn: autocommit; schemas: production schema -> staging schema;
    search_path: staging's, for the session). Each statement gets an equal share of the budget left, and a run is
    expected to take production's mean time times the median ratio seen so far: a slow statement runs fewer times
    (at least once, without warm-up when one run is more than a third of its share); one expected to overrun the
    budget left is skipped, saying so."""
    deadline = time.monotonic() + settings.budget_s
    samples: dict[tuple[tuple[str, str], str], list] = {}
    out: list[Timing] = []
    for i, st in enumerate(statements):
        now = time.monotonic()
        ratios = [ratio(t) for t in out if t.status == "timed"]
        expected = max(st.mean_ms, FLOOR_MS) * (statistics.median(ratios) if ratios else 1.0) / 1000
        if now + expected > deadline:
            out.append(Timing(st, "skipped", f"one run would take about {expected:.2g}s on staging, more than the "
                                             f"{max(deadline - now, 0):.2g}s left of the check's time budget "
                                             f"({settings.budget_s:.2g}s)"))
            continue
        until = now + (deadline - now) / (len(statements) - i)
        out.append(_replay_one(conn, st, columns, schemas, search_path, settings, samples, (until, expected)))
    return out


def _replay_one(conn, st: Statement, columns: Columns, schemas: dict[str, str], search_path: list[str],
                settings: Replay, samples: dict, until: tuple[float, float]) -> Timing:
    tree = _parse(st.sql)
    if tree is None:
        return Timing(st, "skipped", "sqlglot cannot parse it as a query")
    outside = sorted({tb.sql(dialect="postgres") for tb in tree.find_all(exp.Table)
                      if not _is_cte(tb, tree) and _resolve(tb, columns, list(schemas)) is None})
    if outside:
        return Timing(st, "skipped", f"reads {', '.join(outside)}, which is not copied to staging (excluded, "
                                     f"schema-only or not in the refreshed schemas)")
    text = _on_staging(tree, schemas, st.sql)
    explain_only = isinstance(tree, exp.DML) or bool(tree.args.get("locks"))
    try:
        with read_only(conn, search_path, settings.statement_timeout_ms):
            if explain_only:
                plan = _explain_generic(conn, text)
                return Timing(st, "explained", "writes or locks rows: explained (GENERIC_PLAN), never executed",
                              staging_plan=shape(plan)[:MAX_PLAN_LINES])
            binding = bind(tree, columns, list(schemas))
            if binding.reason:
                return Timing(st, "skipped", f"parameter {binding.reason}")
            values = _draw(conn, binding, schemas, samples, settings, st)
            if isinstance(values, str):
                return Timing(st, "skipped", values)
            return _measure(conn, text, values, settings, st, until)
    except psycopg.errors.QueryCanceled:
        return Timing(st, "timed_out", f"exceeded statement_timeout ({settings.statement_timeout_ms} ms) on staging",
                      staging_ms=float(settings.statement_timeout_ms))
    except psycopg.Error as err:
        return Timing(st, "failed", f"failed on staging: {type(err).__name__} ({getattr(err, 'sqlstate', '')})")


def _is_cte(table: exp.Table, tree: exp.Expression) -> bool:
    return not table.db and any(c.alias == table.name for c in tree.find_all(exp.CTE))


def _on_staging(tree: exp.Expression, schemas: dict[str, str], text: str) -> str:
    """The statement's text for staging: schema-qualified tables renamed to the copy's schemas (identifiers
    rewritten in the tree, never the text); unqualified ones resolve through staging's search_path."""
    if not any(t.db in schemas for t in tree.find_all(exp.Table)):
        return text
    renamed = tree.copy()
    for t in renamed.find_all(exp.Table):
        if t.db in schemas:
            t.set("db", exp.to_identifier(schemas[t.db], quoted=True))
    return renamed.sql(dialect="postgres", comments=False)


@contextmanager
def read_only(conn: psycopg.Connection, search_path: list[str], timeout_ms: int) -> Iterator[None]:
    """A READ ONLY transaction under statement_timeout (custom plans: each run planned for its own values), always
    rolled back; the replayed statement deallocated after it."""
    conn.execute("BEGIN TRANSACTION READ ONLY")
    try:
        path = ", ".join(sql.Identifier(s).as_string(conn) for s in search_path)
        conn.execute("SELECT set_config('statement_timeout', %s, true), set_config('search_path', %s, true), "
                     "set_config('plan_cache_mode', 'force_custom_plan', true)", (str(timeout_ms), path))
        yield
    finally:
        conn.execute("ROLLBACK")
        if conn.execute("SELECT 1 FROM pg_prepared_statements WHERE name = %s", (PREPARED,)).fetchone():
            conn.execute(sql.SQL("DEALLOCATE {}").format(sql.Identifier(PREPARED)))


def _explain_generic(conn: psycopg.Connection, text: str) -> dict:
    row = conn.execute(sql.SQL("EXPLAIN (FORMAT JSON, GENERIC_PLAN) {}").format(sql.SQL(text))).fetchone()
    return _doc(row[0])["Plan"]


def _doc(value) -> dict:
    return (json.loads(value) if isinstance(value, str) else value)[0]


def _draw(conn, binding: Binding, schemas: dict[str, str], samples: dict, settings: Replay,
          st: Statement) -> list[list] | str:
    """One list of parameter values per measured run, from staging's own data: each compared
    column's sampled values; a range's lower bound never above its upper; LIMIT as production's rows per call."""
    rng = random.Random(f"{settings.seed}:{st.fingerprint}")
    count = max(binding.targets) if binding.targets else 0
    runs = []
    for _ in range(settings.runs):
        values: list = [None] * count
        ranges: dict[tuple, list[int]] = {}
        for n, t in binding.targets.items():
            if t.kind == "limit":
                values[n - 1] = min(MAX_LIMIT, max(1, round(st.rows_per_call)))
            elif t.kind == "offset":
                values[n - 1] = 0
            else:
                pool = _sample(conn, t, schemas, samples, settings.seed)
                if not pool:
                    return f"no values to bind: {t.table[0]}.{t.table[1]}.{t.column} has no non-NULL value on staging"
                values[n - 1] = rng.choice(pool)
                if t.role != EQUAL:
                    ranges.setdefault((t.table, t.column), []).append(n)
        for numbers in ranges.values():
            _order_bounds(values, numbers, binding.targets)
        runs.append(values)
    return runs


def _order_bounds(values: list, numbers: list[int], targets: dict[int, Target]) -> None:
    """Give the lower-bound parameters of a column the smallest drawn values and the upper ones the largest."""
    try:
        drawn = sorted(values[n - 1] for n in numbers)
    except TypeError:
        return
    lows = [n for n in numbers if targets[n].role == LOWER]
    highs = [n for n in numbers if targets[n].role == UPPER]
    for n, v in zip(lows + highs, drawn):
        values[n - 1] = v


def _sample(conn, t: Target, schemas: dict[str, str], samples: dict, seed: int) -> list:
    """Up to SAMPLE_VALUES non-NULL values of the column on staging, from a block sample (a repeatable one, so a
    rerun binds the same values); a view, or a sample that found nothing, is read from its start instead."""
    key = (t.table, t.column)
    if key in samples:
        return samples[key]
    rel = sql.Identifier(schemas[t.table[0]], t.table[1])
    col = sql.Identifier(t.column)
    kind, tuples = conn.execute("SELECT c.relkind, c.reltuples FROM pg_class c JOIN pg_namespace n ON "
                                "n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = %s",
                                (schemas[t.table[0]], t.table[1])).fetchone() or ("v", -1)
    rows: list = []
    if kind in ("r", "p", "m") and tuples > 0:
        percent = min(100.0, max(0.01, 100.0 * 10 * SAMPLE_VALUES / tuples))
        with conn.transaction():
            rows = conn.execute(sql.SQL("SELECT {c} FROM {r} TABLESAMPLE SYSTEM (%s) REPEATABLE (%s) "
                                        "WHERE {c} IS NOT NULL LIMIT %s").format(c=col, r=rel),
                                (percent, seed, SAMPLE_VALUES)).fetchall()
    if not rows:
        rows = conn.execute(sql.SQL("SELECT {c} FROM {r} WHERE {c} IS NOT NULL LIMIT %s").format(c=col, r=rel),
                            (SAMPLE_VALUES,)).fetchall()
    samples[key] = [r[0] for r in rows]
    return samples[key]


def _measure(conn, text: str, runs: list[list], settings: Replay, st: Statement,
             until: tuple[float, float]) -> Timing:
    """PREPARE the statement and EXPLAIN (ANALYZE, BUFFERS) EXECUTE it with each run's values: `warmup` unmeasured
    passes over the same values first (so the measured runs find the cache warm, as a steady production does), as
    long as they fit in a third of the statement's time, then the measured runs (at least one; no new one expected
    to end after the statement's time). until: (when the statement's time ends, seconds one run is expected to
    take). Time is the median of the measured runs' execution times."""
    end, expected = until
    conn.execute(sql.SQL("PREPARE {} AS {}").format(sql.Identifier(PREPARED), sql.SQL(text)))
    # SERIALIZE (PostgreSQL 17+) counts turning the rows into text, as production's time does
    options = "ANALYZE, BUFFERS, TIMING OFF, " + ("SERIALIZE, " if conn.info.server_version >= 170000 else "")
    start = time.monotonic()
    warm_until = start + (end - start) / 3
    for values in [v for _ in range(settings.warmup) for v in runs]:
        if time.monotonic() + expected > warm_until:
            break
        _execute(conn, options, values)
    docs: list[dict] = []
    for values in runs:
        if docs and time.monotonic() + expected > end:
            break
        docs.append(_execute(conn, options, values))
        expected = float(docs[-1]["Execution Time"]) / 1000
    plans = [d["Plan"] for d in docs]
    hit = sum(int(p.get("Shared Hit Blocks", 0)) for p in plans)
    read = sum(int(p.get("Shared Read Blocks", 0)) for p in plans)
    return Timing(st, "timed", staging_ms=statistics.median(float(d["Execution Time"]) for d in docs),
                  staging_rows=statistics.fmean(float(p.get("Actual Rows", 0)) for p in plans),
                  staging_hit_ratio=hit / (hit + read) if hit + read else None, runs=len(docs),
                  staging_plan=shape(plans[-1])[:MAX_PLAN_LINES])


def _execute(conn, options: str, values: list) -> dict:
    args = sql.SQL("({})").format(sql.SQL(", ").join(sql.Literal(v) for v in values)) if values else sql.SQL("")
    return _doc(conn.execute(sql.SQL("EXPLAIN ({} FORMAT JSON) EXECUTE {}{}").format(
        sql.SQL(options), sql.Identifier(PREPARED), args)).fetchone()[0])


def production_plans(conn: psycopg.Connection, timings: list[Timing]) -> None:
    """Production's plan shape of each given statement (EXPLAIN GENERIC_PLAN, COSTS OFF: planning only, never
    executed), for the report's side-by-side; a statement that cannot be planned keeps an empty plan."""
    for t in timings:
        try:
            with conn.transaction():
                row = conn.execute(sql.SQL("EXPLAIN (FORMAT JSON, COSTS OFF, GENERIC_PLAN) {}").format(
                    sql.SQL(t.statement.sql))).fetchone()
            t.production_plan = shape(_doc(row[0])["Plan"])[:MAX_PLAN_LINES]
        except psycopg.Error:
            t.production_plan = []


# ---- the verdict: hardware-independent ------------------------------------------------------------------------

@dataclass
class Levels:
    time: Threshold  # factor off the workload's median ratio
    rows: Threshold  # factor between rows per call
    cache: Threshold  # production's shared-buffer hit ratio minus staging's


def ratio(t: Timing) -> float:
    return max(t.staging_ms or 0.0, FLOOR_MS) / max(t.statement.mean_ms, FLOOR_MS)


def factor(a: float, b: float) -> float:
    """How many times a and b differ, either way (1.0: equal)."""
    return max(a, b) / min(a, b)


def judge(timings: list[Timing], levels: Levels, window_note: str, previous_median: float | None = None,
          skipped_reason: str = "") -> list[CheckResult]:
    """The summary result (every query in its details, outliers first), then one result per query and
    statistic that did not pass."""
    if skipped_reason:
        return [CheckResult(CHECK, None, None, SUMMARY, None, None, None, levels.time, Verdict.SKIPPED,
                            f"query time not compared: {skipped_reason}")]
    timed = [t for t in timings if t.status in ("timed", "timed_out")]
    median = statistics.median([ratio(t) for t in timed]) if timed else None
    judged = len(timed) >= MIN_TIMED
    details, failing = [], []
    for t in timings:
        d, found = _judge_one(t, median if judged else None, levels)
        details.append(d)
        failing += found
    details.sort(key=lambda d: (_ORDER[d["verdict"]], -(d.get("time_factor") or 0.0)))
    worst = max((r.verdict for r in failing), key=lambda v: _RANK[v], default=Verdict.PASS)
    if not timed:
        worst = Verdict.SKIPPED
    summary = CheckResult(CHECK, None, None, SUMMARY, len(timings), None if median is None else round(median, 4),
                          max((d.get("time_factor") or 1.0 for d in details), default=None) if judged else None,
                          levels.time, worst, _explain(timings, median, judged, failing, window_note,
                                                       previous_median), details)
    return [summary, *failing]


_RANK = {Verdict.PASS: 0, Verdict.SKIPPED: 1, Verdict.WARN: 2, Verdict.ERROR: 3}
_ORDER = {"error": 0, "warn": 1, "pass": 2, "explained": 3, "skipped": 4, "failed": 0}


def _judge_one(t: Timing, median: float | None, levels: Levels) -> tuple[dict, list[CheckResult]]:
    s = t.statement
    d: dict[str, Any] = {
        "fingerprint": s.fingerprint, "sql": s.sql[:500], "status": t.status, "reason": t.reason,
        "calls": s.calls, "production_mean_ms": round(s.mean_ms, 4), "production_stddev_ms": round(s.stddev_ms, 4),
        "production_rows_per_call": round(s.rows_per_call, 3), "production_hit_ratio": _round(s.hit_ratio),
        "production_blocks": {"hit": s.hit, "read": s.read},
        "staging_ms": _round(t.staging_ms), "staging_rows_per_call": _round(t.staging_rows),
        "staging_hit_ratio": _round(t.staging_hit_ratio), "runs": t.runs,
        "production_plan": t.production_plan, "staging_plan": t.staging_plan, "verdict": "skipped",
    }
    if t.status == "explained":
        d["verdict"] = "explained"
    if t.status == "failed":
        d["verdict"] = "failed"
    if t.status not in ("timed", "timed_out"):
        return d, []
    found: list[CheckResult] = []
    d["ratio"] = round(ratio(t), 4)
    if median is not None:
        f = factor(ratio(t), median)
        d["time_factor"] = round(f, 3)
        v = levels.time.judge(f)
        if t.status == "timed_out" and v == Verdict.PASS:
            v = Verdict.WARN  # reaching the timeout is a finding whatever the median says
        if v != Verdict.PASS:
            slower = "slower" if ratio(t) > median else "faster"
            found.append(_result(t, TIME, round(s.mean_ms, 4), t.staging_ms, f, levels.time, v,
                                 f"runs {f:.1f}x {slower} on staging than the workload's median ratio ({median:.2f}): "
                                 f"{t.staging_ms:.3g} ms on staging vs {s.mean_ms:.3g} ms on production"
                                 + (f" ({t.reason})" if t.status == "timed_out" else "")))
    if t.staging_rows is not None:
        f = factor(t.staging_rows + 1, s.rows_per_call + 1)
        d["rows_factor"] = round(f, 3)
        v = levels.rows.judge(f)
        if v != Verdict.PASS:
            found.append(_result(t, ROWS, round(s.rows_per_call, 3), t.staging_rows, f, levels.rows, v,
                                 f"returns {t.staging_rows:.4g} rows per call on staging vs {s.rows_per_call:.4g} "
                                 f"on production ({f:.1f}x): the copy's data volume differs for this query"))
    if s.hit_ratio is not None and t.staging_hit_ratio is not None:
        gap = s.hit_ratio - t.staging_hit_ratio
        d["hit_ratio_gap"] = round(gap, 4)
        v = levels.cache.judge(gap)
        if v != Verdict.PASS:
            found.append(_result(t, CACHE, round(s.hit_ratio, 4), round(t.staging_hit_ratio, 4), gap, levels.cache,
                                 v, f"finds {t.staging_hit_ratio:.0%} of its blocks in shared buffers on staging "
                                    f"(after warm-up) vs {s.hit_ratio:.0%} on production"))
    d["verdict"] = max((r.verdict for r in found), key=lambda v: _RANK[v], default=Verdict.PASS).value
    return d, found


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def _result(t: Timing, statistic: str, prod, stage, divergence: float, level: Threshold, verdict: Verdict,
            what: str) -> CheckResult:
    # the query's text stays in the details (report, Dagster metadata): explanations travel in alerts
    return CheckResult(CHECK, None, None, statistic, prod, stage, round(divergence, 4), level, verdict,
                       f"query {t.statement.fingerprint} {what}")


def median_ratio(checks: list[dict]) -> float | None:
    """The median staging/production time ratio in a run's recorded check results (as dicts), or None."""
    for c in checks:
        if c.get("check") == CHECK and c.get("statistic") == SUMMARY and c.get("staging") is not None:
            return float(c["staging"])
    return None


def _explain(timings: list[Timing], median: float | None, judged: bool, failing: list[CheckResult],
             window_note: str, previous_median: float | None) -> str:
    count: Callable[[str], int] = lambda status: sum(t.status == status for t in timings)  # noqa: E731
    timed = count("timed") + count("timed_out")
    parts = [f"{timed} of {len(timings)} production queries timed on staging (counters {window_note})"]
    other = [f"{n} {what}" for what, n in (("explained only (DML or locking)", count("explained")),
                                           ("skipped", count("skipped")), ("failed", count("failed"))) if n]
    if other:
        parts[0] += "; " + ", ".join(other)
    if median is None:
        parts.append("no query could be timed")
    elif not judged:
        parts.append(f"median staging/production time ratio {median:.2f}, not judged: fewer than {MIN_TIMED} "
                     f"timed queries")
    else:
        trend = f" (previous release {previous_median:.2f})" if previous_median else ""
        parts.append(f"median staging/production time ratio {median:.2f}{trend}")
        off = [r for r in failing if r.statistic == TIME]
        parts.append(f"{len(off)} quer{'y' if len(off) == 1 else 'ies'} off the median" if off else
                     "every query within its threshold of the median")
    others = [r for r in failing if r.statistic != TIME]
    if others:
        parts.append(f"{len(others)} rows-per-call or cache-hit finding{'s' * (len(others) > 1)}")
    skipped = [t for t in timings if t.status == "skipped"]
    if skipped:
        parts.append("skipped: " + "; ".join(f"{t.statement.fingerprint}: {t.reason.split(' (')[0]}"
                                             for t in skipped[:3])
                     + (f"; and {len(skipped) - 3} more" if len(skipped) > 3 else ""))
    return "; ".join(parts)

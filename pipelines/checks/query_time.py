"""The query-time check's plumbing: production's pg_stat_statements kept per run in staging's control schema, and
the replay of its top queries on the shadow copy (the judging is validators/query_time.py)."""

from __future__ import annotations

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from prodlike.pipelines.checks import registry
from prodlike.pipelines.config.model import Config
from prodlike.pipelines.engine import control
from prodlike.pipelines.postgres import connections, ddl
from prodlike.validators import query_time as qt
from prodlike.validators.results import CheckResult, Threshold

NAME = qt.CHECK
KEEP_RUNS = 20  # runs whose production statistics stay in the control schema (the delta needs the newest only)


def record_production(prod: psycopg.Connection, stage: psycopg.Connection, run_id: str, limit: int) -> None:
    """Read production's pg_stat_statements (catalog and pg_stat_statements reads only) and keep it with the run
    (and the last KEEP_RUNS runs' before it)."""
    try:
        stats = qt.read_production(prod, limit)
    except Exception as err:  # an optional check's read must never fail the copy; the check says why it skipped
        stats = qt.ProductionStats(False, f"reading production's pg_stat_statements failed ({type(err).__name__})")
    stage.execute("INSERT INTO prodlike.query_stats (run_id, stats) VALUES (%s, %s) ON CONFLICT (run_id) "
                  "DO UPDATE SET stats = excluded.stats, recorded_at = now()", (run_id, Jsonb(qt.to_json(stats))))
    stage.execute("DELETE FROM prodlike.query_stats WHERE run_id NOT IN (SELECT run_id FROM prodlike.query_stats "
                  "ORDER BY recorded_at DESC LIMIT %s)", (KEEP_RUNS,))


def levels(cfg: Config) -> qt.Levels:
    t = cfg.thresholds
    return qt.Levels(*(Threshold(x.warn, x.error) for x in (t.query_time, t.query_rows, t.query_cache)))


def _stored(conn: psycopg.Connection, run_id: str) -> tuple[qt.ProductionStats | None, qt.ProductionStats | None]:
    """This run's production statistics and the previous refresh's (the newest recorded before it)."""
    rows = conn.execute("SELECT run_id, stats FROM prodlike.query_stats WHERE recorded_at <= "
                        "(SELECT recorded_at FROM prodlike.query_stats WHERE run_id = %s) "
                        "ORDER BY recorded_at DESC LIMIT 2", (run_id,)).fetchall()
    current = next((qt.from_json(s) for r, s in rows if r == run_id), None)
    previous = next((qt.from_json(s) for r, s in rows if r != run_id), None)
    return current, previous


def previous_median(conn: psycopg.Connection) -> float | None:
    """The median time ratio the live release was judged with (release-over-release trend), or None."""
    live = control.live_release(conn)
    run = control.get_run(conn, live["run_id"]) if live else None
    return qt.median_ratio((run or {}).get("checks") or [])


def budget_seconds(conn: psycopg.Connection, cfg: Config, run_id: str) -> float:
    """The replays' wall time: query_time.budget of the run's time so far, within min_budget and max_budget."""
    q = cfg.query_time
    elapsed = conn.execute("SELECT extract(epoch FROM clock_timestamp() - started_at) FROM prodlike.runs "
                           "WHERE run_id = %s", (run_id,)).fetchone()
    share = q.budget * float(elapsed[0]) if elapsed else 0.0
    return min(max(share, q.min_budget.total_seconds()), q.max_budget.total_seconds())


def staging_columns(conn: psycopg.Connection, cfg: Config) -> qt.Columns:
    """Columns of every copied relation (tables, views) in the shadow schemas, under production's names;
    schema-only and excluded tables left out (their rows are not on staging)."""
    shadow = {ddl.shadow_name(s): s for s in cfg.schemas}
    rows = conn.execute(
        "SELECT n.nspname, c.relname, a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ANY(%s) AND c.relkind IN "
        "('r', 'p', 'v', 'm', 'f') AND a.attnum > 0 AND NOT a.attisdropped", (list(shadow),)).fetchall()
    out: qt.Columns = {}
    for schema, table, column in rows:
        qualified = f"{shadow[schema]}.{table}"
        if not (cfg.is_excluded(qualified) or cfg.is_schema_only(qualified)):
            out.setdefault((shadow[schema], table), set()).add(column)
    return out


def check(cfg: Config, source_dsn: str, target_dsn: str, run_id: str) -> list[CheckResult]:
    """Replay production's top queries of this run's window on the shadow copy and judge them."""
    q = cfg.query_time
    with connections.staging(target_dsn, autocommit=True) as stage:
        current, previous = _stored(stage, run_id)
        trend = previous_median(stage)
        if current is None:
            return qt.judge([], levels(cfg), "", skipped_reason="production's pg_stat_statements was not read in "
                                                                "this run (query_time.enabled was off at its copy)")
        if not current.available:
            return qt.judge([], levels(cfg), "", skipped_reason=current.reason)
        statements, note = qt.window(current, previous)
        chosen = qt.top(statements, q.top, q.min_calls)
        if not chosen:
            return qt.judge([], levels(cfg), "", skipped_reason=f"no application query with at least {q.min_calls} "
                                                                f"calls in production's pg_stat_statements ({note})")
        schemas = {s: ddl.shadow_name(s) for s in cfg.schemas}
        search_path = [*schemas.values(), ddl.EXTENSION_SCHEMA, "public"]
        settings = qt.Replay(q.runs, q.warmup, int(q.statement_timeout.total_seconds() * 1000),
                             budget_seconds(stage, cfg, run_id))
        timings = qt.replay_all(stage, chosen, staging_columns(stage, cfg), schemas, search_path, settings)
    results = qt.judge(timings, levels(cfg), note, trend)
    outliers = {d["fingerprint"] for d in results[0].details if d["verdict"] in ("warn", "error")}
    if q.production_plans and outliers:
        with connections.production(source_dsn, cfg.copy_.lock_timeout) as prod:
            prod.autocommit = True
            prod.execute(sql.SQL("SET search_path = {}, public").format(
                sql.SQL(", ").join(sql.Identifier(s) for s in cfg.schemas)))
            qt.production_plans(prod, [t for t in timings if t.statement.fingerprint in outliers])
        results = qt.judge(timings, levels(cfg), note, trend)
    return results


def run(ctx: registry.RunContext) -> list[CheckResult]:
    return check(ctx.cfg, ctx.source_dsn, ctx.target_dsn, ctx.run_id)


CHECK = registry.register(registry.Check(
    NAME, registry.RUN, blocking=True, thresholds=("query_time", "query_rows", "query_cache"), runner=run, order=30,
    enabled=lambda cfg: cfg.query_time.enabled,
    description="Production's top queries from pg_stat_statements replayed on the copy (read-only, rolled back): "
                "each query's staging/production time ratio against the workload's median, rows per call, "
                "shared-buffer hit ratio (warns by default; thresholds.query_time, query_rows, query_cache)."))

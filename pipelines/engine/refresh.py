"""One refresh without Dagster: preflight, snapshot copy into the shadow schemas, and release."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from psycopg import sql

from prodlike.anonymizers import policy as anon_policy
from prodlike.anonymizers.keys import check_key
from prodlike.pipelines.config.model import Config
from prodlike.pipelines.engine import control, faults, release, runlock, statistics
from prodlike.pipelines.engine.audit import actor
from prodlike.pipelines.engine.copy_engine import CopyStats, CopyUnit, Snapshot, copy_unit, export_snapshot
from prodlike.pipelines.engine.preflight import PreflightReport, all_created, check, select_tables
from prodlike.pipelines.engine.workers import TransformPool, start_server
from prodlike.pipelines.errors import Refused, Transient, recorded_error
from prodlike.pipelines.postgres import connections, ddl, dump
from prodlike.pipelines.postgres.catalog import Catalog, qident, read_catalog
from prodlike.validators.distributions import ColumnSpec, read_edges
from prodlike.validators.expectations import preload

log = logging.getLogger("prodlike")
EXTENSION_SCHEMA = ddl.EXTENSION_SCHEMA


@dataclass
class TableResult:
    """One top-level table copied (all its leaves) with its keys and indexes built."""

    table: str
    rows: int
    bytes: int
    seconds: float
    post_data_s: float
    leaves: list[CopyStats]

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict:
        return {"rows": self.rows, "bytes": self.bytes, "seconds": round(self.seconds, 3),
                "post_data_s": round(self.post_data_s, 3), "rows_per_s": round(self.rows_per_s)}


@dataclass
class CopyOutcome:
    run_id: str
    snapshot_time: datetime
    tables: dict[str, TableResult] = field(default_factory=dict)
    preflight: PreflightReport | None = None
    seconds: float = 0.0


def _noop_progress(unit: str, rows: int, nbytes: int) -> None:
    return None


def shapes(cat: Catalog, tables: list[str]) -> dict[str, anon_policy.TableShape]:
    """The policy's view of the catalog's tables."""
    out = {}
    domains_checked = {t.name for t in cat.types if "CHECK" in t.definition}
    for q in tables:
        t = cat.tables[q]
        cons = [c for c in cat.constraints if f"{c.schema}.{c.table}" == q]
        checked = {col for c in cons if c.kind == "c" for col in c.columns}
        checked |= {c.name for c in t.columns if c.type_name in domains_checked}
        out[q] = anon_policy.TableShape(
            name=q,
            columns=[anon_policy.ColumnShape(c.name, c.type_name, c.type_category, c.type_sql, c.not_null)
                     for c in t.copied_columns],
            unique=[c.columns for c in cons if c.kind in "pux"] + unique_indexes(cat, q),
            foreign_keys=[(c.columns, c.ref_table, c.ref_columns) for c in cons if c.kind == "f"],
            checked=checked,
        )
    return out


def unique_indexes(cat: Catalog, qualified: str) -> list[list[str]]:
    """Columns of each unique index of a table that backs no constraint (expression and partial ones too:
    their columns are held to injective transforms like any unique column)."""
    schema, name = qualified.split(".", 1)
    return [i.columns for i in cat.indexes if i.unique and (i.schema, i.table) == (schema, name) and i.columns]


def config_rules(cfg: Config) -> dict:
    return {q: "keep" if p.keep else {c: (r.transformer, r.params) for c, r in p.columns.items()}
            for q, p in cfg.anonymization.tables.items()}


def unreviewed_keep_columns(cfg: Config, cat: Catalog, tables: list[str]) -> list[str]:
    """Tables kept whole whose production columns differ from the columns their `keep` was reviewed with: a new
    column may hold PII and refuses the refresh like any unclassified column (fail closed)."""
    problems = []
    for q in tables:
        reviewed = cfg.anonymization.tables[q].reviewed
        if reviewed is None:
            continue
        present = [c.name for c in cat.tables[q].copied_columns]
        new = [c for c in present if c not in reviewed]
        gone = [c for c in reviewed if c not in present]
        if new:
            problems.append(
                f"{q}: new column(s) {', '.join(new)} since its table-level keep was reviewed; if they hold no PII "
                f"add them to anonymization.tables.{q}.keep, else write the table as columns: with a transformer "
                f"for each (`prodlike scan` suggests one)")
        if gone:
            problems.append(f"anonymization.tables.{q}.keep: no column(s) {', '.join(gone)} in production any more; "
                            f"remove them from the list")
    return problems


def build_policy(cfg: Config, cat: Catalog, key: bytes | None, copied: list[str]) -> anon_policy.Policy:
    """Resolve the anonymization policy; a missing key is only an error when something is transformed."""
    rules = config_rules(cfg)
    needs_key = any(v != "keep" and any(r[0] != "keep" for r in v.values()) for v in rules.values())
    where = f"anonymization.key ({cfg.anonymization.key})" if cfg.anonymization.key else "anonymization.key"
    k = check_key(key, where) if needs_key or key else b"\0" * 32
    return anon_policy.build(rules, shapes(cat, copied), k, copied)


class Refresh:
    """The steps of one refresh run against resolved DSNs (no Dagster inside)."""

    def __init__(self, cfg: Config, source_dsn: str, target_dsn: str, run_id: str, anon_key: bytes | None,
                 progress: Callable[[str, int, int], None] = _noop_progress,
                 on_start: Callable[[dict[str, int]], None] | None = None, force: bool = False):
        self.cfg, self.source_dsn, self.target_dsn = cfg, source_dsn, target_dsn
        self.run_id, self.anon_key, self.progress = run_id, anon_key, progress
        self.on_start, self.force = on_start, force
        self._stats, self.statistics = None, {"restored": False}
        self._pool = None
        self._ddl = ddl.ShadowDDL()

    # ---- preflight -------------------------------------------------------------------------
    def preflight(self) -> PreflightReport:
        """Compare config and production catalog without moving data (also runs inside copy)."""
        with connections.production(self.source_dsn, self.cfg.copy_.lock_timeout) as conn:
            cat = read_catalog(conn, self.cfg.schemas)
            try:  # staging answers whether it already has what an unrefreshed schema would have to provide
                stage = connections.staging(self.target_dsn, autocommit=True)
            except psycopg.OperationalError:
                return self._check(cat, conn)
            with stage:
                return self._check(cat, conn, stage)

    def _check(self, cat: Catalog, conn: psycopg.Connection,
               stage: psycopg.Connection | None = None) -> PreflightReport:
        sel = select_tables(self.cfg, cat)
        listed = [q for q in sel.copied if q in self.cfg.anonymization.tables]  # others: 'not in the config'
        extra = unreviewed_keep_columns(self.cfg, cat, listed)
        try:
            self.policy = build_policy(self.cfg, cat, self.anon_key, listed)
        except anon_policy.PolicyError as err:
            extra += err.problems
        except ValueError as err:
            extra.append(str(err))
        return check(self.cfg, cat, conn, extra, stage)

    # ---- copy ------------------------------------------------------------------------------
    def copy(self) -> Iterator[TableResult]:
        """Copy every selected table into the shadow schemas; yields each table as it completes."""
        started = time.perf_counter()
        with self._staging() as stage:
            runlock.hold(self.target_dsn, self.run_id)  # from the first write to the run's conclusion (close())
            try:
                self._refuse_if_paused(stage)
                release.drop_stale_shadows(stage, self.cfg.schemas, self.cfg.copy_.lock_timeout)
                control.start_run(stage, self.run_id, self.cfg.schemas)
                stage.execute("TRUNCATE prodlike.leak_hashes")  # a crashed run's hashes (their key is gone)
                control.drop_samples(stage)  # and its distribution samples
                if self.force:
                    control.update_run(stage, self.run_id, forced=True)
                try:
                    yield from self._copy_locked(stage)
                except BaseException as err:
                    halted = isinstance(err, Refused)
                    control.update_run(stage, self.run_id, status="halted" if halted else "failed",
                                       error=recorded_error(err))
                    raise
            except BaseException:
                self.close()
                raise
        self.outcome.seconds = time.perf_counter() - started

    def _staging(self) -> psycopg.Connection:
        """The run's staging session: every statement waits at most copy.lock_timeout on a lock staging users
        hold (a lock timeout is transient: the run fails and the next one retries)."""
        conn = connections.staging(self.target_dsn, autocommit=True)
        conn.execute("SELECT set_config('lock_timeout', %s, false)",
                     (f"{int(self.cfg.copy_.lock_timeout.total_seconds() * 1000)}ms",))
        return conn

    def close(self) -> None:
        """The run has concluded (released, halted or failed): free staging for the next run."""
        runlock.let_go(self.target_dsn, self.run_id)

    def _refuse_if_paused(self, stage: psycopg.Connection) -> None:
        """A paused refresh starts only with force (recorded in the audit trail)."""
        st = control.state(stage)
        if not st["paused"]:
            return
        if not self.force:
            raise control.RefreshPausedError(
                f"refreshes are paused since {st['paused_at']:%Y-%m-%d %H:%M:%S %Z} by {st['paused_by']}: "
                f"{st['paused_reason']}. Inspect with `prodlike status`, then `prodlike resume --note TEXT`; "
                f"or run once anyway with `prodlike refresh --force` (recorded)")
        control.event(stage, "forced", actor(), "refresh run while paused", self.run_id)

    def _copy_locked(self, stage: psycopg.Connection) -> Iterator[TableResult]:
        cfg = self.cfg
        if cfg.copy_.transform_processes != 0:  # the workers' imports overlap the snapshot, catalog and DDL
            start_server()
        snapshot, cat = export_snapshot(self.source_dsn, cfg.schemas, cfg.copy_.lock_timeout, read_catalog)
        try:
            report = self._check(cat, snapshot.conn, stage)
            self.outcome = CopyOutcome(self.run_id, snapshot.taken_at, preflight=report)
            log.info("production snapshot %s taken at %s; %d tables, %.1f MB (staging needs about %.1f MB)",
                     snapshot.id, snapshot.taken_at, len(report.selection.copied), report.production_bytes / 1e6,
                     report.staging_bytes_needed / 1e6)
            rename = self._prepare_shadow(stage, cat, report, snapshot)
            units = self._units(cat, report, rename, live_rows(snapshot.conn, cfg.schemas))
            self._profile_specs(snapshot.conn, cat, units)
            self._read_statistics(stage, snapshot.conn, units)
            self._read_query_stats(stage, snapshot.conn)
            if self.on_start:
                estimates: dict[str, int] = {}
                for u in units:
                    estimates[u.asset] = estimates.get(u.asset, 0) + u.estimated_rows
                self.on_start(estimates)
            self._pool = self._transform_pool(units)
            try:
                yield from self._run_units(stage, cat, rename, units, snapshot, report)
            finally:
                if self._pool is not None:
                    self._pool.close()
        finally:
            snapshot.close()
        self._finish(stage, cat, rename, report)

    def _read_statistics(self, stage: psycopg.Connection, prod: psycopg.Connection, units: list[CopyUnit]) -> None:
        """Production's planner statistics of the copied tables' keep columns, read inside the snapshot."""
        self._stats, self.statistics = None, {"restored": False}
        on, why = statistics.enabled(self.cfg.copy_.restore_statistics, stage)
        if not on:
            self.statistics["reason"] = why
            return
        keep: dict[str, set[str]] = {}
        for u in units:
            if not u.schema_only:
                transformed = set(u.plan.transformers) if u.plan is not None else set()
                for name in (u.source, u.asset):
                    keep.setdefault(name, set()).update(set(u.columns) - transformed)
        self._stats = statistics.read(prod, keep)

    def _read_query_stats(self, stage: psycopg.Connection, prod: psycopg.Connection) -> None:
        """Production's pg_stat_statements for the query-time check, read inside the refresh (catalog and
        pg_stat_statements reads only, in a savepoint), kept in the control schema."""
        if self.cfg.query_time.enabled:
            from prodlike.pipelines.checks import query_time  # only when enabled: it imports the validators

            query_time.record_production(prod, stage, self.run_id, self.cfg.query_time.statements)

    def _prepare_shadow(self, stage: psycopg.Connection, cat: Catalog, report: PreflightReport,
                        snapshot: Snapshot) -> ddl.Renamer:
        """Read production's DDL (pg_dump, inside the run's snapshot), create the shadow schemas and run its
        pre-data there; keys, indexes and the rest of post-data wait for the rows."""
        ext_schemas = self._ensure_extensions(stage, cat)
        rename = ddl.Renamer({s: ddl.shadow_name(s) for s in cat.schemas}, cat.extension_members, ext_schemas,
                             cat.objects)
        entries = dump.read(self.source_dsn, cat.schemas, report.selection.excluded, snapshot.id,
                            self.cfg.copy_.lock_timeout)
        owners = {tuple(t.qualified.split(".", 1)): q for q in report.selection.created
                  for t in cat.partition_tree(q)}
        self._ddl = ddl.plan(entries, rename, owners, cat.index_oids)
        with stage.transaction():
            stage.execute("SET LOCAL check_function_bodies = off")
            stage.execute("SET LOCAL search_path = ''")
            for s in cat.schemas:
                stage.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(ddl.shadow_name(s))))
            ddl.run(stage, self._ddl.pre_data)
            for s in cat.schemas:
                stage.execute("INSERT INTO prodlike.shadow (schema_name, run_id) VALUES (%s, %s) "
                              "ON CONFLICT (schema_name) DO UPDATE SET run_id = excluded.run_id, created_at = now()",
                              (s, self.run_id))
        return rename

    def _ensure_extensions(self, stage: psycopg.Connection, cat: Catalog) -> dict[str, str]:
        """Install production's extensions in staging where no release drop can reach them."""
        mapping: dict[str, str] = {}
        installed = dict(stage.execute(
            "SELECT e.extname, n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
        ).fetchall())
        for ext, prod_schema in cat.extensions.items():
            where = installed.get(ext)
            if where is None:
                stage.execute(f"CREATE SCHEMA IF NOT EXISTS {qident(EXTENSION_SCHEMA)}")
                stage.execute(f"CREATE EXTENSION IF NOT EXISTS {qident(ext)} SCHEMA {qident(EXTENSION_SCHEMA)}")
                where = EXTENSION_SCHEMA
            elif where in cat.schemas:
                stage.execute(f"CREATE SCHEMA IF NOT EXISTS {qident(EXTENSION_SCHEMA)}")
                stage.execute(f"ALTER EXTENSION {qident(ext)} SET SCHEMA {qident(EXTENSION_SCHEMA)}")
                where = EXTENSION_SCHEMA
            mapping[prod_schema] = where
        if EXTENSION_SCHEMA in mapping.values():
            self._extension_schema_on_search_path(stage)
        return mapping

    @staticmethod
    def _extension_schema_on_search_path(stage: psycopg.Connection) -> None:
        """Unqualified extension operators and types (citext's `=`) must resolve in staging as they do in
        production: append the extension schema to the database's default search_path, once."""
        current = stage.execute(
            "SELECT coalesce((SELECT option_value FROM pg_db_role_setting s, pg_options_to_table(s.setconfig) "
            "WHERE s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND s.setrole = 0 AND option_name = 'search_path'), current_setting('search_path'))"
        ).fetchone()[0]
        if EXTENSION_SCHEMA not in [p.strip().strip('"') for p in current.split(",")]:
            stage.execute(f"ALTER DATABASE {qident(stage.info.dbname)} SET search_path = {current}, "
                          f"{qident(EXTENSION_SCHEMA)}")

    def _units(self, cat: Catalog, report: PreflightReport, rename: ddl.Renamer,
               live: dict[tuple[str, str], int]) -> list[CopyUnit]:
        units = []
        for q in report.selection.copied + report.selection.schema_only:
            plan = self.policy.plans.get(q) if q in report.selection.copied else None
            for leaf in cat.leaves(q):
                units.append(CopyUnit(
                    source=leaf.qualified, target=rename.table(leaf.qualified), asset=q,
                    columns=[c.name for c in leaf.copied_columns], plan=plan,
                    schema_only=q in report.selection.schema_only, estimated_bytes=leaf.estimated_bytes,
                    estimated_rows=0 if q in report.selection.schema_only else
                    live.get((leaf.schema, leaf.name), leaf.estimated_rows),
                ))
        return sorted(units, key=lambda u: -u.estimated_bytes)

    def _profile_specs(self, prod: psycopg.Connection, cat: Catalog, units: list[CopyUnit]) -> None:
        """What the copy stream profiles for the distribution check: every copied column with its rule, one set of
        specs per table shared by its leaves, and production's bin edges from pg_stats (inside the snapshot)."""
        specs: dict[str, dict] = {}
        leaves: dict[str, list[str]] = {}
        for u in units:
            if u.schema_only:
                continue
            if u.asset not in specs:
                rules = self.policy.rules.get(u.asset, {})
                specs[u.asset] = {c.name: ColumnSpec(c.name, c.value_type, c.type_category,
                                                     rules.get(c.name, ("keep",))[0])
                                  for c in cat.tables[u.asset].copied_columns}
            leaves.setdefault(u.asset, []).append(u.source)
            u.profile_specs = specs[u.asset]
        read_edges(prod, specs, leaves)

    def _transform_pool(self, units: list[CopyUnit]):
        """Worker processes for the transform and profiling stages, or None (nothing to do, or configured off)."""
        planned = {u.source: (u.plan, u.columns) for u in units if u.plan is not None and not u.schema_only}
        profiled = {u.source: (u.stream_columns, u.profile_specs) for u in units
                    if u.profile_specs and not u.schema_only}
        processes = self.cfg.copy_.transform_processes
        processes = (os.cpu_count() or 1) if processes is None else processes
        if not (planned or profiled) or processes == 0:
            return None
        return TransformPool(processes, check_key(self.anon_key) if planned else None, planned, profiled)

    def _copy_with_retries(self, unit: CopyUnit, snapshot: Snapshot) -> CopyStats:
        attempt = 0
        while True:
            attempt += 1
            try:
                stats = copy_unit(unit, snapshot, self.source_dsn, self.target_dsn,
                                  lock_timeout=self.cfg.copy_.lock_timeout, batch_bytes=self.cfg.copy_.batch_bytes,
                                  progress=self.progress, pool=self._pool)
                stats.attempts = attempt
                return stats
            except (psycopg.Error, Transient) as err:  # Transient: e.g. a server that could not be reached
                if not connections.is_transient(err) or attempt > self.cfg.copy_.retries or not snapshot.open:
                    raise
                delay = min(30.0, 0.5 * 2 ** (attempt - 1))
                log.warning("%s: transient error (%s); retry %d in %.1fs", unit.source,
                            getattr(err, "sqlstate", None) or type(err).__name__, attempt, delay)
                time.sleep(delay)

    def _post_table(self, cat: Catalog, rename: ddl.Renamer, table: str) -> float:
        """Keys, unique and exclusion constraints and indexes of one table (and its partitions), after its rows."""
        t0 = time.perf_counter()
        with connections.staging(self.target_dsn) as conn:
            conn.execute("SET maintenance_work_mem = '256MB'")
            conn.execute("SET search_path = ''")
            faults.point("copy.post_data")
            ddl.run(conn, self._ddl.table_post_data.get(table, []))
            conn.commit()
        return time.perf_counter() - t0

    def _run_units(self, stage, cat, rename, units, snapshot, report) -> Iterator[TableResult]:
        remaining: dict[str, list[CopyUnit]] = {}
        for u in units:
            remaining.setdefault(u.asset, []).append(u)
        done: dict[str, list[CopyStats]] = {t: [] for t in remaining}
        for q in report.selection.created:
            if q not in remaining:
                remaining[q], done[q] = [], []
        with ThreadPoolExecutor(max_workers=self.cfg.copy_.workers, thread_name_prefix="prodlike-copy") as pool:
            pending: dict[Future, tuple[str, CopyUnit | None]] = {
                pool.submit(self._copy_with_retries, u, snapshot): ("copy", u) for u in units}
            for q, us in remaining.items():
                if not us:
                    pending[pool.submit(self._post_table, cat, rename, q)] = ("post:" + q, None)
            try:
                while pending:
                    finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        kind, unit = pending.pop(fut)
                        result = fut.result()
                        if kind == "copy":
                            done[unit.asset].append(result)
                            if len(done[unit.asset]) == len(remaining[unit.asset]):
                                pending[pool.submit(self._post_table, cat, rename, unit.asset)] = (
                                    "post:" + unit.asset, None)
                        else:
                            table = kind.split(":", 1)[1]
                            leaves = done[table]
                            tr = TableResult(table, sum(s.rows for s in leaves), sum(s.bytes for s in leaves),
                                             max((s.seconds for s in leaves), default=0.0), result, leaves)
                            self.outcome.tables[table] = tr
                            yield tr
                    if not any(kind == "copy" for kind, _ in pending.values()):
                        snapshot.close()  # every table has its rows: production is no longer read
                        if self.cfg.great_expectations:  # its import (seconds of CPU) overlaps keys and indexes
                            preload()
            except BaseException:
                for fut in pending:
                    fut.cancel()
                raise

    def _finish(self, stage: psycopg.Connection, cat: Catalog, rename: ddl.Renamer, report: PreflightReport) -> None:
        created = all_created(cat, report.selection)
        with stage.transaction():
            stage.execute("SET LOCAL search_path = ''")
            ddl.run(stage, self._ddl.post_data)
            # functions a materialized view calls may name tables unqualified: resolve them in the shadow
            shadows = sql.SQL(", ").join(sql.Identifier(ddl.shadow_name(s)) for s in cat.schemas)
            stage.execute(sql.SQL("SET LOCAL search_path = {}, {}").format(shadows, sql.Identifier(EXTENSION_SCHEMA)))
            ddl.run(stage, ddl.refresh_matviews(cat, rename, self._ddl.matviews))
            stage.execute("SET LOCAL search_path = ''")
            ddl.run(stage, ddl.sequence_sync(cat, rename, created))
        for stmt in self.cfg.post_load_sql:
            with stage.transaction():
                shadows = ", ".join(qident(ddl.shadow_name(s)) for s in self.cfg.schemas)
                stage.execute(f"SET LOCAL search_path = {shadows}, {qident(EXTENSION_SCHEMA)}, pg_catalog")
                stage.execute(stmt)
        for s in self.cfg.schemas:
            for t in sorted(q for q in created if q.startswith(s + ".")):
                stage.execute(f"ANALYZE {rename.table(t)}")
        if self._stats is not None:
            with stage.transaction():
                self.statistics = statistics.restore(stage, self._stats)
            self._stats = None
        control.mark_copied(stage, self.run_id, self.outcome.snapshot_time,
                            {q: r.as_dict() for q, r in self.outcome.tables.items()}, self.statistics)

    # ---- release ---------------------------------------------------------------------------
    def release(self, hold: bool = False) -> release.ReleaseResult:
        """Swap the shadow schemas in (one transaction), record the release, drop the oldest release (or leave it
        for a retry). Staging is freed afterwards, unless `hold`: then the caller concludes the run and calls
        close() (Dagster's hooks do)."""
        try:
            with self._staging() as stage:
                runlock.hold(self.target_dsn, self.run_id, "release")  # kept since the copy, or taken again
                run = control.get_run(stage, self.run_id)
                if run is None or run["status"] != "copied":
                    state = run["status"] if run else "unknown"
                    raise release.ReleaseError(
                        f"run {self.run_id} has no completed copy to release (status: {state})")
                return release.swap(stage, self.cfg.schemas, self.run_id, run["snapshot_time"], run["tables"],
                                    keep_previous=self.cfg.keep_previous, lock_timeout=self.cfg.copy_.lock_timeout)
        finally:
            if not hold:
                self.close()


def live_rows(conn: psycopg.Connection, schemas: list[str]) -> dict[tuple[str, str], int]:
    """Rows per production table for the progress display: the cumulative statistics' live-row count, which
    follows inserts and deletes as they commit (the planner's reltuples stays stale after a delete until the next
    ANALYZE); tables the statistics have not seen yet are left to reltuples."""
    rows = conn.execute("SELECT schemaname, relname, n_live_tup FROM pg_stat_all_tables WHERE schemaname = ANY(%s) "
                        "AND (n_tup_ins > 0 OR n_tup_del > 0 OR n_live_tup > 0 OR last_analyze IS NOT NULL "
                        "OR last_autoanalyze IS NOT NULL)", (schemas,)).fetchall()
    return {(schema, name): int(n) for schema, name, n in rows}

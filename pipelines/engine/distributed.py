"""One refresh spread over processes (copy.executor: multiprocess), without Dagster: the start, the snapshot
holder, the plan, one copy per table or slice, and the finish, each runnable in a process of its own (on
another machine too) and all reading the one production snapshot the holder exported."""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from prodlike.anonymizers.keys import check_key
from prodlike.anonymizers.policy import TablePlan
from prodlike.pipelines.engine import control, release, runlock
from prodlike.pipelines.engine.copy_engine import CopyStats, CopyUnit, LeakSink, Snapshot, copy_unit, export_snapshot
from prodlike.pipelines.engine.preflight import PreflightReport
from prodlike.pipelines.engine.refresh import CopyOutcome, Refresh, TableResult, live_rows
from prodlike.pipelines.engine.seal import seal, unseal
from prodlike.pipelines.engine.workers import plan_spec, profile_spec, start_server
from prodlike.pipelines.errors import ProdlikeError, Refused, recorded_error
from prodlike.pipelines.postgres import connections
from prodlike.pipelines.postgres.catalog import Catalog, qname, read_catalog

log = logging.getLogger("prodlike")
POLL_SECONDS = 0.2  # how often the holder looks whether the last copy has its rows
SLOTS_PER_SLICE = 10_000  # leak-hash slots numbered per slice: steps in different processes never share one


@dataclass
class Published:
    """The run's exported snapshot as the copy steps import it (while its holder lives)."""

    id: str
    taken_at: datetime
    open: bool = True  # what copy_engine asks of a snapshot before importing it


@dataclass
class Slice:
    """One copy step: a whole leaf table, or a block range of a big one."""

    number: int
    unit: CopyUnit
    snapshot: Published

    def __getstate__(self) -> dict:
        """What travels to the copy step: the unit without its plan and column specs (their transformers and locks
        do not pickle), but with what rebuilds them there (the key never travels)."""
        unit = dataclasses.replace(self.unit, plan=None, profile_specs=None)
        return {"number": self.number, "unit": unit, "snapshot": self.snapshot,
                "plan": plan_spec(self.unit.plan) if self.unit.plan is not None else None,
                "profile": profile_spec(self.unit.profile_specs) if self.unit.profile_specs else None}

    def __setstate__(self, state: dict) -> None:
        self.number, self.unit, self.snapshot = state["number"], state["unit"], state["snapshot"]
        self._shipped = (state["plan"], state["profile"])

    def rebuild(self, key: bytes | None) -> CopyUnit:
        """The unit with its plan and column specs rebuilt in this process (after unpickling)."""
        from prodlike.validators.distributions import ColumnSpec

        plan, profile = getattr(self, "_shipped", (None, None))
        if plan is not None:
            self.unit.plan = TablePlan.rebuild(self.unit.asset, plan, check_key(key))
        if profile is not None:
            self.unit.profile_specs = {name: ColumnSpec(name, type_name, category, transformer, edges)
                                       for name, type_name, category, transformer, edges in profile}
        self._shipped = (None, None)
        return self.unit

    @property
    def label(self) -> str:
        """A Dagster mapping key: letters, digits and underscores only, unique in the run."""
        return f"s{self.number}"


@dataclass
class Prepared:
    """What the plan step learned inside the snapshot that the finish step needs."""

    snapshot_time: datetime
    catalog: Catalog
    rename: Any  # postgres.ddl.Renamer
    report: PreflightReport
    shadow_ddl: Any  # postgres.ddl.ShadowDDL: post-data statements to run after the rows
    stats: Any  # production planner statistics of keep columns (engine.statistics.read), or None
    statistics: dict
    slices: int


class HolderGone(ProdlikeError, RuntimeError):
    """The snapshot holder ended before every copy had its rows: the run cannot release."""


def ensure_tables(conn: psycopg.Connection) -> None:
    """The control schema at its newest version (migration 8 holds the tables the steps share)."""
    control.migrate(conn)


def published(conn: psycopg.Connection, run_id: str) -> dict | None:
    cur = conn.execute("SELECT * FROM prodlike.scaleout_snapshots WHERE run_id = %s", (run_id,))
    row = cur.fetchone()
    return dict(zip([d.name for d in cur.description], row, strict=True)) if row else None


def slices_left(conn: psycopg.Connection, run_id: str) -> int | None:
    """Slices planned and not done yet (None: no plan recorded yet)."""
    snap = published(conn, run_id)
    if snap is None or snap["slices"] is None:
        return None
    return conn.execute("SELECT count(*) FROM prodlike.scaleout_slices WHERE run_id = %s AND done_at IS NULL",
                        (run_id,)).fetchone()[0]


def split(units: list[CopyUnit], prod: psycopg.Connection, slice_bytes: int) -> list[CopyUnit]:
    """Leaves larger than slice_bytes as block ranges of about that size (sized from the leaf's pages now, read
    in the snapshot; relpages lags until the next VACUUM); the last range is open, so rows on pages added since
    are copied too."""
    out = []
    for u in units:
        if u.schema_only or u.estimated_bytes <= slice_bytes:
            out.append(u)
            continue
        size, pages = prod.execute("SELECT s, s / current_setting('block_size')::bigint FROM "
                                   "pg_relation_size(%s::regclass) s", (qname(*u.source.split(".", 1)),)).fetchone()
        count = max(1, min(pages, math.ceil(size / slice_bytes)))
        step = math.ceil(pages / count) if pages else 1
        bounds = [i * step for i in range(count)] + [None]
        for first, last in zip(bounds, bounds[1:], strict=False):
            share = 1 / count
            out.append(CopyUnit(u.source, u.target, u.asset, u.columns, u.plan, u.schema_only,
                                int(u.estimated_bytes * share), int(u.estimated_rows * share), u.profile_specs,
                                pages=(first, last)))
    return out


class DistributedRefresh(Refresh):
    """The steps of one refresh, each run in its own process; staging's control schema joins them."""

    # ---- start (the holder's first act: records the run) ----------------------------------------
    def start(self) -> None:
        """Take staging for the run (kept by this process until hold_snapshot ends), refuse while paused, record
        the run."""
        with self._staging() as stage:
            runlock.hold(self.target_dsn, self.run_id)
            try:
                self._refuse_if_paused(stage)
                ensure_tables(stage)
                stage.execute("DELETE FROM prodlike.scaleout_slices WHERE run_id <> %s", (self.run_id,))
                stage.execute("DELETE FROM prodlike.scaleout_snapshots WHERE run_id <> %s", (self.run_id,))
                release.drop_stale_shadows(stage, self.cfg.schemas, self.cfg.copy_.lock_timeout)
                control.start_run(stage, self.run_id, self.cfg.schemas)
                stage.execute("TRUNCATE prodlike.leak_hashes")
                control.drop_samples(stage)
                if self.force:
                    control.update_run(stage, self.run_id, forced=True)
            except BaseException:
                self.close()
                raise

    # ---- the snapshot holder --------------------------------------------------------------------
    def hold_snapshot(self, failed_elsewhere: Callable[[], str | None]) -> dict:
        """Export the run's snapshot, publish its id, and keep it (and staging) until every planned slice has
        its rows, the plan refused, or another step of the run failed (then HolderGone). The exporting
        transaction ends at once after: production's xmin is pinned no longer than the copies need it."""
        runlock.resume(self.target_dsn, self.run_id)
        snapshot, _ = export_snapshot(self.source_dsn, self.cfg.schemas, self.cfg.copy_.lock_timeout,
                                      lambda conn, schemas: None)
        started = time.perf_counter()
        try:
            with connections.staging(self.target_dsn, autocommit=True) as stage:
                runlock.verify(stage, self.run_id)
                stage.execute(
                    "INSERT INTO prodlike.scaleout_snapshots (run_id, snapshot_id, taken_at, holder_pid, holder_host, "
                    "production_pid) VALUES (%s, %s, %s, %s, %s, %s)",
                    (self.run_id, snapshot.id, snapshot.taken_at, os.getpid(), os.uname().nodename,
                     snapshot.conn.info.backend_pid))
                while True:
                    snap = published(stage, self.run_id)
                    if snap["refused"]:
                        outcome = "refused"
                        break
                    if slices_left(stage, self.run_id) == 0:
                        outcome = "copied"
                        break
                    why = failed_elsewhere()
                    if why:
                        raise HolderGone(f"the snapshot holder stopped waiting: {why}")
                    time.sleep(POLL_SECONDS)
                snapshot.close()
                stage.execute("UPDATE prodlike.scaleout_snapshots SET closed_at = now() WHERE run_id = %s",
                              (self.run_id,))
        finally:
            snapshot.close()
            runlock.pass_on(self.target_dsn, self.run_id)
        return {"outcome": outcome, "snapshot_time": snapshot.taken_at,
                "held_seconds": round(time.perf_counter() - started, 3)}

    @staticmethod
    def wait_for_snapshot(target_dsn: str, run_id: str, failed_elsewhere: Callable[[], str | None]) -> Published:
        """The run's snapshot once its holder published it."""
        with connections.staging(target_dsn, autocommit=True) as stage:
            while True:
                snap = published(stage, run_id) if _exists(stage, "prodlike.scaleout_snapshots") else None
                if snap is not None:
                    return Published(snap["snapshot_id"], snap["taken_at"])
                why = failed_elsewhere()
                if why:
                    raise HolderGone(f"no production snapshot was published: {why}")
                time.sleep(POLL_SECONDS)

    # ---- the plan: preflight, shadow DDL, slices --------------------------------------------------
    def plan(self, snap: Published) -> tuple[Prepared, list[Slice]]:
        """Inside the imported snapshot: preflight, the shadow schemas' pre-data, the copy units and their slices
        (recorded, so the holder knows when the last has its rows). A refusal is recorded too (the holder ends)."""
        prod = _import(self.source_dsn, snap, self.cfg.copy_.lock_timeout)
        try:
            with self._staging() as stage:
                runlock.verify(stage, self.run_id)
                try:
                    prepared, units = self._plan_in(stage, prod, snap)
                except BaseException as err:
                    stage.execute("UPDATE prodlike.scaleout_snapshots SET refused = true WHERE run_id = %s",
                                  (self.run_id,))
                    control.update_run(stage, self.run_id, status="halted" if isinstance(err, Refused) else "failed",
                                       error=recorded_error(err))
                    raise
                slices = [Slice(n, u, snap) for n, u in enumerate(units, start=1)]
                with stage.transaction():
                    with stage.cursor().copy("COPY prodlike.scaleout_slices (run_id, slice_no, source, first_page, "
                                             "last_page) FROM STDIN") as copy:
                        for s in slices:
                            pages = s.unit.pages or (None, None)
                            copy.write_row((self.run_id, s.number, s.unit.source, *pages))
                    stage.execute("UPDATE prodlike.scaleout_snapshots SET slices = %s WHERE run_id = %s",
                                  (len(slices), self.run_id))
                prepared.slices = len(slices)
                return prepared, slices
        finally:
            prod.close()

    def _plan_in(self, stage: psycopg.Connection, prod: psycopg.Connection,
                 snap: Published) -> tuple[Prepared, list[CopyUnit]]:
        cat = read_catalog(prod, self.cfg.schemas)
        report = self._check(cat, prod, stage)
        self.outcome = CopyOutcome(self.run_id, snap.taken_at, preflight=report)
        rename = self._prepare_shadow(stage, cat, report, Snapshot(snap.id, snap.taken_at, prod))
        units = self._units(cat, report, rename, live_rows(prod, self.cfg.schemas))
        self._profile_specs(prod, cat, units)
        self._read_statistics(stage, prod, units)
        self._read_query_stats(stage, prod)
        units = split(units, prod, self.cfg.copy_.slice_bytes)
        prepared = Prepared(snap.taken_at, cat, rename, report, self._ddl, self._stats, self.statistics, 0)
        return prepared, units

    # ---- one copy step ----------------------------------------------------------------------------
    def copy_slice(self, piece: Slice) -> CopyStats:
        """Copy one leaf or slice from the run's snapshot; its rows, its statistics and its `done` mark commit in one
        staging transaction, after checking the run still holds staging: a retried step starts from nothing, or,
        when an earlier attempt committed and died before Dagster heard of it, reports that attempt's copy."""
        first_slot = piece.number * SLOTS_PER_SLICE + 1
        with connections.staging(self.target_dsn, autocommit=True) as stage:
            done = stage.execute("SELECT done_at, stats FROM prodlike.scaleout_slices WHERE run_id = %s AND "
                                 "slice_no = %s", (self.run_id, piece.number)).fetchone()
            if done is None:
                raise HolderGone(f"slice {piece.number} is not in run {self.run_id}'s plan")
            if done[0] is not None:  # only read: the holder may have ended with it (the finish step resumes the run)
                return dataclasses.replace(unseal(done[1], self.anon_key), attempts=0)
            runlock.verify(stage, self.run_id)
            # an attempt that died before its rows committed may have left its leak hashes: they go
            stage.execute("DELETE FROM prodlike.leak_hashes WHERE slot BETWEEN %s AND %s",
                          (first_slot, first_slot + SLOTS_PER_SLICE - 1))
        LeakSink.number_from(first_slot)
        piece.rebuild(self.anon_key)  # only for a copy: a done slice needs no plan
        self._pool = None
        if self.cfg.copy_.transform_processes:  # none (one per core) means none here: the steps are the parallelism
            start_server()
            self._pool = self._transform_pool([piece.unit])

        def mark_done(conn: psycopg.Connection, stats: CopyStats) -> None:
            runlock.verify(conn, self.run_id)
            conn.execute("UPDATE prodlike.scaleout_slices SET done_at = now(), stats = %s WHERE run_id = %s AND "
                         "slice_no = %s", (seal(stats, self.anon_key), self.run_id, piece.number))

        try:
            return copy_unit(piece.unit, piece.snapshot, self.source_dsn, self.target_dsn,
                             lock_timeout=self.cfg.copy_.lock_timeout, batch_bytes=self.cfg.copy_.batch_bytes,
                             progress=self.progress, pool=self._pool, before_commit=mark_done)
        finally:
            if self._pool is not None:
                self._pool.close()

    # ---- the finish: keys and indexes, sequences, ANALYZE, statistics -------------------------------
    def finish(self, prepared: Prepared, copied: list[tuple[str, CopyStats]]) -> Iterator[TableResult]:
        """After every copy: each table's keys and indexes, then the shadow's post-data; yields each table."""
        runlock.resume(self.target_dsn, self.run_id)
        self._ddl, self._stats, self.statistics = prepared.shadow_ddl, prepared.stats, prepared.statistics
        self.outcome = CopyOutcome(self.run_id, prepared.snapshot_time, preflight=prepared.report)
        leaves: dict[str, list[CopyStats]] = {q: [] for q in prepared.report.selection.created}
        for asset, stats in copied:
            leaves.setdefault(asset, []).append(stats)
        with self._staging() as stage, ThreadPoolExecutor(self.cfg.copy_.workers, "prodlike-post") as pool:
            try:  # keys and indexes of copy.workers tables at once, as the in-process copy builds them
                built = {table: pool.submit(self._post_table, prepared.catalog, prepared.rename, table)
                         for table in leaves}
                for table, stats in leaves.items():
                    tr = TableResult(table, sum(s.rows for s in stats), sum(s.bytes for s in stats),
                                     max((s.seconds for s in stats), default=0.0), built[table].result(), stats)
                    self.outcome.tables[table] = tr
                    yield tr
                self._finish(stage, prepared.catalog, prepared.rename, prepared.report)
            except BaseException as err:
                control.update_run(stage, self.run_id, status="failed", error=recorded_error(err))
                raise


def _exists(conn: psycopg.Connection, relation: str) -> bool:
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (relation,)).fetchone()[0]


def _import(dsn: str, snap: Published, lock_timeout) -> psycopg.Connection:
    """A production session inside the run's exported snapshot (read only)."""
    conn = connections.production(dsn, lock_timeout)
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    conn.execute(f"SET TRANSACTION SNAPSHOT '{snap.id}'")
    return conn

"""Streams one table from a production snapshot into staging: COPY out, byte-cut batches through the
column transforms, COPY in; a tap profiles production's values from the same stream. All-keep tables stream
COPY text byte for byte when profiled, PostgreSQL's binary format otherwise."""

from __future__ import annotations

import itertools
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import psycopg

from prodlike.pipelines.engine import faults
from prodlike.pipelines.engine.batch import HASH_FIELD, BatchPlan, identifier_columns, transform_batch
from prodlike.pipelines.engine.workers import BatchResult
from prodlike.pipelines.postgres import connections
from prodlike.pipelines.postgres.catalog import Catalog, qident, qname
from prodlike.pipelines.postgres.copy_out import CopyOut

WRITE_BYTES = 256 * 1024  # rows reach staging in writes of this size (a write per row costs 1 us each)


@dataclass
class CopyUnit:
    """One leaf table to copy (a plain table, or one partition of a partitioned table)."""

    source: str  # qualified production name
    target: str  # quoted, qualified staging name
    asset: str  # qualified top-level table (the Dagster asset)
    columns: list[str]
    plan: BatchPlan | None = None
    schema_only: bool = False
    estimated_bytes: int = 0
    estimated_rows: int = 0
    profile_specs: dict | None = None  # column -> validators.distributions.ColumnSpec (profiled on the stream)
    pages: tuple[int, int | None] | None = None  # a slice: production blocks [first, last) (None: to the end)

    @property
    def rows_sql(self) -> str:
        """FROM and WHERE of the COPY query: the leaf's rows, or the slice's block range (a TID range scan)."""
        rows = f"FROM ONLY {qname(*self.source.split('.', 1))}"
        if self.pages is None:
            return rows
        first, last = self.pages
        rows += f" WHERE ctid >= '({int(first)},0)'::tid"
        return rows + (f" AND ctid < '({int(last)},0)'::tid" if last is not None else "")

    @property
    def copy_in_options(self) -> str:
        """COPY FROM options: FREEZE where the copy truncated the table in its own transaction (a whole leaf);
        slices load side by side into the same table, so none."""
        return "" if self.pages is not None else "FREEZE"

    @property
    def hashed(self) -> list[str]:
        """Identifier columns whose keyed hashes production adds to the stream (leak check b)."""
        return identifier_columns(self.plan) if self.plan is not None and not self.schema_only else []

    @property
    def stream_columns(self) -> list[str]:
        """The fields of each streamed row: the copied columns, then one keyed hash per identifier column."""
        return self.columns + [HASH_FIELD + name for name in self.hashed]


class StreamTap:
    """Feeds whole-row COPY text batches to a StreamProfile in one background thread (pyarrow parses and
    counts without the GIL); batches in flight hold at most `max_bytes` (or one batch), so memory stays bounded.
    Used when there are no worker processes (copy.transform_processes: 0)."""

    def __init__(self, unit: CopyUnit, max_bytes: int):
        from prodlike.validators.distributions import StreamProfile

        self.profile = StreamProfile(unit.stream_columns, unit.profile_specs)
        self.max_bytes = max_bytes
        self.pending: deque = deque()
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prodlike-profile")
        self.seconds = 0.0

    def feed(self, data: bytes) -> None:
        while self.pending and sum(n for _, n in self.pending) + len(data) > self.max_bytes:
            self.pending.popleft()[0].result()
        self.pending.append((self.executor.submit(self.add_here, data), len(data)))

    def add_here(self, data: bytes) -> None:
        """Profile one batch in this process (a failure marks the profile, by error class only)."""
        if self.profile.failed:
            return
        t0 = time.perf_counter()
        try:
            self.profile.add(data)
        except Exception as err:  # profiling must never fail the copy; the check reports it as skipped
            self.profile.failed = type(err).__name__
        self.seconds += time.perf_counter() - t0

    def drain(self) -> None:
        while self.pending:
            self.pending.popleft()[0].result()

    def close(self):
        """Wait for the batches in flight; the profile (None when a batch failed, which raises)."""
        try:
            self.drain()
            return self.profile
        finally:
            self.executor.shutdown(wait=True, cancel_futures=True)


class PoolTap(StreamTap):
    """Profiles batches in the worker processes, in the same job as their transform when the table has one, and
    merges the partial profiles here: the relay loop only moves bytes. A table without production bin edges
    has its first batch profiled here, so its quantiles fix the bins every worker then uses."""

    def __init__(self, unit: CopyUnit, pool):
        from prodlike.validators.distributions import HISTOGRAM

        self.profile_only = unit.plan is None
        super().__init__(unit, 0)
        self.executor.shutdown()
        self.unit, self.pool = unit, pool
        self.decide_edges = any(s.mode == HISTOGRAM and not s.edges for s in unit.profile_specs.values())

    def job(self, data: bytes, transform: bool) -> Future:
        """Submit one batch: transformed (when asked) and profiled (unless profiling already failed)."""
        profile = not self.profile.failed
        if profile and self.decide_edges:
            self.add_here(data)
            self.decide_edges = profile = False
        if not (transform or profile):
            done: Future = Future()
            done.set_result(BatchResult())
            return done
        edges = {name: s.edges for name, s in self.unit.profile_specs.items() if s.edges}
        return self.pool.submit(self.unit.source, data, transform=transform, profile=profile, edges=edges)

    def collect(self, result: BatchResult) -> None:
        """Merge one batch's partial profile (or its failure) into the table's."""
        if result.profile_failed:
            self.profile.failed = self.profile.failed or result.profile_failed
        if result.profile_rows or result.profiles:
            self.profile.rows += result.profile_rows
            for name, part in result.profiles.items():
                self.profile.profiles[name].merge(part)
        self.seconds += result.profile_s

    def feed(self, data: bytes) -> None:
        while len(self.pending) >= self.pool.depth:
            self.collect(self.pending.popleft().result())
        self.pending.append(self.job(data, transform=False))

    def drain(self) -> None:
        while self.pending:
            self.collect(self.pending.popleft().result())

    def close(self):
        self.drain()
        return self.profile


class LeakSink:
    """Production's keyed hashes of one leaf's identifier columns, streamed into staging's control schema by a
    binary COPY on a connection of its own as batches come back (memory stays bounded): one row per batch and
    column holding the batch's hashes as one bytea (little-endian int64s), so staging stores a few hundred
    rows per million values, not a million. The key lives in this object only. The leak check anti-joins them
    with the staged values, then deletes them."""

    HEAD = struct.Struct(">hiii")  # fields, slot's length, slot, length of the hashes
    _slots = itertools.count(1)
    _lock = threading.Lock()

    @classmethod
    def number_from(cls, first: int) -> None:
        """Number this process's slots from `first` (a copy step among many processes takes a range of its own)."""
        with cls._lock:
            cls._slots = itertools.count(first)

    def __init__(self, target_dsn: str, columns: list[str], source_conn):
        from prodlike.validators.leaks import hash_key

        with self._lock:
            self.slots = {name: next(self._slots) for name in columns}
        self.present = dict.fromkeys(columns, 0)
        self.conn = connections.staging(target_dsn)
        self.key = hash_key(source_conn, self.conn)
        self._copy_cm = self.conn.cursor().copy("COPY prodlike.leak_hashes (slot, hashes) FROM STDIN (FORMAT binary)")
        self._copy = self._copy_cm.__enter__()
        self._copy.write(b"PGCOPY\n\xff\r\n\x00" + bytes(8))

    def select(self, unit: CopyUnit) -> str:
        """The COPY query's extra fields: production's keyed hash of each identifier column, as staging's twin."""
        from prodlike.validators.distributions import _as_copy_text

        specs = unit.profile_specs or {}
        texts = [_as_copy_text(qident(n), specs[n]).replace("%%", "%") if n in specs else f"{qident(n)}::text"
                 for n in unit.hashed]
        return ", ".join(self.key.sql(t, literal=True) for t in texts)

    def add(self, hashed: dict) -> None:
        for name, (hashes, present) in hashed.items():
            if len(hashes):
                data = np.ascontiguousarray(hashes, dtype="<i8").tobytes()
                self._copy.write(self.HEAD.pack(2, 4, self.slots[name], len(data)) + data)
            self.present[name] += present

    def close(self, ok: bool) -> dict | None:
        """Commit the hashes (ok) or discard them; what the leak check needs, or None."""
        try:
            if ok:
                self._copy.write(b"\xff\xff")
                self._copy_cm.__exit__(None, None, None)
                self.conn.commit()
                return {"key": self.key, "slots": self.slots, "present": self.present}
            return None
        finally:
            self.conn.close()


@dataclass
class CopyStats:
    source: str
    rows: int = 0
    bytes: int = 0
    seconds: float = 0.0
    read_s: float = 0.0
    transform_s: float = 0.0
    write_s: float = 0.0
    mode: str = "binary"
    attempts: int = 1
    post_data_s: float = 0.0
    profile: object = None  # validators.distributions.StreamProfile of production's values
    profile_s: float = 0.0  # time the tap spent profiling (in its own thread, overlapping the copy)
    unchanged: dict = field(default_factory=dict)  # transformed column -> rows whose output equals their input
    hashes: dict | None = field(default=None, repr=False)  # LeakSink.close(): key, slots, non-NULL counts

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


Progress = Callable[[str, int, int], None]


@dataclass
class Snapshot:
    """One exported production snapshot. The exporting transaction stays open until the last table's
    copy ends: every table transaction imports the same snapshot, so they pin the same xmin and the
    exporter adds no pin beyond the last copy, while a table whose connection drops can re-import it
    and retry. It ends before validation, so no snapshot is held through it."""

    id: str
    taken_at: datetime
    conn: psycopg.Connection

    @property
    def open(self) -> bool:
        return not self.conn.closed

    def close(self) -> None:
        if not self.conn.closed:
            self.conn.rollback()
            self.conn.close()


def export_snapshot(dsn: str, schemas: list[str], lock_timeout: timedelta, read: Callable) -> tuple[Snapshot, Catalog]:
    """Open the exporting transaction, export its snapshot and read the catalog inside it."""
    conn = connections.production(dsn, lock_timeout)
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    snap_id, taken_at = conn.execute("SELECT pg_export_snapshot(), statement_timestamp()").fetchone()
    catalog = read(conn, schemas)
    return Snapshot(snap_id, taken_at, conn), catalog


def _open_source(dsn: str, snapshot: Snapshot, lock_timeout: timedelta) -> psycopg.Connection:
    if not snapshot.open:
        raise RuntimeError("the production snapshot was already released; restart the refresh")
    conn = connections.production(dsn, lock_timeout)
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    conn.execute(f"SET TRANSACTION SNAPSHOT '{snapshot.id}'")
    return conn


def _copy_binary(src: psycopg.Cursor, dst: psycopg.Cursor, unit: CopyUnit, cols: str, stats: CopyStats,
                 progress: Progress) -> None:
    out_sql = f"COPY (SELECT {cols} {unit.rows_sql}) TO STDOUT (FORMAT binary)"
    in_sql = f"COPY {unit.target}{_column_list(cols)} FROM STDIN (FORMAT binary{_options(unit, ', ')})"
    reported = rows = nbytes = 0
    pending = bytearray()
    cin = CopyOut(src.connection, out_sql)
    with dst.copy(in_sql) as cout:
        for chunk in cin:
            pending += chunk
            rows += 1
            if len(pending) >= WRITE_BYTES:
                cout.write(pending)
                nbytes += len(pending)
                pending = bytearray()
                if nbytes - reported >= 8 << 20:
                    progress(unit.asset, rows, nbytes - reported)
                    reported, rows = nbytes, 0
        if pending:
            cout.write(pending)
            nbytes += len(pending)
    progress(unit.asset, rows, nbytes - reported)
    stats.rows, stats.bytes = cin.rowcount, nbytes


def _add_counts(total: dict[str, int], more: dict[str, int]) -> None:
    for name, count in more.items():
        total[name] = total.get(name, 0) + count


def _copy_passthrough(src: psycopg.Cursor, dst: psycopg.Cursor, unit: CopyUnit, cols: str, stats: CopyStats,
                      progress: Progress, batch_bytes: int, tap: StreamTap) -> None:
    """COPY text out and in unchanged (an all-keep table), each batch of whole rows also fed to the tap."""
    out_sql = f"COPY (SELECT {cols} {unit.rows_sql}) TO STDOUT"
    in_sql = f"COPY {unit.target}{_column_list(cols)} FROM STDIN{_options(unit)}"
    batch = bytearray()  # copied into, not a list of chunks: a chunk can pin a much larger receive buffer
    rows = nbytes = written = 0
    cin = CopyOut(src.connection, out_sql)
    with dst.copy(in_sql) as cout:
        for chunk in cin:
            batch += chunk
            rows += 1
            if len(batch) - written >= WRITE_BYTES:
                cout.write(batch[written:])
                written = len(batch)
            if len(batch) >= batch_bytes:
                if written < len(batch):
                    cout.write(batch[written:])
                written = 0
                tap.feed(batch)  # handed over: a new buffer is started, the tap reads this one
                faults.point("copy.batch")
                progress(unit.asset, rows, len(batch))
                nbytes += len(batch)
                batch, rows = bytearray(), 0
        if batch:
            if written < len(batch):
                cout.write(batch[written:])
            tap.feed(batch)
            progress(unit.asset, rows, len(batch))
            nbytes += len(batch)
    stats.rows, stats.bytes, stats.mode = cin.rowcount, nbytes, "text (profiled)"


def _copy_text(src: psycopg.Cursor, dst: psycopg.Cursor, unit: CopyUnit, cols: str, stats: CopyStats,
               progress: Progress, batch_bytes: int, pool=None, tap: StreamTap | None = None,
               sink: LeakSink | None = None) -> None:
    """COPY text out, batches cut by bytes through the transforms (in worker processes when a pool is
    given, in this thread otherwise), COPY text in, in order."""
    out_sql = f"COPY (SELECT {cols} {unit.rows_sql}) TO STDOUT"
    in_sql = f"COPY {unit.target}{_column_list(cols)} FROM STDIN{_options(unit)}"
    # Rows are copied into one buffer, not kept as a list of chunks: a chunk kept alive per row makes Python's cyclic
    # GC run every 700 rows, and its full passes walk the whole heap (with Dagster imported: a third of the copy).
    batch, rows = bytearray(), 0
    in_flight: deque = deque()

    key = unit.source
    if sink is not None:  # production hashes each identifier value in the COPY query (its key is per copy)
        out_sql = out_sql.replace(" FROM ONLY ", f", {sink.select(unit)} FROM ONLY ", 1)

    def write(cout, data: bytes, transform_s: float, rows: int, nbytes: int) -> None:
        t0 = time.perf_counter()
        cout.write(data)
        stats.write_s += time.perf_counter() - t0
        stats.transform_s += transform_s
        stats.rows += rows
        stats.bytes += nbytes
        progress(unit.asset, rows, nbytes)

    def drain(cout, keep: int) -> None:
        while len(in_flight) > keep:
            future, rows, nbytes = in_flight.popleft()
            result = future.result()
            if isinstance(tap, PoolTap):
                tap.collect(result)
            _add_counts(stats.unchanged, result.same)
            if sink is not None:
                sink.add(result.hashed)
            write(cout, result.data, result.transform_s, rows, nbytes)

    def flush(cout, data: bytearray | memoryview, count: int) -> None:
        faults.point("copy.batch")
        nbytes = len(data)
        if pool is not None and count > 1:
            drain(cout, pool.depth - 1)
            if isinstance(tap, PoolTap):  # profiled in the worker, in the same job as the transform
                in_flight.append((tap.job(data, transform=True), count, nbytes))
            else:
                if tap is not None:
                    tap.feed(data)
                in_flight.append((pool.submit(key, data, hashes=sink is not None), count, nbytes))
        else:  # no pool, or one huge row: transform here rather than copy it through pipes
            drain(cout, 0)
            if tap is not None:  # one huge row, or no pool: profile first, so the two peaks do not add up
                tap.drain()
                tap.add_here(data)
            t0 = time.perf_counter()
            hashed: dict | None = {} if sink is not None else None
            out = transform_batch(data, unit.plan, unit.columns, stats.unchanged, hashed)
            del data
            if sink is not None:
                sink.add(hashed)
            write(cout, out, time.perf_counter() - t0, count, nbytes)

    with dst.copy(in_sql) as cout:
        t_read = time.perf_counter()
        cin = CopyOut(src.connection, out_sql)
        for chunk in cin:
            huge = len(chunk) >= batch_bytes  # a row that fills a batch alone: handed over uncopied, after the rest
            if not huge:
                batch += chunk
                rows += 1
            if huge or len(batch) >= batch_bytes:
                stats.read_s += time.perf_counter() - t_read
                if batch:
                    flush(cout, batch, rows)
                    batch, rows = bytearray(), 0
                if huge:
                    flush(cout, chunk, 1)
                t_read = time.perf_counter()
        stats.read_s += time.perf_counter() - t_read
        if batch:
            flush(cout, batch, rows)
        drain(cout, 0)
    stats.mode = "text+transform" + (" (processes)" if pool is not None else "")


def _options(unit: CopyUnit, joined: str | None = None) -> str:
    """The COPY FROM options clause (or, `joined`, the options appended to others)."""
    if not unit.copy_in_options:
        return ""
    return f"{joined}{unit.copy_in_options}" if joined else f" ({unit.copy_in_options})"


def _column_list(cols: str) -> str:
    """The COPY column list; none for a table without columns (`COPY t ()` is a syntax error)."""
    return f" ({cols})" if cols else ""


def copy_unit(unit: CopyUnit, snapshot: Snapshot, source_dsn: str, target_dsn: str, *,
              lock_timeout: timedelta, batch_bytes: int, progress: Progress, pool=None,
              before_commit: Callable[[psycopg.Connection, CopyStats], None] | None = None) -> CopyStats:
    """Copy one leaf table (or one slice of it) inside its own snapshot-importing transaction; commit right after
    (staging's transaction runs `before_commit` first, so a record of the copy commits with its rows)."""
    stats = CopyStats(unit.source)
    started = time.perf_counter()
    src_conn = _open_source(source_dsn, snapshot, lock_timeout)
    try:
        with connections.staging(target_dsn) as dst_conn, src_conn.cursor() as src, dst_conn.cursor() as dst:
            if unit.pages is None:  # a slice shares its table with the other slices: a retry's rows rolled back
                dst.execute(f"TRUNCATE ONLY {unit.target}")  # ONLY: an inheritance parent keeps its children's rows
            if not unit.schema_only:
                cols = ", ".join(qident(c) for c in unit.columns)
                tap = sink = None
                if unit.hashed:
                    sink = LeakSink(target_dsn, unit.hashed, src_conn)
                if unit.profile_specs:
                    tap = PoolTap(unit, pool) if pool is not None and unit.source in pool.profiled \
                        else StreamTap(unit, 2 * batch_bytes)
                try:
                    if unit.plan is None and tap is None:
                        _copy_binary(src, dst, unit, cols, stats, progress)
                    elif unit.plan is None:
                        _copy_passthrough(src, dst, unit, cols, stats, progress, batch_bytes, tap)
                    else:
                        _copy_text(src, dst, unit, cols, stats, progress, batch_bytes, pool, tap, sink)
                    if sink is not None:
                        stats.hashes, sink = sink.close(ok=True), None
                finally:
                    if sink is not None:  # the copy failed: its hashes go too
                        sink.close(ok=False)
                    if tap is not None:
                        stats.profile, stats.profile_s = tap.close(), tap.seconds
            src_conn.commit()
            stats.seconds = time.perf_counter() - started
            if before_commit is not None:
                before_commit(dst_conn, stats)
            dst_conn.commit()
            faults.point("copy.committed")
    finally:
        src_conn.close()
    stats.seconds = time.perf_counter() - started
    if unit.plan is None:
        stats.read_s = stats.seconds
    return stats

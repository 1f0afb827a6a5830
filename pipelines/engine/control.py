"""The `prodlike` control schema in staging: versioned migrations, runs, releases, the refresh lock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.sql import SQL, Identifier

from prodlike.pipelines.errors import Refused, Transient

CONTROL_SCHEMA = "prodlike"
LOCK_KEY = 0x70726F646C696B  # "prodlik"


class RefreshLockedError(Transient, RuntimeError):
    """Another refresh holds staging's refresh lock."""


MIGRATIONS: list[str] = [
    # 1: runs, releases, shadow ownership
    """
    CREATE SCHEMA IF NOT EXISTS prodlike;
    CREATE TABLE prodlike.schema_version (version integer NOT NULL);
    INSERT INTO prodlike.schema_version VALUES (0);
    CREATE TABLE prodlike.runs (
        run_id text PRIMARY KEY,
        started_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz,
        status text NOT NULL CHECK (status IN ('running', 'copied', 'released', 'halted', 'failed')),
        snapshot_time timestamptz,
        schemas text[],
        tables jsonb NOT NULL DEFAULT '{}',
        checks jsonb NOT NULL DEFAULT '[]',
        error text
    );
    CREATE TABLE prodlike.releases (
        id bigserial PRIMARY KEY,
        run_id text NOT NULL,
        kind text NOT NULL DEFAULT 'release' CHECK (kind IN ('release', 'rollback')),
        released_at timestamptz NOT NULL DEFAULT now(),
        snapshot_time timestamptz NOT NULL,
        schemas text[] NOT NULL,
        tables jsonb NOT NULL,
        durations jsonb NOT NULL DEFAULT '{}',
        checks jsonb NOT NULL DEFAULT '[]'
    );
    CREATE TABLE prodlike.shadow (
        schema_name text PRIMARY KEY,
        run_id text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
    );
    """,
    # 2: the on-call loop: pause state, audit events, alert incidents (deduplication), run conclusion
    """
    CREATE TABLE prodlike.state (
        singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        paused boolean NOT NULL DEFAULT false,
        paused_at timestamptz,
        paused_by text,
        paused_reason text,
        paused_run_id text,
        consecutive_failures integer NOT NULL DEFAULT 0,
        accept jsonb NOT NULL DEFAULT '[]',
        accept_note text
    );
    INSERT INTO prodlike.state DEFAULT VALUES;
    CREATE TABLE prodlike.events (
        id bigserial PRIMARY KEY,
        at timestamptz NOT NULL DEFAULT now(),
        kind text NOT NULL,
        actor text NOT NULL,
        note text,
        run_id text,
        details jsonb NOT NULL DEFAULT '{}'
    );
    CREATE TABLE prodlike.incidents (
        id bigserial PRIMARY KEY,
        key text NOT NULL,
        level text NOT NULL,
        opened_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        resolved_at timestamptz,
        run_id text,
        signature text
    );
    CREATE UNIQUE INDEX incidents_one_open ON prodlike.incidents (key) WHERE resolved_at IS NULL;
    ALTER TABLE prodlike.runs ADD COLUMN concluded_at timestamptz, ADD COLUMN forced boolean NOT NULL DEFAULT false,
        ADD COLUMN statistics jsonb;
    """,
    # 3: production's value distributions per run (bin/category/length fractions, never values of anonymized
    # columns), compared release over release
    """
    CREATE TABLE prodlike.distributions (
        run_id text NOT NULL,
        table_name text NOT NULL,
        column_name text NOT NULL,
        plot jsonb NOT NULL,
        recorded_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (run_id, table_name, column_name)
    );
    """,
    # 4: production's keyed hashes of identifier columns (random key per copy, held in memory only), for the
    # leak check's anti-join; emptied by the check and at the start of every refresh
    """
    CREATE UNLOGGED TABLE prodlike.leak_hashes (slot integer NOT NULL, h bigint NOT NULL);
    """,
    # 5: one row per copied batch and column, its hashes packed into one bytea (little-endian int64s): a few
    # hundred rows per million values instead of a million; stored uncompressed (hashes do not compress)
    """
    DROP TABLE prodlike.leak_hashes;
    CREATE UNLOGGED TABLE prodlike.leak_hashes (slot integer NOT NULL, hashes bytea NOT NULL);
    ALTER TABLE prodlike.leak_hashes ALTER COLUMN hashes SET STORAGE EXTERNAL;
    """,
    # 6: the run that holds staging (its session holds the advisory lock from the first write to the conclusion),
    # and old releases whose drop waited on staging users (retried by the next run and the settle sensor)
    """
    CREATE TABLE prodlike.holder (
        singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        run_id text NOT NULL,
        pid integer NOT NULL,
        taken_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE prodlike.pending_drops (
        schema_name text PRIMARY KEY,
        run_id text NOT NULL,
        since timestamptz NOT NULL DEFAULT now(),
        attempts integer NOT NULL DEFAULT 0,
        last_error text
    );
    """,
    # 7: production's pg_stat_statements as each refresh read it (normalized query texts and counters, no
    # values), for the query-time check and the next refresh's delta
    """
    CREATE TABLE prodlike.query_stats (
        run_id text PRIMARY KEY,
        recorded_at timestamptz NOT NULL DEFAULT now(),
        stats jsonb NOT NULL
    );
    """,
    # 8: what the steps of one multiprocess run share through staging: the exported snapshot (its id is usable
    # only while its holder lives), the slices planned (each marked done in the transaction that commits its
    # rows) and the steps' sealed outputs (encrypted pickles, never readable values)
    """
    CREATE TABLE prodlike.scaleout_snapshots (
        run_id text PRIMARY KEY,
        snapshot_id text NOT NULL,
        taken_at timestamptz NOT NULL,
        holder_pid int NOT NULL,
        holder_host text NOT NULL,
        production_pid int NOT NULL,
        slices int,
        refused boolean NOT NULL DEFAULT false,
        closed_at timestamptz
    );
    CREATE TABLE prodlike.scaleout_slices (
        run_id text NOT NULL,
        slice_no int NOT NULL,
        source text NOT NULL,
        first_page bigint,
        last_page bigint,
        done_at timestamptz,
        PRIMARY KEY (run_id, slice_no)
    );
    CREATE TABLE prodlike.scaleout_outputs (
        run_id text NOT NULL,
        step_key text NOT NULL,
        output_name text NOT NULL,
        mapping_key text NOT NULL DEFAULT '',
        sealed bytea NOT NULL,
        PRIMARY KEY (run_id, step_key, output_name, mapping_key)
    );
    """,
    # 9: a slice's copy statistics (sealed), committed with its rows: a step that committed and died before Dagster
    # heard of it reports on retry what it copied, not zero rows
    """
    ALTER TABLE prodlike.scaleout_slices ADD COLUMN stats bytea;
    """,
]


SAMPLES = "sample_"  # prodlike.sample_<md5 of the table>: a table's distribution sample, until GX has read it


def drop_samples(conn: psycopg.Connection) -> None:
    """Drop every distribution sample (after Great Expectations has read them; at a refresh's start, a crashed
    run's)."""
    for (name,) in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'prodlike' AND tablename LIKE %s",
                                (SAMPLES.replace("_", "\\_") + "%",)).fetchall():
        conn.execute(SQL("DROP TABLE IF EXISTS {}").format(Identifier("prodlike", name)))


def current_version(conn: psycopg.Connection) -> int:
    exists = conn.execute("SELECT to_regclass('prodlike.schema_version')").fetchone()[0]
    if not exists:
        return 0
    return conn.execute("SELECT version FROM prodlike.schema_version").fetchone()[0]


def migrate(conn: psycopg.Connection) -> int:
    """Bring the control schema to the newest version (under a transaction-level advisory lock)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY + 1,))
        version = current_version(conn)
        for number, sql in enumerate(MIGRATIONS[version:], start=version + 1):
            conn.execute(sql)
            conn.execute("UPDATE prodlike.schema_version SET version = %s", (number,))
        return len(MIGRATIONS)


@contextmanager
def refresh_lock(conn: psycopg.Connection, what: str = "refresh") -> Iterator[None]:
    """Hold staging's session advisory lock; a second refresh fails at once with a clear message."""
    got = conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()[0]
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        conn.commit()
    if not got:
        raise RefreshLockedError(f"{holder_text(conn)}; wait for it to finish before starting a {what}")
    try:
        yield
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.commit()


def holder_text(conn: psycopg.Connection) -> str:
    """Who holds staging: the run and since when (from the holder row, when it names the lock's session)."""
    row = conn.execute(
        f"SELECT h.run_id, h.taken_at FROM prodlike.holder h WHERE h.pid IN ({LOCK_HELD})", lock_params()
    ).fetchone() if current_version(conn) >= 6 else None
    if row is None:
        return "another prodlike refresh is running against this staging database"
    return f"refresh run {row[0]} holds this staging database (since {row[1]:%Y-%m-%d %H:%M:%S %Z})"


def start_run(conn: psycopg.Connection, run_id: str, schemas: list[str]) -> None:
    conn.execute(
        "INSERT INTO prodlike.runs (run_id, status, schemas) VALUES (%s, 'running', %s) "
        "ON CONFLICT (run_id) DO UPDATE SET status = 'running', started_at = now(), error = NULL",
        (run_id, schemas),
    )


def update_run(conn: psycopg.Connection, run_id: str, **fields: Any) -> None:
    sets, values = [], []
    for key, value in fields.items():
        sets.append(f"{key} = %s")
        values.append(json.dumps(value) if key in ("tables", "checks") else value)
    if fields.get("status") in ("released", "halted", "failed"):
        sets.append("finished_at = now()")
    conn.execute(f"UPDATE prodlike.runs SET {', '.join(sets)} WHERE run_id = %s", (*values, run_id))


def mark_copied(conn: psycopg.Connection, run_id: str, snapshot_time, tables: dict, statistics: dict) -> None:
    """The copy is complete; a run that a check already halted stays halted."""
    conn.execute("UPDATE prodlike.runs SET status = CASE WHEN status = 'running' THEN 'copied' ELSE status END, "
                 "snapshot_time = %s, tables = %s, statistics = %s WHERE run_id = %s",
                 (snapshot_time, json.dumps(tables), json.dumps(statistics), run_id))


def _dicts(conn: psycopg.Connection, sql: str, params: tuple) -> list[dict]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(sql, params).fetchall()


def get_run(conn: psycopg.Connection, run_id: str) -> dict | None:
    rows = _dicts(conn, "SELECT * FROM prodlike.runs WHERE run_id = %s", (run_id,))
    return rows[0] if rows else None


def live_release(conn: psycopg.Connection) -> dict | None:
    """The newest release row (the one staging serves), or None."""
    if current_version(conn) == 0:
        return None
    rows = releases(conn, 1)
    return rows[0] if rows else None


def releases(conn: psycopg.Connection, limit: int = 20) -> list[dict]:
    if current_version(conn) == 0:
        return []
    return _dicts(conn, "SELECT * FROM prodlike.releases ORDER BY id DESC LIMIT %s", (limit,))


# ---- the on-call loop: pause, audit events, incidents -------------------------------------------

class RefreshPausedError(Refused, RuntimeError):
    """The refresh is paused; only `prodlike resume` (or an explicit --force) lets a run start."""


def state(conn: psycopg.Connection) -> dict:
    """The single row of refresh state (paused, why, accepted failures, consecutive failures)."""
    return _dicts(conn, "SELECT * FROM prodlike.state", ())[0]


def event(conn: psycopg.Connection, kind: str, actor: str, note: str | None = None, run_id: str | None = None,
          **details: Any) -> None:
    """Append to the audit trail (pause, resume, force, accept, rollback)."""
    conn.execute("INSERT INTO prodlike.events (kind, actor, note, run_id, details) VALUES (%s, %s, %s, %s, %s)",
                 (kind, actor, note, run_id, json.dumps(details, default=str)))


def pause(conn: psycopg.Connection, actor: str, reason: str, run_id: str | None = None) -> bool:
    """Pause scheduled and manual refreshes; False when it already was paused (the first reason stays)."""
    changed = conn.execute(
        "UPDATE prodlike.state SET paused = true, paused_at = now(), paused_by = %s, paused_reason = %s, "
        "paused_run_id = %s WHERE NOT paused", (actor, reason[:2000], run_id)).rowcount
    if changed:
        event(conn, "paused", actor, reason[:2000], run_id)
    return bool(changed)


def resume(conn: psycopg.Connection, actor: str, note: str, accept: list[dict]) -> dict:
    """Clear the pause; record who and why, and the failures accepted once for the next release."""
    before = state(conn)
    conn.execute("UPDATE prodlike.state SET paused = false, paused_at = NULL, paused_by = NULL, "
                  "paused_reason = NULL, paused_run_id = NULL, consecutive_failures = 0, accept = %s, "
                  "accept_note = %s", (json.dumps(accept), f"{actor}: {note}" if accept else None))
    event(conn, "resumed", actor, note, before["paused_run_id"], accept=accept,
          was_paused=before["paused"], paused_reason=before["paused_reason"])
    return before


def consume_acceptance(conn: psycopg.Connection, run_id: str) -> list[dict]:
    """A release used the accepted failures: clear them (they apply once) and record it."""
    accepted = state(conn)["accept"]
    if accepted:
        conn.execute("UPDATE prodlike.state SET accept = '[]', accept_note = NULL")
        event(conn, "acceptance_used", "prodlike", None, run_id, accept=accepted)
    return accepted


def count_failure(conn: psycopg.Connection) -> int:
    return conn.execute("UPDATE prodlike.state SET consecutive_failures = consecutive_failures + 1 "
                        "RETURNING consecutive_failures").fetchone()[0]


def reset_failures(conn: psycopg.Connection) -> None:
    conn.execute("UPDATE prodlike.state SET consecutive_failures = 0")


def open_incident(conn: psycopg.Connection, key: str) -> dict | None:
    rows = _dicts(conn, "SELECT * FROM prodlike.incidents WHERE key = %s AND resolved_at IS NULL", (key,))
    return rows[0] if rows else None


def raise_incident(conn: psycopg.Connection, key: str, level: str, run_id: str | None,
                   signature: str = "") -> tuple[dict, bool]:
    """Open the incident, or move an open one to a new level/signature; (incident, whether to alert)."""
    current = open_incident(conn, key)
    if current is None:
        row = _dicts(conn, "INSERT INTO prodlike.incidents (key, level, run_id, signature) VALUES (%s, %s, %s, %s) "
                           "RETURNING *", (key, level, run_id, signature))[0]
        return row, True
    if current["level"] == level and current["signature"] == signature:
        return current, False
    row = _dicts(conn, "UPDATE prodlike.incidents SET level = %s, signature = %s, run_id = %s, updated_at = now() "
                       "WHERE id = %s RETURNING *", (level, signature, run_id, current["id"]))[0]
    return row, True


def resolve_incident(conn: psycopg.Connection, key: str) -> dict | None:
    """Close the open incident of key (None when there was none)."""
    rows = _dicts(conn, "UPDATE prodlike.incidents SET resolved_at = now(), updated_at = now() "
                        "WHERE key = %s AND resolved_at IS NULL RETURNING *", (key,))
    return rows[0] if rows else None


def runs(conn: psycopg.Connection, limit: int = 20, statuses: tuple[str, ...] | None = None) -> list[dict]:
    if current_version(conn) == 0:
        return []
    where = "WHERE status = ANY(%s)" if statuses else "WHERE %s::text[] IS NULL"
    return _dicts(conn, f"SELECT * FROM prodlike.runs {where} ORDER BY started_at DESC LIMIT %s",
                  (list(statuses) if statuses else None, limit))


LOCK_HELD = """SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = %(hi)s
AND objid = %(lo)s AND objsubid = 1 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"""


def lock_params() -> dict:
    """The advisory lock's key as pg_locks shows a bigint key (high and low 32 bits)."""
    return {"hi": LOCK_KEY >> 32, "lo": LOCK_KEY & 0xFFFFFFFF}


def refresh_running(conn: psycopg.Connection) -> bool:
    """Whether some session of this database holds the refresh lock right now."""
    return conn.execute(f"SELECT EXISTS ({LOCK_HELD})", lock_params()).fetchone()[0]

"""The `prodlike` control schema in staging: versioned migrations, runs, releases, the refresh lock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row

CONTROL_SCHEMA = "prodlike"
LOCK_KEY = 0x70726F646C696B  # "prodlik"


class RefreshLockedError(RuntimeError):
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
]


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
        holder = conn.execute(
            "SELECT a.application_name, a.backend_start FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.objid = %s AND l.granted LIMIT 1",
            (LOCK_KEY & 0xFFFFFFFF,),
        ).fetchone()
        since = f" (connected since {holder[1]:%Y-%m-%d %H:%M:%S %Z})" if holder else ""
        raise RefreshLockedError(
            f"another prodlike refresh is running against this staging database{since}; "
            f"wait for it to finish before starting a {what}"
        )
    try:
        yield
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.commit()


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

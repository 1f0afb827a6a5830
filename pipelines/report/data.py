"""What the parity report reads from staging's control schema: the run, the trend of releases, the live release."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from prodlike.pipelines.engine import control
from prodlike.pipelines.errors import ProdlikeError
from prodlike.pipelines.postgres import connections

TREND_RELEASES = 12


class ReportError(ProdlikeError, RuntimeError):
    """The report cannot be written (no such run, no control schema)."""


def _rows(conn: psycopg.Connection, sql: str, params: tuple = ()) -> list[dict]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(sql, params).fetchall()


def load_run(conn: psycopg.Connection, run_id: str | None) -> dict:
    """The run's row (run_id None: the newest run)."""
    if control.current_version(conn) == 0:
        raise ReportError("staging has no prodlike control schema yet: run `prodlike refresh` first")
    if run_id:
        run = control.get_run(conn, run_id)
        if run is None:
            raise ReportError(f"no run {run_id!r} in staging's prodlike.runs; `prodlike history` lists releases")
        return run
    rows = _rows(conn, "SELECT * FROM prodlike.runs ORDER BY started_at DESC LIMIT 1")
    if not rows:
        raise ReportError("no refresh has run against this staging database yet: run `prodlike refresh` first")
    return rows[0]


def load_trend(conn: psycopg.Connection, limit: int = TREND_RELEASES) -> list[dict]:
    """The last releases (oldest first) with their run's check results."""
    rows = _rows(conn, "SELECT r.id, r.run_id, r.released_at, r.snapshot_time, r.tables, u.checks "
                       "FROM prodlike.releases r LEFT JOIN prodlike.runs u USING (run_id) "
                       "WHERE r.kind = 'release' ORDER BY r.id DESC LIMIT %s", (limit,))
    return rows[::-1]


def freshness_windows(cfg: Any) -> tuple[timedelta | None, timedelta | None]:
    """(warn_after, error_after) of the config's freshness block, when the config has one."""
    block = getattr(cfg, "freshness", None)
    if block is None:
        return None, None
    return getattr(block, "warn_after", None), getattr(block, "error_after", None)


def read(target_dsn: str, run_id: str | None) -> tuple[dict, list[dict], dict | None]:
    """(the run, the trend of releases, the live release) from staging."""
    with connections.staging(target_dsn) as conn:
        return load_run(conn, run_id), load_trend(conn), control.live_release(conn)

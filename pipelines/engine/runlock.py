"""One refresh's hold on staging from its first write to its conclusion, and the settling of runs whose holder died.

A run holds staging through one dedicated session that keeps the refresh advisory lock; the run's steps in this
process (copy, checks, parity, release, the conclusion hooks: Dagster runs the job in one process) share it, and
`prodlike.holder` names the run. The lock ends with that session: a run killed at any point frees it, and whoever
takes or tests the lock next finds the run still `running`/`copied` with no holder and concludes it `failed`.
A step that finds its run's session gone (a staging backend terminated) takes the lock again only while the
holder row still names its run, so no other run can have used the gap."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import psycopg

from prodlike.pipelines.engine import control
from prodlike.pipelines.postgres import connections

log = logging.getLogger("prodlike")
WAIT = timedelta(seconds=2)  # a second refresh waits this long for the lock (a settling `status`), then is refused
SETTLED = "ProcessGone: the run's process ended without concluding (killed, out of memory or host lost); " \
          "staging keeps the last release"
# The holder session reports a vanished client within about a minute (the server's TCP keepalives), and never
# times out while idle between the run's steps.
_HOLDER_OPTIONS = ("-c tcp_keepalives_idle=20 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=4 "
                   "-c idle_session_timeout=0 -c idle_in_transaction_session_timeout=0")
_held: dict[tuple[str, str], psycopg.Connection] = {}  # (staging DSN, run id) -> the session holding the lock
_guard = threading.Lock()


def hold(target_dsn: str, run_id: str, what: str = "refresh") -> None:
    """Hold staging for run_id (keep this process's session, or take the lock); RefreshLockedError when another
    run holds it. Runs whose holder is gone are settled on the way."""
    key = (target_dsn, run_id)
    with _guard:
        held = _held.get(key)
        if held is not None and _holds(held):
            return
        if held is not None:
            log.warning("run %s lost its staging session; taking the refresh lock again", run_id)
            _close(held)
            _held.pop(key, None)
        _held[key] = _take(target_dsn, run_id, what, retaking=held is not None)


def _take(target_dsn: str, run_id: str, what: str, retaking: bool) -> psycopg.Connection:
    conn = connections.connect(target_dsn, "staging", autocommit=True, options=_HOLDER_OPTIONS)
    try:
        conn.execute("SELECT set_config('application_name', %s, false)", (f"prodlike holder {run_id}"[:63],))
        control.migrate(conn)
        conn.execute("SELECT set_config('lock_timeout', %s, false)", (f"{int(WAIT.total_seconds() * 1000)}ms",))
        try:
            conn.execute("SELECT pg_advisory_lock(%s)", (control.LOCK_KEY,))
        except psycopg.errors.LockNotAvailable:
            raise control.RefreshLockedError(
                f"{control.holder_text(conn)}; wait for it to finish before starting a {what}") from None
        conn.execute("SET lock_timeout = 0")
        owner = conn.execute("SELECT run_id FROM prodlike.holder").fetchone()
        if retaking and (owner is None or owner[0] != run_id):
            raise control.RefreshLockedError(
                f"run {run_id} lost its hold on staging and another run has held it since; this run cannot go on")
        settled = settle(conn, keep=run_id)
        if settled:
            log.warning("settled run(s) whose process had died: %s", ", ".join(settled))
        conn.execute("INSERT INTO prodlike.holder (run_id, pid) VALUES (%s, pg_backend_pid()) ON CONFLICT (singleton) "
                     "DO UPDATE SET run_id = excluded.run_id, pid = excluded.pid, taken_at = now()", (run_id,))
        return conn
    except BaseException:
        _close(conn)
        raise


def holding(target_dsn: str, run_id: str) -> bool:
    """Whether this process holds staging for run_id right now."""
    held = _held.get((target_dsn, run_id))
    return held is not None and _holds(held)


def let_go(target_dsn: str, run_id: str) -> None:
    """The run has concluded: free staging (a no-op when this process does not hold it)."""
    with _guard:
        held = _held.pop((target_dsn, run_id), None)
    if held is None:
        return
    try:
        held.execute("DELETE FROM prodlike.holder WHERE run_id = %s", (run_id,))
        held.execute("SELECT pg_advisory_unlock(%s)", (control.LOCK_KEY,))
    except psycopg.Error:  # the session is gone: so is its lock
        pass
    finally:
        _close(held)


def let_go_run(run_id: str) -> None:
    """Free staging for run_id in every database this process holds it in."""
    for dsn, held_run in list(_held):
        if held_run == run_id:
            let_go(dsn, run_id)


def _holds(conn: psycopg.Connection) -> bool:
    try:
        return conn.execute(f"SELECT pg_backend_pid() IN ({control.LOCK_HELD})", control.lock_params()).fetchone()[0]
    except psycopg.Error:
        return False


def _close(conn: psycopg.Connection) -> None:
    try:
        conn.close()
    except psycopg.Error:
        pass


def settle(conn: psycopg.Connection, keep: str | None = None) -> list[str]:
    """Conclude as failed every run still `running`/`copied` except `keep`: their holder is gone (the caller holds
    the lock). Their alerts go out when the on-call loop concludes them."""
    rows = conn.execute("UPDATE prodlike.runs SET status = 'failed', error = %s, finished_at = now() "
                        "WHERE status IN ('running', 'copied') AND run_id IS DISTINCT FROM %s RETURNING run_id",
                        (SETTLED, keep)).fetchall()
    return [r[0] for r in rows]


def settle_if_free(conn: psycopg.Connection) -> list[str]:
    """Settle the runs whose holder is gone, when no run holds staging now (never waits); their ids."""
    if control.current_version(conn) < 6:
        return []
    with conn.transaction():
        if not conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (control.LOCK_KEY,)).fetchone()[0]:
            return []
        settled = settle(conn)
        conn.execute("DELETE FROM prodlike.holder")
    return settled


# ---- a run spread over processes (copy.executor: multiprocess) ----------------------------------------------------
# Its steps run one after another (start, snapshot holder, finish, release) and take the lock in turn: each takes
# it again only while the holder row still names the run (`resume`), so a run that slipped in between settles this
# one and this one stops. Steps running beside the holder (plan, copies) check that a live session of their run
# holds it (`verify`) before they write staging.


def resume(target_dsn: str, run_id: str) -> None:
    """Hold staging in this process for a run that an earlier step of it held; RefreshLockedError when another
    run has held it since (this run cannot go on)."""
    key = (target_dsn, run_id)
    with _guard:
        held = _held.get(key)
        if held is not None and _holds(held):
            return
        _held[key] = _take(target_dsn, run_id, "refresh", retaking=True)


def verify(conn: psycopg.Connection, run_id: str) -> None:
    """RefreshLockedError unless a live session recorded for run_id holds the refresh lock now."""
    row = conn.execute(f"SELECT h.run_id, h.pid IN ({control.LOCK_HELD}) FROM prodlike.holder h",
                       control.lock_params()).fetchone()
    if row is None or row[0] != run_id or not row[1]:
        raise control.RefreshLockedError(
            f"run {run_id} does not hold staging any more (its snapshot holder ended or another run took staging); "
            f"this step cannot go on")


def pass_on(target_dsn: str, run_id: str) -> None:
    """End this process's hold without concluding the run: the holder row keeps naming it, so its next step
    can `resume`."""
    with _guard:
        held = _held.pop((target_dsn, run_id), None)
    if held is not None:
        try:
            held.execute("SELECT pg_advisory_unlock(%s)", (control.LOCK_KEY,))
        except psycopg.Error:
            pass
        _close(held)

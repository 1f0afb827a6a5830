"""Production and staging backends terminated mid-run, and staging users holding locks on live tables: the run
releases completely or fails leaving the last release live; a drop blocked by a user never blocks the run."""

from __future__ import annotations

import threading

import psycopg
import pytest

from prodlike.pipelines.engine import control, faults
from prodlike.pipelines.engine.refresh import Refresh
from prodlike.pipelines.oncall import loop as oncall
from tests.conftest import TEST_KEY, refresh
from tests.faults.harness import CHANGE, context, fingerprint, shop_config

TERMINATE = ("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() "
             "AND pid <> pg_backend_pid() AND application_name LIKE 'prodlike%%'")


def _terminate(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(TERMINATE)


# (where, when): whose backends are terminated at which point of the run
TERMINATIONS = [
    ("production", "copy.batch"),  # the table copies and the snapshot's exporter: transient, retried or failed
    ("staging", "copy.batch"),  # every prodlike session on staging, the run's lock holder too
    ("staging", "checks"),  # the idle holder between the copy and the release: the release takes the lock again
]


@pytest.mark.parametrize("side,when", TERMINATIONS, ids=[f"{s}-{w}" for s, w in TERMINATIONS])
def test_backends_terminated(dbs, monkeypatch, tmp_path, side, when, fault_table):
    cfg = shop_config(dbs, monkeypatch, tmp_path, transform_processes=0)
    refresh(cfg, run_id="base")
    with dbs.dst() as dst:
        before, base_release = fingerprint(dst), control.live_release(dst)["id"]
    with dbs.src() as src:
        src.execute(CHANGE)
    dsn = dbs.source if side == "production" else dbs.target
    run = Refresh(cfg, dbs.source, dbs.target, "hit", TEST_KEY)
    outcome = "released"
    try:
        if when == "copy.batch":
            faults.arm(when, lambda: _terminate(dsn))
        list(run.copy())
        if when == "checks":
            _terminate(dsn)
        run.release()
    except (psycopg.Error, control.RefreshLockedError, RuntimeError) as err:
        outcome = f"failed ({type(err).__name__})"
    finally:
        faults.disarm()
        run.close()
    oncall.status(context(cfg, dbs, tmp_path))
    with dbs.dst() as dst:
        live, latest, record = fingerprint(dst), control.live_release(dst), control.get_run(dst, "hit")
        assert not control.refresh_running(dst)
    if outcome == "released":
        assert latest["run_id"] == "hit" and live != before and record["status"] == "released"
    else:
        assert latest["id"] == base_release and live == before and record["status"] == "failed", record
    refresh(cfg, run_id="after")
    with dbs.dst() as dst:
        assert control.live_release(dst)["run_id"] == "after"
    fault_table.append((f"{side} backends terminated at {when}", "hit", outcome))


@pytest.mark.parametrize("mode", ["ACCESS SHARE", "ACCESS EXCLUSIVE"])
def test_a_user_holding_locks_on_an_old_release_never_blocks_a_run(dbs, monkeypatch, tmp_path, mode, fault_table):
    """Issue 21 point 2: a staging user whose transaction touched a table two releases ago. The release that must
    drop that table concludes as released anyway (the drop is left pending); the drop is retried later."""
    cfg = shop_config(dbs, monkeypatch, tmp_path, transform_processes=0)
    refresh(cfg, run_id="r1")
    with psycopg.connect(dbs.target) as user:  # a transaction left open on the live table
        user.execute(f"LOCK TABLE public.orders IN {mode} MODE" if mode != "ACCESS SHARE" else
                     "SELECT count(*) FROM public.orders")
        refresh(cfg, run_id="r2")  # r1's tables become the previous release: the user still holds them
        done: list = []
        third = threading.Thread(target=lambda: done.append(refresh(cfg, run_id="r3")), daemon=True)
        third.start()
        third.join(timeout=120)  # a liveness bound: on the old code this release waited forever
        assert done, "the release waited on a staging user's lock"
        result = done[0].result
        assert result.pending and not result.dropped
        with dbs.dst() as dst:
            assert control.get_run(dst, "r3")["status"] == "released"
            assert control.live_release(dst)["run_id"] == "r3" and not control.refresh_running(dst)
            pending = [r[0] for r in dst.execute("SELECT schema_name FROM prodlike.pending_drops")]
        assert pending == result.pending
        status = oncall.status(context(cfg, dbs, tmp_path))
        assert status["last_run"]["status"] == "released"
    refresh(cfg, run_id="r4")  # the user is gone: the next run drops the old release first
    with dbs.dst() as dst:
        assert dst.execute("SELECT count(*) FROM prodlike.pending_drops").fetchone()[0] == 0
        gone = dst.execute("SELECT count(*) FROM pg_namespace WHERE nspname = ANY(%s)", (pending,)).fetchone()[0]
        assert gone == 0
    fault_table.append((f"staging user holds {mode} on a table two releases old", "r3", "released, drop pending"))

"""Staging users holding locks on live tables (issue 21 point 2): a release whose drop of the oldest release waits
on them still concludes as released; the drop is retried by the next run."""

from __future__ import annotations

import threading

import psycopg
import pytest

from prodlike.pipelines.engine import control
from prodlike.pipelines.oncall import loop as oncall
from tests.conftest import refresh
from tests.faults.harness import context, shop_config


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

"""Production and staging backends terminated mid-run: the run releases completely or fails leaving the last
release live, byte for byte; no lock is left and the next refresh releases."""

from __future__ import annotations

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

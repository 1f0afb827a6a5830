"""`prodlike demo --drift`: real drift on each side makes a refresh halt with the check, table and numbers,
while staging keeps serving its last release; the demo undoes the drift afterwards."""

from __future__ import annotations

import shutil

import psycopg

from prodlike.pipelines.demo import embedded
from prodlike.pipelines.demo.run import PRODUCTION_DB, STAGING_DB
from prodlike.pipelines.engine import control
from tests.conftest import STATE as TEST_STATE
from tests.pipelines.cli.test_cli import run_cli

STATE = TEST_STATE / "drift-demo"


def test_demo_drift_halts_on_each_drift_and_undoes_it():
    shutil.rmtree(STATE, ignore_errors=True)
    try:
        out = run_cli("demo", "--rows", "20000", "--state-dir", str(STATE), "--drift", env={"COLUMNS": "400"})
        text = " ".join(out.stdout.split())
        assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
        assert "planner setting random_page_cost is 40 on staging, 4 on production" in text
        assert "index orders.orders_customer_id_idx is missing on staging" in text
        assert "public.support_tickets: production shrank from 700 rows at the live release to 140 (80.0%" in text
        assert text.count("staging still serves the last good release (public.support_tickets: 700 rows") == 2
        assert text.count("`prodlike status` says CRITICAL (exit 2)") == 2
        prod, stage = embedded.server(STATE, "production"), embedded.server(STATE, "staging")
        with psycopg.connect(prod.dsn(PRODUCTION_DB)) as conn:
            assert conn.execute("SELECT count(*) FROM support_tickets").fetchone()[0] == 700
            assert conn.execute("SELECT to_regnamespace('demo_drift')").fetchone()[0] is None
        with psycopg.connect(stage.dsn(STAGING_DB)) as conn:
            assert conn.execute("SHOW random_page_cost").fetchone()[0] == "4"
            assert not control.state(conn)["paused"]
            halted = conn.execute("SELECT count(*) FROM prodlike.runs WHERE status = 'halted'").fetchone()[0]
            assert halted == 2
    finally:
        embedded.stop_all(STATE)

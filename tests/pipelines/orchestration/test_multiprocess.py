"""copy.executor: multiprocess on Dagster's multiprocess executor (every step its own OS process, on a persistent
instance): the demo refreshes and releases from one snapshot; a concurrent writer leaves no orphans and counts
equal to production at the snapshot; a killed snapshot holder fails the run with staging untouched; the holder's
xmin ends with the last copy."""

from __future__ import annotations

import os
import signal
import threading
import time

import dagster as dg
import psycopg
import pytest
import yaml

from prodlike.pipelines.engine import control
from prodlike.pipelines.orchestration import launch

TABLES = ["customers", "addresses", "products", "orders", "order_items", "payments", "support_tickets"]


@pytest.fixture
def multiprocess_env(demo_env, monkeypatch):
    """The demo config with copy.executor: multiprocess and 1 MB slices, its environment set (step processes
    inherit it), and a persistent Dagster instance in the state folder."""
    path, env, _ = demo_env
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    cfg = yaml.safe_load(path.read_text())
    cfg["copy"] = {**cfg.get("copy", {}), "executor": "multiprocess", "slice_bytes": "2MiB", "workers": 2}
    cfg.pop("workload", None)
    cfg.setdefault("query_time", {})["enabled"] = False
    path.write_text(yaml.safe_dump(cfg))
    monkeypatch.setenv("PRODLIKE_CONFIG", str(path))
    launch.dagster_home(path.parent / "state")
    with dg.DagsterInstance.get() as instance:
        yield path, instance


def _run(path, instance) -> dg.ExecuteJobResult:
    return launch.run_distributed(path, instance)


def _counts(dsn: str, schema: str = "public") -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        return {t: conn.execute(f'SELECT count(*) FROM "{schema}"."{t}"').fetchone()[0] for t in TABLES}


def _steps(instance, run_id: str) -> set[str]:
    return {e.step_key for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_SUCCESS)}


def test_demo_refreshes_and_releases_one_step_per_slice(multiprocess_env, demo_dbs):
    path, instance = multiprocess_env
    result = _run(path, instance)
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    steps = _steps(instance, result.run_id)
    copies = {s for s in steps if s.startswith("copy_slice[")}
    assert len(copies) > len(TABLES)  # every table a step, the big ones sliced
    assert {"start_refresh", "hold_snapshot", "plan_copy", "finish_copy", "parity", "staging__release"} <= steps
    assert _counts(demo_dbs.target) == _counts(demo_dbs.source)
    with psycopg.connect(demo_dbs.target) as conn:
        assert control.live_release(conn)["run_id"] == result.run_id
        assert control.get_run(conn, result.run_id)["status"] == "released"
        assert not control.refresh_running(conn)  # the run concluded: staging is free

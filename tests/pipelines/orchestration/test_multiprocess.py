"""copy.executor: multiprocess on Dagster's multiprocess executor (every step its own OS process, on a persistent
instance): the demo refreshes and releases from one snapshot; a concurrent writer leaves no orphans and counts
equal to production at the snapshot; a copy step killed mid-copy or right after its commit is retried and the
release is exact; a killed snapshot holder fails the run with staging untouched; the holder's xmin ends with the
last copy."""

from __future__ import annotations

import os
import signal
import threading
import time

import dagster as dg
import psycopg
import pytest
import yaml

from prodlike.pipelines.checks import integrity, plans, row_count
from prodlike.pipelines.config.model import load
from prodlike.pipelines.engine import control, faults
from prodlike.pipelines.orchestration import launch
from prodlike.pipelines.orchestration.assets import PARITY_KEY, table_key
from tests.conftest import refresh

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
    result = launch.run_refresh_job(path, path.parent / "state")  # as `prodlike refresh` runs it
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    assert launch.outcome(result, demo_dbs.target).status == "released"
    steps = _steps(instance, result.run_id)
    copies = {s for s in steps if s.startswith("copy_slice[")}
    assert len(copies) > len(TABLES)  # every table a step, the big ones sliced
    assert {"hold_snapshot", "plan_copy", "finish_copy", "parity", "staging__release"} <= steps
    assert _counts(demo_dbs.target) == _counts(demo_dbs.source)
    # the checks show in Dagster as the in-process job's assets show them: per table, after the copy, run-level
    evaluations = {(e.dagster_event.event_specific_data.asset_key, e.dagster_event.event_specific_data.check_name)
                   for e in instance.all_logs(result.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)}
    assert {(table_key("public.orders"), row_count.NAME), (table_key("public.order_items"), integrity.NAME),
            (PARITY_KEY, plans.NAME)} <= evaluations
    with psycopg.connect(demo_dbs.target) as conn:
        assert control.live_release(conn)["run_id"] == result.run_id
        assert control.get_run(conn, result.run_id)["status"] == "released"
        assert not control.refresh_running(conn)  # the run concluded: staging is free


def _writer(source: str, stop: threading.Event, errors: list) -> None:
    """Commits an order and its item (parent and child) in one transaction after another until stopped."""
    try:
        with psycopg.connect(source, autocommit=True) as conn:
            while not stop.is_set():
                with conn.transaction():
                    order = conn.execute("INSERT INTO orders (customer_id, total, ordered_at) VALUES "
                                         "((SELECT min(id) FROM customers), 1.00, now()) RETURNING id").fetchone()[0]
                    conn.execute("INSERT INTO order_items (order_id, line_no, product_id, quantity, unit_price) "
                                 "VALUES (%s, 1, (SELECT min(id) FROM products), 1, 1.00)", (order,))
                time.sleep(0.01)
    except Exception as err:  # the test fails on it
        errors.append(err)


def _event_time(instance, run_id: str, step: str, kind: dg.DagsterEventType) -> float:
    return next(e.timestamp for e in instance.all_logs(run_id, of_type=kind) if e.step_key == step)


def test_concurrent_writer_leaves_no_orphans_and_the_holder_ends_with_the_last_copy(multiprocess_env, demo_dbs):
    path, instance = multiprocess_env
    with psycopg.connect(demo_dbs.source) as conn:
        base_id = conn.execute("SELECT max(id) FROM orders").fetchone()[0]
        before = _counts(demo_dbs.source)
    stop, errors = threading.Event(), []
    writer = threading.Thread(target=_writer, args=(demo_dbs.source, stop, errors))
    writer.start()
    try:
        result = _run(path, instance)
    finally:
        stop.set()
        writer.join()
    assert not errors
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    with psycopg.connect(demo_dbs.target) as stage, psycopg.connect(demo_dbs.source) as prod:
        written = [r[0] for r in stage.execute("SELECT id FROM orders WHERE id > %s ORDER BY id", (base_id,))]
        written_in_production = prod.execute("SELECT count(*) FROM orders WHERE id > %s", (base_id,)).fetchone()[0]
        # one snapshot: the writer's transactions committed before it, all of them, and none after
        assert written == list(range(base_id + 1, base_id + 1 + len(written)))
        assert 0 < len(written) < written_in_production
        counts = _counts(demo_dbs.target)
        for table in TABLES:  # production's counts at the snapshot
            extra = len(written) if table in ("orders", "order_items") else 0
            assert counts[table] == before[table] + extra, table
        orphans = stage.execute("SELECT count(*) FROM order_items i LEFT JOIN orders o ON o.id = i.order_id "
                                "WHERE o.id IS NULL").fetchone()[0]
        assert orphans == 0
        held = stage.execute("SELECT closed_at, production_pid, (SELECT max(done_at) FROM prodlike.scaleout_slices "
                             "WHERE run_id = %s) FROM prodlike.scaleout_snapshots WHERE run_id = %s",
                             (result.run_id, result.run_id)).fetchone()
        closed_at, holder_pid, last_copy = held
        gone = prod.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (holder_pid,)).fetchone()[0]
    assert gone == 0  # production's pin (the holder's backend_xmin) is gone
    # the holder outlived every copy and ended before the next step started
    assert last_copy <= closed_at
    assert closed_at.timestamp() <= _event_time(instance, result.run_id, "finish_copy",
                                                dg.DagsterEventType.STEP_START)


@pytest.mark.parametrize("point", ["copy.batch", "copy.committed"])
def test_killed_copy_step_is_retried_and_the_release_is_exact(multiprocess_env, demo_dbs, tmp_path, monkeypatch,
                                                             point):
    """kill -9 of one copy step's process: mid-copy (its rows roll back) or right after its rows committed (before
    Dagster heard of it): the retry copies the slice again or reports the committed copy, and the run releases
    exactly production's rows."""
    path, instance = multiprocess_env
    killed = tmp_path / "killed"
    monkeypatch.setenv(faults.ENV, f"{point}:1")
    monkeypatch.setenv(faults.ONCE, str(killed))
    result = _run(path, instance)
    assert killed.exists()  # one step process died at the point
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    retried = {e.step_key for e in instance.all_logs(result.run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY)}
    assert len(retried) == 1 and next(iter(retried)).startswith("copy_slice[")
    assert launch.outcome(result, demo_dbs.target).status == "released"
    assert _counts(demo_dbs.target) == _counts(demo_dbs.source)
    with psycopg.connect(demo_dbs.target) as stage, psycopg.connect(demo_dbs.source) as prod:
        rows = "SELECT md5(string_agg(i::text, ',' ORDER BY order_id, line_no)) FROM order_items i"
        assert stage.execute(rows).fetchone() == prod.execute(rows).fetchone()  # the biggest table, row for row
        assert control.live_release(stage)["run_id"] == result.run_id
        assert not stage.execute("SELECT count(*) FROM prodlike.leak_hashes").fetchone()[0]
        assert not control.refresh_running(stage)


def test_killed_snapshot_holder_fails_the_run_and_staging_keeps_its_release(multiprocess_env, demo_dbs):
    path, instance = multiprocess_env
    first = refresh(load(path), key=os.environ["PRODLIKE_DEMO_ANON_KEY"].encode())
    with psycopg.connect(demo_dbs.target) as stage:
        live = control.live_release(stage)
    assert live["run_id"] == first.run_id
    outcome: dict = {}
    run = threading.Thread(target=lambda: outcome.setdefault("result", _run(path, instance)))
    run.start()
    killed = None
    with psycopg.connect(demo_dbs.target, autocommit=True) as stage:
        while killed is None and run.is_alive():  # kill the holder once a copy has its rows and others wait
            row = stage.execute(
                "SELECT s.holder_pid FROM prodlike.scaleout_snapshots s WHERE s.closed_at IS NULL AND EXISTS "
                "(SELECT 1 FROM prodlike.scaleout_slices c WHERE c.run_id = s.run_id AND c.done_at IS NOT NULL) "
                "AND EXISTS (SELECT 1 FROM prodlike.scaleout_slices c WHERE c.run_id = s.run_id "
                "AND c.done_at IS NULL)").fetchone() if _has_tables(stage) else None
            if row:
                os.kill(row[0], signal.SIGKILL)
                killed = row[0]
            time.sleep(0.1)
    run.join()
    result = outcome["result"]
    assert killed is not None
    assert not result.success
    with psycopg.connect(demo_dbs.target) as stage:
        assert control.live_release(stage) == live  # nothing released
        assert control.get_run(stage, result.run_id)["status"] != "released"
        assert _counts(demo_dbs.target) == _counts(demo_dbs.source)  # the live copy is the first run's
        assert not control.refresh_running(stage)  # the holder's death freed staging


def _has_tables(conn) -> bool:
    return conn.execute("SELECT to_regclass('prodlike.scaleout_slices') IS NOT NULL").fetchone()[0]


def test_paused_refreshes_refuse_without_copying(multiprocess_env, demo_dbs):
    path, instance = multiprocess_env
    with psycopg.connect(demo_dbs.target, autocommit=True) as stage:
        control.migrate(stage)
        control.pause(stage, "test", "a halted run is being looked at")
    result = _run(path, instance)
    assert result.dagster_run.tags.get(launch.OUTCOME_TAG, "").startswith("refused")
    assert not [e for e in result.all_events if e.is_step_failure]  # refused is not a failure
    assert not {s for s in _steps(instance, result.run_id) if s.startswith("copy_slice")}
    outcome = launch.outcome(result, demo_dbs.target)
    assert (outcome.status, outcome.code) == ("refused", launch.EXIT_HALTED)
    with psycopg.connect(demo_dbs.target) as stage:
        assert control.live_release(stage) is None
        assert not control.refresh_running(stage)

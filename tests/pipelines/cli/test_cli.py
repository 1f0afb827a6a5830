"""The prodlike command as a user runs it: exit codes and messages for success, bad config,
unreachable servers and refusals; the Dagster graph from config alone, with production down."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from prodlike.pipelines.definitions import DEMO_CONFIG, load_definitions
from tests.conftest import ROOT

SNAPSHOT = Path(__file__).with_name("asset_graph.snapshot.json")


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None, timeout: int = 300):
    full_env = {**os.environ, **(env or {}), "COLUMNS": "160"}
    return subprocess.run([sys.executable, "-m", "prodlike.pipelines.cli", *args], env=full_env,
                          cwd=cwd or ROOT, capture_output=True, text=True, timeout=timeout)


def test_refresh_releases_and_prints_a_summary(demo_env, demo_dbs):
    path, env, _ = demo_env
    out = run_cli("refresh", "-c", str(path), env=env)
    assert out.returncode == 0, out.stdout + out.stderr[-3000:]
    assert "refresh summary" in out.stdout and "public.order_items" in out.stdout
    assert "released" in out.stdout
    status = run_cli("status", "-c", str(path), "--json", env=env)
    assert status.returncode == 0, status.stdout + status.stderr
    assert json.loads(status.stdout)["state"] == "OK"
    with demo_dbs.src() as src, demo_dbs.dst() as dst:
        for table in ("customers", "orders", "order_items", "payments", "support_tickets"):
            assert src.execute(f"SELECT count(*) FROM {table}").fetchone() == \
                dst.execute(f"SELECT count(*) FROM {table}").fetchone()


def test_bad_config_exits_1_naming_the_key(tmp_path):
    path = tmp_path / "prodlike.yaml"
    path.write_text("source: {dsn: '${A}'}\ntarget: {dsn: '${B}'}\ncopy: {workers: many}\n")
    out = run_cli("refresh", "-c", str(path))
    assert out.returncode == 1
    assert "copy.workers: Input should be a valid integer" in out.stdout
    assert "Traceback" not in out.stdout + out.stderr


@pytest.mark.parametrize("which", ["production", "staging"])
def test_unreachable_server_exits_1_naming_it(demo_env, which):
    path, env, _ = demo_env
    dead = f"postgresql://nobody:pw@127.0.0.1:{_dead_port()}/nothing"
    env = dict(env, **{"PRODLIKE_DEMO_SOURCE_DSN" if which == "production" else "PRODLIKE_DEMO_TARGET_DSN": dead})
    out = run_cli("refresh", "-c", str(path), env=env)
    assert out.returncode == 1, out.stdout + out.stderr[-2000:]
    assert f"cannot connect to {which} (127.0.0.1:" in out.stdout
    assert "pw@" not in out.stdout + out.stderr


def test_preflight_refusal_exits_2(demo_env, demo_dbs):
    path, env, _ = demo_env
    with demo_dbs.src() as src:
        src.execute("ALTER TABLE customers ADD COLUMN passport_no text")
    out = run_cli("refresh", "-c", str(path), env=env)
    assert out.returncode == 2, out.stdout + out.stderr[-2000:]
    assert "public.customers: unclassified column(s) passport_no (suggested: hash)" in out.stdout
    pre = run_cli("preflight", "-c", str(path), env=env)
    assert pre.returncode == 2 and "passport_no" in pre.stdout


def test_status_unknown_when_staging_unreachable(demo_env):
    path, env, _ = demo_env
    env = dict(env, PRODLIKE_DEMO_TARGET_DSN=f"postgresql://x:y@127.0.0.1:{_dead_port()}/z")
    out = run_cli("status", "-c", str(path), "--json", env=env)
    assert out.returncode == 3
    assert json.loads(out.stdout)["state"] == "UNKNOWN"


def test_config_schema_and_check(demo_env):
    path, env, _ = demo_env
    schema = json.loads(run_cli("config", "schema").stdout)
    assert "anonymization" in schema["properties"]
    out = run_cli("config", "check", "-c", str(path), env=env)
    assert out.returncode == 0 and "config OK" in out.stdout


def _graph(defs: dg.Definitions) -> dict:
    graph = defs.resolve_asset_graph()
    return {
        "assets": sorted("/".join(k.path) for k in graph.get_all_asset_keys()),
        "groups": {"/".join(k.path): graph.get(k).group_name for k in graph.get_all_asset_keys()},
        "checks": sorted(f"{'/'.join(c.asset_key.path)}:{c.name}" for c in graph.asset_check_keys),
        "jobs": sorted(j.name for j in defs.resolve_all_job_defs() if not j.name.startswith("__")),
        "schedules": sorted(f"{s.name}:{s.cron_schedule}" for s in defs.schedules or []),
        "sensors": sorted(s.name for s in defs.sensors or []),
    }


def test_asset_graph_matches_snapshot(monkeypatch):
    """An accidental change to asset keys, checks, jobs, schedules or sensors shows up as a diff here."""
    monkeypatch.delenv("PRODLIKE_CONFIG", raising=False)
    graph = _graph(load_definitions(DEMO_CONFIG))
    if os.environ.get("UPDATE_SNAPSHOTS") or not SNAPSHOT.exists():
        SNAPSHOT.write_text(json.dumps(graph, indent=2, sort_keys=True) + "\n")
    assert graph == json.loads(SNAPSHOT.read_text())


def test_definitions_load_with_production_down(tmp_path):
    dead = f"postgresql://x:y@127.0.0.1:{_dead_port()}/z"
    env = {**os.environ, "PRODLIKE_DEMO_SOURCE_DSN": dead, "PRODLIKE_DEMO_TARGET_DSN": dead,
           "DAGSTER_HOME": str(tmp_path), "PRODLIKE_CONFIG": str(DEMO_CONFIG)}
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    out = subprocess.run([str(Path(sys.executable).with_name("dagster")), "definitions", "validate", "-m",
                          "prodlike.pipelines.definitions"], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Validation successful" in out.stderr + out.stdout


def test_materialize_job_releases(demo_env, demo_dbs, monkeypatch):
    path, env, _ = demo_env
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    defs = load_definitions(path)
    result = defs.resolve_job_def("refresh").execute_in_process(instance=dg.DagsterInstance.ephemeral())
    assert result.success
    mats = {"/".join(e.materialization.asset_key.path): e.materialization.metadata
            for e in result.get_asset_materialization_events()}
    assert mats["staging/public/customers"]["rows"].value == 1000
    assert mats["staging/release"]["release_id"].value == 1
    with demo_dbs.dst() as dst:
        assert dst.execute("SELECT run_id FROM prodlike.releases").fetchone()[0] == result.run_id


def test_failed_blocking_check_halts_and_staging_keeps_the_last_release(demo_env, demo_dbs):
    path, env, _ = demo_env
    assert run_cli("refresh", "-c", str(path), env=env).returncode == 0
    with demo_dbs.dst() as dst:
        before = dst.execute("SELECT count(*), max(id) FROM prodlike.releases").fetchone()
        dst.execute(f'ALTER DATABASE "{demo_dbs.target_db}" SET random_page_cost = 40')
    with demo_dbs.src() as src:
        src.execute("DELETE FROM support_tickets WHERE id % 2 = 0")
    out = run_cli("refresh", "-c", str(path), env=env)
    assert out.returncode == 2, out.stdout[-3000:] + out.stderr[-3000:]
    assert "halted" in out.stdout and "infrastructure" in out.stdout and "random_page_cost" in out.stdout
    with demo_dbs.dst() as dst:
        assert dst.execute("SELECT count(*), max(id) FROM prodlike.releases").fetchone() == before
        last = dst.execute("SELECT status FROM prodlike.runs ORDER BY started_at DESC LIMIT 1").fetchone()[0]
        assert last == "halted"
        with demo_dbs.src() as src:  # staging still serves the last good copy
            assert dst.execute("SELECT count(*) FROM support_tickets").fetchone()[0] > \
                src.execute("SELECT count(*) FROM support_tickets").fetchone()[0]


def test_a_production_table_that_suddenly_shrinks_halts(demo_env, demo_dbs):
    path, env, _ = demo_env
    assert run_cli("refresh", "-c", str(path), env=env).returncode == 0
    with demo_dbs.src() as src:
        src.execute("DELETE FROM support_tickets WHERE id % 10 < 7")
        left = src.execute("SELECT count(*) FROM support_tickets").fetchone()[0]
    out = run_cli("refresh", "-c", str(path), env=env)
    assert out.returncode == 2, out.stdout[-3000:] + out.stderr[-3000:]
    assert "row_count_change" in out.stdout
    assert f"public.support_tickets: production shrank from 700 rows at the live release to {left:,}" in out.stdout
    assert f'prodlike resume --note "WHY" --accept row_count_change:public.support_tickets -c {path}' in out.stdout
    status = run_cli("status", "-c", str(path), env=env)
    assert status.returncode == 2 and status.stdout.startswith("CRITICAL - refreshes paused since")
    assert status.stdout.count("refreshes paused since") == 1  # said once, in the first line
    with demo_dbs.dst() as dst:
        assert dst.execute("SELECT count(*) FROM support_tickets").fetchone()[0] == 700


def test_refresh_without_a_config_says_where_to_get_one(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PRODLIKE_CONFIG"}
    out = subprocess.run([sys.executable, "-m", "prodlike.pipelines.cli", "refresh"], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert "prodlike.yaml: config file not found; pass -c FILE, set PRODLIKE_CONFIG" in out.stdout


def test_large_tables_are_judged_on_samples_through_dagster(demo_env, demo_dbs, monkeypatch):
    """The refresh job with distribution_sample_rows below the demo's larger tables: their distributions and GX's
    column expectations read a sample (the check metadata says so), the copy still releases, and no sample table
    is left in the control schema."""
    import yaml

    path, env, _ = demo_env
    cfg = yaml.safe_load(path.read_text())
    cfg["distribution_sample_rows"] = 2000
    path.write_text(yaml.safe_dump(cfg))
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    result = load_definitions(path).resolve_job_def("refresh").execute_in_process(
        instance=dg.DagsterInstance.ephemeral())
    assert result.success
    checks = {(e.asset_key.path[-1], e.check_name): e for e in result.get_asset_check_evaluations()}
    sampled = [k for k, c in checks.items() if k[1] == "distribution" and "% sample (" in (c.description or "")]
    with demo_dbs.src() as src:
        tables = [t for (t,) in src.execute("SELECT relname FROM pg_class WHERE relkind IN ('r', 'p') AND NOT "
                                            "relispartition AND relnamespace = 'public'::regnamespace").fetchall()]
        large = {t for t in tables if src.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] > 2000}
    assert large and {t for t, _ in sampled} == large
    assert all(c.passed for (t, name), c in checks.items() if name in ("distribution", "expectations")), \
        [(k, c.passed) for k, c in checks.items()]
    with demo_dbs.dst() as dst:
        assert dst.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'prodlike' "
                           "AND tablename LIKE 'sample\\_%'").fetchone()[0] == 0

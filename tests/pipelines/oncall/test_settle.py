"""Issue 21 point 3: a refresh killed with kill -9 is settled: the next `status` concludes it failed (with its
alert) instead of reporting "last run running", and `history` lists it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import yaml

from prodlike.pipelines.cli.main import main as cli
from prodlike.pipelines.engine import control
from prodlike.pipelines.oncall import loop as oncall
from tests.conftest import ROOT, make_config, refresh

SQL = """
CREATE TABLE people (id integer PRIMARY KEY, email text NOT NULL);
INSERT INTO people SELECT g, 'p' || g || '@example.org' FROM generate_series(1, 2000) g;
"""
POLICY = {"public.people": {"columns": {"email": "email"}}}


def test_a_killed_run_is_concluded_failed_alerted_and_listed(dbs, monkeypatch, tmp_path, capsys):
    with dbs.src() as src:
        src.execute(SQL)
    cfg = make_config(dbs, monkeypatch, POLICY, state_dir=str(tmp_path / "state"), copy={"transform_processes": 0})
    refresh(cfg, run_id="base")
    env = dict(os.environ, FAULT_CONFIG=json.dumps(cfg.model_dump(mode="json", by_alias=True)),
               FAULT_RUN_ID="killed", FAULT_AT="checks")  # dies by SIGKILL once its copy is complete
    child = subprocess.run([sys.executable, "-m", "tests.faults.driver"], cwd=ROOT, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
    assert child.returncode == -signal.SIGKILL
    status = oncall.status(oncall.Context(cfg, dbs.target, tmp_path / "state"))
    assert status["last_run"]["run_id"] == "killed" and status["last_run"]["status"] == "failed"
    assert status["state"] == "WARNING" and "the last run failed" in status["reasons"][-1]
    sent = [json.loads(line) for line in (tmp_path / "state" / "alerts.jsonl").read_text().splitlines()]
    assert [(a["event"], a["run_id"]) for a in sent] == [("refresh.failed", "killed")]
    with dbs.dst() as dst:
        assert control.live_release(dst)["run_id"] == "base" and not control.refresh_running(dst)
    path = tmp_path / "prodlike.yaml"
    path.write_text(yaml.safe_dump(cfg.model_dump(mode="json", by_alias=True, exclude_none=True)))
    capsys.readouterr()
    assert cli(["history", "-c", str(path)]) == 0
    listed = capsys.readouterr().out
    assert "killed" in listed and "failed" in listed and "base" in listed


def test_the_settle_sensor_marks_the_dagster_run_of_a_dead_refresh_failed(dbs, monkeypatch, tmp_path):
    """A dead run left STARTED would block Dagster's run queue (one run at a time): once staging shows its process
    gone, the settle sensor's helper marks the Dagster run failed, once; a run staging did not settle is left
    alone."""
    import dagster as dg

    from prodlike.pipelines.engine import runlock
    from prodlike.pipelines.orchestration.automation import mark_dead_runs_failed

    with dbs.src() as src:
        src.execute(SQL)
    cfg = make_config(dbs, monkeypatch, POLICY, copy={"transform_processes": 0})
    refresh(cfg, run_id="base")
    job = dg.define_asset_job("refresh").resolve(asset_graph=dg.Definitions().resolve_asset_graph())
    with dg.DagsterInstance.ephemeral() as instance:
        dead = instance.create_run_for_job(job, run_id="11111111-1111-1111-1111-111111111111")
        other = instance.create_run_for_job(job, run_id="22222222-2222-2222-2222-222222222222")
        with dbs.dst() as dst:
            dst.execute("INSERT INTO prodlike.runs (run_id, status, schemas) VALUES (%s, 'running', '{public}'), "
                        "(%s, 'running', '{public}')", (dead.run_id, other.run_id))
            assert set(runlock.settle_if_free(dst)) == {dead.run_id, other.run_id}  # no holder: both dead
            dst.execute("UPDATE prodlike.runs SET status = 'released', error = NULL WHERE run_id = %s",
                        (other.run_id,))  # ... one of them had concluded after all: left alone
        assert mark_dead_runs_failed(instance, dbs.target) == [dead.run_id]
        assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE
        assert not instance.get_run_by_id(other.run_id).is_finished
        assert mark_dead_runs_failed(instance, dbs.target) == []  # once

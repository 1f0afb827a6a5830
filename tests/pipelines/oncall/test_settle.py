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

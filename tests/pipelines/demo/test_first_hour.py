"""After `prodlike demo`, every command works in the project root with nothing exported: the demo keeps its
config and an owner-only secrets file in its own state folder, and the CLI falls back to that config; the
README's on-call walkthrough (status, report, resume --accept --run, rollback, history) runs on the demo."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg

from prodlike.pipelines.demo import embedded
from prodlike.pipelines.demo.run import PRODUCTION_DB, STAGING_DB
from tests.conftest import STATE as TEST_STATE
from tests.test_quiet import NOISE

ROOT = TEST_STATE / "first-hour"  # stands in for a fresh clone's project root


def prodlike(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """The prodlike entry point run in ROOT with no prodlike or Dagster variable in the environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PRODLIKE_", "DAGSTER_"))}
    env["COLUMNS"] = "200"
    return subprocess.run([sys.executable, "-m", "prodlike.pipelines.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _words(out: subprocess.CompletedProcess) -> str:
    return " ".join((out.stdout + out.stderr).split())


def _query_time_check(state: Path) -> dict:
    """The query_time summary of the demo's newest run, as staging's control schema recorded it."""
    staging = embedded.server(state, "staging").dsn(STAGING_DB)
    with psycopg.connect(staging) as conn:
        checks = conn.execute("SELECT checks FROM prodlike.runs ORDER BY started_at DESC LIMIT 1").fetchone()[0]
    return next(c for c in checks if c["check"] == "query_time" and c["table"] is None)


def test_after_the_demo_every_command_finds_it_and_on_call_can_follow_the_readme():
    shutil.rmtree(ROOT, ignore_errors=True)
    ROOT.mkdir(parents=True)
    try:
        demo = prodlike("demo", "--rows", "5000")
        assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
        state = ROOT / ".prodlike" / "demo"
        assert (state / "demo.yaml").is_file() and (state / "dagster").is_dir()
        assert (state / "demo.env").stat().st_mode & 0o777 == 0o600  # secrets readable by the owner only
        assert "parity report: " in _words(demo)
        assert not NOISE.search(demo.stdout + demo.stderr), demo.stderr[-3000:]  # no dependency warning
        query_time = _query_time_check(ROOT / ".prodlike")  # production preloads pg_stat_statements, the demo's
        assert query_time["verdict"] == "pass", query_time      # traffic fills it: the faithful copy passes, timed
        assert query_time["production"] >= 5 and "queries timed on staging" in query_time["explanation"]

        for command in (["status"], ["history"], ["report"], ["config", "check"]):
            out = prodlike(*command)
            assert out.returncode == 0, (command, out.stdout[-2000:], out.stderr[-2000:])
            assert "not found" not in _words(out) and "is not set" not in _words(out)

        # production drifts for real: the refresh halts, on-call follows the README
        owner = embedded.server(ROOT / ".prodlike", "production").dsn(PRODUCTION_DB)
        with psycopg.connect(owner, autocommit=True) as conn:
            conn.execute("DELETE FROM support_tickets WHERE id % 10 < 8")
        halted = prodlike("refresh")
        assert halted.returncode == 2, _words(halted)[-3000:]
        assert "halted" in _words(halted) and "row_count_change" in _words(halted)
        assert "parity report: " in _words(halted) and "Traceback" not in halted.stdout + halted.stderr
        assert not NOISE.search(halted.stdout + halted.stderr), halted.stderr[-3000:]
        status = prodlike("status")
        assert status.returncode == 2 and "PAUSED" in _words(status)
        refused = prodlike("refresh")
        assert refused.returncode == 2 and _words(refused).startswith("refused, nothing copied: refreshes are paused")
        report = prodlike("report")
        assert report.returncode == 0 and Path(_words(report).split("parity report: ")[1].split()[0]).is_file()
        resumed = prodlike("resume", "--note", "support purged old tickets (TICKET-1)",
                           "--accept", "row_count_change:public.support_tickets", "--run")
        assert resumed.returncode == 0, _words(resumed)[-3000:]
        assert "released" in _words(resumed)
        rolled = prodlike("rollback")
        assert rolled.returncode == 0, _words(rolled)[-2000:]
        history = prodlike("history")
        assert history.returncode == 0 and "rollback" in _words(history) and "halted" in _words(history)
    finally:
        embedded.stop_all(ROOT / ".prodlike")

"""What on-call is told agrees everywhere: exit code, message, recorded outcome and alert of a failed run; one count
of checks in the CLI and `history`; full run ids and unique prefixes; the exact resume command; status's first
line; no alert when resume changes nothing."""

from __future__ import annotations

import json
import re

import yaml

from tests.pipelines.cli.test_cli import run_cli


def _alerts(path) -> list[dict]:
    log = path.parent / "state" / "alerts.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_an_error_after_a_failing_check_is_a_failed_run_everywhere(demo_env, demo_dbs):
    path, env, _ = demo_env
    cfg = yaml.safe_load(path.read_text())
    cfg["thresholds"] = {"row_count": {"error": -1}}  # every table's row_count check errors...
    cfg["post_load_sql"] = ["SELECT 1/0"]  # ...and the copy then fails with an error
    path.write_text(yaml.safe_dump(cfg))
    out = run_cli("refresh", "-c", str(path), env=env)
    assert out.returncode == 1, out.stdout[-3000:] + out.stderr[-3000:]
    assert "failed: DivisionByZero (SQLSTATE 22012): division by zero" in out.stdout
    assert "halted" not in out.stdout and "paused" not in out.stdout
    with demo_dbs.dst() as dst:
        assert dst.execute("SELECT status FROM prodlike.runs").fetchone()[0] == "failed"
        assert not dst.execute("SELECT paused FROM prodlike.state").fetchone()[0]
    assert [a["event"] for a in _alerts(path)] == ["refresh.failed"]


def test_one_count_full_run_ids_prefixes_status_line_and_a_quiet_resume(demo_env, demo_dbs):
    path, env, reports = demo_env
    out = run_cli("refresh", "-c", str(path), env=env)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    found = re.search(r"checks: (\d+) passed, (\d+) warned, (\d+) failed(?:, (\d+) skipped)?", out.stdout)
    passed, warned, failed, skipped = (int(n or 0) for n in found.groups())
    with demo_dbs.dst() as dst:
        run_id = dst.execute("SELECT run_id FROM prodlike.runs").fetchone()[0]
    history = run_cli("history", "-c", str(path), env=env)
    assert run_id in history.stdout  # the whole id, never cut
    counted = f"{passed + warned + failed + skipped} checks: " + ", ".join(
        f"{n} {v}" for v, n in (("warn", warned), ("skipped", skipped), ("pass", passed)) if n)
    assert counted in history.stdout  # the release row counts as the CLI did
    report = run_cli("report", run_id[:8], "-c", str(path), env=env)
    assert report.returncode == 0 and f"{run_id}.html" in report.stdout, report.stdout + report.stderr
    unknown = run_cli("report", "zz", "-c", str(path), env=env)
    assert unknown.returncode == 1 and "no run 'zz'" in unknown.stdout
    status = run_cli("status", "-c", str(path), env=env)
    assert status.returncode == 0 and status.stdout.startswith(f"OK - live release 1 of run {run_id}")
    sent = len(_alerts(path))
    resumed = run_cli("resume", "-c", str(path), "--note", "nothing to resume", env=env)
    assert resumed.returncode == 0 and "was not paused; no alert sent" in resumed.stdout
    assert len(_alerts(path)) == sent

"""The on-call loop against real servers: a halt pauses and pages, the schedule skips while paused, resume
(with --accept once) and rollback, three failures pause, freshness alerts once per crossing, status exit
codes; a local HTTP server on 127.0.0.1 stands in for Slack, PagerDuty and the webhook."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import psycopg
import pytest
import yaml

from prodlike.pipelines.config.model import ConfigError, load, load_text
from prodlike.pipelines.definitions import DEMO_CONFIG, load_definitions
from prodlike.pipelines.engine import control
from prodlike.pipelines.oncall import loop as oncall
from prodlike.pipelines.orchestration import automation
from prodlike.pipelines.orchestration.assets import OUTCOME_TAG, RELEASE_KEY
from tests.conftest import TEST_KEY
from tests.pipelines.cli.test_cli import _dead_port, run_cli

WEBHOOK_SECRET = "webhook-signing-secret-5f1e9a"
PD_KEY = "pd-routing-key-0b7c2d"


class Endpoints:
    """A local HTTP server recording every request; /dead answers 500."""

    def __init__(self):
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                self.send_response(500 if self.path == "/dead" else 202)
                self.end_headers()

            def log_message(self, *args):
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def bodies(self, path: str) -> list[dict]:
        return [json.loads(r["body"]) for r in self.requests if r["path"] == path]

    def events(self, path: str = "/hook") -> list[str]:
        return [b["event"] for b in self.bodies(path)]


@pytest.fixture
def endpoints():
    e = Endpoints()
    yield e
    e.server.shutdown()


@pytest.fixture
def env(demo_dbs, tmp_path, endpoints, monkeypatch):
    """The demo config with every alert channel pointed at the local endpoints; returns (path, cfg dict)."""
    cfg = yaml.safe_load(DEMO_CONFIG.read_text())
    cfg.update(state_dir=str(tmp_path / "state"), workload=str(DEMO_CONFIG.with_name("workload.sql")),
               webserver_base_url="http://dagster.test:3000")
    cfg["alerts"] = {"slack": [{"url": "${PL_SLACK_URL}"}],
                     "pagerduty": [{"routing_key": "${PL_PD_KEY}", "url": f"{endpoints.url}/pd"}],
                     "webhook": [{"url": f"{endpoints.url}/hook", "secret": "${PL_HOOK_SECRET}"},
                                 {"url": f"{endpoints.url}/dead"}],
                     "retries": 2, "backoff": "10ms", "timeout": "2s"}
    path = tmp_path / "prodlike.yaml"
    path.write_text(yaml.safe_dump(cfg))
    values = {"PRODLIKE_DEMO_SOURCE_DSN": demo_dbs.source, "PRODLIKE_DEMO_TARGET_DSN": demo_dbs.target,
              "PRODLIKE_DEMO_ANON_KEY": TEST_KEY.decode(), "PL_SLACK_URL": f"{endpoints.url}/slack",
              "PL_PD_KEY": PD_KEY, "PL_HOOK_SECRET": WEBHOOK_SECRET, "PRODLIKE_ACTOR": "oncall@test"}
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    return path, values


def _ctx(path) -> oncall.Context:
    cfg = load(path)
    return oncall.Context(cfg, cfg.target.resolve("target"), cfg.state_path(path.parent), path)


class Ran:
    """A refresh run through Dagster: its result and how it ended (released, halted, refused: paused, failed)."""

    def __init__(self, result, tags: dict):
        self.result, self.run_id, self.all_events = result, result.run_id, result.all_events
        released = any(e.materialization.asset_key == RELEASE_KEY for e in result.get_asset_materialization_events())
        self.outcome = "released" if released else tags.get(OUTCOME_TAG) or ("failed" if not result.success else "?")
        self.released = self.outcome == "released"


def _run(path, force: bool = False) -> Ran:
    job = load_definitions(path).resolve_job_def("refresh")
    with dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False,
                                        tags={"prodlike/force": "true"} if force else None)
        return Ran(result, instance.get_run_by_id(result.run_id).tags)


def _pii(demo_dbs) -> list[bytes]:
    with demo_dbs.src() as src:
        rows = src.execute("SELECT email::text, phone FROM customers ORDER BY id LIMIT 200").fetchall()
    return [v.encode() for r in rows for v in r if v]


def _assert_clean(endpoints, demo_dbs) -> None:
    """No production PII, DSN password or webhook secret in any alert body."""
    needles = _pii(demo_dbs) + [WEBHOOK_SECRET.encode(), demo_dbs.source.split(":")[2].split("@")[0].encode()]
    for r in endpoints.requests:
        body = r["body"]
        if r["path"] == "/pd":  # the routing key is PagerDuty's own addressing, expected in its body only
            body = body.replace(PD_KEY.encode(), b"")
        assert not [n for n in needles if n in body], r["path"]
        assert PD_KEY.encode() not in body


def _verify_signature(request: dict) -> None:
    ts, sig = request["headers"]["X-Prodlike-Timestamp"], request["headers"]["X-Prodlike-Signature"]
    expected = hmac.new(WEBHOOK_SECRET.encode(), ts.encode() + b"." + request["body"], hashlib.sha256).hexdigest()
    assert sig == f"sha256={expected}"


def test_halt_pauses_pages_skips_and_resume_accepts_once(env, demo_dbs, endpoints):
    path, _ = env
    assert _run(path).released
    assert set(endpoints.events()) <= {"refresh.warned"} and not endpoints.bodies("/pd")  # nothing pages
    endpoints.requests.clear()
    with demo_dbs.dst() as dst:
        live_before = dst.execute("SELECT count(*) FROM support_tickets").fetchone()[0]
    with demo_dbs.src() as src:
        src.execute("DELETE FROM support_tickets WHERE id % 10 < 7")  # a sudden shrink: row_count_change errors

    halted = _run(path)
    assert halted.outcome == "halted" and not halted.result.success  # Dagster shows a failed run; one alert below
    with demo_dbs.dst() as dst:
        assert dst.execute("SELECT count(*) FROM support_tickets").fetchone()[0] == live_before
        st = control.state(dst)
        assert st["paused"] and st["paused_by"] == "prodlike" and "row_count_change" in st["paused_reason"]
        assert dst.execute("SELECT status FROM prodlike.runs WHERE run_id = %s",
                           (halted.run_id,)).fetchone()[0] == "halted"
    hook = endpoints.bodies("/hook")
    assert [b["event"] for b in hook] == ["refresh.halted"]
    alert = hook[0]
    assert alert["schema"] == "prodlike.alert/1" and alert["severity"] == "critical" and alert["paused"]
    assert alert["run_url"] == f"http://dagster.test:3000/runs/{halted.run_id}"
    failing = [c for c in alert["checks"] if c["check"] == "row_count_change"]
    assert failing[0]["table"] == "public.support_tickets" and failing[0]["production"] == live_before
    text = alert["text"]
    assert text.index("halted") < text.index("row_count_change") < text.index("Staging age") < \
        text.index("Run: ") < text.index("Next: ")
    assert "prodlike resume" in text and "prodlike rollback" in text
    _verify_signature([r for r in endpoints.requests if r["path"] == "/hook"][0])
    pd = endpoints.bodies("/pd")
    assert [(b["event_action"], b["routing_key"]) for b in pd] == [("trigger", PD_KEY)]
    assert "row_count_change" in endpoints.bodies("/slack")[0]["text"]
    assert len([r for r in endpoints.requests if r["path"] == "/dead"]) == 3  # retried, then given up
    log = [json.loads(line) for line in (path.parent / "state" / "alerts.jsonl").read_text().splitlines()]
    entry = [e for e in log if e["event"] == "refresh.halted"][0]
    assert [(d["channel"], d["ok"]) for d in entry["deliveries"]] == [
        ("slack", True), ("pagerduty", True), ("webhook", True), ("webhook", False)]

    # the schedule skips while paused; a manual run refuses; neither alerts again
    defs = load_definitions(path)
    schedule = defs.get_schedule_def(automation.SCHEDULE)
    with dg.build_schedule_context(resources={"prodlike": defs.resources["prodlike"]}) as context:
        data = schedule.evaluate_tick(context)
    assert data.skip_message and "paused" in data.skip_message and "prodlike resume" in data.skip_message
    refused = _run(path)
    assert refused.outcome == "refused: paused" and refused.result.success  # refused is not failed
    assert not any(e.is_step_failure for e in refused.all_events)
    assert len(endpoints.events()) == 1

    # resume accepting exactly that failure once: the next run releases, PagerDuty resolves the same key
    out = run_cli("resume", "-c", str(path), "--note", "support purged old tickets",
                  "--accept", "row_count_change:public.support_tickets")
    assert out.returncode == 0, out.stdout + out.stderr
    assert _run(path).released
    with demo_dbs.dst() as dst:
        assert dst.execute("SELECT count(*) FROM support_tickets").fetchone()[0] < live_before
        st = control.state(dst)
        assert not st["paused"] and st["accept"] == []
        kinds = [r[0] for r in dst.execute("SELECT kind FROM prodlike.events ORDER BY id")]
        assert kinds == ["paused", "resumed", "acceptance_used"]
    assert endpoints.events()[:3] == ["refresh.halted", "refresh.resumed", "refresh.released"]
    assert endpoints.events()[3:] == ["refresh.warned"]  # the accepted failure is now a warning
    warned = endpoints.bodies("/hook")[-1]["checks"]
    assert [c["verdict"] for c in warned if c["check"] == "row_count_change"] == ["warn"]
    pd = endpoints.bodies("/pd")
    assert [b["event_action"] for b in pd] == ["trigger", "resolve"] and pd[0]["dedup_key"] == pd[1]["dedup_key"]
    _assert_clean(endpoints, demo_dbs)

    # accepted once only: the same shrink again halts
    with demo_dbs.src() as src:
        src.execute("DELETE FROM support_tickets WHERE id % 10 < 9")
    assert _run(path).outcome == "halted"


def test_rollback_restores_the_previous_release_and_pauses(env, demo_dbs, endpoints):
    path, _ = env
    out = run_cli("rollback", "-c", str(path))
    assert out.returncode == 1 and "rollback refused" in out.stdout
    assert _run(path).released
    with demo_dbs.dst() as dst:
        first = dst.execute("SELECT count(*), sum(id) FROM support_tickets").fetchone()
        first_snapshot = dst.execute("SELECT snapshot_time FROM prodlike.releases").fetchone()[0]
    out = run_cli("rollback", "-c", str(path))
    assert out.returncode == 1 and "only one release was ever made" in out.stdout
    with demo_dbs.src() as src:
        src.execute("DELETE FROM support_tickets WHERE id % 10 = 0")
    assert _run(path).released
    out = run_cli("rollback", "-c", str(path))
    assert out.returncode == 0, out.stdout + out.stderr
    with demo_dbs.dst() as dst:
        assert dst.execute("SELECT count(*), sum(id) FROM support_tickets").fetchone() == first
        assert dst.execute("SELECT count(*) FROM orders o JOIN customers c ON c.id = o.customer_id").fetchone()[0] > 0
        kind, snap = dst.execute("SELECT kind, snapshot_time FROM prodlike.releases ORDER BY id DESC").fetchone()
        assert (kind, snap) == ("rollback", first_snapshot)
        assert control.state(dst)["paused"]
    assert endpoints.events()[-1] == "refresh.rolled_back"
    status = run_cli("status", "-c", str(path), "--json")
    assert status.returncode == 2 and json.loads(status.stdout)["paused"]["reason"].startswith("rolled back")

    # paused: a manual refresh refuses (exit 2, nothing touched) unless forced, which is recorded
    refused = run_cli("refresh", "-c", str(path))
    assert refused.returncode == 2 and "refreshes are paused since" in refused.stdout
    forced = run_cli("refresh", "-c", str(path), "--force")
    assert forced.returncode == 0, forced.stdout[-3000:]
    with demo_dbs.dst() as dst:
        assert dst.execute("SELECT count(*) FROM prodlike.events WHERE kind = 'forced' "
                           "AND actor = 'oncall@test'").fetchone()[0] == 1
        assert dst.execute("SELECT forced FROM prodlike.runs ORDER BY started_at DESC LIMIT 1").fetchone()[0]


def test_three_failed_runs_pause_and_page_once_then_escalate(env, demo_dbs, endpoints, monkeypatch):
    path, _ = env
    assert _run(path).released
    monkeypatch.setenv("PRODLIKE_DEMO_SOURCE_DSN", f"postgresql://x:y@127.0.0.1:{_dead_port()}/gone")
    for _ in range(3):
        assert _run(path).outcome == "failed"
    with demo_dbs.dst() as dst:
        st = control.state(dst)
        assert st["paused"] and st["consecutive_failures"] == 3 and "3 consecutive failed runs" in st["paused_reason"]
    failed = [b for b in endpoints.bodies("/hook") if b["event"] != "refresh.warned"]
    assert [b["event"] for b in failed] == ["refresh.failed", "refresh.failed"]  # first failure, then paused
    assert "pauses after 3" in failed[0]["summary"] and "PAUSED after 3" in failed[1]["summary"]
    assert "production" in failed[0]["details"]  # names the unreachable server
    assert len({b["dedup_key"] for b in endpoints.bodies("/pd")}) == 1


def test_a_transient_error_retries_and_does_not_pause(env, demo_dbs, endpoints):
    path, _ = env
    from tests.pipelines.engine.test_failures import _killer

    cfg = load(path)
    from prodlike.pipelines.engine.refresh import Refresh

    progress, fired = _killer(demo_dbs.source, "public.orders")
    r = Refresh(cfg, demo_dbs.source, demo_dbs.target, "transient-run", TEST_KEY, progress=progress)
    list(r.copy())
    r.release()
    assert fired
    assert oncall.conclude(_ctx(path), "transient-run") == "released"
    with demo_dbs.dst() as dst:
        st = control.state(dst)
        assert not st["paused"] and st["consecutive_failures"] == 0
    assert not [e for e in endpoints.events() if e != "refresh.warned"]


def test_freshness_warns_and_breaches_once_each_then_recovers(env, demo_dbs, endpoints):
    path, _ = env
    assert _run(path).released
    ctx = _ctx(path)
    with demo_dbs.dst() as dst:
        snap = dst.execute("SELECT snapshot_time FROM prodlike.releases").fetchone()[0]
    endpoints.requests.clear()  # (a fresh copy may have warned about a flapping plan)
    levels = [oncall.check_freshness(ctx, now=snap + timedelta(hours=h)) for h in (1, 3, 4, 7, 8, 0.1)]
    assert levels == ["ok", "warn", "warn", "breached", "breached", "ok"]
    assert endpoints.events() == ["freshness.warn", "freshness.breached", "freshness.recovered"]
    assert [b["event_action"] for b in endpoints.bodies("/pd")] == ["trigger", "resolve"]
    assert "staging is 3.0h old" in endpoints.bodies("/slack")[0]["text"]


@pytest.mark.parametrize("age_hours, paused, code, state", [
    (0, False, 0, "OK"),          # fresh and active
    (3, False, 1, "WARNING"),     # past warn_after (2h)
    (7, False, 2, "CRITICAL"),    # past error_after (6h)
    (0, True, 2, "CRITICAL"),     # paused, however fresh
])
def test_status_exit_codes(env, demo_dbs, age_hours, paused, code, state):
    path, _ = env
    assert _run(path).released
    with demo_dbs.dst() as dst:
        dst.execute("UPDATE prodlike.releases SET snapshot_time = now() - make_interval(hours => %s)", (age_hours,))
        if paused:
            control.pause(dst, "oncall@test", "investigating")
    out = run_cli("status", "-c", str(path), "--json")
    assert out.returncode == code, out.stdout + out.stderr
    assert json.loads(out.stdout)["state"] == state
    text = run_cli("status", "-c", str(path))
    assert text.returncode == code and state in text.stdout


def test_status_unknown_before_the_first_release_and_when_unreachable(env, monkeypatch):
    path, _ = env
    assert run_cli("status", "-c", str(path)).returncode == 3
    monkeypatch.setenv("PRODLIKE_DEMO_TARGET_DSN", f"postgresql://x:y@127.0.0.1:{_dead_port()}/gone")
    out = run_cli("status", "-c", str(path), "--json")
    assert out.returncode == 3 and "staging unreachable" in out.stdout and ":y@" not in out.stdout


@pytest.mark.parametrize("extra, message", [
    # a daily schedule cannot keep a 6h SLA
    ({"schedule": {"cron": "0 3 * * *"}, "freshness": {"warn_after": "2h", "error_after": "6h"}},
     "leaves up to 1d between refreshes, so staging would breach freshness.error_after (6h)"),
    ({"freshness": {"warn_after": "7h", "error_after": "6h"}}, "warn_after (7h) must not exceed error_after (6h)"),
    ({"alerts": {"slack": [{"url": "https://hooks.slack.com/services/T0/B0/x"}]}},
     "alerts.slack.0.url: secrets are read from the environment only"),
    ({"alerts": {"webhook": [{"url": "https://x", "events": ["refresh.halt"]}]}},
     "alerts.webhook.0.events: unknown event 'refresh.halt'"),
])
def test_oncall_config_errors_name_the_key(extra, message):
    base = {"source": {"dsn": "${A}"}, "target": {"dsn": "${B}"}}
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        load_text(yaml.safe_dump({**base, **extra}))


def test_resume_rejects_an_unknown_check(env, demo_dbs):
    path, _ = env
    out = run_cli("resume", "-c", str(path), "--note", "x", "--accept", "row_cont")
    assert out.returncode == 1 and "unknown check 'row_cont'" in out.stdout
    with psycopg.connect(demo_dbs.target) as conn:
        assert control.current_version(conn) == 0 or not control.state(conn)["accept"]


def test_sensors_settle_a_crashed_run_and_watch_freshness(env, demo_dbs, endpoints):
    path, _ = env
    assert _run(path).released
    endpoints.requests.clear()
    with demo_dbs.dst() as dst:  # what a killed run process leaves behind
        control.start_run(dst, "crashed-run", ["public"])
    ctx = _ctx(path)
    assert oncall.conclude(ctx, "crashed-run", "DagsterRunFailure: the run worker was killed") == "failed"
    assert oncall.conclude(ctx, "crashed-run", "again") is None  # once only: hook and sensor cannot both alert
    assert endpoints.events() == ["refresh.failed"]
    assert "the run worker was killed" in endpoints.bodies("/hook")[0]["details"]

    defs = load_definitions(path)
    sensor = defs.get_sensor_def(automation.FRESHNESS_SENSOR)
    with demo_dbs.dst() as dst:
        dst.execute("UPDATE prodlike.releases SET snapshot_time = now() - interval '3 hours'")
    for _ in range(2):  # evaluated every minute; alerts once per crossing
        with dg.build_sensor_context(resources={"prodlike": defs.resources["prodlike"]}) as context:
            data = sensor.evaluate_tick(context)
        assert data.skip_message == "freshness: warn"
    assert endpoints.events() == ["refresh.failed", "freshness.warn"]


def test_schedule_skips_while_a_refresh_runs(env, demo_dbs):
    path, _ = env
    assert _run(path).released
    defs = load_definitions(path)
    schedule = defs.get_schedule_def(automation.SCHEDULE)
    with demo_dbs.dst() as holder, control.refresh_lock(holder):
        with dg.build_schedule_context(resources={"prodlike": defs.resources["prodlike"]}) as context:
            data = schedule.evaluate_tick(context)
        assert data.skip_message == "another refresh is running against staging"
    with dg.build_schedule_context(resources={"prodlike": defs.resources["prodlike"]}) as context:
        assert schedule.evaluate_tick(context).run_requests

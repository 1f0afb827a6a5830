"""Alert delivery: one Alert rendered for Slack, PagerDuty Events v2, a signed JSON webhook and the local
alert log; a failing channel is retried with backoff, logged, and never breaks the run or other channels."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from prodlike.pipelines.config.model import PAGING_EVENTS, Config, human_age
from prodlike.pipelines.config.secrets import redact, resolve_value
from prodlike.pipelines.errors import safe_message

log = logging.getLogger("prodlike.alerts")
PAYLOAD_SCHEMA = "prodlike.alert/1"
RECOVERY_EVENTS = ("refresh.released", "freshness.recovered")  # resolve the page they belong to
SEVERITY = {"refresh.halted": "critical", "refresh.failed": "error", "freshness.breached": "critical",
            "refresh.warned": "warning", "freshness.warn": "warning", "refresh.rolled_back": "warning"}


@dataclass
class Alert:
    """What happened, the failing checks, how old staging is, where to look and what to run next."""

    event: str
    summary: str
    incident: str  # stable deduplication key of the incident this alert belongs to
    run_id: str | None = None
    run_url: str | None = None
    checks: list[dict] = field(default_factory=list)
    age_seconds: int | None = None
    paused: bool = False
    report: str | None = None
    commands: list[str] = field(default_factory=list)
    details: str | None = None
    sent_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def severity(self) -> str:
        return SEVERITY.get(self.event, "info")

    def text(self) -> str:
        """The human message, in the order on-call reads it."""
        lines = [f"[prodlike] {self.event}: {self.summary}"]
        if self.details:
            lines.append(self.details)
        for c in self.checks[:15]:
            where = ".".join(x for x in (c.get("table"), c.get("column")) if x) or "run"
            lines.append(f"  - {c['check']} on {where}: {c['statistic']} production={_short(c.get('production'))} "
                         f"staging={_short(c.get('staging'))} divergence={_short(c.get('divergence'))} "
                         f"threshold(warn={c['threshold'].get('warn')}, error={c['threshold'].get('error')}) "
                         f"-> {c['verdict'].upper()}")
        if len(self.checks) > 15:
            lines.append(f"  - and {len(self.checks) - 15} more")
        if self.age_seconds is not None:
            lines.append(f"Staging age: {human_age(self.age_seconds)} (production snapshot of the live release)"
                         + ("; refreshes are PAUSED" if self.paused else ""))
        if self.run_url:
            lines.append(f"Run: {self.run_url}")
        if self.report:
            lines.append(f"Report: {self.report}")
        if self.commands:
            lines.append("Next: " + " | ".join(self.commands))
        return redact("\n".join(lines))

    def payload(self) -> dict:
        """The generic webhook body (documented in the README, schema prodlike.alert/1)."""
        body = asdict(self)
        body.update(schema=PAYLOAD_SCHEMA, severity=self.severity, text=self.text())
        return body


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)[:60]


def _post(url: str, body: bytes, headers: dict, timeout: float) -> int:
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": "application/json", "User-Agent": "prodlike", **headers})
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (configured endpoints only)
        return resp.status


def slack_request(alert: Alert, _channel) -> tuple[bytes, dict]:
    return json.dumps({"text": alert.text()}).encode(), {}


def pagerduty_request(alert: Alert, channel) -> tuple[bytes, dict]:
    action = "resolve" if alert.event in RECOVERY_EVENTS else "trigger"
    body = {"routing_key": resolve_value(channel.routing_key, "alerts.pagerduty.routing_key"),
            "event_action": action, "dedup_key": alert.incident}
    if action == "trigger":
        body["payload"] = {"summary": f"prodlike {alert.event}: {alert.summary}"[:1024], "source": "prodlike",
                           "severity": "critical" if alert.severity == "critical" else "error",
                           "custom_details": {"text": alert.text(), "run_id": alert.run_id}}
        if alert.run_url:
            body["links"] = [{"href": alert.run_url, "text": "Dagster run"}]
    return json.dumps(body).encode(), {}


def webhook_request(alert: Alert, channel) -> tuple[bytes, dict]:
    body = json.dumps(alert.payload(), default=str).encode()
    headers = {"X-Prodlike-Event": alert.event}
    if channel.secret:
        timestamp = str(int(time.time()))
        key = resolve_value(channel.secret, "alerts.webhook.secret").encode()
        digest = hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        headers |= {"X-Prodlike-Timestamp": timestamp, "X-Prodlike-Signature": f"sha256={digest}"}
    return body, headers


def _wants(channel, kind: str, event: str) -> bool:
    """Channels get their configured events; PagerDuty also gets the recoveries that resolve its pages."""
    if kind == "pagerduty" and event in RECOVERY_EVENTS:
        return any(e in PAGING_EVENTS for e in channel.events)
    return event in channel.events


def channels(cfg: Config) -> list[tuple[str, object, object]]:
    """(kind, channel config, request builder) of every configured channel."""
    a = cfg.alerts
    return ([("slack", c, slack_request) for c in a.slack] + [("pagerduty", c, pagerduty_request) for c in a.pagerduty]
            + [("webhook", c, webhook_request) for c in a.webhook])


def send(cfg: Config, alert: Alert, log_path: Path, deduplicated: bool = False) -> list[dict]:
    """Deliver to every channel that wants the event (unless deduplicated) and append to the alert log."""
    deliveries = []
    if not deduplicated:
        for kind, channel, build in channels(cfg):
            if _wants(channel, kind, alert.event):
                deliveries.append(_deliver(cfg, kind, channel, build, alert))
    entry = {**alert.payload(), "deduplicated": deduplicated, "deliveries": deliveries}
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("a") as f:
        f.write(json.dumps(entry, default=str) + "\n")
    log.log(logging.WARNING if alert.severity in ("critical", "error") else logging.INFO, "alert %s%s: %s",
            alert.event, " (deduplicated, not sent)" if deduplicated else "", alert.summary)
    return deliveries


def _deliver(cfg: Config, kind: str, channel, build, alert: Alert) -> dict:
    """One channel, with retries and backoff; the outcome (never raises)."""
    attempts, delay, error = 0, cfg.alerts.backoff.total_seconds(), ""
    url = "?"
    while attempts <= cfg.alerts.retries:
        attempts += 1
        try:
            url = resolve_value(channel.url, f"alerts.{kind}.url")
            body, headers = build(alert, channel)
            status = _post(url, body, headers, cfg.alerts.timeout.total_seconds())
            return {"channel": kind, "ok": True, "status": status, "attempts": attempts}
        except urllib.error.HTTPError as err:
            error = f"HTTP {err.code}"
            if 400 <= err.code < 500 and err.code != 429:
                break  # the request itself is wrong: retrying will not help
        except Exception as err:  # a channel must never break the run
            error = f"{type(err).__name__}: {safe_message(err)}"
        if attempts <= cfg.alerts.retries:
            time.sleep(delay)
            delay *= 2
    log.error("alert %s to %s failed after %d attempt(s): %s", alert.event, kind, attempts, error)
    return {"channel": kind, "ok": False, "error": error[:300], "attempts": attempts, "host": _host(url)}


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).hostname or "?"

"""What every alert channel shares: the Alert (what happened, the failing checks, staging's age, where to look and
what to run next), the Channel declaration, and one HTTP POST."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from pydantic import BaseModel

from prodlike.pipelines.config.fields import human_age
from prodlike.pipelines.errors import redact

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


def wants_configured(channel, event: str) -> bool:
    """A channel gets the events its config lists."""
    return event in channel.events


@dataclass(frozen=True)
class Channel:
    """An alert channel: its key under `alerts:` (a list of its config model), how it renders an alert for the
    wire (body, headers) and which events it gets."""

    kind: str
    model: type[BaseModel]
    request: Callable[[Alert, BaseModel], tuple[bytes, dict]]
    wants: Callable[[BaseModel, str], bool] = wants_configured
    url_key: str = "url"  # the config field holding its endpoint


def post(url: str, body: bytes, headers: dict, timeout: float) -> int:
    """One JSON POST to a configured endpoint; the HTTP status."""
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": "application/json", "User-Agent": "prodlike", **headers})
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (configured endpoints only)
        return resp.status

"""PagerDuty Events API v2: a page-worthy event triggers, its recovery resolves, one dedup key per incident."""

from __future__ import annotations

import json

from pydantic import Field

from prodlike.pipelines.config.fields import PAGING_EVENTS, EnvRef, Events, Strict
from prodlike.pipelines.config.secrets import resolve_value
from prodlike.pipelines.oncall.channels.base import RECOVERY_EVENTS, Alert, Channel


class PagerDutyChannel(Strict):
    """PagerDuty Events API v2: triggers on a page-worthy event, resolves on recovery, one dedup key."""

    routing_key: EnvRef = Field(description="Integration (routing) key as a `${ENV_VAR}` reference.")
    url: str = Field("https://events.pagerduty.com/v2/enqueue", description="Events API v2 endpoint.")
    events: Events = Field(list(PAGING_EVENTS), description="Events that trigger a page; recovery events "
                                                             "resolve it (default: halted, failed, breached).")


def request(alert: Alert, channel: PagerDutyChannel) -> tuple[bytes, dict]:
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


def wants(channel: PagerDutyChannel, event: str) -> bool:
    """Its configured events, and the recoveries that resolve its pages."""
    if event in RECOVERY_EVENTS:
        return any(e in PAGING_EVENTS for e in channel.events)
    return event in channel.events


CHANNEL = Channel("pagerduty", PagerDutyChannel, request, wants)

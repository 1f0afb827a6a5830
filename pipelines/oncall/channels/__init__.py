"""Alert channels, one module per channel with its config model and wire format, behind this explicit registry
(the local alert log is always written and needs no config). Adding a channel: its module, a line in CHANNELS and
its list in `Alerts`."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from prodlike.pipelines.config.fields import Duration, Strict
from prodlike.pipelines.oncall.channels.base import Channel
from prodlike.pipelines.oncall.channels.pagerduty import CHANNEL as PAGERDUTY
from prodlike.pipelines.oncall.channels.pagerduty import PagerDutyChannel
from prodlike.pipelines.oncall.channels.slack import CHANNEL as SLACK
from prodlike.pipelines.oncall.channels.slack import SlackChannel
from prodlike.pipelines.oncall.channels.webhook import CHANNEL as WEBHOOK
from prodlike.pipelines.oncall.channels.webhook import WebhookChannel

CHANNELS: dict[str, Channel] = {c.kind: c for c in (SLACK, PAGERDUTY, WEBHOOK)}


class Alerts(Strict):
    """Where alerts go; a local JSON-lines alert log under the state folder is always written."""

    slack: list[SlackChannel] = Field(default_factory=list, description="Slack incoming webhooks.")
    pagerduty: list[PagerDutyChannel] = Field(default_factory=list, description="PagerDuty services.")
    webhook: list[WebhookChannel] = Field(default_factory=list, description="Generic JSON webhooks.")
    timeout: Duration = Field(timedelta(seconds=10), description="Timeout of one delivery attempt.")
    retries: int = Field(3, ge=0, le=10, description="Retries of a failed delivery (with backoff).")
    backoff: Duration = Field(timedelta(seconds=1), description="First retry delay; doubles each retry.")

    def configured(self) -> list[tuple[Channel, Strict]]:
        """(channel, its config) of every configured channel, in registry order."""
        return [(channel, entry) for kind, channel in CHANNELS.items() for entry in getattr(self, kind)]

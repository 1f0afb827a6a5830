"""Slack: an incoming webhook whose URL is a secret; the alert's text as the message."""

from __future__ import annotations

import json

from pydantic import Field

from prodlike.pipelines.config.fields import ALERT_EVENTS, EnvRef, Events, Strict
from prodlike.pipelines.oncall.channels.base import Alert, Channel


class SlackChannel(Strict):
    """A Slack incoming webhook."""

    url: EnvRef = Field(description="Incoming-webhook URL as a `${ENV_VAR}` reference (the URL is a secret).")
    events: Events = Field(list(ALERT_EVENTS), description="Events sent to this channel (default: all).")


def request(alert: Alert, _channel: SlackChannel) -> tuple[bytes, dict]:
    return json.dumps({"text": alert.text()}).encode(), {}


CHANNEL = Channel("slack", SlackChannel, request)

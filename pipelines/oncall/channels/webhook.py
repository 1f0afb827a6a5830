"""A generic JSON webhook (schema prodlike.alert/1), signed with HMAC-SHA256 when a secret is configured."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from pydantic import Field

from prodlike.pipelines.config.fields import ALERT_EVENTS, EnvRef, Events, Strict
from prodlike.pipelines.config.secrets import resolve_value
from prodlike.pipelines.oncall.channels.base import Alert, Channel


class WebhookChannel(Strict):
    """A generic JSON webhook, signed with HMAC-SHA256 (see README: Alerts)."""

    url: str = Field(description="Endpoint URL, literal or a `${ENV_VAR}` reference.")
    secret: EnvRef | None = Field(None, description="HMAC-SHA256 signing secret as a `${ENV_VAR}` reference; "
                                                     "sets `X-Prodlike-Signature`.")
    events: Events = Field(list(ALERT_EVENTS), description="Events sent to this channel (default: all).")


def request(alert: Alert, channel: WebhookChannel) -> tuple[bytes, dict]:
    body = json.dumps(alert.payload(), default=str).encode()
    headers = {"X-Prodlike-Event": alert.event}
    if channel.secret:
        timestamp = str(int(time.time()))
        key = resolve_value(channel.secret, "alerts.webhook.secret").encode()
        digest = hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        headers |= {"X-Prodlike-Timestamp": timestamp, "X-Prodlike-Signature": f"sha256={digest}"}
    return body, headers


CHANNEL = Channel("webhook", WebhookChannel, request)

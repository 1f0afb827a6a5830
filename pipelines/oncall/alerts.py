"""Alert delivery: one Alert to every configured channel that wants its event (pipelines/oncall/channels/) and to
the local alert log; a failing channel is retried with backoff, logged, and never breaks the run or other
channels."""

from __future__ import annotations

import logging
import time
import urllib.error
from pathlib import Path
from urllib.parse import urlsplit

from prodlike.pipelines.config.model import Config
from prodlike.pipelines.config.secrets import resolve_value
from prodlike.pipelines.errors import safe_message
from prodlike.pipelines.oncall.channels import local_log
from prodlike.pipelines.oncall.channels.base import Alert, Channel, post

__all__ = ["Alert", "send"]
log = logging.getLogger("prodlike.alerts")


def send(cfg: Config, alert: Alert, log_path: Path, deduplicated: bool = False) -> list[dict]:
    """Deliver to every channel that wants the event (unless deduplicated) and append to the alert log."""
    deliveries = []
    if not deduplicated:
        for channel, entry in cfg.alerts.configured():
            if channel.wants(entry, alert.event):
                deliveries.append(_deliver(cfg, channel, entry, alert))
    local_log.append(log_path, alert, deduplicated, deliveries)
    log.log(logging.WARNING if alert.severity in ("critical", "error") else logging.INFO, "alert %s%s: %s",
            alert.event, " (deduplicated, not sent)" if deduplicated else "", alert.summary)
    return deliveries


def _deliver(cfg: Config, channel: Channel, entry, alert: Alert) -> dict:
    """One channel, with retries and backoff; the outcome (never raises)."""
    attempts, delay, error = 0, cfg.alerts.backoff.total_seconds(), ""
    url = "?"
    while attempts <= cfg.alerts.retries:
        attempts += 1
        try:
            url = resolve_value(getattr(entry, channel.url_key), f"alerts.{channel.kind}.{channel.url_key}")
            body, headers = channel.request(alert, entry)
            status = post(url, body, headers, cfg.alerts.timeout.total_seconds())
            return {"channel": channel.kind, "ok": True, "status": status, "attempts": attempts}
        except urllib.error.HTTPError as err:
            error = f"HTTP {err.code}"
            if 400 <= err.code < 500 and err.code != 429:
                break  # the request itself is wrong: retrying will not help
        except Exception as err:  # a channel must never break the run
            error = f"{type(err).__name__}: {safe_message(err)}"
        if attempts <= cfg.alerts.retries:
            time.sleep(delay)
            delay *= 2
    log.error("alert %s to %s failed after %d attempt(s): %s", alert.event, channel.kind, attempts, error)
    return {"channel": channel.kind, "ok": False, "error": error[:300], "attempts": attempts,
            "host": urlsplit(url).hostname or "?"}

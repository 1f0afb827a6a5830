"""The local alert log: every alert as one JSON line under the state folder, always written (sent or
deduplicated, with each channel's delivery outcome)."""

from __future__ import annotations

import json
from pathlib import Path

from prodlike.pipelines.oncall.channels.base import Alert


def append(log_path: Path, alert: Alert, deduplicated: bool, deliveries: list[dict]) -> None:
    entry = {**alert.payload(), "deduplicated": deduplicated, "deliveries": deliveries}
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("a") as f:
        f.write(json.dumps(entry, default=str) + "\n")

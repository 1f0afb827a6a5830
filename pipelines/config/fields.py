"""The building blocks of the config model, shared by the alert channels' own models: strict sections, durations,
sizes, `${ENV_VAR}` secret references and alert event names."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer
from pydantic_core import PydanticCustomError

from prodlike.pipelines.config import secrets

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|KB|MB|GB)?\s*$", re.IGNORECASE)
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_BYTES = {"b": 1, "kib": 1024, "mib": 1024**2, "gib": 1024**3, "kb": 1000, "mb": 1000**2, "gb": 1000**3}


def parse_duration(value: Any) -> timedelta:
    """'30m', '2h', '1d', '5s', '250ms' or a number of seconds, as a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return timedelta(seconds=value)
    m = _DURATION.match(str(value))
    if not m:
        raise ValueError(f"expected a duration such as 5s, 30m, 2h or 1d, got {value!r}")
    return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])


def parse_size(value: Any) -> int:
    """'16MiB', '512KiB' or a number of bytes, as an int."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    m = _SIZE.match(str(value))
    if not m:
        raise ValueError(f"expected a size such as 16MiB or 1048576, got {value!r}")
    return int(float(m.group(1)) * _BYTES[(m.group(2) or "b").lower()])


def format_duration(value: timedelta) -> str:
    """A timedelta as the config writes it: 90 -> '90s', 7200 -> '2h'."""
    seconds = value.total_seconds()
    for unit in ("d", "h", "m", "s"):
        if seconds >= _UNITS[unit] and seconds % _UNITS[unit] == 0:
            return f"{int(seconds // _UNITS[unit])}{unit}"
    return f"{int(seconds * 1000)}ms"


def human_age(seconds: float) -> str:
    """An age for people: 42s, 3.5m, 2.0h, 1.5d."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


Duration = Annotated[timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration, return_type=str)]
Size = Annotated[int, BeforeValidator(parse_size)]


INLINE_SECRET = "inline_secret"  # error type of a secret written inline: its value is never echoed


def _env_ref(value: Any) -> str:
    if not isinstance(value, str) or secrets.env_name(value) is None:
        raise PydanticCustomError(
            INLINE_SECRET, "secrets are read from the environment only: write a ${ENV_VAR} reference such as "
            "${PRODLIKE_SOURCE_DSN} and export the variable (the value given is not shown)")
    return value


EnvRef = Annotated[str, BeforeValidator(_env_ref)]


class Strict(BaseModel):
    """Base for config sections: unknown keys are errors (a typo must not be ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


ALERT_EVENTS = ("refresh.halted", "refresh.warned", "refresh.failed", "refresh.released", "refresh.resumed",
                "refresh.rolled_back", "freshness.warn", "freshness.breached", "freshness.recovered")
PAGING_EVENTS = ("refresh.halted", "refresh.failed", "freshness.breached")


def _events(events: list[str]) -> list[str]:
    for e in events:
        if e not in ALERT_EVENTS:
            raise ValueError(f"unknown event {e!r}; known events: {', '.join(ALERT_EVENTS)}")
    return events


Events = Annotated[list[str], BeforeValidator(_events)]

"""The typed result every check returns: what was compared, the numbers, the threshold and the verdict."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Verdict(StrEnum):
    PASS = "pass"
    WARN = "warn"
    ERROR = "error"
    SKIPPED = "skipped"  # could not be evaluated (never counted as a pass)


@dataclass
class Threshold:
    """A warn and an error level of one statistic (None: that level is off)."""

    warn: float | None = None
    error: float | None = None

    def judge(self, divergence: float) -> Verdict:
        if self.error is not None and divergence > self.error:
            return Verdict.ERROR
        if self.warn is not None and divergence > self.warn:
            return Verdict.WARN
        return Verdict.PASS


@dataclass
class CheckResult:
    """One check's outcome; production/staging hold statistics, never raw values of PII columns."""

    check: str
    table: str | None
    column: str | None
    statistic: str
    production: Any
    staging: Any
    divergence: float | None
    threshold: Threshold
    verdict: Verdict
    explanation: str
    details: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["verdict"] = self.verdict.value
        return d

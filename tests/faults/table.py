"""The fault table: every fault injected in a session and what the faulted run became, collected from every xdist
worker into one file; tests/conftest.py registers its hooks so the controller prints it."""

from __future__ import annotations

import json
import os
from pathlib import Path

TABLE = Path(os.environ.get("PRODLIKE_TEST_STATE", Path(__file__).resolve().parents[2] / ".prodlike" / "test")) \
    / "fault-table.jsonl"


def pytest_sessionstart(session):
    if not hasattr(session.config, "workerinput"):  # the controller (or a session without xdist)
        TABLE.unlink(missing_ok=True)


class Rows:
    def append(self, row: tuple[str, str, str]) -> None:
        TABLE.parent.mkdir(parents=True, exist_ok=True)
        with TABLE.open("a") as f:
            f.write(json.dumps(row) + "\n")


def pytest_terminal_summary(terminalreporter):
    if not TABLE.exists():
        return
    rows = [json.loads(line) for line in TABLE.read_text().splitlines()]
    terminalreporter.write_line(f"fault table: {len(rows)} faults injected, each followed by its invariant checks "
                                f"(a violation fails its test):")
    for fault, run, outcome in rows:
        terminalreporter.write_line(f"  {fault:<55} {run:<22} {outcome}")

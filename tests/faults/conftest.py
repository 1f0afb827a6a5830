"""The fault table: every fault injected in this session and what the killed or raced run became."""

from __future__ import annotations

import pytest

_ROWS: list[tuple[str, str, str]] = []


@pytest.fixture
def fault_table():
    return _ROWS


def pytest_terminal_summary(terminalreporter):
    if _ROWS:
        terminalreporter.write_line(f"fault table ({len(_ROWS)} faults, every invariant held):")
        for fault, run, outcome in _ROWS:
            terminalreporter.write_line(f"  {fault:<50} {run:<40} {outcome}")

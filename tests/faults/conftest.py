"""The fault suite's fixtures."""

from __future__ import annotations

import pytest

from tests.faults.table import Rows


@pytest.fixture
def fault_table():
    return Rows()

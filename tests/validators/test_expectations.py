"""Great Expectations' import in the background: preload() is idempotent and validate() finds GX imported."""

from __future__ import annotations

import sys

from prodlike.validators import expectations


def test_preload_imports_great_expectations_once():
    expectations.preload()
    first = expectations._preload
    expectations.preload()  # a second table's check: the same thread, no second import
    assert expectations._preload is first
    first.join()
    assert "great_expectations" in sys.modules

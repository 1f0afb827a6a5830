"""Two refreshes racing at every phase of the first (copy, index build, checks, swap, drop, conclusion): the second
is refused without touching staging, the schedule skips, and the first releases the complete copy."""

from __future__ import annotations

import pytest

from prodlike.pipelines.engine import control, faults
from prodlike.pipelines.engine.refresh import Refresh
from prodlike.pipelines.orchestration.automation import skip_reason
from tests.conftest import TEST_KEY, refresh
from tests.faults.harness import CHANGE, fingerprint, shop_config

PHASES = ["copy.batch", "copy.post_data", "checks", "release.swap", "release.drop", "conclusion"]


def _second(cfg, dbs, refused: list) -> None:
    """Start a second refresh now; record how it was refused (and that it wrote nothing)."""
    second = Refresh(cfg, dbs.source, dbs.target, "second", TEST_KEY)
    try:
        list(second.copy())
    except control.RefreshLockedError as err:
        refused.append(str(err))
    else:
        refused.append("NOT REFUSED")
    refused.append(skip_reason(dbs.target))


@pytest.mark.parametrize("phase", PHASES)
def test_a_second_refresh_is_refused_at_every_phase(dbs, monkeypatch, tmp_path, phase, fault_table):
    cfg = shop_config(dbs, monkeypatch, tmp_path, transform_processes=0)
    refresh(cfg, run_id="base")
    with dbs.src() as src:
        src.execute(CHANGE)
    refused: list = []
    first = Refresh(cfg, dbs.source, dbs.target, "first", TEST_KEY)
    try:
        if phase.startswith(("copy", "release")):
            faults.arm(phase, lambda: _second(cfg, dbs, refused))
        list(first.copy())
        if phase == "checks":
            _second(cfg, dbs, refused)
        first.release(hold=True)
        if phase == "conclusion":
            _second(cfg, dbs, refused)
    finally:
        faults.disarm()
        first.close()
    assert refused[0].startswith("refresh run first holds this staging database"), refused
    assert refused[1] == "another refresh is running against staging"
    with dbs.dst() as dst:
        assert control.get_run(dst, "second") is None  # refused before its first write
        assert control.live_release(dst)["run_id"] == "first" and not control.refresh_running(dst)
        released = fingerprint(dst)
    again = refresh(cfg, run_id="after")  # the next one, no longer racing, releases the same production again
    with dbs.dst() as dst:
        assert fingerprint(dst) == released and again.result.release_id > 0
    fault_table.append((f"second refresh during {phase}", "second", "refused"))

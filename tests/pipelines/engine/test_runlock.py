"""Issue 21 point 1: one refresh holds staging from its first write to its conclusion; a second refresh is refused
at any point of it (here: between the copy and the release, while the checks read the shadow copy), and the
schedule's skip check sees it."""

from __future__ import annotations

import pytest

from prodlike.pipelines.engine import control
from prodlike.pipelines.engine.refresh import Refresh
from prodlike.pipelines.orchestration.automation import skip_reason
from tests.conftest import TEST_KEY, keep_all, make_config


def test_a_second_refresh_between_copy_and_release_is_refused(dbs, monkeypatch):
    with dbs.src() as src:
        src.execute("CREATE TABLE t (id integer PRIMARY KEY, v text); "
                    "INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 500) g")
        cfg = make_config(dbs, monkeypatch, keep_all(src))
    first = Refresh(cfg, dbs.source, dbs.target, "first", TEST_KEY)
    try:
        list(first.copy())  # copied: the checks would run now
        assert skip_reason(dbs.target) == "another refresh is running against staging"
        second = Refresh(cfg, dbs.source, dbs.target, "second", TEST_KEY)
        with pytest.raises(control.RefreshLockedError, match="refresh run first holds this staging database"):
            list(second.copy())
        first.release()
    finally:
        first.close()
    with dbs.dst() as dst:
        assert control.live_release(dst)["run_id"] == "first" and control.get_run(dst, "second") is None
        assert not control.refresh_running(dst)
    assert skip_reason(dbs.target) is None

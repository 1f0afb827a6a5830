"""kill -9 of a refresh at points of its copy, index build, checks and release (several seeds): staging serves the
last release or the complete new one, byte for byte; no lock and no process is left; status and history tell the
truth; the next refresh releases."""

from __future__ import annotations

import random

import pytest

from prodlike.pipelines.engine import control
from tests.conftest import refresh
from tests.faults.harness import CHANGE, assert_settled, fingerprint, kill_survivors, run_child, shop_config

# (fault, seed): where the refresh process kills itself; the seed picks which pass of that point
KILLS = [
    ("progress", 1),  # a copied batch, early
    ("progress", 2),  # ... another batch
    ("progress", 3),  # ... another
    ("copy.post_data", 1),  # building keys and indexes of a table
    ("copy.post_data", 2),
    ("checks", 0),  # the copy done, its checks reading the shadow (the run holds staging)
    ("release.swap", 0),  # inside the swap transaction, before its commit
    ("release.drop", 0),  # the swap committed, the oldest release not dropped yet
]


def _env(fault: str, seed: int) -> dict[str, str]:
    nth = str(random.Random(seed).randint(1, 4))
    if fault == "progress":
        return {"FAULT_AT": f"progress:{nth}"}
    if fault == "checks":
        return {"FAULT_AT": "checks"}
    return {"PRODLIKE_FAULT": f"{fault}:{nth if fault == 'copy.post_data' else 1}"}


@pytest.mark.parametrize("fault,seed", KILLS, ids=[f"{f}-{s}" for f, s in KILLS])
def test_kill_9(dbs, monkeypatch, tmp_path, fault, seed, fault_table):
    cfg = shop_config(dbs, monkeypatch, tmp_path, transform_processes=0)  # the runs around the fault: in-process
    workers = 2 if fault in ("progress", "copy.post_data") else 0  # worker processes exist during the copy only
    faulted = cfg.model_copy(update={"copy_": cfg.copy_.model_copy(update={"transform_processes": workers})})
    refresh(cfg, run_id="first")
    if fault == "release.drop":
        refresh(cfg, run_id="second")  # a previous release exists: the faulted swap has an oldest one to drop
    with dbs.dst() as dst:
        before, before_release = fingerprint(dst), control.live_release(dst)["id"]
    with dbs.src() as src:
        src.execute(CHANGE)
    killed = run_child(faulted, f"killed-{fault}-{seed}", **_env(fault, seed))
    try:
        outcome = assert_settled(killed, cfg, dbs, tmp_path, before, before_release)
    finally:
        kill_survivors(killed.marker)
    after = refresh(cfg, run_id="after")  # the next refresh releases the complete new copy
    with dbs.dst() as dst:
        assert control.live_release(dst)["run_id"] == "after"
        assert dst.execute("SELECT count(*) FROM prodlike.pending_drops").fetchone()[0] == 0
        assert not control.refresh_running(dst)
        history = {r["run_id"]: r["status"] for r in control.runs(dst, 50)}
        new = fingerprint(dst)
    assert new != before and after.result.release_id > before_release
    assert history[killed.run_id] == outcome and history["after"] == "released"
    fault_table.append((f"kill -9 at {fault} (seed {seed})", killed.run_id, outcome))

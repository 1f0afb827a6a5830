"""The copy stream's profile of production: the same numbers whether batches are profiled in worker processes
(the default) or in the copy thread, and categories holding COPY escapes read as staging reads them."""

from __future__ import annotations

import pytest

from prodlike.pipelines.checks import runner as checks
from prodlike.pipelines.checks.distribution import distribution
from prodlike.validators.copytext import unescape_text as unescape_copy_text
from prodlike.validators.results import Verdict
from tests.conftest import make_config, refresh

SQL = r"""
CREATE TABLE events (
    id integer PRIMARY KEY, kind text NOT NULL, score float8, at date, email text
);
INSERT INTO events
SELECT g, (ARRAY[E'tab\there', E'back\\slash', E'new\nline', 'plain', E'cr\rreturn'])[1 + g % 5],
       CASE WHEN g % 11 = 0 THEN NULL ELSE (g % 997) / 7.0 END, date '2024-01-01' + g % 400,
       'user' || g || '@example.org'
FROM generate_series(1, 60000) g;
"""  # no ANALYZE: production has no pg_stats, so the first batch's quantiles decide the bins
POLICY = {"public.events": {"columns": {"kind": "keep", "score": "keep", "at": "keep", "email": "email"}}}


def _profile(dbs, monkeypatch, processes: int):
    cfg = make_config(dbs, monkeypatch, POLICY, copy={"transform_processes": processes, "batch_bytes": 256 * 1024})
    tr = refresh(cfg, release=False).outcome.tables["public.events"]
    return cfg, tr, checks.table_profile(tr)


@pytest.mark.parametrize("processes", [0, 2], ids=["copy thread", "worker processes"])
def test_escaped_categories_and_edges_from_the_first_batch(dbs, monkeypatch, processes):
    with dbs.src() as src:
        src.execute(SQL)
    cfg, tr, prof = _profile(dbs, monkeypatch, processes)
    assert prof.failed is None and prof.rows == 60000
    assert prof.profiles["kind"].labels == {"tab\there": 12000, "back\\slash": 12000, "new\nline": 12000,
                                            "plain": 12000, "cr\rreturn": 12000}
    assert sum(prof.profiles["score"].counts) == 60000 - 60000 // 11
    results = {r.column: r for r in distribution(cfg, dbs.target, tr)}
    assert {c: r.verdict for c, r in results.items() if r.verdict != Verdict.PASS} == {}, \
        [r.explanation for r in results.values()]


def test_worker_processes_and_copy_thread_profile_alike(dbs, monkeypatch):
    with dbs.src() as src:
        src.execute(SQL)
        src.execute("ALTER TABLE events SET (autovacuum_enabled = off)")  # the same bin edges for both copies
        src.execute("ANALYZE events")
    _, _, here = _profile(dbs, monkeypatch, 0)
    _, _, pooled = _profile(dbs, monkeypatch, 2)
    assert pooled.rows == here.rows == 60000
    for name, prof in here.profiles.items():
        other = pooled.profiles[name]
        assert (other.rows, other.nulls, other.counts, other.labels, other.lengths, other.formats) == \
            (prof.rows, prof.nulls, prof.counts, prof.labels, prof.lengths, prof.formats), name
        assert other.minimum == prof.minimum and other.maximum == prof.maximum
        assert other.total == pytest.approx(prof.total)


@pytest.mark.parametrize("text,value", [("a\\tb", "a\tb"), ("x\\\\y", "x\\y"), ("\\n\\r", "\n\r"), ("plain", "plain"),
                                        ("\\x41\\101", "AA")])
def test_unescape_copy_text(text, value):
    assert unescape_copy_text(text) == value



def test_the_copy_loop_keeps_no_object_per_row(dbs, monkeypatch):
    """An object kept alive per row makes Python's cyclic GC run every 700 rows, and a full pass walks the whole heap
    (a Dagster process holds hundreds of thousands of objects; it cost a third of a copy's time): 60,000 more rows
    must cost next to no more GC passes in the process that relays the rows."""
    import gc

    passes = []

    def count(phase, info):
        if phase == "start":
            passes.append(info["generation"])

    def copy(rows: int) -> int:
        with dbs.src() as src:
            src.execute("DROP TABLE IF EXISTS events")
            src.execute(SQL.replace("60000", str(rows)))
        gc.collect()
        passes.clear()
        gc.callbacks.append(count)
        try:
            _, tr, _ = _profile(dbs, monkeypatch, 2)
        finally:
            gc.callbacks.remove(count)
        assert tr.rows == rows
        return len(passes)

    small, large = copy(30000), copy(90000)
    assert large - small < 60000 / 700 / 4, (small, large)


def test_a_partitioned_tables_profile_is_merged_once_when_two_checks_ask_at_once():
    """The leak check (side thread) and the distribution check ask for the table's merged profile at the same
    time: each partition's profile is added exactly once."""
    import threading
    import time
    import types

    class Part:
        def __init__(self):
            self.rows = 100

        def merge(self, other):
            time.sleep(0.001)  # a real merge walks every column's counts, labels and formats
            self.rows += other.rows

    tr = types.SimpleNamespace(leaves=[types.SimpleNamespace(profile=Part()) for _ in range(20)])
    askers = [threading.Thread(target=checks.table_profile, args=(tr,)) for _ in range(2)]
    for t in askers:
        t.start()
    for t in askers:
        t.join()
    assert tr.profile.rows == 20 * 100

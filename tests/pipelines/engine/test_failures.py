"""Failures mid-copy: a dropped production connection, concurrent production writes, retries."""

from __future__ import annotations

import threading
import uuid

import psycopg
import pytest

from prodlike.pipelines.engine.refresh import Refresh
from tests.conftest import TEST_KEY, make_config, refresh

SCHEMA_SQL = """
CREATE TABLE parents (id bigserial PRIMARY KEY, note text);
CREATE TABLE children (id bigserial PRIMARY KEY, parent_id bigint NOT NULL REFERENCES parents (id), note text);
INSERT INTO parents (note) SELECT 'p' || g FROM generate_series(1, 60000) g;
INSERT INTO children (parent_id, note) SELECT g, 'c' || g FROM generate_series(1, 60000) g;
"""
POLICY = {"public.parents": {"columns": {"note": "hash"}}, "public.children": {"columns": {"note": "hash"}}}


def _killer(source_dsn: str, table: str):
    """A progress callback that terminates the production COPY of `table` the first time it reports."""
    fired = []

    def progress(unit: str, rows: int, nbytes: int) -> None:
        if unit == table and not fired:
            fired.append(unit)
            with psycopg.connect(source_dsn, autocommit=True) as conn:
                conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = "
                             "'prodlike' AND query ILIKE %s", (f"COPY%{table.split('.')[1]}%",))
    return progress, fired


def _live_checksum(conn) -> tuple:
    return conn.execute("SELECT md5(string_agg(c::text, ',' ORDER BY id)) FROM public.children c").fetchone()


@pytest.fixture
def family(dbs, monkeypatch):
    with dbs.src() as src:
        src.execute(SCHEMA_SQL)
    return make_config(dbs, monkeypatch, POLICY, copy={"batch_bytes": "64KiB", "retries": 0, "workers": 2})


def test_dropped_connection_leaves_live_exactly_as_before(dbs, family):
    refresh(family)
    with dbs.dst() as dst:
        before = _live_checksum(dst)
        releases = dst.execute("SELECT count(*) FROM prodlike.releases").fetchone()
    with dbs.src() as src:
        src.execute("INSERT INTO parents (note) VALUES ('late'); INSERT INTO children (parent_id, note) "
                    "VALUES (currval('parents_id_seq'), 'late')")
    progress, fired = _killer(dbs.source, "public.children")
    r = Refresh(family, dbs.source, dbs.target, uuid.uuid4().hex, TEST_KEY, progress=progress)
    with pytest.raises(psycopg.OperationalError):
        list(r.copy())
    assert fired
    with dbs.dst() as dst:
        assert _live_checksum(dst) == before
        assert dst.execute("SELECT count(*) FROM prodlike.releases").fetchone() == releases
        assert dst.execute("SELECT status FROM prodlike.runs WHERE run_id = %s", (r.run_id,)).fetchone()[0] == "failed"
    refresh(family)  # the next run cleans the stale shadow and succeeds
    with dbs.dst() as dst:
        assert dst.execute("SELECT count(*) FROM children").fetchone()[0] == 60001


def test_transient_error_retries_within_the_snapshot(dbs, family):
    cfg = family.model_copy(update={"copy_": family.copy_.model_copy(update={"retries": 2, "workers": 1})})
    progress, fired = _killer(dbs.source, "public.children")
    r = Refresh(cfg, dbs.source, dbs.target, uuid.uuid4().hex, TEST_KEY, progress=progress)
    results = {t.table: t for t in r.copy()}
    r.release()
    assert fired
    assert results["public.children"].leaves[0].attempts == 2
    with dbs.dst() as dst:
        assert dst.execute("SELECT count(*) FROM children").fetchone()[0] == 60000


def test_concurrent_production_writes_do_not_break_the_snapshot(dbs, family):
    """A writer inserts parent+child pairs in one transaction while the tables copy one after another:
    staging holds exactly the pairs committed before the snapshot, and every FK joins."""
    stop = threading.Event()
    written = []

    def writer():
        with psycopg.connect(dbs.source, autocommit=True) as conn:
            while not stop.is_set():
                with conn.transaction():
                    pid = conn.execute("INSERT INTO parents (note) VALUES ('w') RETURNING id").fetchone()[0]
                    conn.execute("INSERT INTO children (parent_id, note) VALUES (%s, 'w')", (pid,))
                written.append(pid)

    cfg = family.model_copy(update={"copy_": family.copy_.model_copy(update={"workers": 1})})
    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 20:
            threading.Event().wait(0.05)
        r = refresh(cfg)
    finally:
        stop.set()
        thread.join()
    with dbs.dst() as dst:
        parents = dst.execute("SELECT count(*) FROM parents").fetchone()[0]
        children = dst.execute("SELECT count(*) FROM children").fetchone()[0]
        orphans = dst.execute("SELECT count(*) FROM children c LEFT JOIN parents p ON p.id = c.parent_id "
                              "WHERE p.id IS NULL").fetchone()[0]
    assert parents == children == r.outcome.tables["public.parents"].rows
    assert orphans == 0
    assert parents < 60000 + len(written)

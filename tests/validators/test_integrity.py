"""Referential integrity of the copy: an orphaned FK row and a sequence left behind are errors."""

from __future__ import annotations

from prodlike.validators.integrity import integrity
from prodlike.validators.results import Verdict
from tests.conftest import keep_all, make_config, refresh

SQL = """
CREATE TABLE parents (id serial PRIMARY KEY);
CREATE TABLE kids (id serial PRIMARY KEY, parent_id integer, other integer);
INSERT INTO parents SELECT FROM generate_series(1, 10);
INSERT INTO kids (parent_id, other) SELECT 1 + g % 10, g FROM generate_series(1, 30) g;
ALTER TABLE kids ADD CONSTRAINT kids_parent_fk FOREIGN KEY (parent_id) REFERENCES parents (id);
"""


def test_a_clean_copy_passes_and_orphans_and_lagging_sequences_fail(dbs, monkeypatch):
    with dbs.src() as src:
        src.execute(SQL)
        tables = keep_all(src)
    refresh(make_config(dbs, monkeypatch, tables))
    with dbs.dst() as dst:
        clean = integrity(dst, "public", "public")
        assert all(r.verdict == Verdict.PASS for rs in clean.values() for r in rs)
        assert {r.statistic for r in clean["public.kids"]} == {"orphans:kids_parent_fk", "sequence:public.kids_id_seq"}
        dst.execute("ALTER TABLE kids DROP CONSTRAINT kids_parent_fk")
        dst.execute("INSERT INTO kids (parent_id) VALUES (99), (98)")  # orphans
        dst.execute("SELECT setval('parents_id_seq', 3)")  # sequence behind max(id) = 10
        dst.execute("ALTER TABLE kids ADD CONSTRAINT kids_parent_fk FOREIGN KEY (parent_id) REFERENCES parents (id) "
                    "NOT VALID")
        broken = integrity(dst, "public", "public")
    [orphans] = [r for r in broken["public.kids"] if r.statistic.startswith("orphans")]
    assert (orphans.verdict, orphans.staging) == (Verdict.ERROR, 2)
    assert orphans.explanation == "2 row(s) of kids reference no parents row through kids_parent_fk"
    [seq] = broken["public.parents"]
    assert seq.verdict == Verdict.ERROR and (seq.production, seq.staging) == (10, 4)

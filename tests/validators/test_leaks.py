"""Leak check (b): a production identifier anywhere in the staging column is caught by the anti-join of keyed
hashes from the copy stream, and injective identifier transforms keep every distinct value distinct."""

from __future__ import annotations

import psycopg
import pytest

from prodlike.pipelines import checks
from prodlike.validators import leaks
from prodlike.validators.results import Verdict
from tests.conftest import make_config, refresh

SQL = """
CREATE TABLE customers (id integer PRIMARY KEY, email text, phone text, note text);
INSERT INTO customers
SELECT g, CASE WHEN g % 9 = 0 THEN NULL ELSE 'person' || g || '@mail.example.net' END,
       '+49 30 ' || lpad((g * 7919 % 10000000)::text, 7, '0'), 'n' || g
FROM generate_series(1, 30000) g;
CREATE TABLE payments (id integer, customer_email text, paid date NOT NULL) PARTITION BY RANGE (paid);
CREATE TABLE payments_2024 PARTITION OF payments FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE payments_2025 PARTITION OF payments FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
INSERT INTO payments SELECT g, 'payer' || (g % 5000) || '@mail.example.net', date '2024-06-01' + g % 400
FROM generate_series(1, 20000) g;
"""
POLICY = {"public.customers": {"columns": {"email": "email", "phone": "phone", "note": "keep"}},
          "public.payments": {"columns": {"id": "keep", "customer_email": "email", "paid": "keep"}}}
SHADOW = '"_prodlike_shadow_public"'

CASES = [
    # an honest copy: no production e-mail anywhere in staging, as many distinct values as production
    ("clean", None, {}),
    # one row carries another row's production e-mail: a leak (b), though no row keeps its own value (a)
    ("leaked email", f"UPDATE {SHADOW}.customers SET email = 'person17@mail.example.net' WHERE id = 3",
     {("email", "overlap"): Verdict.ERROR}),
    # two outputs made equal: the injective transform lost a distinct value
    ("collapsed", f"UPDATE {SHADOW}.customers SET email = (SELECT email FROM {SHADOW}.customers WHERE id = 1) "
                  "WHERE id = 2", {("email", "distinct_ratio"): Verdict.ERROR}),
    # a leaked e-mail in one partition of a partitioned table (the row's own value occurs on other rows, so the
    # leaked one is also one distinct value more)
    ("leaked in a partition", f"UPDATE {SHADOW}.payments_2025 SET customer_email = 'payer42@mail.example.net' "
                              "WHERE id = (SELECT min(id) FROM {SHADOW}.payments_2025)".replace("{SHADOW}", SHADOW),
     {("customer_email", "overlap"): Verdict.ERROR, ("customer_email", "distinct_ratio"): Verdict.ERROR}),
]


@pytest.mark.parametrize("processes", [0, 2], ids=["copy thread", "worker processes"])
@pytest.mark.parametrize("name,staging_sql,expected", CASES, ids=[c[0] for c in CASES])
def test_leak_cases(dbs, monkeypatch, name, staging_sql, expected, processes):
    with dbs.src() as src:
        src.execute(SQL)
    cfg = make_config(dbs, monkeypatch, POLICY, copy={"transform_processes": processes, "batch_bytes": 128 * 1024})
    outcome = refresh(cfg, release=False).outcome
    if staging_sql:
        with dbs.dst() as dst:
            dst.execute(staging_sql)
    found = [r for t in ("public.customers", "public.payments") for r in checks.leak(outcome.tables[t], dbs.target)]
    overlaps = {(r.column, r.statistic): r for r in found if r.statistic in ("overlap", "distinct_ratio")}
    assert set(overlaps) == {("email", "overlap"), ("email", "distinct_ratio"), ("phone", "overlap"),
                             ("phone", "distinct_ratio"), ("customer_email", "overlap"),
                             ("customer_email", "distinct_ratio")}
    got = {k: r.verdict for k, r in overlaps.items() if r.verdict != Verdict.PASS}
    assert got == expected, [r.explanation for r in overlaps.values()]
    assert overlaps[("email", "distinct_ratio")].production == pytest.approx(1.0)
    assert "@" not in " ".join(r.explanation for r in found)  # numbers only, never a value
    with dbs.dst() as dst:  # the check deletes production's hashes once it has used them
        assert dst.execute("SELECT count(*) FROM prodlike.leak_hashes").fetchone()[0] == 0


def test_both_servers_hash_alike_and_a_new_key_changes_every_hash(dbs):
    values = ["a@b.c", "ünï", "", "tab\there", "+49 30 1234567"]
    key = leaks.hash_key()

    def hashes(dsn: str, k: str) -> list[int]:
        with psycopg.connect(dsn) as conn:
            return [conn.execute(f"SELECT {leaks.staging_hash_sql('%(v)s::text')}", {"key": k, "v": v}).fetchone()[0]
                    for v in values]

    production, staging = hashes(dbs.source, key), hashes(dbs.target, key)
    assert production == staging and len(set(production)) == len(values)
    assert not set(hashes(dbs.target, leaks.hash_key())) & set(staging)


def test_a_failed_copy_leaves_no_hashes(dbs, monkeypatch):
    with dbs.src() as src:
        src.execute(SQL)
    cfg = make_config(dbs, monkeypatch, POLICY)
    refresh(cfg, release=False)
    with dbs.dst() as dst:  # hashes of an earlier run whose check never ran are gone at the next start
        assert dst.execute("SELECT count(*) FROM prodlike.leak_hashes").fetchone()[0] > 0
    refresh(cfg, release=False)
    with dbs.dst() as dst:
        slots = dst.execute("SELECT count(DISTINCT slot) FROM prodlike.leak_hashes").fetchone()[0]
    assert slots == 2 + 2  # customers (email, phone) and both payments partitions, of the last run only


class Recording:
    """A connection that remembers every SELECT (with its parameters) it runs."""

    def __init__(self, conn):
        self.conn, self.selects = conn, []

    def transaction(self):
        return self.conn.transaction()

    def execute(self, sql, params=None):
        if sql.startswith("SELECT"):
            self.selects.append((sql, params))
        return self.conn.execute(sql, params)


def test_the_scan_never_plans_a_subplan_over_production_hashes(dbs, monkeypatch):
    """With statistics on leak_hashes a planner turns `h IN (SELECT ...)` inside an aggregate into a plain
    subplan once the hashes outgrow work_mem: one scan of production's hashes per staged row (a 1M-row check
    ran over an hour). Every query of the scan must plan as joins and aggregates."""
    with dbs.src() as src:
        src.execute(SQL)
    cfg = make_config(dbs, monkeypatch, POLICY)
    tr = refresh(cfg, release=False).outcome.tables["public.customers"]
    hashes = tr.leaves[0].hashes
    with psycopg.connect(dbs.target, autocommit=True) as conn:
        conn.execute("ANALYZE prodlike.leak_hashes")
        conn.execute("SET work_mem = '64kB'")  # statistics now say the hashes do not fit in memory
        plans = []
        recording = Recording(conn)
        columns = {c: (slot, f'"{c}"::text') for c, slot in hashes["slots"].items()}
        found = leaks.anti_join(recording, f'{SHADOW}."customers"', columns, hashes["key"])
        for sql, params in recording.selects:
            plans.append("\n".join(r[0] for r in conn.execute(f"EXPLAIN (VERBOSE) {sql}", params).fetchall()))
    assert found["email"]["overlap"] == 0 and found["email"]["distinct"] == found["email"]["production_distinct"]
    assert not [p for p in plans if "SubPlan" in p], plans
    assert len(plans) == 3 * len(columns)  # overlap, staged distinct, production distinct
    # the keyed hash is computed once per staged row, not once per place the query names it
    assert [p.count("md5(") for p in plans] == [1, 1, 0] * len(columns), plans


def test_a_failed_copy_discards_its_hashes_at_once(dbs, monkeypatch):
    """LeakSink.close(ok=False), as a failed copy calls it: the hashes streamed so far never reach the table;
    close(ok=True) commits them with what the check needs."""
    import numpy as np

    from prodlike.pipelines.copy_engine import LeakSink

    with dbs.src() as src:
        src.execute(SQL)
    refresh(make_config(dbs, monkeypatch, POLICY), release=False)  # creates the control schema
    with dbs.dst() as dst:
        dst.execute("TRUNCATE prodlike.leak_hashes")

    def stored() -> int:
        with dbs.dst() as dst:
            return dst.execute("SELECT count(*) FROM prodlike.leak_hashes").fetchone()[0]

    failed = LeakSink(dbs.target, ["email"])
    failed.add({"email": (np.arange(1000, dtype=np.int64), 1000)})
    assert failed.close(ok=False) is None and stored() == 0
    kept = LeakSink(dbs.target, ["email"])
    kept.add({"email": (np.arange(1000, dtype=np.int64), 1200)})
    got = kept.close(ok=True)
    assert stored() == 1000 and got["present"] == {"email": 1200} and got["slots"]["email"] != failed.slots["email"]

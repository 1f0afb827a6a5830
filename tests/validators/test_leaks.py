"""Leak check (b): a production identifier anywhere in the staging column is caught by the anti-join of keyed
hashes from the copy stream, and injective identifier transforms keep every distinct value distinct."""

from __future__ import annotations

import json

import numpy as np
import psycopg
import pytest
from psycopg import sql

from prodlike.pipelines.checks.leak import leak
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
    found = [r for t in ("public.customers", "public.payments") for r in leak(outcome.tables[t], dbs.target)]
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


@pytest.mark.parametrize("fast", [True, False], ids=["hashtextextended", "md5"])
def test_both_servers_hash_alike_and_a_new_key_changes_every_hash(dbs, fast):
    values = ["a@b.c", "ünï", "", "tab\there", "+49 30 1234567"]
    key = leaks.HashKey(leaks.hash_key().key, leaks.hash_key().seed, fast)

    def hashes(dsn: str, k: leaks.HashKey) -> list[int]:
        with psycopg.connect(dsn) as conn:
            return [conn.execute(f"SELECT {k.sql('%(v)s::text')}", {**k.params(), "v": v}).fetchone()[0]
                    for v in values]

    production, staging = hashes(dbs.source, key), hashes(dbs.target, key)
    assert production == staging and len(set(production)) == len(values)
    with psycopg.connect(dbs.source) as conn:  # the literal form (production's COPY query) hashes alike
        literals = [sql.Literal(v).as_string(conn) for v in values]
        assert [conn.execute(f"SELECT {key.sql(v, literal=True)}").fetchone()[0] for v in literals] == production
    other = leaks.hash_key()
    assert not set(hashes(dbs.target, leaks.HashKey(other.key, other.seed, fast))) & set(staging)


def test_the_fast_hash_is_used_only_where_both_servers_hash_a_probe_alike(dbs):
    """Same encoding: hashtextextended. A staging database in another encoding hashes the probe's é from other
    bytes, so the copy falls back to md5 over UTF-8, which both servers compute alike."""
    with psycopg.connect(dbs.source) as prod, psycopg.connect(dbs.target) as stage:
        assert leaks.hash_key(prod, stage).fast
    with psycopg.connect(dbs.target, autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS latin1_staging")
        admin.execute("CREATE DATABASE latin1_staging ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' "
                      "TEMPLATE template0")
    latin1 = psycopg.conninfo.make_conninfo(dbs.target, dbname="latin1_staging")
    with psycopg.connect(dbs.source) as prod, psycopg.connect(latin1) as stage:
        key = leaks.hash_key(prod, stage)
        assert not key.fast
        query, params = f"SELECT {key.sql('%(v)s::text')}", {**key.params(), "v": "ünï"}
        assert prod.execute(query, params).fetchone() == stage.execute(query, params).fetchone()


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


def test_a_failed_check_still_deletes_the_hashes(dbs, monkeypatch):
    """A scan that fails (here: its staged table is gone) raises its own error, and production's hashes of every
    column of the check are deleted all the same."""
    with dbs.src() as src:
        src.execute(SQL)
    hashes = refresh(make_config(dbs, monkeypatch, POLICY), release=False).outcome.tables["public.customers"] \
        .leaves[0].hashes
    scans = [leaks.Scan(f'{SHADOW}."customers"', "email", hashes["slots"]["email"], '"email"::text', hashes["key"]),
             leaks.Scan(f'{SHADOW}."no_such_table"', "phone", hashes["slots"]["phone"], '"phone"::text',
                        hashes["key"])]
    with pytest.raises(psycopg.errors.UndefinedTable):
        leaks.anti_join(lambda: psycopg.connect(dbs.target, autocommit=True), scans)
    with dbs.dst() as dst:
        left = dst.execute("SELECT count(*) FROM prodlike.leak_hashes WHERE slot = ANY(%s)",
                           (list(hashes["slots"].values()),)).fetchone()[0]
    assert left == 0


class Recording:
    """Connections to one database that remember every SELECT (with its parameters) they run, in one list."""

    def __init__(self, dsn: str):
        self.dsn, self.selects = dsn, []

    def __call__(self):
        return Recorded(psycopg.connect(self.dsn, autocommit=True), self.selects)


class Recorded:
    def __init__(self, conn, selects: list):
        self.conn, self.selects = conn, selects

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.conn.close()

    def close(self):
        self.conn.close()

    def execute(self, sql, params=None, **kwargs):
        if sql.startswith("SELECT"):
            self.selects.append((sql, params))
        return self.conn.execute(sql, params, **kwargs)


def test_a_column_checked_in_parts_gives_the_numbers_of_one_piece(dbs, monkeypatch):
    """A column of more than PART_VALUES hashes is checked by hash residue, one staging scan per part, so memory
    stays bounded: the same overlap, distinct and present counts as in one piece, planted production values still
    found. Every scan computes the keyed hash once per row, not once per place the query names it."""
    with dbs.src() as src:
        src.execute(SQL)
        planted = [r[0] for r in src.execute("SELECT email FROM customers WHERE email IS NOT NULL ORDER BY id "
                                             "LIMIT 3").fetchall()]
    cfg = make_config(dbs, monkeypatch, POLICY)
    hashes = refresh(cfg, release=False).outcome.tables["public.customers"].leaves[0].hashes
    relation = f'{SHADOW}."customers"'
    scans = [leaks.Scan(relation, c, slot, f'"{c}"::text', hashes["key"]) for c, slot in hashes["slots"].items()]
    with psycopg.connect(dbs.target, autocommit=True) as conn:
        conn.execute(f"UPDATE {relation} SET email = (%s::text[])[id - 99] WHERE id BETWEEN 100 AND 102", (planted,))
        mine = "FROM prodlike.leak_hashes WHERE slot = ANY(%s)"
        slots = (list(hashes["slots"].values()),)
        stored = conn.execute(f"SELECT slot, hashes {mine}", slots, binary=True).fetchall()
        recording = Recording(dbs.target)
        whole = dict(zip(hashes["slots"], leaks.anti_join(recording, scans)))
        assert conn.execute(f"SELECT count(*) {mine}", slots).fetchone()[0] == 0
        conn.cursor().executemany("INSERT INTO prodlike.leak_hashes VALUES (%s, %s)", stored)
        monkeypatch.setattr(leaks, "PART_VALUES", 7000)
        parts = dict(zip(hashes["slots"], leaks.anti_join(recording, scans)))
        scans = [(sql, params) for sql, params in recording.selects if "string_agg" in sql]
        planned = [conn.execute(f"EXPLAIN (VERBOSE, FORMAT JSON) {sql}", params).fetchone()[0][0]["Plan"]
                   for sql, params in scans]
    assert parts == whole
    assert whole["email"] == {"overlap": 3, "distinct": 26667, "present": 26667, "production_distinct": 26667}
    assert whole["phone"]["present"] == whole["phone"]["production_distinct"] == 30000
    assert len(scans) == 2 + 4 + 5  # one per column, then ceil(26,667 / 7,000) of email, ceil(30,000 / 7,000) of phone
    # one node evaluates the hash: the scan (nodes above print references to its output), or the aggregate when the
    # query names it once (a parallel plan's Finalize Aggregate prints the expression but only combines)
    computed = [sum(json.dumps([n.get("Output"), n.get("Filter")]).count("hashtextextended(") for n in nodes(plan)
                    if n.get("Partial Mode") != "Finalize") for plan in planned]
    assert hashes["key"].fast and computed == [1] * len(scans), planned


def nodes(plan: dict):
    """Every node of a JSON plan."""
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


def test_a_failed_copy_discards_its_hashes_at_once(dbs, monkeypatch):
    """LeakSink.close(ok=False), as a failed copy calls it: the hashes streamed so far never reach the table;
    close(ok=True) commits them with what the check needs."""
    import numpy as np

    from prodlike.pipelines.engine.copy_engine import LeakSink

    with dbs.src() as src:
        src.execute(SQL)
    refresh(make_config(dbs, monkeypatch, POLICY), release=False)  # creates the control schema
    with dbs.dst() as dst:
        dst.execute("TRUNCATE prodlike.leak_hashes")

    def stored() -> int:
        with dbs.dst() as dst:
            return dst.execute("SELECT coalesce(sum(length(hashes)) / 8, 0) FROM prodlike.leak_hashes").fetchone()[0]

    with dbs.src() as src:
        failed = LeakSink(dbs.target, ["email"], src)
        failed.add({"email": (np.arange(1000, dtype=np.int64), 1000)})
        assert failed.close(ok=False) is None and stored() == 0
        kept = LeakSink(dbs.target, ["email"], src)
    kept.add({"email": (np.arange(1000, dtype=np.int64), 1200)})
    got = kept.close(ok=True)
    assert stored() == 1000 and got["present"] == {"email": 1200} and got["slots"]["email"] != failed.slots["email"]


@pytest.mark.parametrize("sizes", [(0, 0), (1, 0), (1, 1), (1000, 3), (5000, 5000)])
def test_common_count_matches_a_set_intersection(sizes):
    rng = np.random.default_rng(7)
    a, b = (np.unique(rng.integers(-500, 500, n) * 10**15) for n in sizes)
    assert leaks.common_count(a, b) == len(set(a.tolist()) & set(b.tolist()))

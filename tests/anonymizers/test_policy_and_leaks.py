"""Policy integrity against real PostgreSQL: FK columns inherit their key's transform across three levels,
conflicts and type limits are refused, and the demo leaks nothing (compared production vs staging)."""

from __future__ import annotations

import re

import pytest

from prodlike.anonymizers import registry
from prodlike.pipelines.engine.preflight import PreflightError
from prodlike.pipelines.engine.refresh import Refresh
from tests.conftest import TEST_KEY, make_config, refresh

CHAIN_SQL = """
CREATE TABLE accounts (handle text PRIMARY KEY, email text UNIQUE NOT NULL);
CREATE TABLE projects (owner text NOT NULL REFERENCES accounts (handle), slug text NOT NULL,
                       PRIMARY KEY (owner, slug));
CREATE TABLE tasks (id serial PRIMARY KEY, owner text NOT NULL, slug text NOT NULL, title text,
                    FOREIGN KEY (owner, slug) REFERENCES projects (owner, slug));
INSERT INTO accounts SELECT 'user_' || g, 'user' || g || '@corp.example' FROM generate_series(1, 300) g;
INSERT INTO projects SELECT 'user_' || (1 + g % 300), 'proj-' || g FROM generate_series(1, 900) g;
INSERT INTO tasks (owner, slug, title) SELECT owner, slug, 'task ' || g FROM projects, generate_series(1, 3) g;
"""
CHAIN_POLICY = {
    "public.accounts": {"columns": {"handle": "tokenize", "email": "email"}},
    "public.projects": {"columns": {"slug": "keep"}},
    "public.tasks": {"columns": {"title": "keep"}},
}


def test_fk_columns_inherit_the_key_transform_across_three_levels(dbs, monkeypatch):
    with dbs.src() as src:
        src.execute(CHAIN_SQL)
        prod_handles = {r[0] for r in src.execute("SELECT handle FROM accounts")}
    refresh(make_config(dbs, monkeypatch, CHAIN_POLICY))
    with dbs.dst() as dst:
        handles = {r[0] for r in dst.execute("SELECT handle FROM accounts")}
        joined = dst.execute("SELECT count(*) FROM tasks t JOIN projects p USING (owner, slug) "
                             "JOIN accounts a ON a.handle = p.owner").fetchone()[0]
        assert joined == dst.execute("SELECT count(*) FROM tasks").fetchone()[0] == 2700
    assert handles.isdisjoint(prod_handles) and len(handles) == 300
    tok = registry.get("tokenize")(None, TEST_KEY)
    assert {tok.one(h) for h in prod_handles} == handles


def test_a_different_transform_on_an_fk_column_names_both_columns(dbs, monkeypatch):
    with dbs.src() as src:
        src.execute(CHAIN_SQL)
    policy = dict(CHAIN_POLICY, **{"public.projects": {"columns": {"slug": "keep", "owner": "hash"}}})
    cfg = make_config(dbs, monkeypatch, policy)
    with pytest.raises(PreflightError, match=re.escape(
            "public.projects.owner references public.accounts.handle, which uses tokenize; public.projects.owner "
            "must use exactly the same transform")):
        Refresh(cfg, dbs.source, dbs.target, "x", TEST_KEY).preflight()


@pytest.mark.parametrize("ddl, rule, message", [
    ("CREATE TABLE t (id serial PRIMARY KEY, code varchar(8))", "email",
     "public.t.code is character varying(8): 'email' needs at least 28 characters (its shortest realistic value); "
     "widen the column to varchar(28) or more"),
    ("CREATE TABLE t (id serial PRIMARY KEY, n integer)", "email",
     "public.t.n (integer): transformer 'email' does not accept this type"),
    ("CREATE TABLE t (id serial PRIMARY KEY, n text NOT NULL)", "null",
     "public.t.n is NOT NULL: transformer 'null' cannot be used"),
    ("CREATE TABLE t (id serial PRIMARY KEY, n text CHECK (n <> ''))", "first_name",
     "public.t.n has a CHECK constraint that 'first_name' could violate"),
], ids=["varchar-too-short", "wrong-type", "null-on-not-null", "check-constraint"])
def test_policy_respects_the_target_column(dbs, monkeypatch, ddl, rule, message):
    with dbs.src() as src:
        src.execute(ddl)
    column = "code" if "code" in ddl else "n"
    cfg = make_config(dbs, monkeypatch, {"public.t": {"columns": {"id": "keep", column: rule}}})
    with pytest.raises(PreflightError, match=re.escape(message)):
        Refresh(cfg, dbs.source, dbs.target, "x", TEST_KEY).preflight()


IDENTIFIER_COLUMNS = [("customers", "email"), ("customers", "phone"), ("customers", "signup_ip")]
ANONYMIZED = [("customers", "email", "email"), ("customers", "first_name", "first_name"),
              ("customers", "last_name", "last_name"), ("customers", "phone", "phone"),
              ("customers", "birth_date", "birth_date"), ("customers", "signup_ip", "ip"),
              ("addresses", "street", "street"), ("addresses", "city", "city"), ("addresses", "postcode", "postcode"),
              ("payments", "card_last4", "mask"), ("support_tickets", "body", "regex_redact")]


@pytest.fixture(scope="module")
def released_demo(request, servers, demo_template):
    """One released demo refresh shared by the leak tests of this module."""
    from prodlike.anonymizers.keys import DEMO_KEY
    from prodlike.pipelines.config.model import load
    from prodlike.pipelines.definitions import DEMO_CONFIG
    from tests.conftest import _drop, _pair

    pair = _pair(request, servers, template=demo_template)
    mp = pytest.MonkeyPatch()
    mp.setenv("PRODLIKE_DEMO_SOURCE_DSN", pair.source)
    mp.setenv("PRODLIKE_DEMO_TARGET_DSN", pair.target)
    try:
        refresh(load(DEMO_CONFIG), key=DEMO_KEY)
        yield pair
    finally:
        mp.undo()
        _drop(pair.prod, pair.source_db)
        _drop(pair.stage, pair.target_db)


def _column(conn, table, column, key="id"):
    return dict(conn.execute(f"SELECT {key}::text, {column}::text FROM {table} WHERE {column} IS NOT NULL"))


@pytest.mark.parametrize("table, column, transformer", ANONYMIZED, ids=[f"{t}.{c}" for t, c, _ in ANONYMIZED])
def test_no_row_keeps_its_own_value_beyond_chance(released_demo, table, column, transformer):
    key = "id" if table != "payments" else "id::text || paid_at::text"
    with released_demo.src() as src, released_demo.dst() as dst:
        prod, stage = _column(src, table, column, key), _column(dst, table, column, key)
    assert prod.keys() == stage.keys()
    same = sum(1 for k, v in prod.items() if stage[k] == v)
    rate = 0.0 if transformer == "mask" else registry.get(transformer).chance_rate  # mask keeps nothing here
    allowed = rate * len(prod) * 3 + 3  # chance rate with slack for small n
    assert same <= allowed, f"{same}/{len(prod)} rows kept their production value"


@pytest.mark.parametrize("table, column", IDENTIFIER_COLUMNS, ids=[f"{t}.{c}" for t, c in IDENTIFIER_COLUMNS])
def test_no_identifier_production_value_appears_anywhere_in_staging(released_demo, table, column):
    with released_demo.src() as src, released_demo.dst() as dst:
        prod = {r[0] for r in src.execute(f"SELECT DISTINCT {column}::text FROM {table} WHERE {column} IS NOT NULL")}
        stage = {r[0] for r in dst.execute(f"SELECT DISTINCT {column}::text FROM {table} WHERE {column} IS NOT NULL")}
        text = dst.execute("SELECT string_agg(coalesce(body, '') || subject, ' ') FROM support_tickets").fetchone()[0]
        prefs = dst.execute("SELECT string_agg(preferences::text, ' ') FROM customers").fetchone()[0]
    assert prod & stage == set()
    if column in ("email", "signup_ip"):
        sample = sorted(prod)[:300]
        leaked = [v for v in sample if v in text or v in prefs]
        assert leaked == []


def test_demo_stays_joinable_and_unique(released_demo):
    with released_demo.dst() as dst:
        for child, parent, col in [("orders", "customers", "customer_id"), ("addresses", "customers", "customer_id"),
                                   ("support_tickets", "customers", "customer_id"),
                                   ("payments", "orders", "order_id")]:
            orphans = dst.execute(f"SELECT count(*) FROM {child} c LEFT JOIN {parent} p ON p.id = c.{col} "
                                  f"WHERE p.id IS NULL").fetchone()[0]
            assert orphans == 0, child
        assert dst.execute("SELECT count(*) = count(DISTINCT email) FROM customers").fetchone()[0]

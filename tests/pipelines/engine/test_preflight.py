"""Preflight: each refusal stops the refresh before any data moves, with the documented message."""

from __future__ import annotations

import re
import uuid

import psycopg
import pytest

from prodlike.pipelines.engine.preflight import PreflightError
from prodlike.pipelines.engine.refresh import Refresh
from tests.conftest import TEST_KEY, make_config

BASE = """
CREATE TABLE customers (id serial PRIMARY KEY, email text UNIQUE, note text);
CREATE TABLE orders (id serial PRIMARY KEY, customer_id integer REFERENCES customers (id), total numeric);
INSERT INTO customers (email, note) VALUES ('a@b.c', 'hi');
"""
POLICY = {"public.customers": {"columns": {"email": "email", "note": "regex_redact"}}, "public.orders": "keep"}

CASES = [
    # (setup SQL, config overrides, expected message fragment)
    ("CREATE TABLE audit_log (id serial PRIMARY KEY, what text)", {},
     "production table public.audit_log is not in the config: classify it under anonymization.tables"),
    ("DROP TABLE orders", {},
     "anonymization.tables.public.orders: no such table in production; remove it from the config"),
    ("", {"exclude": ["public.customers"]},
     "foreign key orders_customer_id_fkey: public.orders (customer_id) references public.customers, which is "
     "excluded: copy public.customers too, or exclude public.orders as well"),
    ("CREATE TABLE docs (id serial PRIMARY KEY, blob oid); ", {"extra_tables": {"public.docs": "keep"}},
     "public.docs.blob is a large object reference (oid); large objects are not copied"),
    ("ALTER TABLE customers ADD COLUMN phone text", {},
     "public.customers: unclassified column(s) phone (suggested: phone)"),
    ("", {"policy": {"public.customers": {"columns": {"email": "first_name", "note": "keep"}},
                     "public.orders": "keep"}},
     "public.customers.email is unique (primary key or unique constraint) but 'first_name' is not injective"),
    ("", {"policy": {"public.customers": {"columns": {"email": "emial", "note": "keep"}}, "public.orders": "keep"}},
     "unknown transformer 'emial'; did you mean 'email'?"),
    ("", {"policy": {"public.customers": {"columns": {"email": {"transformer": "hash", "length": 4},
                                                      "note": "keep"}}, "public.orders": "keep"}},
     "transformer 'hash': length: Input should be greater than or equal to 16"),
]


def _preflight(dbs, cfg, key=TEST_KEY):
    return Refresh(cfg, dbs.source, dbs.target, uuid.uuid4().hex, key).preflight()


@pytest.mark.parametrize("setup, overrides, message", CASES,
                         ids=["table-missing-from-config", "config-table-gone", "fk-into-excluded",
                              "large-object", "unclassified-column", "unique-not-injective", "unknown-transformer",
                              "bad-parameter"])
def test_preflight_refusals(dbs, monkeypatch, setup, overrides, message):
    with dbs.src() as src:
        src.execute(BASE)
        if setup:
            src.execute(setup)
    policy = dict(overrides.pop("policy", POLICY))
    policy.update(overrides.pop("extra_tables", {}))
    cfg = make_config(dbs, monkeypatch, policy, **overrides)
    with pytest.raises(PreflightError, match=re.escape(message)):
        _preflight(dbs, cfg)
    with dbs.dst() as dst:  # nothing moved: no shadow, no control rows
        assert dst.execute("SELECT count(*) FROM pg_namespace WHERE nspname LIKE '%prodlike%'").fetchone()[0] == 0


def test_preflight_lists_every_problem_at_once(dbs, monkeypatch):
    with dbs.src() as src:
        src.execute(BASE + "CREATE TABLE extra (id serial PRIMARY KEY); ALTER TABLE orders ADD COLUMN memo text;")
    cfg = make_config(dbs, monkeypatch, {"public.customers": {"columns": {"email": "email"}}})
    with pytest.raises(PreflightError) as err:
        _preflight(dbs, cfg)
    assert len(err.value.problems) == 3
    assert "public.customers: unclassified column(s) note (suggested: regex_redact)" in str(err.value)


def test_missing_privileges_are_named(dbs, monkeypatch):
    with dbs.src() as src:
        src.execute(BASE)
        src.execute("DROP ROLE IF EXISTS pl_weak; CREATE ROLE pl_weak LOGIN PASSWORD 'weak-pass'")
        src.execute("GRANT USAGE ON SCHEMA public TO pl_weak; GRANT SELECT ON orders TO pl_weak")
    weak = dbs.source.replace("postgres:", "pl_weak:", 1).split("@", 1)
    weak = weak[0].rsplit(":", 1)[0] + ":weak-pass@" + weak[1]
    monkeypatch.setenv("PL_TEST_SOURCE", weak)
    cfg = make_config(dbs, monkeypatch, POLICY)
    monkeypatch.setenv("PL_TEST_SOURCE", weak)
    try:
        with pytest.raises(PreflightError, match="the production role cannot SELECT public.customers: "
                                                 "GRANT pg_read_all_data TO <role>"):
            Refresh(cfg, weak, dbs.target, "weak", TEST_KEY).preflight()
    finally:
        with dbs.src() as src:
            src.execute("DROP OWNED BY pl_weak; DROP ROLE pl_weak")


def test_production_session_is_read_only(dbs, monkeypatch):
    from prodlike.pipelines.postgres import connections

    with connections.production(dbs.source) as conn:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("CREATE TABLE should_fail (id int)")
        conn.rollback()
        assert conn.execute("SHOW row_security").fetchone()[0] == "off"
        assert conn.execute("SHOW application_name").fetchone()[0] == "prodlike"


def test_missing_key_refuses_when_something_is_anonymized(dbs, monkeypatch):
    with dbs.src() as src:
        src.execute(BASE)
    cfg = make_config(dbs, monkeypatch, POLICY)
    with pytest.raises(PreflightError, match="no anonymization key"):
        _preflight(dbs, cfg, key=None)
    with pytest.raises(PreflightError, match="the anonymization key has 5 bytes; at least 32 are required"):
        _preflight(dbs, cfg, key=b"short")

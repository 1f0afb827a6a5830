"""Infrastructure parity of table properties: inheritance, UNLOGGED, row-level security flags and policies;
excluded tables' indexes are not compared."""

from __future__ import annotations

import psycopg
import pytest

from prodlike.validators import infra
from prodlike.validators.results import Verdict

SCHEMA = """
CREATE TABLE animal (id integer, name text);
CREATE TABLE dog (good boolean) INHERITS (animal);
CREATE UNLOGGED TABLE scratch (k text PRIMARY KEY);
CREATE TABLE secrets (id integer, owner text);
ALTER TABLE secrets ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON secrets USING (owner = current_user);
CREATE TABLE audit (id integer);
CREATE INDEX audit_id ON audit (id);
"""

CHANGES = [
    # inheritance lost: the child became a plain table
    ("ALTER TABLE dog NO INHERIT animal", "table:dog",
     "'a plain logged table' on staging, 'inherits animal' on production"),
    # UNLOGGED became logged
    ("ALTER TABLE scratch SET LOGGED", "table:scratch", "'a plain logged table' on staging, 'unlogged' on production"),
    # row-level security switched off
    ("ALTER TABLE secrets DISABLE ROW LEVEL SECURITY", "table:secrets",
     "'a plain logged table' on staging, 'row level security' on production"),
    # a policy dropped
    ("DROP POLICY own ON secrets", "policy:secrets.own", "missing on staging"),
    # a policy changed
    ("ALTER POLICY own ON secrets USING (true)", "policy:secrets.own", "defined differently"),
]


def _facts(pair, compared=None):
    with psycopg.connect(pair.source) as prod, psycopg.connect(pair.target) as stage:
        return infra.facts(prod, "public", compared), infra.facts(stage, "public", compared)


@pytest.mark.parametrize("change,statistic,explained", CHANGES, ids=[c[1] + ":" + c[0][:12] for c in CHANGES])
def test_table_property_differences_are_named(dbs, change, statistic, explained):
    for conn in (dbs.src(), dbs.dst()):
        with conn:
            conn.execute(SCHEMA)
    assert infra.compare(*_facts(dbs)) == []
    with dbs.dst() as dst:
        dst.execute(change)
    [diff] = infra.compare(*_facts(dbs))
    assert diff.statistic == statistic and diff.verdict == Verdict.ERROR
    assert diff.explanation.endswith(explained), diff.explanation


def test_indexes_of_excluded_tables_are_not_compared(dbs):
    with dbs.src() as src:
        src.execute(SCHEMA)
    with dbs.dst() as dst:
        dst.execute(SCHEMA.replace("CREATE TABLE audit (id integer);\nCREATE INDEX audit_id ON audit (id);\n", ""))
    assert {d.statistic for d in infra.compare(*_facts(dbs))} == {"table:audit", "index:audit.audit_id"}
    assert infra.compare(*_facts(dbs, lambda table: table != "audit")) == []

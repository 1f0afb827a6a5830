"""Failure paths of schema replication: a dependency into an unrefreshed schema is refused by the preflight with
its fix (accepted where staging has the same object); a unique index (plain, expression or partial) holds its
columns to injective transforms before a row moves; a DDL failure names the object, shows no row values, and
leaves the live release as it was."""

from __future__ import annotations

import re
import uuid

import pytest

from prodlike.pipelines.engine.preflight import PreflightError
from prodlike.pipelines.engine.refresh import Refresh
from prodlike.pipelines.postgres.ddl import DDLError
from tests.conftest import TEST_KEY, keep_all, make_config, refresh

DOMAIN_OUTSIDE = """
CREATE SCHEMA shared;
CREATE DOMAIN shared."NameStyle" AS boolean DEFAULT false NOT NULL;
CREATE SCHEMA app;
CREATE TABLE app.person (id integer PRIMARY KEY, style shared."NameStyle");
INSERT INTO app.person VALUES (1, true), (2, false);
"""


def _preflight(dbs, cfg):
    return Refresh(cfg, dbs.source, dbs.target, uuid.uuid4().hex, TEST_KEY).preflight()


def test_dependency_on_an_unrefreshed_schema_is_refused_with_the_fix(dbs, monkeypatch):
    with dbs.src() as src:
        src.execute(DOMAIN_OUTSIDE)
    cfg = make_config(dbs, monkeypatch, {"app.person": "keep"}, schemas=["app"])
    with pytest.raises(PreflightError, match=re.escape(
            'table column app.person.style depends on type shared."NameStyle" of schema \'shared\', which is not '
            'refreshed: add shared to schemas: (prodlike then copies it too), or create shared."NameStyle" in '
            'staging with the same definition')):
        _preflight(dbs, cfg)
    with dbs.dst() as dst:  # the same domain in staging: accepted, and the copy uses it
        dst.execute('CREATE SCHEMA shared; CREATE DOMAIN shared."NameStyle" AS boolean DEFAULT false NOT NULL')
    refresh(cfg)
    with dbs.dst() as dst:
        assert dst.execute("SELECT count(*) FROM app.person WHERE style").fetchone()[0] == 1


def test_a_different_definition_in_staging_is_still_refused(dbs, monkeypatch):
    with dbs.src() as src:
        src.execute(DOMAIN_OUTSIDE)
    with dbs.dst() as dst:
        dst.execute('CREATE SCHEMA shared; CREATE DOMAIN shared."NameStyle" AS boolean')  # nullable, no default
    cfg = make_config(dbs, monkeypatch, {"app.person": "keep"}, schemas=["app"])
    with pytest.raises(PreflightError, match="depends on type shared"):
        _preflight(dbs, cfg)


def test_listing_the_schema_copies_the_dependency(dbs, monkeypatch):
    with dbs.src() as src:
        src.execute(DOMAIN_OUTSIDE)
    cfg = make_config(dbs, monkeypatch, {"app.person": "keep"}, schemas=["app", "shared"])
    refresh(cfg)
    with dbs.dst() as dst:
        assert dst.execute("SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                           "WHERE attrelid = 'app.person'::regclass AND attname = 'style'").fetchone()[0] == \
            'shared."NameStyle"'


def test_a_view_on_an_excluded_table_is_refused(dbs, monkeypatch):
    with dbs.src() as src:
        src.execute("CREATE TABLE secret (id integer); CREATE TABLE pub (id integer); "
                    "CREATE VIEW both_ids AS SELECT id FROM secret UNION SELECT id FROM pub")
    cfg = make_config(dbs, monkeypatch, {"public.pub": "keep"}, exclude=["public.secret"])
    with pytest.raises(PreflightError, match=re.escape(
            "view public.both_ids reads public.secret, which is excluded: staging cannot create the view without "
            "it; copy public.secret, or list it under schema_only: to create it empty")):
        _preflight(dbs, cfg)


UNIQUE_INDEXES = [
    # a plain unique index, not a constraint (dellstore2's customers.username)
    "CREATE UNIQUE INDEX customers_username ON customers (username)",
    # an expression index: the column inside the expression is held to injective transforms
    "CREATE UNIQUE INDEX customers_username ON customers (lower(username))",
    # a partial index: unique among the rows it covers, so the column still needs an injective transform
    "CREATE UNIQUE INDEX customers_username ON customers (username) WHERE id > 0",
]


@pytest.mark.parametrize("index", UNIQUE_INDEXES, ids=["plain", "expression", "partial"])
def test_a_unique_index_refuses_a_non_injective_transform_before_a_row_moves(dbs, monkeypatch, index):
    with dbs.src() as src:
        src.execute("CREATE TABLE customers (id integer PRIMARY KEY, username varchar(50))")
        src.execute(index)
        src.execute("INSERT INTO customers SELECT g, 'user' || g FROM generate_series(1, 20) g")
    cfg = make_config(dbs, monkeypatch, {"public.customers": {"columns": {"id": "keep", "username": "mask"}}})
    with pytest.raises(PreflightError, match=re.escape("public.customers.username is unique")):
        _preflight(dbs, cfg)
    with pytest.raises(PreflightError):
        refresh(cfg)
    with dbs.dst() as dst:
        assert dst.execute("SELECT to_regclass('_prodlike_shadow_public.customers')").fetchone()[0] is None
    cfg = make_config(dbs, monkeypatch, {"public.customers": {"columns": {"id": "keep", "username": "tokenize"}}})
    refresh(cfg)  # an injective transformer passes and the index builds


def test_a_ddl_failure_names_the_object_and_keeps_the_live_release(dbs, monkeypatch):
    role = f"reader_{uuid.uuid4().hex[:8]}"
    with dbs.src() as src:
        src.execute("CREATE TABLE accounts (id integer PRIMARY KEY, owner text UNIQUE)")
        src.execute("INSERT INTO accounts SELECT g, 'owner-' || g FROM generate_series(1, 10) g")
        tables = keep_all(src)
    cfg = make_config(dbs, monkeypatch, tables)
    first = refresh(cfg)
    try:
        with dbs.src() as src:  # roles belong to the server: this one exists in production only
            src.execute(f'CREATE ROLE "{role}"')
            src.execute(f'CREATE POLICY readers ON accounts TO "{role}" USING (true)')
            src.execute("INSERT INTO accounts VALUES (11, 'owner-11')")
        with pytest.raises(DDLError, match=re.escape(
                f'creating policy public.accounts readers in staging failed: UndefinedObject (SQLSTATE 42704): '
                f'role "{role}" does not exist')) as caught:
            refresh(cfg)
        assert "owner-" not in str(caught.value) and caught.value.__cause__ is None
        with dbs.dst() as dst:
            assert dst.execute("SELECT count(*) FROM public.accounts").fetchone()[0] == 10
            assert dst.execute("SELECT run_id FROM prodlike.releases").fetchall() == [(first.run_id,)]
            assert dst.execute("SELECT status FROM prodlike.runs ORDER BY started_at DESC LIMIT 1").fetchone()[0] \
                == "failed"
    finally:
        with dbs.src() as src:
            src.execute("DROP POLICY IF EXISTS readers ON accounts")
            src.execute(f'DROP ROLE IF EXISTS "{role}"')

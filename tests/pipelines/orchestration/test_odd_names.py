"""Any name PostgreSQL accepts works end to end: quotes, spaces, non-ASCII, upper case, `;`, dots, reserved words,
a table without columns, a literal that looks like a qualified name; asset keys derived reversibly."""

from __future__ import annotations

import dagster as dg
import pytest
import yaml

from prodlike.pipelines.definitions import build_definitions
from prodlike.pipelines.orchestration.assets import table_key, table_of
from prodlike.pipelines.orchestration.names import asset_name, name_of_asset
from tests.conftest import STATE, TEST_KEY

ODD_SQL = """
CREATE SCHEMA "Odd Schema";
CREATE TABLE public."we""ird name" (id integer PRIMARY KEY, "first name" text,
                                   note text CHECK (note <> 'public.secret'));
CREATE TABLE public."日本 表" (id integer PRIMARY KEY, "名前" text, amount numeric);
CREATE TABLE public."UPPER" (id serial PRIMARY KEY, v text DEFAULT 'public.secret');
CREATE TABLE public."a;b" (id integer REFERENCES public."UPPER" (id));
CREATE TABLE public."select" ("from" integer, "where" text);
CREATE TABLE public.nocols ();
CREATE TABLE "Odd Schema"."Mixed Case" (id integer PRIMARY KEY, "x;y" integer);
CREATE INDEX "idx; DROP TABLE x" ON public."we""ird name" ("first name");
CREATE VIEW public."v;1" AS SELECT 'public.x'::text AS literal, count(*) AS n FROM public."we""ird name";
INSERT INTO public."we""ird name" SELECT g, 'name ' || g, 'n' || g FROM generate_series(1, 40) g;
INSERT INTO public."日本 表" SELECT g, '名前' || g, g * 1.5 FROM generate_series(1, 25) g;
INSERT INTO public."UPPER" (v) SELECT 'v' || g FROM generate_series(1, 10) g;
INSERT INTO public."a;b" SELECT 1 + g % 10 FROM generate_series(1, 12) g;
INSERT INTO public."select" SELECT g, 'w' FROM generate_series(1, 5) g;
INSERT INTO public.nocols SELECT FROM generate_series(1, 3);
INSERT INTO "Odd Schema"."Mixed Case" SELECT g, g FROM generate_series(1, 7) g;
"""

TABLES = {
    'public.we"ird name': {"columns": {"id": "keep", "first name": "hash", "note": "keep"}},
    "public.日本 表": "keep",
    "public.UPPER": "keep",
    "public.a;b": "keep",
    "public.select": "keep",
    "public.nocols": "keep",
    "Odd Schema.Mixed Case": "keep",
}
COUNTS = {'public."we""ird name"': 40, 'public."日本 表"': 25, 'public."UPPER"': 10, 'public."a;b"': 12,
          'public."select"': 5, "public.nocols": 3, '"Odd Schema"."Mixed Case"': 7}


@pytest.mark.parametrize("name", ["orders", "order_items", "UPPER", 'we"ird name', "日本 表", "a;b", "select",
                                  "_lead", "trail_", "a__b", "a_5f_b", "Mixed.Case", "x y"])
def test_asset_names_are_valid_and_reversible(name):
    # a plain name stays as it is; any other is escaped, never colliding with a plain one
    part = asset_name(name)
    assert name_of_asset(part) == name
    assert part.replace("_", "").isascii() and all(c.isalnum() or c == "_" for c in part)
    assert (part == name) == (name in ("orders", "order_items", "UPPER", "select", "a_5f_b"))
    assert table_of(table_key(f"Odd Schema.{name}")) == f"Odd Schema.{name}"


def test_odd_names_refresh_and_release_through_dagster(dbs, tmp_path, monkeypatch):
    with dbs.src() as src:
        src.execute(ODD_SQL)
    monkeypatch.setenv("PL_TEST_SOURCE", dbs.source)
    monkeypatch.setenv("PL_TEST_TARGET", dbs.target)
    monkeypatch.setenv("PL_TEST_KEY", TEST_KEY.decode())
    path = tmp_path / "prodlike.yaml"
    path.write_text(yaml.safe_dump({
        "source": {"dsn": "${PL_TEST_SOURCE}"}, "target": {"dsn": "${PL_TEST_TARGET}"},
        "schemas": ["public", "Odd Schema"], "great_expectations": True, "state_dir": str(STATE / "state"),
        "anonymization": {"key": "${PL_TEST_KEY}", "tables": TABLES}}, allow_unicode=True))
    from prodlike.pipelines.config.model import load

    defs = build_definitions(load(path), path)
    result = defs.resolve_job_def("refresh").execute_in_process(instance=dg.DagsterInstance.ephemeral(),
                                                               raise_on_error=False)
    failed = [f"{e.asset_key.to_user_string()} {e.check_name}: {e.description}"
              for e in result.get_asset_check_evaluations() if not e.passed]
    assert result.success, failed
    with dbs.dst() as dst:
        for table, rows in COUNTS.items():
            assert dst.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == rows, table
        assert dst.execute('SELECT literal FROM public."v;1"').fetchone()[0] == "public.x"
        checks = dst.execute("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'c' "
                             "AND conrelid = 'public.\"we\"\"ird name\"'::regclass").fetchall()
        assert checks == [("CHECK ((note <> 'public.secret'::text))",)]
        assert dst.execute('SELECT count(DISTINCT "first name") FROM public."we""ird name" '
                           "WHERE \"first name\" LIKE 'name %%'").fetchone()[0] == 0  # hashed

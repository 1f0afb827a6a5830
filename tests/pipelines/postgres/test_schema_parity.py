"""Schema parity: pg_dump --schema-only of production's refreshed schemas equals staging's live schemas after a
refresh (torture schema of every object kind, and the demo shop)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import keep_all, make_config, refresh
from tests.pipelines.postgres.schema_dump import dump_diff, schema_lines

TORTURE = Path(__file__).with_name("torture.sql")
SCHEMAS = ["app", "public"]


def test_torture_schema_dumps_equal(dbs, monkeypatch):
    with dbs.src() as src:
        src.execute(TORTURE.read_text())
        tables = {**keep_all(src, "app"), **keep_all(src, "public")}
    cfg = make_config(dbs, monkeypatch, tables, schemas=SCHEMAS)
    for _ in range(3):  # the second and third releases replace live releases bound to their own objects, and
        refresh(cfg)    # drop the oldest one: nothing may cascade into the live schema
    prod = schema_lines(dbs.source, SCHEMAS)
    stage = schema_lines(dbs.target, SCHEMAS, {"prodlike_ext": "public"})
    assert dump_diff(prod, stage) == []
    with dbs.src() as src, dbs.dst() as dst:
        for table in ("app.dog", "app.animal", "app.events", "app.customer", "app.scratch"):
            count = f"SELECT count(*) FROM {table}"
            assert dst.execute(count).fetchone() == src.execute(count).fetchone(), table
        assert dst.execute("SELECT n FROM app.mood_counts ORDER BY mood").fetchall() == \
            src.execute("SELECT n FROM app.mood_counts ORDER BY mood").fetchall()
        # the literal that looks like a qualified name is data, not a name: never renamed
        assert dst.execute("SELECT DISTINCT tag FROM app.happy").fetchall() == [("public.x",)]
        defaults = dst.execute("SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef "
                               "WHERE adrelid = 'app.customer'::regclass").fetchall()
        assert ("'public.secret'::text",) in defaults


def test_demo_dumps_equal(demo_dbs, demo_config):
    refresh(demo_config)
    schemas = list(demo_config.schemas)
    assert dump_diff(schema_lines(demo_dbs.source, schemas),
                     schema_lines(demo_dbs.target, schemas, {"prodlike_ext": "public"})) == []

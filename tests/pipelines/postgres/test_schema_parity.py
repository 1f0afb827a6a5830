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


INDEX_ORDER = """
SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE i.indrelid = 'public.media_links'::regclass ORDER BY c.oid
"""


def test_indexes_built_in_production_order_so_cost_ties_pick_the_same_index(dbs, monkeypatch):
    """Two equally cheap indexes (listmonk's campaign_media): the planner keeps the one of higher OID, so staging
    must build a table's keys and indexes in production's OID order, not pg_dump's name order."""
    with dbs.src() as src:
        src.execute("CREATE TABLE public.media_links (campaign_id int NOT NULL, media_id int, name text, "
                    "CONSTRAINT z_media_links_pk PRIMARY KEY (campaign_id, name))")
        src.execute("CREATE INDEX z_media_links_id ON public.media_links (campaign_id, media_id)")
        src.execute("CREATE INDEX a_media_links_campaign ON public.media_links (campaign_id)")
        tables = keep_all(src, "public")
    cfg = make_config(dbs, monkeypatch, tables, schemas=["public"])
    refresh(cfg)
    explain = "EXPLAIN (COSTS OFF) SELECT * FROM public.media_links WHERE campaign_id = 1 LIMIT 20"
    with dbs.src() as src, dbs.dst() as dst:
        assert [r for (r,) in dst.execute(INDEX_ORDER)] == [r for (r,) in src.execute(INDEX_ORDER)] == \
            ["z_media_links_pk", "z_media_links_id", "a_media_links_campaign"]
        assert dst.execute(explain).fetchall() == src.execute(explain).fetchall()

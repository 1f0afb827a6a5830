"""Release: atomic swap, objects bound by OID follow the live schema, old releases drop without cascading
into the live one, grants and outside dependents survive, definitions equal production's."""

from __future__ import annotations

import pytest

from prodlike.pipelines.engine.release import ReleaseError, cross_dependencies
from tests.conftest import keep_all, make_config, refresh

SCHEMA_SQL = """
CREATE EXTENSION citext;
CREATE TABLE authors (id serial PRIMARY KEY, handle citext UNIQUE NOT NULL, touched timestamptz);
CREATE TABLE posts (id bigserial PRIMARY KEY, author_id integer NOT NULL REFERENCES authors (id),
                    title text NOT NULL CHECK (length(title) > 0), created timestamptz DEFAULT now());
CREATE INDEX posts_author_idx ON posts (author_id, created DESC);
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.touched := now(); RETURN NEW; END $$;
CREATE TRIGGER authors_touch BEFORE UPDATE ON authors FOR EACH ROW EXECUTE FUNCTION touch();
CREATE VIEW author_posts AS SELECT a.handle, count(p.id) AS posts FROM authors a
    LEFT JOIN posts p ON p.author_id = a.id GROUP BY a.handle;
INSERT INTO authors (handle) SELECT 'user' || g FROM generate_series(1, 50) g;
INSERT INTO posts (author_id, title) SELECT 1 + g % 50, 'post ' || g FROM generate_series(1, 500) g;
"""

DEFINITIONS = """
SELECT 'index', indexname, regexp_replace(indexdef, ' ON [^ ]+ ', ' ON ') FROM pg_indexes WHERE schemaname = %(s)s
UNION ALL
SELECT 'constraint', conname, pg_get_constraintdef(k.oid) FROM pg_constraint k
  JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = %(s)s AND k.contype IN ('p','u','f','c')
UNION ALL
SELECT 'trigger', tgname, regexp_replace(pg_get_triggerdef(t.oid), ' ON [^ ]+ ', ' ON ') FROM pg_trigger t
  JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = %(s)s AND NOT t.tgisinternal
UNION ALL
SELECT 'view', viewname, definition FROM pg_views WHERE schemaname = %(s)s
UNION ALL
SELECT 'column', table_name || '.' || column_name,
       concat_ws(' ', data_type, is_nullable, regexp_replace(column_default, '[a-z_]+\\.', '', 'g'))
  FROM information_schema.columns WHERE table_schema = %(s)s
ORDER BY 1, 2
"""


@pytest.fixture
def blog(dbs, monkeypatch):
    with dbs.src() as src:
        src.execute(SCHEMA_SQL)
        tables = keep_all(src)
    return make_config(dbs, monkeypatch, tables)


def test_definitions_equal_production(dbs, blog):
    refresh(blog)
    with dbs.src() as src, dbs.dst() as dst:
        src.execute("SET search_path = public")
        dst.execute("SET search_path = public, prodlike_ext")
        prod = src.execute(DEFINITIONS, {"s": "public"}).fetchall()
        stage = dst.execute(DEFINITIONS, {"s": "public"}).fetchall()
    assert stage == prod


def test_three_consecutive_releases_leave_no_cross_schema_dependency(dbs, blog):
    for n in range(3):
        with dbs.src() as src:
            src.execute("INSERT INTO posts (author_id, title) VALUES (1, %s)", (f"release {n}",))
        refresh(blog)
    with dbs.dst() as dst:
        assert cross_dependencies(dst, ["public"]) == []
        schemas = {r[0] for r in dst.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE '%prodlike%'")}
        assert schemas == {"prodlike", "prodlike_ext", "_prodlike_prev_public"}
        assert dst.execute("SELECT count(*) FROM prodlike.releases").fetchone()[0] == 3
        # OID-bound objects work in the live schema: serial default, trigger, view, extension type
        new_id = dst.execute("INSERT INTO posts (author_id, title) VALUES (2, 'live') RETURNING id").fetchone()[0]
        assert new_id == 504
        dst.execute("UPDATE authors SET handle = 'USER1' WHERE id = 1")
        assert dst.execute("SELECT touched IS NOT NULL FROM authors WHERE id = 1").fetchone()[0]
        assert dst.execute("SELECT posts FROM author_posts WHERE handle = 'user1'").fetchone()[0] == 13
        # dropping the previous release never reaches the live one
        dst.execute("DROP SCHEMA _prodlike_prev_public CASCADE")
        assert dst.execute("SELECT count(*) FROM posts").fetchone()[0] == 504
        assert dst.execute("SELECT count(*) FROM author_posts").fetchone()[0] == 50


def test_grants_and_outside_views_follow_the_release(dbs, blog):
    refresh(blog)
    with dbs.dst() as dst:
        dst.execute("DROP ROLE IF EXISTS app_reader")
        dst.execute("CREATE ROLE app_reader")
        dst.execute("GRANT USAGE ON SCHEMA public TO app_reader")
        dst.execute("GRANT SELECT ON public.posts TO app_reader")
        dst.execute("CREATE SCHEMA reporting")
        dst.execute("CREATE VIEW reporting.post_count AS SELECT count(*) AS n FROM public.posts")
    with dbs.src() as src:
        src.execute("INSERT INTO posts (author_id, title) VALUES (3, 'after')")
    refresh(blog)
    with dbs.dst() as dst:
        assert dst.execute("SELECT has_table_privilege('app_reader', 'public.posts', 'SELECT')").fetchone()[0]
        assert dst.execute("SELECT has_schema_privilege('app_reader', 'public', 'USAGE')").fetchone()[0]
        assert dst.execute("SELECT n FROM reporting.post_count").fetchone()[0] == 501
        dst.execute("DROP SCHEMA _prodlike_prev_public CASCADE")
        assert dst.execute("SELECT n FROM reporting.post_count").fetchone()[0] == 501
        dst.execute("DROP SCHEMA reporting CASCADE")
        dst.execute("DROP OWNED BY app_reader")
        dst.execute("DROP ROLE app_reader")


def test_keep_previous_false_keeps_no_previous_release(dbs, blog, monkeypatch):
    cfg = blog.model_copy(update={"keep_previous": False})
    refresh(cfg)
    refresh(cfg)
    with dbs.dst() as dst:
        names = {r[0] for r in dst.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE '\\_prodlike%'")}
        assert names == set()


def test_release_refuses_a_shadow_another_run_replaced(dbs, blog):
    first = refresh(blog, run_id="run-a", release=False)
    refresh(blog, run_id="run-b", release=False)
    with pytest.raises(ReleaseError, match="run-a has no completed copy|belongs to run 'run-b'"):
        first.release()
    with dbs.dst() as dst:
        assert dst.execute("SELECT count(*) FROM prodlike.releases").fetchone()[0] == 0

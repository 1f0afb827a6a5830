"""`prodlike init` on the demo production database writes a config that refreshes with no edits; its PII
suggestions are active and marked for review, free text is never kept, FK columns inherit their key's rule."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from prodlike.pipelines.config import model as config_mod
from tests.conftest import ROOT, TEST_KEY


def run_cli(*args: str, env: dict, cwd=ROOT, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "prodlike.pipelines.cli", *args], env={**os.environ, **env},
                          cwd=cwd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def init_env(demo_dbs, tmp_path):
    return {"MY_PROD_DSN": demo_dbs.source, "MY_STAGING_DSN": demo_dbs.target, "PRODLIKE_ANON_KEY": TEST_KEY.decode()}


def test_init_then_refresh_succeeds_with_no_edits(init_env, demo_dbs, tmp_path):
    path = tmp_path / "prodlike.yaml"
    out = run_cli("init", "--source-dsn-env", "MY_PROD_DSN", "--target-dsn-env", "MY_STAGING_DSN", "-o", str(path),
                  env=init_env)
    assert out.returncode == 0, out.stdout + out.stderr[-3000:]
    text = path.read_text()
    cfg = config_mod.load(path)
    assert cfg.source.dsn == "${MY_PROD_DSN}" and cfg.target.dsn == "${MY_STAGING_DSN}"
    customers = cfg.anonymization.tables["public.customers"].columns
    assert customers["email"].transformer == "email"
    assert customers["preferences"].transformer == "json"  # jsonb without a reviewed rule: redacted, not kept
    tickets = cfg.anonymization.tables["public.support_tickets"].columns
    assert tickets["body"].transformer == "regex_redact"  # free text about people: redacted, names included
    assert tickets["subject"].transformer == "keep"  # four categories, no PII evidence: kept for review
    assert "subject: keep" in text and "# review: text; categorical: 4 distinct values in" in text
    assert "email: email" in text and "# review:" in text
    assert cfg.workload == "workload.sql" and (tmp_path / "workload.sql").read_text().count(";") >= 3
    assert cfg.schedule is not None and cfg.schedule.enabled is False
    assert "freshness:" in text
    with demo_dbs.src() as src:  # the config holds no production value
        for (email,) in src.execute("SELECT email FROM customers LIMIT 50"):
            assert email not in text

    check = run_cli("config", "check", "-c", str(path), env=init_env)
    assert check.returncode == 0, check.stdout + check.stderr[-2000:]
    refresh = run_cli("refresh", "-c", str(path), env=init_env, cwd=tmp_path)
    assert refresh.returncode == 0, refresh.stdout[-3000:] + refresh.stderr[-3000:]
    assert "released" in refresh.stdout
    with demo_dbs.dst() as dst:  # a fresh copy is not "released with warnings" for artifacts of being fresh
        checks = dst.execute("SELECT checks FROM prodlike.runs ORDER BY started_at DESC LIMIT 1").fetchone()[0]
    warned = [f"{c['check']} {c.get('table')} {c.get('column')}: {c['explanation']}" for c in checks
              if c["verdict"] not in ("pass", "skipped")]  # skipped (no pg_stat_statements here) says why, never warns
    assert all(c["explanation"] for c in checks if c["verdict"] == "skipped")
    assert warned == [], "\n".join(warned)


def test_init_refuses_to_overwrite(init_env, tmp_path):
    path = tmp_path / "prodlike.yaml"
    path.write_text("# mine\n")
    out = run_cli("init", "--source-dsn-env", "MY_PROD_DSN", "-o", str(path), env=init_env)
    assert out.returncode == 1
    assert "prodlike.yaml exists; pass --force to overwrite it" in out.stdout
    assert path.read_text() == "# mine\n"


def test_init_names_a_missing_variable(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "NOT_SET_DSN"}
    out = subprocess.run([sys.executable, "-m", "prodlike.pipelines.cli", "init", "--source-dsn-env", "NOT_SET_DSN",
                          "-o", str(tmp_path / "p.yaml")], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert "environment variable NOT_SET_DSN is not set" in out.stdout


def test_a_new_column_in_a_reviewed_keep_table_refuses_the_refresh(dbs, monkeypatch, tmp_path):
    """Issue 21 point 4: `init` writes a table with no PII as keep with the columns it was reviewed with; a column
    added in production later (here: e-mails) refuses the refresh instead of being copied raw."""
    from prodlike.pipelines.engine.preflight import PreflightError
    from prodlike.pipelines.onboarding.init import init
    from tests.conftest import refresh

    with dbs.src() as src:
        src.execute("CREATE TABLE prices (id integer PRIMARY KEY, amount numeric(8,2) NOT NULL, valid_from date);"
                    "INSERT INTO prices SELECT g, g * 1.5, date '2024-01-01' + g FROM generate_series(1, 50) g;"
                    "ANALYZE prices")
    for name, value in (("MY_PROD_DSN", dbs.source), ("MY_STAGING_DSN", dbs.target),
                        ("PRODLIKE_ANON_KEY", TEST_KEY.decode())):
        monkeypatch.setenv(name, value)
    path, _, _ = init(tmp_path / "prodlike.yaml", "MY_PROD_DSN", "MY_STAGING_DSN", "PRODLIKE_ANON_KEY")
    cfg = config_mod.load(path)
    assert cfg.anonymization.tables["public.prices"].keep == ["id", "amount", "valid_from"]
    refresh(cfg)  # reviewed as is: released
    with dbs.src() as src:
        src.execute("ALTER TABLE prices ADD COLUMN contact text; UPDATE prices SET contact = 'a' || id || '@x.org'")
    with pytest.raises(PreflightError, match=r"public.prices: new column\(s\) contact since its table-level keep "
                                             r"was reviewed; if they hold no PII add them to "
                                             r"anonymization.tables.public.prices.keep"):
        refresh(cfg)
    with dbs.dst() as dst:
        assert [r[0] for r in dst.execute("SELECT column_name FROM information_schema.columns "
                                          "WHERE table_schema = 'public' AND table_name = 'prices'")] == \
            ["id", "amount", "valid_from"]
        assert dst.execute("SELECT status FROM prodlike.runs ORDER BY started_at DESC LIMIT 1").fetchone()[0] == \
            "halted"


def test_a_reviewed_keep_list_is_validated():
    with pytest.raises(ValueError, match=r"keep: \[\] reviews no column"):
        config_mod.TablePolicy.model_validate({"keep": []})
    with pytest.raises(ValueError, match="keep lists id more than once"):
        config_mod.TablePolicy.model_validate({"keep": ["id", "id"]})
    assert config_mod.TablePolicy.model_validate({"keep": True}).reviewed is None


SCHEMA_EDGES = """
CREATE SCHEMA coll;
CREATE COLLATION coll.bytes (provider = libc, locale = 'C');
CREATE SCHEMA app;
CREATE TABLE app.parent (id integer PRIMARY KEY, label text COLLATE coll.bytes);
CREATE TABLE app.users (id integer PRIMARY KEY, username varchar(40), email_sent boolean);
CREATE UNIQUE INDEX users_username ON app.users (username);
CREATE TABLE app.link (username varchar(40) REFERENCES app.users (username));
INSERT INTO app.parent VALUES (1, 'a'), (2, 'b');
INSERT INTO app.users SELECT g, 'user' || g, g % 2 = 0 FROM generate_series(1, 30) g;
INSERT INTO app.link VALUES ('user1'), ('user2');
"""


def test_init_lists_dependency_schemas_and_writes_a_config_refresh_accepts(dbs, tmp_path, monkeypatch):
    """A schema holding only a collation a column uses is listed; a table whose every column is a foreign key
    gets `columns: {}`; a column under a unique index gets an injective transformer; a rule named like a YAML
    keyword (`null`) is quoted."""
    from prodlike.pipelines.onboarding.init import init
    from tests.conftest import refresh

    with dbs.src() as src:
        src.execute(SCHEMA_EDGES)
    monkeypatch.setenv("PRODLIKE_SOURCE_DSN", dbs.source)
    monkeypatch.setenv("PRODLIKE_TARGET_DSN", dbs.target)
    monkeypatch.setenv("PRODLIKE_ANON_KEY", TEST_KEY.decode())
    path = tmp_path / "prodlike.yaml"
    init(path)
    text = path.read_text()
    cfg = config_mod.load(path)
    assert cfg.schemas == ["app", "coll"]
    assert "columns: {}" in text and cfg.anonymization.tables["app.link"].columns == {}
    username = cfg.anonymization.tables["app.users"].columns["username"]
    assert username.transformer in ("hash", "tokenize", "email")
    assert cfg.anonymization.tables["app.users"].columns["email_sent"].transformer == "null"
    r = refresh(cfg)
    assert r.result.schemas == ["app", "coll"]


def test_a_table_whose_only_column_inherits_from_its_key_is_written_as_an_empty_map():
    """synapse's partial_state_rooms (one FK column) was written as `columns:` with only a comment: null, refused."""
    import yaml

    from prodlike.pipelines.onboarding.init import ColumnLine, TableBlock, _tables_yaml

    block = TableBlock("public.partial_state_rooms", [
        ColumnLine("room_id", None, "text; foreign key: gets exactly the transform of public.rooms.room_id")])
    text = "tables:\n" + "\n".join(_tables_yaml([block]))
    assert yaml.safe_load(text)["tables"]["public.partial_state_rooms"] == {"columns": {}}
    assert "# room_id: text; foreign key" in text

"""Shared fixtures: real embedded PostgreSQL servers (session), a fresh database pair per test,
a seeded demo template cloned per test; never a mock of PostgreSQL."""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from prodlike.anonymizers.keys import DEMO_KEY
from prodlike.pipelines.config import model as config_mod
from prodlike.pipelines.demo import data as demo_data
from prodlike.pipelines.demo import embedded
from prodlike.pipelines.engine.refresh import Refresh
from tests.faults.table import pytest_sessionstart, pytest_terminal_summary  # noqa: F401 (the fault table's hooks)

ROOT = Path(__file__).resolve().parents[1]
# PRODLIKE_TEST_STATE lets two test sessions run side by side on their own servers; each pytest-xdist
# worker gets its own servers too.
STATE = Path(os.environ.get("PRODLIKE_TEST_STATE", ROOT / ".prodlike" / "test")) / os.environ.get(
    "PYTEST_XDIST_WORKER", "")
DEMO_ROWS = 20_000
DEMO_TEMPLATE = "demo_template"
TEST_KEY = b"test-anonymization-key-0123456789abcdef"


@dataclass
class Pair:
    """One production and one staging database on the session's servers."""

    source: str
    target: str
    prod: embedded.EmbeddedServer
    stage: embedded.EmbeddedServer
    source_db: str
    target_db: str

    def src(self) -> psycopg.Connection:
        return psycopg.connect(self.source, autocommit=True)

    def dst(self) -> psycopg.Connection:
        return psycopg.connect(self.target, autocommit=True)


# production loads pg_stat_statements (the query-time check reads it; a database without the extension is
# unaffected)
PRODUCTION_SETTINGS = {"shared_preload_libraries": "pg_stat_statements"}


@pytest.fixture(scope="session")
def servers():
    STATE.mkdir(parents=True, exist_ok=True)
    prod = embedded.start_with(embedded.server(STATE, "production"), PRODUCTION_SETTINGS)
    stage = embedded.server(STATE, "staging").start()
    yield prod, stage
    prod.stop()
    stage.stop()


def _db_name(request, suffix: str) -> str:
    digest = hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:10]
    return f"t_{digest}_{uuid.uuid4().hex[:6]}_{suffix}"


def _drop(server: embedded.EmbeddedServer, name: str) -> None:
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _pair(request, servers, template: str | None = None):
    prod, stage = servers
    src, dst = _db_name(request, "prod"), _db_name(request, "stage")
    with psycopg.connect(prod.dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{src}"' + (f' TEMPLATE "{template}"' if template else ""))
    with psycopg.connect(stage.dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{dst}"')
    return Pair(prod.dsn(src), stage.dsn(dst), prod, stage, src, dst)


@pytest.fixture
def dbs(request, servers):
    """A fresh, empty production database and a fresh staging database."""
    pair = _pair(request, servers)
    yield pair
    _drop(pair.prod, pair.source_db)
    _drop(pair.stage, pair.target_db)


@pytest.fixture(scope="session")
def demo_template(servers):
    prod, _ = servers
    embedded.create_database(prod.dsn(), DEMO_TEMPLATE)
    dsn = prod.dsn(DEMO_TEMPLATE)
    if demo_data.is_seeded(dsn) != DEMO_ROWS:
        demo_data.seed(dsn, DEMO_ROWS)
    return DEMO_TEMPLATE


@pytest.fixture
def demo_dbs(request, servers, demo_template):
    """A clone of the seeded demo shop as production, and a fresh staging database."""
    pair = _pair(request, servers, template=demo_template)
    yield pair
    _drop(pair.prod, pair.source_db)
    _drop(pair.stage, pair.target_db)


@pytest.fixture
def demo_env(demo_dbs, tmp_path):
    """The shipped demo config against demo_dbs as a file, with the shipped workload and state under tmp_path:
    (config path, environment with the DSNs and key, reports folder)."""
    import yaml

    demo = ROOT / "pipelines" / "demo" / "demo.yaml"
    cfg = yaml.safe_load(demo.read_text())
    cfg["state_dir"] = str(tmp_path / "state")
    cfg["workload"] = str(demo.with_name("workload.sql"))
    path = tmp_path / "prodlike.yaml"
    path.write_text(yaml.safe_dump(cfg))
    env = {"PRODLIKE_DEMO_SOURCE_DSN": demo_dbs.source, "PRODLIKE_DEMO_TARGET_DSN": demo_dbs.target,
           "PRODLIKE_DEMO_ANON_KEY": TEST_KEY.decode()}
    return path, env, tmp_path / "state" / "reports"


@pytest.fixture
def demo_config(demo_dbs, monkeypatch):
    """The shipped demo config pointed at demo_dbs."""
    monkeypatch.setenv("PRODLIKE_DEMO_SOURCE_DSN", demo_dbs.source)
    monkeypatch.setenv("PRODLIKE_DEMO_TARGET_DSN", demo_dbs.target)
    monkeypatch.setenv("PRODLIKE_DEMO_ANON_KEY", DEMO_KEY.decode())
    from prodlike.pipelines.definitions import DEMO_CONFIG

    return config_mod.load(DEMO_CONFIG)


def make_config(pair: Pair, monkeypatch, tables: dict | None = None, **extra) -> config_mod.Config:
    """A config for pair whose DSNs travel through environment variables, as in production."""
    monkeypatch.setenv("PL_TEST_SOURCE", pair.source)
    monkeypatch.setenv("PL_TEST_TARGET", pair.target)
    monkeypatch.setenv("PL_TEST_KEY", TEST_KEY.decode())
    data = {
        "source": {"dsn": "${PL_TEST_SOURCE}"},
        "target": {"dsn": "${PL_TEST_TARGET}"},
        "anonymization": {"key": "${PL_TEST_KEY}", "tables": tables or {}},
        "state_dir": str(STATE / "state"),
        **extra,
    }
    return config_mod.Config.model_validate(data)


def refresh(cfg: config_mod.Config, run_id: str | None = None, key: bytes | None = TEST_KEY, release: bool = True):
    """Copy (and release) without Dagster; returns the Refresh with its outcome."""
    r = Refresh(cfg, os.environ[cfg.source.dsn[2:-1]], os.environ[cfg.target.dsn[2:-1]],
                run_id or uuid.uuid4().hex, key)
    try:
        list(r.copy())
        if release:
            r.result = r.release()
    finally:
        r.close()  # the run concludes here (as the Dagster hooks conclude a run): staging is free again
    return r


def keep_all(conn: psycopg.Connection, schema: str = "public") -> dict:
    """`keep` for every table of schema (partitions excluded)."""
    rows = conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind IN ('r','p') AND NOT c.relispartition", (schema,)
    ).fetchall()
    return {f"{schema}.{r[0]}": "keep" for r in rows}

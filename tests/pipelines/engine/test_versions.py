"""Production on an older major version (the machine's own PostgreSQL 15) into staging on 18."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from prodlike.pipelines.demo import data as demo_data
from prodlike.pipelines.demo import embedded
from tests.conftest import STATE, Pair, make_config, refresh

PG15 = Path("/usr/lib/postgresql/15/bin")


@pytest.fixture(scope="module")
def pg15():
    if not (PG15 / "postgres").exists():
        pytest.skip("the machine's PostgreSQL 15 server binaries (/usr/lib/postgresql/15/bin) are not installed")
    server = embedded.server(STATE, "production15", binaries=PG15).start()
    yield server
    server.stop()


def test_production_15_into_staging_18(pg15, servers, monkeypatch, request):
    _, stage = servers
    with psycopg.connect(pg15.dsn(), autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS shop15 WITH (FORCE)")
        conn.execute("CREATE DATABASE shop15")
        assert conn.info.server_version // 10000 == 15
    embedded.create_database(stage.dsn(), "shop15_staging")
    with psycopg.connect(stage.dsn(), autocommit=True) as conn:
        conn.execute("DROP DATABASE shop15_staging WITH (FORCE)")
        conn.execute("CREATE DATABASE shop15_staging")
    sizes = demo_data.seed(pg15.dsn("shop15"), 10_000)
    pair = Pair(pg15.dsn("shop15"), stage.dsn("shop15_staging"), pg15, stage, "shop15", "shop15_staging")
    from prodlike.pipelines.config.model import load
    from prodlike.pipelines.definitions import DEMO_CONFIG

    demo = load(DEMO_CONFIG)
    tables = {q: p.model_dump() for q, p in demo.anonymization.tables.items()}
    cfg = make_config(pair, monkeypatch, tables)
    r = refresh(cfg)
    assert {q: t.rows for q, t in r.outcome.tables.items()} == {f"public.{t}": n for t, n in sizes.items()}
    with pair.dst() as dst:
        assert dst.execute("SELECT count(*) FROM public.payments").fetchone()[0] == sizes["payments"]
        assert dst.info.server_version // 10000 == 18

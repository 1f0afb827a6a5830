"""`prodlike demo`: embedded production and staging servers, a seeded shop, one refresh through Dagster."""

from __future__ import annotations

import os
import time
from pathlib import Path

import psycopg
from psycopg import sql
from rich.console import Console

from prodlike.anonymizers.keys import DEMO_KEY

from . import demo_data, embedded

PRODUCTION_DB, STAGING_DB = "shop", "shop_staging"
READER_ROLE = "prodlike_reader"
ENV_SOURCE, ENV_TARGET, ENV_KEY = "PRODLIKE_DEMO_SOURCE_DSN", "PRODLIKE_DEMO_TARGET_DSN", "PRODLIKE_DEMO_ANON_KEY"


def ensure_reader(server: embedded.EmbeddedServer, dbname: str) -> str:
    """A read-only login role in production with exactly the documented privileges; its DSN."""
    with psycopg.connect(server.dsn(dbname), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (READER_ROLE,)).fetchone():
            conn.execute(f"CREATE ROLE {READER_ROLE} LOGIN")
        conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(READER_ROLE),
                                                                 sql.Literal(server.password)))
        conn.execute(f"GRANT pg_read_all_data, pg_read_all_stats, pg_read_all_settings TO {READER_ROLE}")
    return server.dsn(dbname, user=READER_ROLE)


def start_servers(state_dir: Path) -> tuple[embedded.EmbeddedServer, embedded.EmbeddedServer]:
    prod = embedded.server(state_dir, "production").start()
    stage = embedded.server(state_dir, "staging").start()
    embedded.create_database(prod.dsn(), PRODUCTION_DB)
    embedded.create_database(stage.dsn(), STAGING_DB)
    return prod, stage


def prepare(state_dir: Path, rows: int, reseed: bool, console: Console) -> tuple[str, str]:
    """Servers up, production seeded (once), demo environment set; returns (source, target) DSNs."""
    t0 = time.perf_counter()
    prod, stage = start_servers(state_dir)
    console.print(f"embedded PostgreSQL servers ready in {time.perf_counter() - t0:.1f}s "
                  f"(production :{prod.port}, staging :{stage.port}, data under {state_dir}/servers)")
    seeded = demo_data.is_seeded(prod.dsn(PRODUCTION_DB))
    if reseed or seeded != rows:
        t0 = time.perf_counter()
        with console.status(f"seeding the demo production database ({rows:,} rows)..."):
            sizes = demo_data.seed(prod.dsn(PRODUCTION_DB), rows)
        console.print(f"seeded production: {sum(sizes.values()):,} rows in {len(sizes)} tables "
                      f"in {time.perf_counter() - t0:.1f}s")
    else:
        console.print(f"reusing the seeded demo production database ({rows:,} rows)")
    source = ensure_reader(prod, PRODUCTION_DB)
    target = stage.dsn(STAGING_DB)
    os.environ[ENV_SOURCE], os.environ[ENV_TARGET] = source, target
    os.environ[ENV_KEY] = DEMO_KEY.decode()
    return source, target


def run(rows: int, state_dir: Path, reseed: bool, console: Console) -> int:
    from .cli import _checks_table, _summary, run_refresh_job
    from .definitions import DEMO_CONFIG

    state_dir = state_dir.resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    _, target = prepare(state_dir, rows, reseed, console)
    console.print("[yellow]the demo uses its own built-in anonymization key (not secret); a real config "
                  "reads it from ${PRODLIKE_ANON_KEY}[/]")
    t0 = time.perf_counter()
    code, message, result = run_refresh_job(DEMO_CONFIG, state_dir)
    if code != 0:
        console.print(f"[red]refresh {'halted' if code == 2 else 'failed'}[/]: {message}")
        return code
    console.print(_checks_table(result))
    console.print(_summary(result, target))
    console.print(f"[green]released[/] in {time.perf_counter() - t0:.1f}s (Dagster run {result.run_id})")
    console.print("next: `make ui` opens the Dagster UI with this run's history; "
                  f"staging is at {redact_dsn(target)}")
    return 0


def redact_dsn(dsn: str) -> str:
    from .secrets import redact

    return redact(dsn)

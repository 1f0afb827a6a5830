"""`prodlike demo`: embedded production and staging servers, a seeded shop, one refresh through Dagster."""

from __future__ import annotations

import os
import time
from pathlib import Path

import psycopg
import yaml
from psycopg import sql
from rich.console import Console

from prodlike.anonymizers.keys import DEMO_KEY
from prodlike.pipelines.config.model import load
from prodlike.pipelines.config.secrets import write_env_file
from prodlike.pipelines.demo import DEMO_CONFIG, embedded, traffic
from prodlike.pipelines.demo import data as demo_data
from prodlike.pipelines.engine import control
from prodlike.pipelines.errors import redact
from prodlike.pipelines.oncall.loop import Context, status
from prodlike.pipelines.report import terminal
from prodlike.pipelines.report.page import reports_dir, safe_file_name

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
    prod = embedded.start_with(embedded.server(state_dir, "production"), traffic.PRELOAD)
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
    traffic.enable_statistics(prod.dsn(PRODUCTION_DB))
    t0 = time.perf_counter()
    ran = traffic.run(prod.dsn(PRODUCTION_DB))
    console.print(f"production served {ran} queries of the shop's application in {time.perf_counter() - t0:.1f}s "
                  f"(its pg_stat_statements: what the query_time check replays on the copy)")
    source = ensure_reader(prod, PRODUCTION_DB)
    target = stage.dsn(STAGING_DB)
    os.environ[ENV_SOURCE], os.environ[ENV_TARGET] = source, target
    os.environ[ENV_KEY] = DEMO_KEY.decode()
    return source, target


def run(rows: int, state_dir: Path, reseed: bool, console: Console, drift: bool = False) -> int:

    state_dir = state_dir.resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    source, target = prepare(state_dir, rows, reseed, console)
    console.print("[yellow]the demo uses its own built-in anonymization key (not secret); a real config "
                  "reads it from ${PRODLIKE_ANON_KEY}[/]")
    _resume_demo(target, state_dir, console)
    config = write_config(state_dir, "demo.yaml")
    if not drift:
        return _refresh(config, target, console)
    if _live_release(target) is None:
        console.print("a first release to drift from:")
        if (code := _refresh(config, target, console)) != 0:
            return code
    return run_drift(target, state_dir, console)


def config_state(state_dir: Path) -> Path:
    """The demo config's own state folder (Dagster home, reports, alert log): <state>/demo, apart from any other
    config's under the same state root."""
    return state_dir / "demo"


def write_config(state_dir: Path, name: str, **changes) -> Path:
    cfg = yaml.safe_load(DEMO_CONFIG.read_text())
    own = config_state(state_dir)
    cfg.update(state_dir=str(own), workload=str(DEMO_CONFIG.with_name(cfg["workload"])), **changes)
    path = own / name
    own.mkdir(parents=True, exist_ok=True)
    path.write_text("# written by `prodlike demo` from the packaged demo.yaml\n" + yaml.safe_dump(cfg, sort_keys=False))
    write_env_file(path.with_suffix(".env"), {name: os.environ[name] for name in (ENV_SOURCE, ENV_TARGET, ENV_KEY)})
    return path


def _refresh(config: Path, target: str, console: Console) -> int:
    # launching a Dagster run imports Dagster (seconds): imported where the demo launches one
    from prodlike.pipelines.orchestration import launch

    t0 = time.perf_counter()
    result = launch.run_refresh_job(config, config.parent)
    end = launch.outcome(result, target)
    if end.results:
        console.print(terminal.checks_table(end.results))
    if end.code != 0:
        console.print(f"[red]refresh {end.status}[/]: {end.message}")
        if _report_path(config, result.run_id).exists():
            console.print(f"parity report: {_report_path(config, result.run_id)}", soft_wrap=True)
        return end.code
    console.print(terminal.summary_table(result, target))
    console.print(f"[green]released[/] in {time.perf_counter() - t0:.1f}s (Dagster run {result.run_id})")
    console.print(f"parity report: {_report_path(config, result.run_id)}", soft_wrap=True)
    console.print("next: `make ui` opens the Dagster UI with this run's history; `make demo ARGS=--drift` shows "
                  f"a refresh halting on real drift; staging is at {redact(target)}")
    console.print(f"`prodlike status`, `history`, `report`, `resume`, `rollback` and `refresh` find this demo from "
                  f"the project root with nothing exported (its config and an owner-only secrets file are in "
                  f"{config.parent})", soft_wrap=True)
    return 0


def _report_path(config: Path, run_id: str) -> Path:
    return reports_dir(load(config), config.parent) / f"{safe_file_name(run_id)}.html"


def _live_release(target: str) -> dict | None:
    with psycopg.connect(target) as conn:
        return control.live_release(conn)


def _resume_demo(target: str, state_dir: Path, console: Console) -> None:
    """The demo owns its staging database: a pause left by an earlier `--drift` is lifted, and said so."""
    with psycopg.connect(target, autocommit=True) as conn:
        if control.current_version(conn) >= 2 and control.state(conn)["paused"]:
            control.resume(conn, "prodlike demo", "the demo resumes its own staging database", [])
            console.print("[yellow]resumed the demo's paused refreshes (left by an earlier --drift)[/]")


DRIFT_TABLE, DRIFT_INDEX, DRIFT_SETTING = "support_tickets", "orders_customer_id_idx", ("random_page_cost", "40")


def run_drift(target: str, state_dir: Path, console: Console) -> int:
    """Make staging, then production, drift for real; refresh after each and show the halt (staging keeps
    its last release, refreshes pause); the demo resumes in between and undoes all drift at the end."""
    # a staging-only tweak someone left in the config: the copy loses an index production has
    drift_config = write_config(state_dir, "demo-drift.yaml", post_load_sql=[f"DROP INDEX {DRIFT_INDEX}"])
    source = embedded.server(state_dir, "production").dsn(PRODUCTION_DB)  # the owner: the reader cannot delete
    live_rows = _count(target, DRIFT_TABLE)
    rounds = [("staging drifts: its database sets random_page_cost = 40 (configuration drift) and the copy loses "
               f"index {DRIFT_INDEX} (a staging-only post_load_sql)", _drift_staging),
              (f"production drifts: 80% of {DRIFT_TABLE} is deleted since the last release", _drift_production)]
    caught = []
    try:
        for number, (what, drift) in enumerate(rounds, start=1):
            console.rule(f"drift {number} of {len(rounds)}: {what}")
            drift(source, target, undo=False)
            code = _refresh(drift_config, target, console)
            out = status(Context(load(drift_config), target, config_state(state_dir)))
            still = _count(target, DRIFT_TABLE)
            console.print(f"staging still serves the last good release (public.{DRIFT_TABLE}: {still:,} rows, had "
                          f"{live_rows:,}); refreshes {'PAUSED' if out['paused'] else 'active'}; `prodlike status` "
                          f"says {out['state']} (exit {out['code']})")
            caught.append(code == 2 and still == live_rows and bool(out["paused"]))
            drift(source, target, undo=True)
            _resume_demo(target, state_dir, console)
    finally:
        _drift_staging(source, target, undo=True)
        _drift_production(source, target, undo=True)
    console.print("all drift is undone (staging setting reset, production rows restored); the halted runs stay in "
                  f"`prodlike history` and their reports under {config_state(state_dir) / 'reports'}")
    if all(caught):
        return 0
    console.print("[red]a drift was not caught as expected[/]")
    return 1


def _count(dsn: str, table: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute(f"SELECT count(*) FROM public.{table}").fetchone()[0]


def _drift_staging(source: str, target: str, undo: bool) -> None:
    """Set (or reset) a planner setting on staging's database only."""
    setting, value = DRIFT_SETTING
    with psycopg.connect(target, autocommit=True) as stage:
        dbname = stage.info.dbname
        stage.execute(f'ALTER DATABASE "{dbname}" RESET {setting}' if undo else
                      f'ALTER DATABASE "{dbname}" SET {setting} = {value}')


def _drift_production(source: str, target: str, undo: bool) -> None:
    """Delete (or restore) most of a production table; the deleted rows wait in production schema
    `demo_drift`, which the demo config does not refresh."""
    with psycopg.connect(source, autocommit=True) as prod:
        if not undo:
            prod.execute("CREATE SCHEMA IF NOT EXISTS demo_drift")
            prod.execute(f"CREATE TABLE demo_drift.{DRIFT_TABLE} AS SELECT * FROM public.{DRIFT_TABLE} "
                         f"WHERE id % 10 < 8")
            prod.execute(f"DELETE FROM public.{DRIFT_TABLE} WHERE id % 10 < 8")
        elif prod.execute("SELECT to_regclass(%s)", (f"demo_drift.{DRIFT_TABLE}",)).fetchone()[0]:
            prod.execute(f"INSERT INTO public.{DRIFT_TABLE} SELECT * FROM demo_drift.{DRIFT_TABLE}")
            prod.execute("DROP SCHEMA demo_drift CASCADE")

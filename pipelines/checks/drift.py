"""Check `distribution_drift`: production's value distributions now against at the live release (production's
own drift, release over release); reads the `distribution` check's results of the same table."""

from __future__ import annotations

import psycopg
from psycopg.types.json import Jsonb

from prodlike.pipelines.checks import registry
from prodlike.pipelines.checks.runner import passed, threshold
from prodlike.pipelines.config.model import Config
from prodlike.pipelines.engine import control
from prodlike.validators.distributions import drift_check, production_plot
from prodlike.validators.results import CheckResult

NAME, THRESHOLD = "distribution_drift", "drift"


def drift(cfg: Config, target_dsn: str, run_id: str, table: str, results: list[CheckResult]) -> list[CheckResult]:
    """Keep production's distributions of this run in the control schema and compare them with the live
    release's (production's own drift, release over release)."""
    plots = {r.column: plot for r in results if (plot := production_plot(r))}
    previous: dict[str, dict] = {}
    with psycopg.connect(target_dsn, autocommit=True) as conn:
        live = control.live_release(conn)
        if live:
            previous = dict(conn.execute("SELECT column_name, plot FROM prodlike.distributions "
                                         "WHERE run_id = %s AND table_name = %s", (live["run_id"], table)).fetchall())
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO prodlike.distributions (run_id, table_name, column_name, plot) "
                            "VALUES (%s, %s, %s, %s) ON CONFLICT (run_id, table_name, column_name) "
                            "DO UPDATE SET plot = excluded.plot",
                            [(run_id, table, c, Jsonb(p)) for c, p in plots.items()])
    found = [drift_check(table, c, previous.get(c), p, threshold(cfg, THRESHOLD, table, c)) for c, p in plots.items()]
    return found or [passed(NAME, table, "psi", f"{table}: no distributions to compare",
                            threshold(cfg, THRESHOLD, table))]


def run(ctx: registry.TableContext) -> list[CheckResult]:
    return drift(ctx.cfg, ctx.target_dsn, ctx.run_id, ctx.table.table, ctx.results("distribution"))


CHECK = registry.register(registry.Check(
    NAME, registry.TABLE, blocking=True, thresholds=(THRESHOLD,), runner=run, order=40,
    description="Production's value distributions now vs at the live release: production's own drift "
                "(thresholds.drift; warns by default)."))

"""Check `expectations`: Great Expectations on the copy from production's numbers (row count; keep numeric
columns: KL divergence, mean, nulls), once per run over all copied tables (its import alone costs seconds)."""

from __future__ import annotations

from prodlike.pipelines.checks import registry
from prodlike.pipelines.checks.runner import passed, table_profile, threshold
from prodlike.pipelines.config.model import Config
from prodlike.pipelines.engine import control
from prodlike.pipelines.postgres import connections, ddl
from prodlike.validators import expectations as gx
from prodlike.validators.results import CheckResult

NAME = "expectations"


def expectations(cfg: Config, target_dsn: str, copied: list) -> dict[str, list[CheckResult]]:
    """Great Expectations over every copied table, once per run: production's row count on the whole copy, and
    per keep numeric column its histogram (KL divergence), mean and null fraction, on the distribution check's
    sample where the table had one (dropped afterwards)."""
    tables = []
    for tr in copied:
        prof = table_profile(tr)
        if prof is None or prof.failed:
            continue
        schema, name = tr.table.split(".", 1)
        tables.append(gx.TableExpectations(tr.table, ddl.shadow_name(schema), name, tr.rows, prof,
                                           threshold(cfg, "distribution", tr.table),
                                           threshold(cfg, "null_fraction", tr.table),
                                           threshold(cfg, "row_count", tr.table), getattr(tr, "sample", None)))
    try:
        return gx.validate(gx.sqlalchemy_url(target_dsn), tables) if tables else {}
    finally:
        with connections.staging(target_dsn, autocommit=True) as conn:
            control.drop_samples(conn)
        for tr in copied:
            tr.sample = None


def nothing_expected(table: str) -> CheckResult:
    return passed(NAME, table, "expectations", f"{table}: no profile from the copy stream, no expectations to check")


def run(ctx: registry.RunContext) -> dict[str, list[CheckResult]]:
    found = expectations(ctx.cfg, ctx.target_dsn, ctx.copied)
    return {tr.table: found.get(tr.table) or [nothing_expected(tr.table)] for tr in ctx.copied}


def enabled(cfg: Config) -> bool:
    return cfg.great_expectations


CHECK = registry.register(registry.Check(
    NAME, registry.TABLES, blocking=True, thresholds=("distribution", "null_fraction", "row_count"), runner=run,
    order=10, enabled=enabled,
    description="Great Expectations on the copy, from production's numbers (row count; keep numeric columns: KL "
                "divergence, mean, nulls); once per run over all tables (config: great_expectations)."))

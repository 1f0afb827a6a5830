"""Check `distribution`: value distributions per column, production's profile from the copy stream against one
aggregate scan of the shadow table (anonymized columns: nulls, lengths and format, never values)."""

from __future__ import annotations

from prodlike.pipelines.checks import registry
from prodlike.pipelines.checks.runner import (
    COLUMN_STATISTICS,
    passed,
    sample_table,
    shadow_relation,
    table_profile,
    threshold,
)
from prodlike.pipelines.config.model import Config
from prodlike.pipelines.postgres import connections
from prodlike.validators import expectations as gx
from prodlike.validators.distributions import compare
from prodlike.validators.results import CheckResult

NAME = "distribution"


def distribution(cfg: Config, target_dsn: str, tr) -> list[CheckResult]:
    """Value distributions of one copied table: production's profile from the copy stream (its leaves merged)
    against one aggregate scan of the shadow table; one result per column."""
    if cfg.great_expectations:  # its import overlaps this table's scans instead of adding to the run's end
        gx.preload()
    merged = table_profile(tr)
    if merged is None:
        return [passed(NAME, tr.table, "psi", f"{tr.table}: no rows copied, no distributions to compare",
                       threshold(cfg, NAME))]
    levels = {col: {name: threshold(cfg, name, tr.table, col) for name in COLUMN_STATISTICS}
              for col in merged.specs}
    keep = sample_table(tr.table) if cfg.great_expectations else None  # GX's column expectations read it too
    with connections.staging(target_dsn, autocommit=True) as conn:
        found = compare(tr.table, shadow_relation(tr.table), conn, merged, levels, cfg.distribution_sample_rows,
                        keep)
        if keep and conn.execute("SELECT to_regclass(%s)", (keep,)).fetchone()[0]:
            tr.sample = (keep, conn.execute(f"SELECT count(*) FROM {keep}").fetchone()[0])
    return found or [passed(NAME, tr.table, "psi", f"{tr.table}: no columns to compare", threshold(cfg, NAME))]


def run(ctx: registry.TableContext) -> list[CheckResult]:
    return distribution(ctx.cfg, ctx.target_dsn, ctx.table)


CHECK = registry.register(registry.Check(
    NAME, registry.TABLE, blocking=True, thresholds=COLUMN_STATISTICS, runner=run, order=30,
    description="Value distributions per column, production's from the copy stream vs one scan of the copy: "
                "histograms, categories, or (for anonymized columns) nulls, lengths and format; never values "
                "(thresholds.distribution, ks, null_fraction, format, lengths)."))

"""Check `row_count`: rows in the staging copy against production's count from the copy stream."""

from __future__ import annotations

from prodlike.pipelines.checks import registry
from prodlike.pipelines.checks.runner import count_shadow, threshold
from prodlike.validators.counts import row_count_check
from prodlike.validators.results import CheckResult

NAME = "row_count"


def run(ctx: registry.TableContext) -> list[CheckResult]:
    tr = ctx.table
    staged = count_shadow(ctx.target_dsn, tr.table)
    return [row_count_check(tr.table, tr.rows, staged, threshold(ctx.cfg, NAME, tr.table))]


CHECK = registry.register(registry.Check(
    NAME, registry.TABLE, blocking=True, thresholds=(NAME,), runner=run, order=10,
    description="Rows in the staging copy vs production's count from the copy stream (thresholds.row_count)."))

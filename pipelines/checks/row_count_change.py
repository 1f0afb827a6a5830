"""Check `row_count_change`: production's row count now against at the live release (a purge, or an empty
database behind a mistyped DSN)."""

from __future__ import annotations

from prodlike.pipelines.checks import registry
from prodlike.pipelines.checks.runner import threshold
from prodlike.validators.counts import row_count_change_check
from prodlike.validators.results import CheckResult

NAME = "row_count_change"


def run(ctx: registry.TableContext) -> list[CheckResult]:
    tr = ctx.table
    return [row_count_change_check(tr.table, ctx.previous_rows.get(tr.table), tr.rows,
                                   threshold(ctx.cfg, NAME, tr.table))]


CHECK = registry.register(registry.Check(
    NAME, registry.TABLE, blocking=True, thresholds=(NAME,), runner=run, order=20,
    description="Production's row count now vs at the live release (thresholds.row_count_change)."))

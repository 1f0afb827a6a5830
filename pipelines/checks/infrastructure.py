"""Check `infrastructure`: server version, planner settings, extensions, encoding and index definitions,
production against staging's copy."""

from __future__ import annotations

from prodlike.pipelines.checks import registry
from prodlike.pipelines.checks.runner import parity_pair
from prodlike.pipelines.postgres import ddl
from prodlike.validators import infra
from prodlike.validators.results import CheckResult, Threshold, Verdict

NAME = "infrastructure"


def run(ctx: registry.RunContext) -> list[CheckResult]:
    diffs: list[CheckResult] = []
    with parity_pair(ctx.cfg, ctx.source_dsn, ctx.target_dsn) as (prod, stage):
        for s in ctx.cfg.schemas:
            def copied(table: str, schema: str = s) -> bool:  # an excluded table exists in production only
                return not ctx.cfg.is_excluded(f"{schema}.{table}")

            diffs += infra.compare(infra.facts(prod, s, copied), infra.facts(stage, ddl.shadow_name(s), copied))
    return diffs or [CheckResult(NAME, None, None, "differences", 0, 0, 0.0, Threshold(), Verdict.PASS,
                                 "server version, planner settings, extensions, encoding and indexes match")]


CHECK = registry.register(registry.Check(
    NAME, registry.RUN, blocking=True, thresholds=(), runner=run, order=20,
    description="Server version, planner settings, extensions, encoding and index definitions, production vs "
                "staging."))

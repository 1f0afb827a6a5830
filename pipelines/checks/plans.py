"""Check `plans`: EXPLAIN plans of the workload, production against the staging copy; says whether production's
planner statistics were restored into the copy."""

from __future__ import annotations

from pathlib import Path

from prodlike.pipelines.checks import registry
from prodlike.pipelines.checks.runner import parity_pair, threshold
from prodlike.pipelines.engine import control
from prodlike.pipelines.postgres import connections
from prodlike.validators import plans
from prodlike.validators.results import CheckResult, Verdict

NAME = "plans"


def statistics_note(target_dsn: str, run_id: str) -> str:
    """Whether production's planner statistics were restored into this run's copy, in words."""
    with connections.staging(target_dsn) as conn:
        run = control.get_run(conn, run_id)
    st = (run or {}).get("statistics") or {}
    if st.get("restored"):
        return (f"planner statistics restored from production ({st['tables']} tables, {st['columns']} keep "
                f"columns; anonymized columns keep staging's own ANALYZE)")
    return f"planner statistics: staging's own ANALYZE ({st.get('reason') or 'not restored'})"


def run(ctx: registry.RunContext) -> list[CheckResult]:
    cfg = ctx.cfg
    if not cfg.workload:
        found = CheckResult(NAME, None, None, "share_of_queries_with_different_plans", None, None, None,
                            threshold(cfg, NAME), Verdict.SKIPPED,
                            "no workload configured (workload: FILE.sql): plans not compared")
    else:
        path = Path(cfg.workload) if Path(cfg.workload).is_absolute() else ctx.config_dir / cfg.workload
        queries = plans.load_workload(path.read_text())
        with parity_pair(cfg, ctx.source_dsn, ctx.target_dsn) as (prod, stage):
            found = plans.plan_check(plans.compare_workload(prod, stage, queries), threshold(cfg, NAME))
    found.explanation += f"; {statistics_note(ctx.target_dsn, ctx.run_id)}"
    return [found]


CHECK = registry.register(registry.Check(
    NAME, registry.RUN, blocking=True, thresholds=(NAME,), runner=run, order=10,
    description="EXPLAIN plans of the workload, production vs the staging copy (thresholds.plans)."))

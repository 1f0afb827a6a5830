"""Check `referential_integrity`: no orphan rows for any foreign key, sequences ahead of their column's max, in
the shadow schemas; once after the copy (a foreign key spans tables)."""

from __future__ import annotations

from prodlike.pipelines.checks import registry
from prodlike.pipelines.config.model import Config
from prodlike.pipelines.postgres import connections, ddl
from prodlike.validators.integrity import integrity as check_schema
from prodlike.validators.results import CheckResult, Threshold, Verdict

NAME = "referential_integrity"


def integrity(cfg: Config, target_dsn: str, tables: list[str]) -> dict[str, list[CheckResult]]:
    """Orphans of every FK and sequences behind their column, per copied table, in the shadow schemas."""
    found: dict[str, list[CheckResult]] = {}
    with connections.staging(target_dsn, autocommit=True) as conn:
        for s in cfg.schemas:
            found.update(check_schema(conn, ddl.shadow_name(s), s))
    return {q: found.get(q) or [CheckResult(NAME, q, None, "orphans", 0, 0, 0.0, Threshold(error=0),
                                            Verdict.PASS, f"{q}: no foreign keys or sequences to check")]
            for q in tables}


def run(ctx: registry.RunContext) -> dict[str, list[CheckResult]]:
    return integrity(ctx.cfg, ctx.target_dsn, ctx.tables)


CHECK = registry.register(registry.Check(
    NAME, registry.TABLES, blocking=True, thresholds=(), runner=run, order=20,
    description="No orphan rows for any foreign key; sequences ahead of their column's max."))

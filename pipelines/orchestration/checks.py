"""The check registry as Dagster sees it: asset check specs derived from the registry, validator results turned
into asset check results, and the copy asset's per-table and after-copy checks run in order."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import dagster as dg

from prodlike.pipelines.checks import registry, runner
from prodlike.validators.results import CheckResult, Verdict


def table_check_specs(cfg, tables: list[str], key_of: Callable[[str], dg.AssetKey]) -> list[dg.AssetCheckSpec]:
    """One spec per enabled table-level check (per table and after the copy) and configured table."""
    return [dg.AssetCheckSpec(c.name, asset=key_of(q), blocking=False, description=_described(c))
            for c in registry.checks(cfg) if c.level != registry.RUN for q in tables]


def run_check_specs(cfg, key: dg.AssetKey) -> list[dg.AssetCheckSpec]:
    """One spec per enabled run-level check, on the run-level parity asset."""
    return [dg.AssetCheckSpec(c.name, asset=key, blocking=False, description=_described(c))
            for c in registry.checks(cfg, registry.RUN)]


def _described(check: registry.Check) -> str:
    """A check's description, saying whether its ERROR blocks the release. Dagster's own `blocking` stays off:
    a blocking failure shows as a crashed step with a stack trace; the copy and parity steps gate the release
    themselves (no materialization on an ERROR verdict, so the release step is skipped with one reason)."""
    return check.description + (" Blocks the release at ERROR." if check.blocking else " Never blocks the release.")


def table_results(ctx: registry.TableContext, key: dg.AssetKey) -> Iterator[dg.AssetCheckResult]:
    """Every table check of one copied table, recorded in the control schema and yielded as Dagster results."""
    for check, found in runner.table_checks(ctx):
        runner.record(ctx.target_dsn, ctx.run_id, found)
        yield dagster_result(key, check.name, found)


def after_copy_results(ctx: registry.RunContext, key_of: Callable[[str], dg.AssetKey]) -> Iterator[dg.AssetCheckResult]:
    """The checks judged once over all copied tables (results per table), recorded and yielded."""
    for check in registry.checks(ctx.cfg, registry.TABLES):
        for table, found in check.runner(ctx).items():
            runner.record(ctx.target_dsn, ctx.run_id, found)
            yield dagster_result(key_of(table), check.name, found)


def run_results(ctx: registry.RunContext) -> dict[str, list[CheckResult]]:
    """The run-level checks' results by check name, recorded."""
    out = {}
    for check in registry.checks(ctx.cfg, registry.RUN):
        out[check.name] = check.runner(ctx)
        runner.record(ctx.target_dsn, ctx.run_id, out[check.name])
    return out


def dagster_result(key: dg.AssetKey, name: str, results: list[CheckResult]) -> dg.AssetCheckResult:
    """One Dagster check result from validator results: the worst verdict wins; a table of the numbers."""
    worst = Verdict.ERROR if any(r.verdict == Verdict.ERROR for r in results) else (
        Verdict.WARN if any(r.verdict in (Verdict.WARN, Verdict.SKIPPED) for r in results) else Verdict.PASS)
    rows = ["| statistic | production | staging | divergence | verdict | explanation |", "|---|---|---|---|---|---|"]
    for r in results:
        div = "-" if r.divergence is None else f"{r.divergence:.4g}"
        rows.append(f"| {r.statistic} | {r.production} | {r.staging} | {div} | {r.verdict.value} | "
                    f"{r.explanation.replace('|', '/')} |")
    metadata = {"verdict": dg.MetadataValue.text(worst.value), "results": dg.MetadataValue.md("\n".join(rows))}
    if results and results[0].divergence is not None:
        metadata["divergence"] = dg.MetadataValue.float(float(results[0].divergence))
    diffs = [d for r in results for d in r.details if d.get("diff")]
    if diffs:
        metadata["differing_plans"] = dg.MetadataValue.md("\n\n".join(
            f"**{d['fingerprint']}** {d['verdict']}\n```\n{d['diff']}\n```" for d in diffs[:10]))
    return dg.AssetCheckResult(
        asset_key=key, check_name=name, passed=worst == Verdict.PASS, metadata=metadata,
        severity=dg.AssetCheckSeverity.ERROR if worst == Verdict.ERROR else dg.AssetCheckSeverity.WARN,
        description=_describe(results))


def evaluation(result: dg.AssetCheckResult) -> dg.AssetCheckEvaluation:
    """A check result as an event an op logs (the per-step job's ops have no check specs of their own): the UI
    shows it on the asset's check, as the in-process job's assets yield it."""
    return dg.AssetCheckEvaluation(asset_key=result.asset_key, check_name=result.check_name, passed=result.passed,
                                   metadata=result.metadata, severity=result.severity,
                                   description=result.description)


def _describe(results: list[CheckResult]) -> str:
    """The explanations of what did not pass (all of them when everything passed), shortened."""
    failing = [r.explanation for r in results if r.verdict != Verdict.PASS] or [r.explanation for r in results]
    text = "; ".join(failing[:5]) + (f"; and {len(failing) - 5} more" if len(failing) > 5 else "")
    return text[:1500]

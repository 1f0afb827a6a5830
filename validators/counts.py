"""Row counts: production's count from the copy stream against one count of the staging copy."""

from __future__ import annotations

from .results import CheckResult, Threshold, Verdict


def row_count_change_check(table: str, previous_rows: int | None, production_rows: int,
                           threshold: Threshold) -> CheckResult:
    """Relative change of production's row count since the live release (no release yet: pass)."""
    if previous_rows is None:
        return CheckResult("row_count_change", table, None, "relative_change", None, production_rows, None,
                           threshold, Verdict.PASS, f"{table}: first release, nothing to compare with")
    divergence = abs(production_rows - previous_rows) / max(previous_rows, 1)
    verdict = threshold.judge(divergence)
    direction = "shrank" if production_rows < previous_rows else "grew"
    explanation = (f"{table}: production {direction} from {previous_rows:,} rows at the live release to "
                   f"{production_rows:,} ({divergence:.1%}; error above "
                   f"{'-' if threshold.error is None else f'{threshold.error:.0%}'})")
    return CheckResult("row_count_change", table, None, "relative_change", previous_rows, production_rows,
                       divergence, threshold, verdict, explanation)


def row_count_check(table: str, production_rows: int, staging_rows: int, threshold: Threshold) -> CheckResult:
    """Relative difference |production - staging| / production (0 when both are empty)."""
    divergence = abs(production_rows - staging_rows) / max(production_rows, 1)
    verdict = threshold.judge(divergence)
    explanation = (f"{table}: {staging_rows:,} rows in staging vs {production_rows:,} in production "
                   f"({divergence:.2%} apart; error above {threshold.error if threshold.error is not None else '-'})")
    return CheckResult("row_count", table, None, "relative_difference", production_rows, staging_rows, divergence,
                       threshold, verdict, explanation)

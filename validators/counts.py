"""Row counts: production's count from the copy stream against one count of the staging copy."""

from __future__ import annotations

from .results import CheckResult, Threshold


def row_count_check(table: str, production_rows: int, staging_rows: int, threshold: Threshold) -> CheckResult:
    """Relative difference |production - staging| / production (0 when both are empty)."""
    divergence = abs(production_rows - staging_rows) / max(production_rows, 1)
    verdict = threshold.judge(divergence)
    explanation = (f"{table}: {staging_rows:,} rows in staging vs {production_rows:,} in production "
                   f"({divergence:.2%} apart; error above {threshold.error if threshold.error is not None else '-'})")
    return CheckResult("row_count", table, None, "relative_difference", production_rows, staging_rows, divergence,
                       threshold, verdict, explanation)

"""Leak check: anonymized values equal to their own production input more often than the transformer's chance."""

from __future__ import annotations

import math

from .results import CheckResult, Threshold, Verdict

CHECK = "leak"
SIGMAS = 4.0  # binomial slack above the chance rate before a share counts as a leak


def allowed_share(chance: float, present: int) -> float:
    """The highest share of unchanged values chance explains: the rate plus SIGMAS binomial deviations."""
    if present == 0:
        return 1.0
    return chance + SIGMAS * math.sqrt(chance * (1 - chance) / present)


def unchanged_check(table: str, column: str, transformer: str, chance: float, unchanged: int,
                    present: int) -> CheckResult:
    """Rows (non-NULL in production) whose anonymized value equals their own input, against the chance rate."""
    share = unchanged / present if present else 0.0
    limit = allowed_share(chance, present)
    verdict = Verdict.ERROR if unchanged and share > limit else Verdict.PASS
    explanation = (f"{table}.{column} ({transformer}): {unchanged:,} of {present:,} values equal their own "
                   f"production input ({share:.4%}; chance {chance:.4%}, error above {limit:.4%})")
    return CheckResult(CHECK, table, column, "unchanged_share", chance, share, share - chance,
                       Threshold(error=limit), verdict, explanation)

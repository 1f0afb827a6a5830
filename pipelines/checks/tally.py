"""One count of checks everywhere (CLI, history, report, alerts): a check is one registered check on one table, or
on the run for run-level checks; its verdict is the worst of its results (one per column, plan or difference)."""

from __future__ import annotations

VERDICTS = ("error", "warn", "skipped", "pass")  # worst first
_RANK = {v: i for i, v in enumerate(VERDICTS)}


def judged(results: list[dict]) -> dict[tuple[str, str | None], str]:
    """(check, table) -> the worst verdict of its results."""
    out: dict[tuple[str, str | None], str] = {}
    for r in results:
        key, verdict = (r["check"], r.get("table")), r.get("verdict") or "skipped"
        if key not in out or _RANK.get(verdict, 2) < _RANK.get(out[key], 2):
            out[key] = verdict
    return out


def tally(results: list[dict]) -> dict[str, int]:
    """How many checks ended with each verdict (worst first; verdicts with none left out)."""
    verdicts = list(judged(results).values())
    return {v: n for v in VERDICTS if (n := verdicts.count(v))}


def text(results: list[dict]) -> str:
    """'35 checks: 33 pass, 1 warn, 1 error' (or '-' when none were judged)."""
    counts = tally(results)
    total = sum(counts.values())
    return f"{total} checks: " + ", ".join(f"{n} {v}" for v, n in counts.items()) if total else "-"


def failing(results: list[dict], verdict: str = "error") -> list[tuple[str, str | None]]:
    """The (check, table) pairs that ended with verdict."""
    return [key for key, v in judged(results).items() if v == verdict]


def accept_arguments(results: list[dict]) -> str:
    """The `--accept CHECK:TABLE` arguments of `prodlike resume` that accept these results' failing checks once,
    each with its schema-qualified table (empty when none failed)."""
    return "".join(f" --accept {check}:{table}" if table else f" --accept {check}"
                   for check, table in failing([r for r in results if isinstance(r, dict)]))

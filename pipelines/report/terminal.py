"""The run in a terminal (rich tables), for `prodlike refresh` and the demo: the checks counted as everywhere
else (one per check and table), and the copied tables with their row counts."""

from __future__ import annotations

import psycopg
from psycopg import sql
from rich.table import Table

from prodlike.pipelines.checks import tally
from prodlike.pipelines.engine.control import live_release
from prodlike.pipelines.orchestration.names import table_of_path


def checks_table(results: list[dict]) -> Table | str:
    """The run's checks: how many passed, and every check that warned or failed with its explanation."""
    counts = tally.tally(results)
    title = (f"checks: {counts.get('pass', 0)} passed, {counts.get('warn', 0)} warned, {counts.get('error', 0)} "
             f"failed" + (f", {counts['skipped']} skipped" if counts.get("skipped") else ""))
    judged = tally.judged(results)
    failing = sorted(((k, v) for k, v in judged.items() if v in ("error", "warn")),
                     key=lambda kv: (kv[1], kv[0][0], kv[0][1] or ""))
    if not failing:
        return f"[green]{title}[/]"
    table = Table(title=title)
    for col in ("where", "check", "verdict", "explanation"):
        table.add_column(col)
    for (check, where), verdict in failing:
        explanations = [c.get("explanation") or "" for c in results
                        if c["check"] == check and c.get("table") == where and c.get("verdict") == verdict]
        table.add_row(where or "run", check, "[red]ERROR[/]" if verdict == "error" else "[yellow]warn[/]",
                      "; ".join(explanations)[:300])
    return table


def summary_table(result, stage_dsn: str | None = None) -> Table:
    """The copied tables of a Dagster run: rows on both sides, size, copy time and rate."""
    table = Table(title="refresh summary")
    for col in ("table", "rows (production)", "rows (staging)", "MB", "seconds", "rows/s"):
        table.add_column(col, justify="left" if col == "table" else "right")
    staged = staging_counts(stage_dsn) if stage_dsn else {}
    for mat in result.get_asset_materialization_events():
        m = mat.materialization
        key = m.asset_key.path
        if len(key) != 3:
            continue
        md = m.metadata
        q = table_of_path(key)
        table.add_row(q, f"{md['rows'].value:,}", f"{staged.get(q, 0):,}" if staged else "-",
                      f"{md['bytes'].value / 1e6:.1f}", f"{md['copy_seconds'].value:.2f}",
                      f"{md['rows_per_second'].value:,.0f}")
    return table


def staging_counts(dsn: str) -> dict[str, int]:
    """Rows per table of the live release."""
    with psycopg.connect(dsn) as conn:
        rel = live_release(conn)
        if not rel:
            return {}
        out = {}
        for q in rel["tables"]:
            schema, name = q.split(".", 1)
            out[q] = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, name))).fetchone()[0]
        return out

"""What every check shares: thresholds from the config, production's profile of a copied table, recording results
in the control schema (with on-call's one-time acceptances), and running a table's checks in registry order."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import psycopg

from prodlike.pipelines.checks import registry
from prodlike.pipelines.config.model import Config
from prodlike.pipelines.engine import control
from prodlike.pipelines.postgres import connections, ddl
from prodlike.pipelines.postgres.catalog import qident
from prodlike.validators import expectations as gx
from prodlike.validators.results import CheckResult, Threshold, Verdict

COLUMN_STATISTICS = ("distribution", "ks", "null_fraction", "format", "lengths")
TABLE_CHECK_THREADS = 2  # a table's checks wait on different things (staging scans, sorting hashes)
_MERGING = threading.Lock()


def threshold(cfg: Config, name: str, table: str | None = None, column: str | None = None) -> Threshold:
    """The threshold of check `name`: the default, overridden per table and per column (thresholds.tables)."""
    t = cfg.thresholds.resolve(name, table, column)
    return Threshold(t.warn, t.error)


def passed(check: str, table: str | None, statistic: str, explanation: str,
           limit: Threshold | None = None) -> CheckResult:
    """A passing result for a check that found nothing to judge (no rows, no columns, no keys)."""
    return CheckResult(check, table, None, statistic, None, None, None, limit or Threshold(error=0), Verdict.PASS,
                       explanation)


def previous_rows(target_dsn: str) -> dict[str, int]:
    """Rows per table at the live release (empty before the first release)."""
    with connections.staging(target_dsn) as conn:
        rel = control.live_release(conn)
    return {t: v.get("rows", 0) for t, v in rel["tables"].items()} if rel else {}


def shadow_relation(qualified: str) -> str:
    """The quoted shadow-schema relation holding the copy of production's schema.table."""
    schema, table = qualified.split(".", 1)
    return f"{qident(ddl.shadow_name(schema))}.{qident(table)}"


def count_shadow(target_dsn: str, qualified: str) -> int:
    with connections.staging(target_dsn) as conn:
        return conn.execute(f"SELECT count(*) FROM {shadow_relation(qualified)}").fetchone()[0]


@contextmanager
def parity_pair(cfg: Config, source_dsn: str, target_dsn: str) -> Iterator[tuple[psycopg.Connection, ...]]:
    """Production and staging sessions (autocommit) whose search_path resolves production's names to its
    schemas and to the shadow copies, for comparing plans and server facts side by side."""
    with connections.production(source_dsn, cfg.copy_.lock_timeout) as prod, \
            connections.staging(target_dsn) as stage:
        prod.autocommit = stage.autocommit = True
        shadows = ", ".join(qident(ddl.shadow_name(s)) for s in cfg.schemas)
        stage.execute(f"SET search_path = {shadows}, prodlike_ext, public")
        prod.execute(f"SET search_path = {', '.join(qident(s) for s in cfg.schemas)}, public")
        yield prod, stage


def sample_table(table: str) -> str:
    """The unlogged control-schema table holding a large table's distribution sample for Great Expectations."""
    return f"prodlike.{control.SAMPLES}{hashlib.md5(table.encode()).hexdigest()[:16]}"


def table_profile(tr):
    """Production's profile of a copied table from the copy stream, its leaves merged (once, whichever check of
    the table asks first: they run in two threads), or None."""
    with _MERGING:
        if not hasattr(tr, "profile"):
            profiles = [s.profile for s in tr.leaves if s.profile is not None]
            for other in profiles[1:]:
                profiles[0].merge(other)
            tr.profile = profiles[0] if profiles else None
    return tr.profile


def table_checks(ctx: registry.TableContext) -> Iterator[tuple[registry.Check, list[CheckResult]]]:
    """Every table check the config enables, started in registry order on a small pool (a check may wait for an
    earlier one's results), yielded in that order as (check, results)."""
    found = registry.checks(ctx.cfg, registry.TABLE)
    if ctx.cfg.great_expectations:
        # GX's background import starts from this (the step's) thread, which imports the packages it shares
        # first: begun from a check thread, it raced the step's own lazy imports (sqlalchemy.orm)
        gx.preload()
    with ThreadPoolExecutor(max_workers=TABLE_CHECK_THREADS, thread_name_prefix="prodlike-check") as pool:
        for check in found:
            ctx.earlier[check.name] = pool.submit(check.runner, ctx)
        for check in found:
            yield check, ctx.earlier[check.name].result()


def accept(results: list[CheckResult], accepted: list[dict], note: str | None) -> None:
    """Downgrade, in place, the ERROR results that `prodlike resume --accept CHECK[:TABLE]` accepted once."""
    for r in results:
        if r.verdict == Verdict.ERROR and any(a["check"] == r.check and a["table"] in (None, r.table)
                                              for a in accepted):
            r.verdict = Verdict.WARN
            r.explanation += f" [accepted once: {note or 'prodlike resume --accept'}]"


def record(target_dsn: str, run_id: str, results: list[CheckResult]) -> None:
    """Append results to the run's row in the control schema; an ERROR marks the run halted. ERRORs that
    on-call accepted once (`resume --accept`) are downgraded to WARN in place first, so the Dagster result
    built from the same objects agrees."""
    with psycopg.connect(target_dsn, autocommit=True) as conn:
        run = control.get_run(conn, run_id)
        if run is None:
            return
        st = control.state(conn)
        if st["accept"]:
            accept(results, st["accept"], st["accept_note"])
        checks = list(run["checks"]) + [r.as_dict() for r in results]
        fields = {"checks": checks}
        if any(r.verdict == Verdict.ERROR for r in results):
            fields["status"] = "halted"
        control.update_run(conn, run_id, **fields)

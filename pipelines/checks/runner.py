"""Runs the validators against the shadow copy and turns their results into Dagster asset check results
(blocking at ERROR), and records them in the control schema."""

from __future__ import annotations

import functools
import hashlib
import threading
from pathlib import Path

import dagster as dg
import psycopg

from prodlike.pipelines.config.model import Config
from prodlike.pipelines.engine import control
from prodlike.pipelines.postgres import connections, ddl
from prodlike.pipelines.postgres.catalog import qident
from prodlike.validators import infra, plans
from prodlike.validators.results import CheckResult, Threshold, Verdict

ROW_COUNT, ROW_COUNT_CHANGE, PLANS, INFRASTRUCTURE = "row_count", "row_count_change", "plans", "infrastructure"
QUERY_TIME = "query_time"
INTEGRITY = "referential_integrity"
DISTRIBUTION, DRIFT, EXPECTATIONS, LEAK = "distribution", "distribution_drift", "expectations", "leak"
DISTRIBUTION, LEAK = "distribution", "leak"
CHECK_NAMES = (ROW_COUNT, ROW_COUNT_CHANGE, INTEGRITY, DISTRIBUTION, LEAK, PLANS, INFRASTRUCTURE, QUERY_TIME)


def integrity(cfg: Config, target_dsn: str, tables: list[str]) -> dict[str, list[CheckResult]]:
    """Orphans of every FK and sequences behind their column, per copied table, in the shadow schemas."""
    from prodlike.validators.integrity import integrity as check

    found: dict[str, list[CheckResult]] = {}
    with connections.staging(target_dsn, autocommit=True) as conn:
        for s in cfg.schemas:
            found.update(check(conn, ddl.shadow_name(s), s))
    return {q: found.get(q) or [CheckResult(INTEGRITY, q, None, "orphans", 0, 0, 0.0, Threshold(error=0),
                                            Verdict.PASS, f"{q}: no foreign keys or sequences to check")]
            for q in tables}


def previous_rows(target_dsn: str) -> dict[str, int]:
    """Rows per table at the live release (empty before the first release)."""
    with connections.staging(target_dsn) as conn:
        rel = control.live_release(conn)
    return {t: v.get("rows", 0) for t, v in rel["tables"].items()} if rel else {}


def threshold(cfg: Config, name: str, table: str | None = None, column: str | None = None) -> Threshold:
    """The threshold of check `name`: the default, overridden per table and per column (thresholds.tables)."""
    t = cfg.thresholds.resolve(name, table, column)
    return Threshold(t.warn, t.error)


COLUMN_STATISTICS = ("distribution", "ks", "null_fraction", "format", "lengths")
DRIFT_THRESHOLD = "drift"


def distribution(cfg: Config, target_dsn: str, tr) -> list[CheckResult]:
    """Value distributions of one copied table: production's profile from the copy stream (its leaves merged)
    against one aggregate scan of the shadow table; one result per column."""
    from prodlike.validators.distributions import compare

    if cfg.great_expectations:  # its import overlaps this table's scans instead of adding to the run's end
        from prodlike.validators.expectations import preload

        preload()
    merged = table_profile(tr)
    if merged is None:
        return [CheckResult(DISTRIBUTION, tr.table, None, "psi", None, None, None, threshold(cfg, DISTRIBUTION),
                            Verdict.PASS, f"{tr.table}: no rows copied, no distributions to compare")]
    schema, table = tr.table.split(".", 1)
    relation = f"{qident(ddl.shadow_name(schema))}.{qident(table)}"
    levels = {col: {name: threshold(cfg, name, tr.table, col) for name in COLUMN_STATISTICS} for col in merged.specs}
    keep = sample_table(tr.table) if cfg.great_expectations else None  # GX's column expectations read it too
    with connections.staging(target_dsn, autocommit=True) as conn:
        found = compare(tr.table, relation, conn, merged, levels, cfg.distribution_sample_rows, keep)
        if keep and conn.execute("SELECT to_regclass(%s)", (keep,)).fetchone()[0]:
            tr.sample = (keep, conn.execute(f"SELECT count(*) FROM {keep}").fetchone()[0])
    return found or [CheckResult(DISTRIBUTION, tr.table, None, "psi", None, None, None, threshold(cfg, DISTRIBUTION),
                                 Verdict.PASS, f"{tr.table}: no columns to compare")]


def sample_table(table: str) -> str:
    """The unlogged control-schema table holding a large table's distribution sample for Great Expectations."""
    return f"prodlike.{control.SAMPLES}{hashlib.md5(table.encode()).hexdigest()[:16]}"


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


def _describe(results: list[CheckResult]) -> str:
    """The explanations of what did not pass (all of them when everything passed), shortened."""
    failing = [r.explanation for r in results if r.verdict != Verdict.PASS] or [r.explanation for r in results]
    text = "; ".join(failing[:5]) + (f"; and {len(failing) - 5} more" if len(failing) > 5 else "")
    return text[:1500]


_MERGING = threading.Lock()


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


def expectations(cfg: Config, target_dsn: str, copied: list) -> dict[str, list[CheckResult]]:
    """Great Expectations over every copied table, once per run (its import alone costs seconds): production's
    row count on the whole copy, and per keep numeric column its histogram (KL divergence), mean and null fraction,
    on the distribution check's sample where the table had one (dropped afterwards)."""
    from prodlike.validators import expectations as gx

    tables = []
    for tr in copied:
        prof = table_profile(tr)
        if prof is None or prof.failed:
            continue
        schema, name = tr.table.split(".", 1)
        tables.append(gx.TableExpectations(tr.table, ddl.shadow_name(schema), name, tr.rows, prof,
                                           threshold(cfg, DISTRIBUTION, tr.table),
                                           threshold(cfg, "null_fraction", tr.table),
                                           threshold(cfg, ROW_COUNT, tr.table), getattr(tr, "sample", None)))
    try:
        return gx.validate(gx.sqlalchemy_url(target_dsn), tables) if tables else {}
    finally:
        with connections.staging(target_dsn, autocommit=True) as conn:
            control.drop_samples(conn)
        for tr in copied:
            tr.sample = None


def leak(tr, target_dsn: str | None = None) -> list[CheckResult]:
    """(a) Per anonymized column: rows whose output equals their own input (counted in the transform path)
    against the transformer's documented chance rate. Transformers that may keep a value (keep, mask), and those
    that rewrite only what they find inside a text (regex_redact, json), are not judged.
    (b) Per identifier column (email, hash, phone, ip, tokenize): staged values equal to any production value of
    the column, by anti-join of keyed hashes taken from the copy stream, and the distinct count they keep."""
    from prodlike.anonymizers.registry import get
    from prodlike.validators.leaks import unchanged_check

    prof = table_profile(tr)
    unchanged: dict[str, int] = {}
    for leaf in tr.leaves:
        for name, count in leaf.unchanged.items():
            unchanged[name] = unchanged.get(name, 0) + count
    found = []
    for name, spec in (prof.specs.items() if prof is not None else []):
        partial = spec.transformer in ("regex_redact", "json")
        chance = get(spec.transformer).chance_rate if spec.anonymized and not partial else 1.0
        if chance < 1.0:
            col = prof.profiles[name]
            found.append(unchanged_check(tr.table, name, spec.transformer, chance, unchanged.get(name, 0),
                                         col.rows - col.nulls))
    if target_dsn is not None:
        found += _overlaps(tr, target_dsn, prof)
    return found or [CheckResult(LEAK, tr.table, None, "unchanged_share", None, None, None, Threshold(error=0),
                                 Verdict.PASS, f"{tr.table}: no anonymized columns to check")]


def _overlaps(tr, target_dsn: str, prof) -> list[CheckResult]:
    """Leak check (b) and the distinct ratio of identifier columns: every leaf's columns in one anti-join, summed
    over partitions."""
    from prodlike.validators.distributions import _as_copy_text
    from prodlike.validators.leaks import Scan, anti_join, distinct_check, overlap_check

    scans = []
    for leaf in tr.leaves:
        if not leaf.hashes:
            continue
        schema, name = leaf.source.split(".", 1)
        relation = f"{qident(ddl.shadow_name(schema))}.{qident(name)}"
        for col, slot in leaf.hashes["slots"].items():
            spec = prof.specs.get(col) if prof is not None else None
            quoted = qident(col)
            expr = _as_copy_text(quoted, spec) if spec is not None else f"{quoted}::text"
            scans.append((leaf, Scan(relation, col, slot, expr, leaf.hashes["key"])))
    connect = functools.partial(connections.staging, target_dsn, autocommit=True)
    totals: dict[str, dict[str, int]] = {}
    for (leaf, scan), got in zip(scans, anti_join(connect, [scan for _, scan in scans]) if scans else []):
        got["production_present"] = leaf.hashes["present"][scan.column]
        total = totals.setdefault(scan.column, dict.fromkeys(got, 0))
        for k, v in got.items():
            total[k] += v
    found = []
    for col, t in totals.items():
        transformer = prof.specs[col].transformer if prof is not None and col in prof.specs else "identifier"
        found.append(overlap_check(tr.table, col, transformer, t["overlap"], t["distinct"]))
        found.append(distinct_check(tr.table, col, transformer, (t["production_distinct"], t["production_present"]),
                                    (t["distinct"], t["present"])))
    return found


def nothing_expected(table: str) -> CheckResult:
    return CheckResult(EXPECTATIONS, table, None, "expectations", None, None, None, Threshold(error=0), Verdict.PASS,
                       f"{table}: no profile from the copy stream, no expectations to check")


def drift(cfg: Config, target_dsn: str, run_id: str, table: str, results: list[CheckResult]) -> list[CheckResult]:
    """Keep production's distributions of this run in the control schema and compare them with the live
    release's (production's own drift, release over release)."""
    from psycopg.types.json import Jsonb

    from prodlike.validators.distributions import drift_check, production_plot

    plots = {r.column: plot for r in results if (plot := production_plot(r))}
    previous: dict[str, dict] = {}
    with psycopg.connect(target_dsn, autocommit=True) as conn:
        live = control.live_release(conn)
        if live:
            previous = dict(conn.execute("SELECT column_name, plot FROM prodlike.distributions "
                                         "WHERE run_id = %s AND table_name = %s", (live["run_id"], table)).fetchall())
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO prodlike.distributions (run_id, table_name, column_name, plot) "
                            "VALUES (%s, %s, %s, %s) ON CONFLICT (run_id, table_name, column_name) "
                            "DO UPDATE SET plot = excluded.plot",
                            [(run_id, table, c, Jsonb(p)) for c, p in plots.items()])
    found = [drift_check(table, c, previous.get(c), p, threshold(cfg, DRIFT_THRESHOLD, table, c))
             for c, p in plots.items()]
    return found or [CheckResult(DRIFT, table, None, "psi", None, None, None, threshold(cfg, DRIFT_THRESHOLD, table),
                                 Verdict.PASS, f"{table}: no distributions to compare")]


def count_shadow(target_dsn: str, qualified: str) -> int:
    schema, table = qualified.split(".", 1)
    with connections.staging(target_dsn) as conn:
        return conn.execute(f"SELECT count(*) FROM {qident(ddl.shadow_name(schema))}.{qident(table)}").fetchone()[0]


def parity(cfg: Config, source_dsn: str, target_dsn: str, config_dir: Path,
           run_id: str | None = None) -> dict[str, list[CheckResult]]:
    """Plans of the workload, infrastructure parity and (given the run) query time, production vs the shadow
    copy."""
    out: dict[str, list[CheckResult]] = {}
    if cfg.query_time.enabled and run_id is not None:
        from prodlike.pipelines.checks import query_time

        out[QUERY_TIME] = query_time.check(cfg, source_dsn, target_dsn, run_id)
    with connections.production(source_dsn, cfg.copy_.lock_timeout) as prod, \
            connections.staging(target_dsn) as stage:
        prod.autocommit = stage.autocommit = True
        shadows = ", ".join(qident(ddl.shadow_name(s)) for s in cfg.schemas)
        stage.execute(f"SET search_path = {shadows}, prodlike_ext, public")
        prod.execute(f"SET search_path = {', '.join(qident(s) for s in cfg.schemas)}, public")
        if cfg.workload:
            path = Path(cfg.workload) if Path(cfg.workload).is_absolute() else config_dir / cfg.workload
            queries = plans.load_workload(path.read_text())
            out[PLANS] = [plans.plan_check(plans.compare_workload(prod, stage, queries), threshold(cfg, PLANS))]
        else:
            out[PLANS] = [CheckResult(PLANS, None, None, "share_of_queries_with_different_plans", None, None, None,
                                      threshold(cfg, PLANS), Verdict.SKIPPED,
                                      "no workload configured (workload: FILE.sql): plans not compared")]
        diffs: list[CheckResult] = []
        for s in cfg.schemas:
            diffs += infra.compare(infra.facts(prod, s), infra.facts(stage, ddl.shadow_name(s)))
        out[INFRASTRUCTURE] = diffs or [CheckResult(INFRASTRUCTURE, None, None, "differences", 0, 0, 0.0, Threshold(),
                                                    Verdict.PASS, "server version, planner settings, extensions, "
                                                    "encoding and indexes match")]
    return out


def accept(results: list[CheckResult], accepted: list[dict], note: str | None) -> None:
    """Downgrade, in place, the ERROR results that `prodlike resume --accept CHECK[:TABLE]` accepted once."""
    for r in results:
        if r.verdict == Verdict.ERROR and any(a["check"] == r.check and a["table"] in (None, r.table)
                                              for a in accepted):
            r.verdict = Verdict.WARN
            r.explanation += f" [accepted once: {note or 'prodlike resume --accept'}]"


def statistics_note(target_dsn: str, run_id: str) -> str:
    """Whether production's planner statistics were restored into this run's copy, in words."""
    with connections.staging(target_dsn) as conn:
        run = control.get_run(conn, run_id)
    st = (run or {}).get("statistics") or {}
    if st.get("restored"):
        return (f"planner statistics restored from production ({st['tables']} tables, {st['columns']} keep "
                f"columns; anonymized columns keep staging's own ANALYZE)")
    return f"planner statistics: staging's own ANALYZE ({st.get('reason') or 'not restored'})"


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

"""Dagster assets built from the config alone: one asset per copied table (one multi-asset that copies
them in parallel from one snapshot), a release asset downstream of all of them, the refresh job."""


from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dagster as dg

from prodlike.pipelines.config.model import Config
from prodlike.pipelines.engine import progress
from prodlike.pipelines.engine.refresh import Refresh
from prodlike.pipelines.errors import safe_message

COPY_GROUP, RELEASE_GROUP = "copy", "release"
FORCE_TAG = "prodlike/force"  # run tag: start even while refreshes are paused (recorded)
RELEASE_KEY = dg.AssetKey(["staging", "release"])


class ProdlikeResource(dg.ConfigurableResource):
    """Where the config lives and the secrets it needs; secrets arrive only as dagster.EnvVar."""

    config_path: str
    source_dsn: str
    target_dsn: str
    anon_key: str | None = None

    def config(self) -> Config:
        from prodlike.pipelines.config.model import load

        return load(self.config_path)

    def refresh(self, run_id: str, reporter: progress.Reporter | None = None, force: bool = False) -> Refresh:
        cfg = self.config()
        key = self.anon_key.encode() if self.anon_key else None
        if reporter is None:
            return Refresh(cfg, self.source_dsn, self.target_dsn, run_id, key, force=force)
        return Refresh(cfg, self.source_dsn, self.target_dsn, run_id, key, progress=reporter.advance,
                       on_start=reporter.start, force=force)

    def report_path(self, run_id: str) -> Path:
        """Where the run's HTML parity report is written when the run concludes."""
        from prodlike.pipelines.report.page import reports_dir, safe_file_name

        return reports_dir(self.config(), Path(self.config_path).parent) / f"{safe_file_name(run_id)}.html"

    def oncall(self):
        """The on-call context (pause state, alerts, freshness) of this config."""
        from prodlike.pipelines.oncall.loop import Context

        path = Path(self.config_path)
        cfg = self.config()
        return Context(cfg, self.target_dsn, cfg.state_path(path.parent), path)


def table_key(qualified: str) -> dg.AssetKey:
    schema, table = qualified.split(".", 1)
    return dg.AssetKey(["staging", schema, table])


def configured_tables(cfg: Config) -> list[str]:
    """Tables named by the config (the policy lists every copied table): the asset graph."""
    return sorted(q for q in cfg.anonymization.tables if not cfg.is_excluded(q))


def _markdown_table(rows: list[tuple], header: tuple) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _table_metadata(tr, snapshot_time) -> dict:
    leaves = [(s.source, f"{s.rows:,}", f"{s.bytes / 1e6:.1f}", f"{s.seconds:.2f}", s.mode, s.attempts)
              for s in tr.leaves]
    return {
        "rows": dg.MetadataValue.int(tr.rows),
        "bytes": dg.MetadataValue.int(tr.bytes),
        "copy_seconds": dg.MetadataValue.float(round(tr.seconds, 3)),
        "index_build_seconds": dg.MetadataValue.float(round(tr.post_data_s, 3)),
        "rows_per_second": dg.MetadataValue.float(round(tr.rows_per_s, 1)),
        "production_snapshot_time": dg.MetadataValue.text(str(snapshot_time)),
        "leaves": dg.MetadataValue.md(_markdown_table(leaves, ("source", "rows", "MB", "seconds", "mode", "attempts"))),
    }


PARITY_KEY = dg.AssetKey(["staging", "parity"])


def build_assets(cfg: Config) -> list:
    from prodlike.pipelines.checks import runner as checks
    from prodlike.validators.counts import row_count_change_check, row_count_check
    from prodlike.validators.results import Verdict

    tables = configured_tables(cfg)
    specs = [
        dg.AssetSpec(table_key(q), group_name=COPY_GROUP, kinds={"postgres"},
                     description=f"Shadow copy of production {q} (anonymized per policy), built from the run's "
                                 f"single production snapshot; keys and indexes built after the rows.",
                     skippable=True)
        for q in tables
    ]

    check_specs = [dg.AssetCheckSpec(checks.ROW_COUNT, asset=table_key(q), blocking=True,
                                     description="Rows in the staging copy vs production's count from the copy "
                                                 "stream (thresholds.row_count).") for q in tables]
    check_specs += [dg.AssetCheckSpec(checks.INTEGRITY, asset=table_key(q), blocking=True,
                                      description="No orphan rows for any foreign key; sequences ahead of "
                                                  "their column's max.") for q in tables]
    check_specs += [dg.AssetCheckSpec(checks.ROW_COUNT_CHANGE, asset=table_key(q), blocking=True,
                                      description="Production's row count now vs at the live release "
                                                  "(thresholds.row_count_change).") for q in tables]
    check_specs += [dg.AssetCheckSpec(checks.DISTRIBUTION, asset=table_key(q), blocking=True,
                                      description="Value distributions per column, production's from the copy "
                                                  "stream vs one scan of the copy: histograms, categories, or (for "
                                                  "anonymized columns) nulls, lengths and format; never values "
                                                  "(thresholds.distribution, ks, null_fraction, format, lengths).")
                    for q in tables]
    if cfg.great_expectations:
        check_specs += [dg.AssetCheckSpec(checks.EXPECTATIONS, asset=table_key(q), blocking=True,
                                          description="Great Expectations on the copy, from production's numbers "
                                                      "(row count; keep numeric columns: KL divergence, mean, nulls); "
                                                      "once per run over all tables.") for q in tables]
    check_specs += [dg.AssetCheckSpec(checks.LEAK, asset=table_key(q), blocking=True,
                                      description="Anonymized values equal to their own production input more often "
                                                  "than the transformer's chance rate (counted in the copy stream); "
                                                  "production identifiers anywhere in the staging column (keyed "
                                                  "hashes of every row, both sides).")
                    for q in tables]
    check_specs += [dg.AssetCheckSpec(checks.DRIFT, asset=table_key(q), blocking=True,
                                      description="Production's value distributions now vs at the live release: "
                                                  "production's own drift (thresholds.drift; warns by default).")
                    for q in tables]

    @dg.multi_asset(specs=specs, check_specs=check_specs, name="copy_tables", can_subset=False,
                    description="Preflight, then copy every table from one consistent production snapshot into "
                                "staging's shadow schema, in parallel.")
    def copy_tables(context: dg.AssetExecutionContext, prodlike: ProdlikeResource):
        reporter = progress.current(emit=context.log.info)
        refresh = prodlike.refresh(context.run.run_id, reporter, force=context.run.tags.get(FORCE_TAG) == "true")
        try:
            previous = checks.previous_rows(prodlike.target_dsn)
            copied = []
            for tr in refresh.copy():
                reporter.finish(tr.table)
                context.log.info(f"{tr.table}: {tr.rows:,} rows in {tr.seconds:.1f}s ({tr.rows_per_s:,.0f} rows/s)")
                if tr.table in tables:
                    yield dg.MaterializeResult(asset_key=table_key(tr.table),
                                               metadata=_table_metadata(tr, refresh.outcome.snapshot_time))
                    # the leak check (hashes of every row, sorted here) runs beside the count and distribution
                    # checks (staging's scans): they wait on different things
                    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="prodlike-leak-check") as side:
                        leaking = side.submit(checks.leak, tr, prodlike.target_dsn)
                        staged = checks.count_shadow(prodlike.target_dsn, tr.table)
                        result = row_count_check(tr.table, tr.rows, staged,
                                                 checks.threshold(cfg, checks.ROW_COUNT, tr.table))
                        change = row_count_change_check(tr.table, previous.get(tr.table), tr.rows,
                                                        checks.threshold(cfg, checks.ROW_COUNT_CHANGE, tr.table))
                        checks.record(prodlike.target_dsn, context.run.run_id, [result, change])
                        yield checks.dagster_result(table_key(tr.table), checks.ROW_COUNT, [result])
                        yield checks.dagster_result(table_key(tr.table), checks.ROW_COUNT_CHANGE, [change])
                        shapes = checks.distribution(cfg, prodlike.target_dsn, tr)
                        checks.record(prodlike.target_dsn, context.run.run_id, shapes)
                        yield checks.dagster_result(table_key(tr.table), checks.DISTRIBUTION, shapes)
                        leaks = leaking.result()
                    checks.record(prodlike.target_dsn, context.run.run_id, leaks)
                    yield checks.dagster_result(table_key(tr.table), checks.LEAK, leaks)
                    moved = checks.drift(cfg, prodlike.target_dsn, context.run.run_id, tr.table, shapes)
                    checks.record(prodlike.target_dsn, context.run.run_id, moved)
                    yield checks.dagster_result(table_key(tr.table), checks.DRIFT, moved)
                    copied.append(tr)
            if cfg.great_expectations:
                expected = checks.expectations(cfg, prodlike.target_dsn, copied)
                for tr in copied:
                    found = expected.get(tr.table) or [checks.nothing_expected(tr.table)]
                    checks.record(prodlike.target_dsn, context.run.run_id, found)
                    yield checks.dagster_result(table_key(tr.table), checks.EXPECTATIONS, found)
            for table, found in checks.integrity(cfg, prodlike.target_dsn, tables).items():
                checks.record(prodlike.target_dsn, context.run.run_id, found)
                yield checks.dagster_result(table_key(table), checks.INTEGRITY, found)
        except Exception as err:
            raise dg.Failure(description=safe_message(err), metadata={"error_class": type(err).__name__}) from None
        finally:
            reporter.stop()

    @dg.asset(key=PARITY_KEY, deps=[table_key(q) for q in tables], group_name="validation", kinds={"postgres"},
              check_specs=[
                  dg.AssetCheckSpec(checks.PLANS, asset=PARITY_KEY, blocking=True,
                                    description="EXPLAIN plans of the workload, production vs the staging copy "
                                                "(thresholds.plans)."),
                  dg.AssetCheckSpec(checks.INFRASTRUCTURE, asset=PARITY_KEY, blocking=True,
                                    description="Server version, planner settings, extensions, encoding and index "
                                                "definitions, production vs staging."),
                  *([dg.AssetCheckSpec(checks.QUERY_TIME, asset=PARITY_KEY, blocking=True,
                                       description="Production's top queries from pg_stat_statements replayed on the "
                                                   "copy (read-only, rolled back): each query's staging/production "
                                                   "time ratio against the workload's median, rows per call, "
                                                   "shared-buffer hit ratio (thresholds.query_time, query_rows, "
                                                   "query_cache).")]
                    if cfg.query_time.enabled else [])],
              description="Run-level parity of the staging copy with production: query plans, infrastructure and "
                          "query time.")
    def parity(context: dg.AssetExecutionContext, prodlike: ProdlikeResource):
        results = checks.parity(prodlike.config(), prodlike.source_dsn, prodlike.target_dsn,
                                Path(prodlike.config_path).parent, context.run.run_id)
        statistics = checks.statistics_note(prodlike.target_dsn, context.run.run_id)
        results[checks.PLANS][0].explanation += f"; {statistics}"
        for found in results.values():
            checks.record(prodlike.target_dsn, context.run.run_id, found)
        plan = results[checks.PLANS][0]
        yield dg.MaterializeResult(metadata={
            "planner_statistics": dg.MetadataValue.text(statistics),
            "queries_compared": dg.MetadataValue.int(int(plan.staging or 0)),
            "share_differing": dg.MetadataValue.float(float(plan.divergence or 0.0)),
            "infrastructure_differences": dg.MetadataValue.int(
                sum(r.verdict != Verdict.PASS for r in results[checks.INFRASTRUCTURE])),
            **query_time_metadata(results.get(checks.QUERY_TIME)),
        })
        for name, found in results.items():
            yield checks.dagster_result(PARITY_KEY, name, found)

    @dg.asset(key=RELEASE_KEY, deps=[*(table_key(q) for q in tables), PARITY_KEY], group_name=RELEASE_GROUP,
              kinds={"postgres"}, freshness_policy=freshness_policy(cfg),
              description="Atomic release: in one transaction the shadow schemas become live and the previous "
                          "live schemas are kept for rollback; recorded in staging's prodlike control schema.")
    def release(context: dg.AssetExecutionContext, prodlike: ProdlikeResource) -> dg.MaterializeResult:
        refresh = prodlike.refresh(context.run.run_id)
        try:
            result = refresh.release()
        except Exception as err:
            raise dg.Failure(description=safe_message(err), metadata={"error_class": type(err).__name__}) from None
        return dg.MaterializeResult(metadata={
            "release_id": dg.MetadataValue.int(result.release_id),
            "schemas": dg.MetadataValue.text(", ".join(result.schemas)),
            "dropped": dg.MetadataValue.text(", ".join(result.dropped) or "-"),
            "parity_report": dg.MetadataValue.url(prodlike.report_path(context.run.run_id).resolve().as_uri()),
        })

    return [copy_tables, parity, release]


def query_time_metadata(results: list | None) -> dict:
    """The query-time check on the parity asset: the median staging/production time ratio (a plotted series
    release over release), queries timed and off the median, and a table of the queries, outliers first."""
    from prodlike.validators import query_time as qt

    if not results:
        return {}
    summary = results[0]
    details = summary.details
    rows = [(d["fingerprint"], d["verdict"], d["calls"], _ms(d["production_mean_ms"]), _ms(d["staging_ms"]),
             d.get("time_factor", "-"), d["production_rows_per_call"], d["staging_rows_per_call"] or "-",
             _share(d["production_hit_ratio"]), _share(d["staging_hit_ratio"]),
             (d["reason"] or d["sql"])[:80].replace("|", "/")) for d in details]
    out = {
        "query_time_queries_timed": dg.MetadataValue.int(sum(d["status"] in ("timed", "timed_out") for d in details)),
        "query_time_off_median": dg.MetadataValue.int(sum(r.statistic == qt.TIME for r in results[1:])),
        "query_time": dg.MetadataValue.md(_markdown_table(rows, (
            "query", "verdict", "calls", "production ms", "staging ms", "x median", "rows/call prod",
            "rows/call staging", "hit prod", "hit staging", "sql or reason"))) if rows else
        dg.MetadataValue.text(summary.explanation),
    }
    if summary.staging is not None:
        out["query_time_median_ratio"] = dg.MetadataValue.float(float(summary.staging))
    return out


def _ms(value) -> str:
    return "-" if value is None else f"{value:.3g}"


def _share(value) -> str:
    return "-" if value is None else f"{value:.0%}"


def freshness_policy(cfg: Config) -> dg.FreshnessPolicy | None:
    """The SLA as Dagster's badge. Advisory: Dagster measures from the release's materialization, while the
    SLA (status, sensor) measures from the production snapshot time of the live release."""
    if cfg.freshness is None:
        return None
    f = cfg.freshness
    warn = f.warn_after if f.warn_after < f.error_after else None
    return dg.FreshnessPolicy.time_window(fail_window=f.error_after, warn_window=warn)


def build_resource(cfg: Config, config_path: Path) -> ProdlikeResource:
    from prodlike.pipelines.config.secrets import env_name

    return ProdlikeResource(
        config_path=str(config_path),
        source_dsn=dg.EnvVar(env_name(cfg.source.dsn)),
        target_dsn=dg.EnvVar(env_name(cfg.target.dsn)),
        anon_key=dg.EnvVar(env_name(cfg.anonymization.key)) if cfg.anonymization.key else None,
    )

"""Dagster assets built from the config alone: one asset per copied table (one multi-asset that copies
them in parallel from one snapshot), a release asset downstream of all of them, the refresh job."""


from pathlib import Path
from typing import NoReturn

import dagster as dg
import psycopg

from prodlike.pipelines import errors
from prodlike.pipelines.checks import registry, runner
from prodlike.pipelines.checks.plans import statistics_note
from prodlike.pipelines.config.model import Config, load
from prodlike.pipelines.config.secrets import resolve
from prodlike.pipelines.engine import control, progress, runlock
from prodlike.pipelines.engine.control import RefreshPausedError
from prodlike.pipelines.engine.refresh import Refresh
from prodlike.pipelines.errors import Refused, safe_message
from prodlike.pipelines.oncall import loop as oncall
from prodlike.pipelines.oncall.loop import Context
from prodlike.pipelines.orchestration import checks
from prodlike.pipelines.orchestration.halt import Halted
from prodlike.pipelines.orchestration.names import asset_name, table_of_path
from prodlike.pipelines.report.page import reports_dir, safe_file_name
from prodlike.validators import query_time as qt
from prodlike.validators.results import Verdict

COPY_GROUP, RELEASE_GROUP = "copy", "release"
FORCE_TAG = "prodlike/force"  # run tag: start even while refreshes are paused (recorded)
OUTCOME_TAG = "prodlike/outcome"  # run tag set when a run ends without release: halted, or refused (paused)
RELEASE_KEY = dg.AssetKey(["staging", "release"])


class ProdlikeResource(dg.ConfigurableResource):
    """Where the config lives; the secrets it names are resolved by config/secrets.py when used (never stored in
    Dagster's run config, never shown in the UI)."""

    config_path: str

    def config(self) -> Config:
        """The run's config: parsed once per process (config.model.load keeps it while the file is unchanged)."""
        return load(self.config_path)

    @property
    def source_dsn(self) -> str:
        return self.config().source.resolve("source")

    @property
    def target_dsn(self) -> str:
        return self.config().target.resolve("target")

    @property
    def anon_key(self) -> str | None:
        key = self.config().anonymization.key
        return resolve(key, "anonymization.key") if key else None

    def refresh(self, run_id: str, reporter: progress.Reporter | None = None, force: bool = False) -> Refresh:
        cfg = self.config()
        key = self.anon_key.encode() if self.anon_key else None
        if reporter is None:
            return Refresh(cfg, self.source_dsn, self.target_dsn, run_id, key, force=force)
        return Refresh(cfg, self.source_dsn, self.target_dsn, run_id, key, progress=reporter.advance,
                       on_start=reporter.start, force=force)

    def report_path(self, run_id: str) -> Path:
        """Where the run's HTML parity report is written when the run concludes."""
        return reports_dir(self.config(), Path(self.config_path).parent) / f"{safe_file_name(run_id)}.html"

    def oncall(self):
        """The on-call context (pause state, alerts, freshness) of this config."""
        path = Path(self.config_path)
        cfg = self.config()
        return Context(cfg, self.target_dsn, cfg.state_path(path.parent), path)


def table_key(qualified: str) -> dg.AssetKey:
    schema, table = qualified.split(".", 1)
    return dg.AssetKey(["staging", asset_name(schema), asset_name(table)])


def table_of(key: dg.AssetKey) -> str:
    """The qualified production table of a table asset key (other keys: their path after `staging`)."""
    return table_of_path(key.path)


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
        "state": dg.MetadataValue.text("shadow copy: live once staging/release of this run materializes (an "
                                       "observation 'live: release N' follows then)"),
        "leaves": dg.MetadataValue.md(_markdown_table(leaves, ("source", "rows", "MB", "seconds", "mode", "attempts"))),
    }


PARITY_KEY = dg.AssetKey(["staging", "parity"])


def build_assets(cfg: Config) -> list:
    tables = configured_tables(cfg)
    specs = [
        dg.AssetSpec(table_key(q), group_name=COPY_GROUP, kinds={"postgres"},
                     description=f"Shadow copy of production {q} (anonymized per policy), built from the run's "
                                 f"single production snapshot; keys and indexes built after the rows.",
                     skippable=True)
        for q in tables
    ]

    @dg.multi_asset(specs=specs, check_specs=checks.table_check_specs(cfg, tables, table_key), name="copy_tables",
                    # can_subset=True only makes every output optional (a refused or preflight-halted run yields
                    # no check result); the step still copies all tables from one snapshot and refuses a subset
                    can_subset=True,
                    description="Preflight, then copy every table from one consistent production snapshot into "
                                "staging's shadow schema, in parallel.")
    def copy_tables(context: dg.AssetExecutionContext, prodlike: ProdlikeResource):
        missing = {table_key(q) for q in tables} - set(context.selected_asset_keys)
        if missing:
            raise dg.Failure(description=f"copy_tables copies every table from one production snapshot; "
                                         f"{len(missing)} of its tables were not selected: run the whole refresh job")
        reporter = progress.current(emit=context.log.info)
        refresh = prodlike.refresh(context.run.run_id, reporter, force=context.run.tags.get(FORCE_TAG) == "true")
        shadows = []  # table materializations: yielded once the whole copy passed its checks
        try:
            previous = runner.previous_rows(prodlike.target_dsn)
            copied = []
            for tr in refresh.copy():
                reporter.finish(tr.table)  # its line: rows, MB, time, rate
                if tr.table in tables:
                    shadows.append(dg.MaterializeResult(asset_key=table_key(tr.table),
                                                        metadata=_table_metadata(tr, refresh.outcome.snapshot_time)))
                    table = registry.TableContext(refresh.cfg, prodlike.target_dsn, context.run.run_id, tr, previous)
                    yield from checks.table_results(table, table_key(tr.table))
                    copied.append(tr)
            run = registry.RunContext(refresh.cfg, prodlike.target_dsn, context.run.run_id, tables=tables,
                                      copied=copied)
            yield from checks.after_copy_results(run, table_key)
        except RefreshPausedError as err:
            _refused(context, prodlike, str(err))
            return
        except Refused as err:  # the preflight or the policy refused: a verdict on the config, not a crash
            _halted(context, prodlike, f"the preflight refused the copy: {safe_message(err)}", tables)
            return
        except Exception as err:
            raise dg.Failure(description=safe_message(err), metadata=_failure_metadata(err)) from None
        finally:
            reporter.stop()
        failing = _failing_checks(prodlike.target_dsn, context.run.run_id)
        if failing:
            _halted(context, prodlike, failing, tables)
            return
        yield from shadows

    @dg.asset(key=PARITY_KEY, deps=[table_key(q) for q in tables], group_name="validation", kinds={"postgres"},
              check_specs=checks.run_check_specs(cfg, PARITY_KEY), output_required=False,
              description="Run-level parity of the staging copy with production: query plans and infrastructure.")
    def parity(context: dg.AssetExecutionContext, prodlike: ProdlikeResource):
        run = registry.RunContext(prodlike.config(), prodlike.target_dsn, context.run.run_id,
                                  source_dsn=prodlike.source_dsn, config_dir=Path(prodlike.config_path).parent)
        results = checks.run_results(run)
        failing = _failing_checks(prodlike.target_dsn, context.run.run_id)
        if not failing:
            yield dg.MaterializeResult(metadata=_parity_metadata(results, prodlike.target_dsn, context.run.run_id))
        for name, found in results.items():
            yield checks.dagster_result(PARITY_KEY, name, found)
        if failing:  # no materialization: the release step is skipped
            _halted(context, prodlike, failing, tables)

    @dg.asset(key=RELEASE_KEY, deps=[*(table_key(q) for q in tables), PARITY_KEY], group_name=RELEASE_GROUP,
              kinds={"postgres"}, freshness_policy=freshness_policy(cfg),
              description="Atomic release: in one transaction the shadow schemas become live and the previous "
                          "live schemas are kept for rollback; recorded in staging's prodlike control schema.")
    def release(context: dg.AssetExecutionContext, prodlike: ProdlikeResource) -> dg.MaterializeResult:
        refresh = prodlike.refresh(context.run.run_id)
        try:
            result = refresh.release(hold=True)  # staging stays held until the run's hook concludes it
        except Exception as err:
            raise dg.Failure(description=safe_message(err), metadata=_failure_metadata(err)) from None
        for q in tables:  # the shadow copies this run materialized are live now
            context.log_event(dg.AssetObservation(asset_key=table_key(q), metadata={
                "state": dg.MetadataValue.text(f"live: release {result.release_id} of run {context.run.run_id}")}))
        return dg.MaterializeResult(metadata={
            "release_id": dg.MetadataValue.int(result.release_id),
            "schemas": dg.MetadataValue.text(", ".join(result.schemas)),
            "dropped": dg.MetadataValue.text(", ".join(result.dropped) or "-"),
            **report_metadata(prodlike, context.run.run_id),
        })

    return [copy_tables, parity, release]


def report_metadata(prodlike: ProdlikeResource, run_id: str) -> dict:
    """How to reach the run's parity report from the UI: its path (a browser refuses file:// links from a web
    page) and the command that writes and opens it."""
    return {"parity_report": dg.MetadataValue.path(str(prodlike.report_path(run_id).resolve())),
            "open_the_report": dg.MetadataValue.text(f"prodlike report {run_id} --open")}


def _failing_checks(target_dsn: str, run_id: str) -> str | None:
    """The run's ERROR verdicts so far, as one sentence (None: nothing blocks the release)."""
    with psycopg.connect(target_dsn, autocommit=True) as conn:
        run = control.get_run(conn, run_id)
    errors = [c for c in (run or {}).get("checks", []) if c.get("verdict") == "error"]
    if not errors:
        return None
    named = list(dict.fromkeys(f"{c['check']} on {c['table']}" if c.get("table") else c["check"] for c in errors))
    more = " ..." if len(named) > 5 else ""
    return f"{len(errors)} check result(s) failed at ERROR: " + "; ".join(named[:5]) + more


def _halted(context: dg.AssetExecutionContext, prodlike: ProdlikeResource, what: str, tables: list[str]) -> NoReturn:
    """A halt is a verdict, not a crash: the run is tagged, concluded (pause, alert, report), every table asset
    records that this run's copy is not live (after a parity halt its shadow copy had materialized), then this step
    fails with the verdict as its one message and no stack trace (halt.Halted): the run shows as failed and the
    steps after it do not run."""
    run_id = context.run.run_id
    context.instance.add_run_tags(run_id, {OUTCOME_TAG: "halted"})
    try:
        oncall.conclude(prodlike.oncall(), run_id, None)
    except Exception as err:
        context.log.error(f"could not conclude the halted run (alerts may be missing): {safe_message(err)}")
    finally:
        runlock.let_go(prodlike.target_dsn, run_id)  # concluded: staging is free for the next run
    context.log_event(dg.AssetObservation(asset_key=RELEASE_KEY, metadata={
        "state": dg.MetadataValue.text(f"not released: run {run_id} halted; staging keeps its last release"),
        **report_metadata(prodlike, run_id)}))
    for q in tables:
        context.log_event(dg.AssetObservation(asset_key=table_key(q), metadata={
            "state": dg.MetadataValue.text(f"not live: run {run_id} halted; staging serves its last release")}))
    raise Halted(f"HALTED: {what}. Staging keeps serving its last release; the release is skipped and "
                 f"refreshes are paused. Parity report: {prodlike.report_path(run_id).resolve()} "
                 f"(`prodlike report {run_id} --open`); then `prodlike status`.", report_metadata(prodlike, run_id))


def _refused(context: dg.AssetExecutionContext, prodlike: ProdlikeResource, message: str) -> None:
    """A refresh asked for while refreshes are paused: nothing ran, nothing failed; say why, once."""
    context.instance.add_run_tags(context.run.run_id, {OUTCOME_TAG: "refused: paused"})
    runlock.let_go(prodlike.target_dsn, context.run.run_id)  # nothing was written: staging stays free
    context.log.warning(f"REFUSED, nothing copied: {message}")


def _failure_metadata(err: BaseException) -> dict:
    """What the CLI and the hooks read of a failed step: the error's class and its kind (refused, transient,
    error), decided by the error root's kinds, never by class names."""
    return {"error_class": type(err).__name__, "error_kind": errors.kind(err)}


def _parity_metadata(results: dict[str, list], target_dsn: str, run_id: str) -> dict:
    """The parity asset's headline numbers, from whichever run-level checks ran."""
    metadata = {"planner_statistics": dg.MetadataValue.text(statistics_note(target_dsn, run_id))}
    for found in results.get("plans", [])[:1]:
        metadata["queries_compared"] = dg.MetadataValue.int(int(found.staging or 0))
        metadata["share_differing"] = dg.MetadataValue.float(float(found.divergence or 0.0))
    metadata.update(query_time_metadata(results.get("query_time")))
    if "infrastructure" in results:
        metadata["infrastructure_differences"] = dg.MetadataValue.int(
            sum(r.verdict != Verdict.PASS for r in results["infrastructure"]))
    return metadata


def query_time_metadata(results: list | None) -> dict:
    """The query-time check on the parity asset: the median staging/production time ratio (a plotted series
    release over release), queries timed and off the median, and a table of the queries, outliers first."""
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


def build_resource(config_path: Path) -> ProdlikeResource:
    return ProdlikeResource(config_path=str(config_path))

"""The refresh job of copy.executor: multiprocess: one Dagster step per table and per slice of a big table, on
Dagster's own executors (multiprocess here; k8s or celery by run config), all importing the one production
snapshot a holder step keeps exactly as long as the copies need it; then the finish, checks and release as the
in-process job does them. Copy steps are bounded per production server by a tag concurrency limit and a pool."""


import re
import time
from pathlib import Path

import dagster as dg
from psycopg.conninfo import conninfo_to_dict

from prodlike.pipelines.checks import registry, runner
from prodlike.pipelines.config.model import Config
from prodlike.pipelines.engine import runlock
from prodlike.pipelines.engine.control import RefreshLockedError, RefreshPausedError
from prodlike.pipelines.engine.distributed import DistributedRefresh, HolderGone, Prepared, Slice
from prodlike.pipelines.errors import Refused, safe_message
from prodlike.pipelines.orchestration import assets as a
from prodlike.pipelines.orchestration import checks
from prodlike.pipelines.orchestration.sealed import SEALED_IO_MANAGER, drop_outputs
from prodlike.pipelines.postgres import connections

PRODUCTION_TAG = "prodlike/production"  # copy steps carry their production server: the concurrency limit's key
CELERY_QUEUE_TAG = "dagster-celery/queue"  # on celery, copies of one production server share a queue
HOLDER_OP, RELEASE_OP = "hold_snapshot", a.RELEASE_KEY.to_python_identifier()
FAILURE_CHECK_SECONDS = 1.0
COPY_COMPLETE = "shadow copy complete"  # logged when the copy phase ends (the benchmark times the run up to it)
CHECKS_BESIDE = "table checks run meanwhile"  # ...and how long of it went to the table checks (the benchmark
# subtracts it: the in-process path's copy time excludes them)
_FINISHED = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED,
             dg.DagsterRunStatus.CANCELING}


def production_label(cfg: Config) -> str:
    """Which production server the copies read, as a pool and tag value (host, port, database; never a secret):
    from the resolved DSN where its variable is set, else from the variable's name (definitions load without it)."""
    try:
        parts = conninfo_to_dict(cfg.source.resolve("source"))
        label = f"{parts.get('host', 'localhost')}:{parts.get('port', 5432)}/{parts.get('dbname', '')}"
    except Exception:
        label = cfg.source.dsn
    return "production-" + re.sub(r"[^A-Za-z0-9_.:/-]+", "_", label).strip("_")[:100]


def peak_rss_mb() -> float:
    """This step process's peak resident memory (VmHWM), 0 where /proc is missing."""
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        return 0.0


def _refresh(context, prodlike: a.ProdlikeResource) -> DistributedRefresh:
    key = prodlike.anon_key.encode() if prodlike.anon_key else None
    return DistributedRefresh(prodlike.config(), prodlike.source_dsn, prodlike.target_dsn, context.run.run_id, key,
                              force=context.run.tags.get(a.FORCE_TAG) == "true")


def failure_watch(context):
    """A callable naming a failed step of this run, or the run's end (None: go on waiting); asks Dagster's event
    log at most once a second."""
    last = [0.0]

    def failed() -> str | None:
        if time.monotonic() - last[0] < FAILURE_CHECK_SECONDS:
            return None
        last[0] = time.monotonic()
        found = context.instance.get_records_for_run(context.run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE,
                                                     limit=1).records
        if found:
            return f"step {found[0].event_log_entry.step_key} failed"
        if context.op.name != HOLDER_OP and any(
                r.event_log_entry.step_key == HOLDER_OP for r in context.instance.get_records_for_run(
                    context.run.run_id, of_type=dg.DagsterEventType.STEP_SUCCESS).records):
            return "the snapshot holder ended (refreshes are paused, or the copy is over)"
        run = context.instance.get_run_by_id(context.run.run_id)
        if run is not None and run.status in _FINISHED:
            return f"the run is {run.status.value.lower()}"
        return None

    return failed


def _fail(err: BaseException, retry: bool = True) -> dg.Failure:
    """A step's failure as the assets report it; retried (by the step's policy) only when retry is on and the
    error is transient: a lost snapshot or a lost hold on staging never comes back."""
    transient = connections.is_transient(err) and not isinstance(err, RefreshLockedError)
    return dg.Failure(description=safe_message(err), metadata=a._failure_metadata(err),
                      allow_retries=retry and transient)


def executor_config(cfg: Config) -> dict:
    """The multiprocess executor's config: `copy.workers` copies per production server at once, beside the holder
    and the plan; steps fork from a server that imported the definitions once (spawning re-imports them)."""
    limit = cfg.copy_.workers
    return {"max_concurrent": limit + 2,
            "start_method": {"forkserver": {"preload_modules": ["prodlike.pipelines.definitions"]}},
            "tag_concurrency_limits": [{"key": PRODUCTION_TAG, "value": production_label(cfg), "limit": limit}]}


def build_job(cfg: Config, hooks: set, executor: dg.ExecutorDefinition | None = None) -> dg.JobDefinition:
    """The per-step refresh job: on the multiprocess executor bounded per production server, or on the executor
    given (k8s, celery: their run config sets the bounds, see the README's Running on a cluster)."""
    tables = a.configured_tables(cfg)
    label = production_label(cfg)
    executor = executor or dg.multiprocess_executor.configured(executor_config(cfg), name="prodlike_multiprocess")
    sealed = dg.Out(io_manager_key=SEALED_IO_MANAGER)

    @dg.op(out={"held": dg.Out(dict, is_required=False, io_manager_key=SEALED_IO_MANAGER)},
           tags={"dagster/priority": "10"})
    def hold_snapshot(context: dg.OpExecutionContext, prodlike: a.ProdlikeResource):
        """Take staging and record the run (refused while paused), then export the production snapshot and hold
        it (and staging) until the last copy step has its rows."""
        refresh = _refresh(context, prodlike)
        try:
            refresh.start()
        except RefreshPausedError as err:
            a._refused(context, prodlike, str(err))
            return
        except Exception as err:
            raise _fail(err) from None
        try:
            with connections.staging(prodlike.target_dsn, autocommit=True) as conn:
                drop_outputs(conn, keep_run=context.run.run_id)
            held = refresh.hold_snapshot(failure_watch(context))
        except Exception as err:
            raise _fail(err) from None
        context.log.info(f"production snapshot held {held['held_seconds']}s; closed ({held['outcome']})")
        yield dg.Output(held, "held")

    @dg.op(out={"prepared": dg.Out(Prepared, is_required=False, io_manager_key=SEALED_IO_MANAGER),
                "slices": dg.DynamicOut(Slice, is_required=False, io_manager_key=SEALED_IO_MANAGER)})
    def plan_copy(context: dg.OpExecutionContext, prodlike: a.ProdlikeResource):
        """Inside the snapshot: preflight, the shadow schemas, and one copy step per table or slice."""
        refresh = _refresh(context, prodlike)
        try:
            snap = refresh.wait_for_snapshot(prodlike.target_dsn, context.run.run_id, failure_watch(context))
        except HolderGone as err:
            if (context.instance.get_run_by_id(context.run.run_id).tags.get(a.OUTCOME_TAG) or "").startswith(
                    "refused"):  # refreshes are paused: the holder said so; nothing to plan
                return
            raise _fail(err) from None
        try:
            prepared, slices = refresh.plan(snap)
        except Refused as err:
            a._halted(context, prodlike, f"the preflight refused the copy: {safe_message(err)}", tables)
            return
        except Exception as err:
            raise _fail(err) from None
        context.log.info(f"{len(slices)} copy step(s) from snapshot {snap.id}")
        yield dg.Output(prepared, "prepared")
        for piece in slices:
            yield dg.DynamicOutput(piece, mapping_key=piece.label, output_name="slices")

    @dg.op(out=sealed, tags={PRODUCTION_TAG: label, CELERY_QUEUE_TAG: label}, pool=label,
           retry_policy=dg.RetryPolicy(max_retries=cfg.copy_.retries, delay=1.0, backoff=dg.Backoff.EXPONENTIAL))
    def copy_slice(context: dg.OpExecutionContext, prodlike: a.ProdlikeResource, piece: Slice):
        """Copy one table or slice from the run's snapshot into its shadow table (a retry copies it again)."""
        try:
            stats = _refresh(context, prodlike).copy_slice(piece)
        except Exception as err:
            raise _fail(err) from None
        context.log.info(f"{piece.unit.source} slice {piece.number}: {stats.rows:,} rows in {stats.seconds:.2f}s; "
                         f"step peak RSS {peak_rss_mb():.0f} MB")
        return piece.unit.asset, stats

    @dg.op(out={"copied": dg.Out(list, is_required=False, io_manager_key=SEALED_IO_MANAGER)})
    def finish_copy(context: dg.OpExecutionContext, prodlike: a.ProdlikeResource, held: dict, prepared: Prepared,
                    copied: list):
        """Keys, indexes, sequences and statistics of the shadow copy, then the table checks (a halt stops here)."""
        if held["outcome"] != "copied":
            raise dg.Failure(description="the snapshot holder did not see every copy through")
        refresh = _refresh(context, prodlike)
        results, checking = [], 0.0
        try:
            previous = runner.previous_rows(prodlike.target_dsn)
            for tr in refresh.finish(prepared, copied):
                if tr.table in tables:
                    started = time.perf_counter()
                    table = registry.TableContext(refresh.cfg, prodlike.target_dsn, context.run.run_id, tr, previous)
                    for found in checks.table_results(table, a.table_key(tr.table)):
                        context.log_event(checks.evaluation(found))
                    results.append(tr)
                    checking += time.perf_counter() - started
            context.log.info(f"{COPY_COMPLETE}: {len(results)} table(s) with keys, indexes and statistics; "
                             f"{CHECKS_BESIDE} {checking:.2f}s")
            run = registry.RunContext(refresh.cfg, prodlike.target_dsn, context.run.run_id, tables=tables,
                                      copied=results)
            for found in checks.after_copy_results(run, a.table_key):
                context.log_event(checks.evaluation(found))
        except Exception as err:
            raise _fail(err) from None
        failing = a._failing_checks(prodlike.target_dsn, context.run.run_id)
        if failing:
            a._halted(context, prodlike, failing, tables)
            return
        for tr in results:  # shadow copies that passed their checks (as the in-process copy step yields them)
            context.log_event(dg.AssetMaterialization(asset_key=a.table_key(tr.table),
                                                      metadata=a._table_metadata(tr, prepared.snapshot_time)))
        runlock.pass_on(prodlike.target_dsn, context.run.run_id)
        yield dg.Output([tr.table for tr in results], "copied")

    @dg.op(out={"checked": dg.Out(bool, is_required=False, io_manager_key=SEALED_IO_MANAGER)})
    def parity(context: dg.OpExecutionContext, prodlike: a.ProdlikeResource, copied: list):
        """Run-level parity (query plans, infrastructure) of the shadow copy; a failing ERROR halts."""
        run = registry.RunContext(prodlike.config(), prodlike.target_dsn, context.run.run_id,
                                  source_dsn=prodlike.source_dsn, config_dir=Path(prodlike.config_path).parent)
        results = checks.run_results(run)
        for name, found in results.items():
            context.log_event(checks.evaluation(checks.dagster_result(a.PARITY_KEY, name, found)))
        failing = a._failing_checks(prodlike.target_dsn, context.run.run_id)
        if failing:
            runlock.resume(prodlike.target_dsn, context.run.run_id)
            a._halted(context, prodlike, failing, tables)
            return
        context.log_event(dg.AssetMaterialization(
            asset_key=a.PARITY_KEY, metadata=a._parity_metadata(results, prodlike.target_dsn, context.run.run_id)))
        yield dg.Output(True, "checked")

    @dg.op(name=RELEASE_OP, out=dg.Out(dg.Nothing))
    def release(context: dg.OpExecutionContext, prodlike: a.ProdlikeResource, checked: bool) -> None:
        """Atomic release of the shadow schemas, as in the in-process job (the run's hook concludes it)."""
        try:
            runlock.resume(prodlike.target_dsn, context.run.run_id)
            result = prodlike.refresh(context.run.run_id).release(hold=True)
            with connections.staging(prodlike.target_dsn, autocommit=True) as conn:
                drop_outputs(conn)  # the run's steps are done with what they passed each other
        except Exception as err:
            raise _fail(err) from None
        context.log_event(dg.AssetMaterialization(asset_key=a.RELEASE_KEY, metadata={
            "release_id": dg.MetadataValue.int(result.release_id),
            "schemas": dg.MetadataValue.text(", ".join(result.schemas)),
            **a.report_metadata(prodlike, context.run.run_id)}))

    @dg.job(name="refresh", executor_def=executor, hooks=hooks, tags={"prodlike/executor": "multiprocess"},
            description="Copy production into staging's shadow schema, one step per table and slice, from one "
                        "snapshot; validate; release. A halt pauses the refresh and alerts.")
    def refresh():
        held = hold_snapshot()  # both start at once: the plan waits for the snapshot the holder publishes
        prepared, slices = plan_copy()
        copied = slices.map(copy_slice)
        release(parity(finish_copy(held, prepared, copied.collect())))

    return refresh

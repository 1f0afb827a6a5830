"""Dagster automation of the on-call loop: the run's own hooks conclude it (pause, alert, report), the
schedule skips while paused or busy, sensors watch the freshness SLA and settle runs that died unconcluded."""

from __future__ import annotations

import dagster as dg
import psycopg

from prodlike.pipelines.config.model import Config
from prodlike.pipelines.engine import control, release, runlock
from prodlike.pipelines.errors import safe_message
from prodlike.pipelines.oncall import loop as oncall
from prodlike.pipelines.orchestration.assets import RELEASE_KEY, ProdlikeResource

SCHEDULE, FRESHNESS_SENSOR = "refresh_schedule", "freshness_sensor"
SUCCESS_SENSOR, FAILURE_SENSOR = "refresh_success_sensor", "refresh_failure_sensor"
SETTLE_SENSOR = "refresh_settle_sensor"


def _conclude(context, failure: str | None) -> None:
    """Conclude from inside the run, then free staging for the next run; an error here is logged and never hides
    the run's own outcome."""
    try:
        status = oncall.conclude(context.resources.prodlike.oncall(), context.run_id, failure)
        if status:
            context.log.info(f"run concluded: {status}")
    except Exception as err:
        context.log.error(f"could not conclude the run (alerts may be missing): {safe_message(err)}")
    finally:
        runlock.let_go(context.resources.prodlike.target_dsn, context.run_id)


@dg.success_hook(required_resource_keys={"prodlike"})
def conclude_on_release(context: dg.HookContext) -> None:
    """After the release step: recovery, warnings, report."""
    if context.op.name == RELEASE_KEY.to_python_identifier():
        _conclude(context, None)


@dg.failure_hook(required_resource_keys={"prodlike"})
def conclude_on_failure(context: dg.HookContext) -> None:
    """Any failed step: halted (a blocking check or the preflight) or failed (an error)."""
    err = context.op_exception
    _conclude(context, f"{type(err).__name__}: {safe_message(err)}" if err else "step failed")


def build_schedule(cfg: Config, job) -> dg.ScheduleDefinition:
    status = dg.DefaultScheduleStatus.RUNNING if cfg.schedule.enabled else dg.DefaultScheduleStatus.STOPPED

    @dg.schedule(name=SCHEDULE, job=job, cron_schedule=cfg.schedule.cron, default_status=status,
                 execution_timezone=cfg.schedule.timezone,
                 description="Refresh staging on the configured cron; skips while paused or while a refresh runs.")
    def refresh_schedule(context: dg.ScheduleEvaluationContext, prodlike: ProdlikeResource):
        reason = skip_reason(prodlike.target_dsn)
        return dg.SkipReason(reason) if reason else dg.RunRequest()

    return refresh_schedule


def skip_reason(target_dsn: str) -> str | None:
    """Why a scheduled refresh must not start now (None: start it). An unreadable staging does not skip:
    the run then fails and alerts, which a silent skip would not."""
    try:
        with psycopg.connect(target_dsn, autocommit=True, connect_timeout=10) as conn:
            if control.current_version(conn) < 2:
                return None
            st = control.state(conn)
            if st["paused"]:
                return (f"refreshes are paused since {st['paused_at']:%Y-%m-%d %H:%M %Z} by {st['paused_by']}: "
                        f"{st['paused_reason']}; `prodlike resume --note TEXT` resumes them")
            if control.refresh_running(conn):
                return "another refresh is running against staging"
    except psycopg.Error:
        return None
    return None


def build_sensors(cfg: Config, job) -> list:
    """Sensors run by default where refreshes run unattended (an enabled schedule); else start them in the UI."""
    status = dg.DefaultSensorStatus.RUNNING if cfg.schedule and cfg.schedule.enabled else \
        dg.DefaultSensorStatus.STOPPED
    @dg.sensor(name=FRESHNESS_SENSOR, minimum_interval_seconds=60,
               default_status=status,
               description="Every minute: staging's age (from the live release's production snapshot) against "
                           "the freshness SLA; alerts once per crossing and on recovery.")
    def freshness_sensor(context: dg.SensorEvaluationContext, prodlike: ProdlikeResource):
        ctx = prodlike.oncall()
        if ctx.cfg.freshness is None:
            return dg.SkipReason("no freshness SLA configured (freshness: in the config)")
        level = oncall.check_freshness(ctx)
        return dg.SkipReason(f"freshness: {level or 'no release yet'}")

    @dg.run_status_sensor(run_status=dg.DagsterRunStatus.SUCCESS, name=SUCCESS_SENSOR, monitored_jobs=[job],
                          default_status=status,
                          description="Settles a released run whose own hook did not (warnings, recovery).")
    def success_sensor(context: dg.RunStatusSensorContext, prodlike: ProdlikeResource):
        oncall.conclude(prodlike.oncall(), context.dagster_run.run_id)

    @dg.run_failure_sensor(name=FAILURE_SENSOR, monitored_jobs=[job], default_status=status,
                           description="Settles a failed run whose own hook could not (a crashed process).")
    def failure_sensor(context: dg.RunFailureSensorContext, prodlike: ProdlikeResource):
        message = context.failure_event.message if context.failure_event else "run failed"
        oncall.conclude(prodlike.oncall(), context.dagster_run.run_id,
                        f"DagsterRunFailure: {safe_message(Exception(message or 'run failed'))}")

    @dg.sensor(name=SETTLE_SENSOR, minimum_interval_seconds=60, default_status=status,
               description="Every minute: a refresh whose process died (its control row still running while no run "
                           "holds staging) is concluded failed with its alert, and its Dagster run marked failed; "
                           "old releases whose drop waited on staging users are dropped.")
    def settle_sensor(context: dg.SensorEvaluationContext, prodlike: ProdlikeResource):
        ctx = prodlike.oncall()
        settled = oncall.settle(ctx)
        failed = mark_dead_runs_failed(context.instance, prodlike.target_dsn)
        with psycopg.connect(prodlike.target_dsn, autocommit=True, connect_timeout=10) as conn:
            dropped = release.retry_pending_drops(conn, ctx.cfg.copy_.lock_timeout)
        return dg.SkipReason(f"settled: {', '.join(settled) or 'none'}; Dagster runs marked failed: "
                             f"{', '.join(failed) or 'none'}; old releases dropped: {', '.join(dropped) or 'none'}")

    return [freshness_sensor, success_sensor, failure_sensor, settle_sensor]


def mark_dead_runs_failed(instance: dg.DagsterInstance, target_dsn: str) -> list[str]:
    """Dagster runs still in progress whose refresh was settled as dead (their process is gone): marked failed,
    so the run queue (one run at a time) launches the next one."""
    with psycopg.connect(target_dsn, autocommit=True, connect_timeout=10) as conn:
        dead = [r[0] for r in conn.execute("SELECT run_id FROM prodlike.runs WHERE status = 'failed' AND error = %s "
                                           "AND finished_at > now() - interval '7 days'", (runlock.SETTLED,))]
    marked = []
    for run_id in dead:
        run = instance.get_run_by_id(run_id)
        if run is not None and not run.is_finished:
            instance.report_run_failed(run, f"prodlike settled this run: {runlock.SETTLED}")
            marked.append(run_id)
    return marked

"""Launching the refresh job on the config's persistent Dagster instance (in this process; with copy.executor
multiprocess, in a run worker process of its own) for the CLI and the demo, and the run's outcome as the control
schema recorded it: exit code, status and message always agree with the record and the alert."""

from __future__ import annotations

import multiprocessing
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import psycopg

from prodlike.pipelines.checks import tally
from prodlike.pipelines.config.model import load
from prodlike.pipelines.definitions import REFRESH_JOB, load_definitions, resolve_config_path
from prodlike.pipelines.engine import control, progress, runlock
from prodlike.pipelines.orchestration.assets import FORCE_TAG, OUTCOME_TAG
from prodlike.pipelines.postgres import connections

EXIT_OK, EXIT_ERROR, EXIT_HALTED = 0, 1, 2
# Dagster's console logger: quiet in the terminal (our progress, tables and messages say it; expected failures
# print no traceback); debug shows everything. The run's event log (the UI) keeps every record either way.
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
DEBUG_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "DEBUG"}}}}
PROJECT_DAGSTER_YAML = Path(__file__).resolve().parents[2] / "dagster.yaml"


@dataclass
class Outcome:
    """How a refresh ended: `released` (exit 0), `halted` (a blocking check or a refusal, exit 2), `refused`
    (refreshes are paused: nothing copied, exit 2) or `failed`
    (an error, exit 1); the message says why; paused tells whether refreshes are paused now."""

    status: str
    code: int
    message: str
    paused: bool = False
    results: list[dict] = field(default_factory=list)


def dagster_home(state_dir: Path) -> Path:
    """DAGSTER_HOME under the state folder, with the project's dagster.yaml in it."""
    home = state_dir / "dagster"
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    for candidate in (Path.cwd() / "dagster.yaml", PROJECT_DAGSTER_YAML):
        if candidate.exists():
            if not target.exists() or target.read_text() != candidate.read_text():
                shutil.copyfile(candidate, target)
            break
    else:
        if not target.exists():
            target.write_text("telemetry:\n  enabled: false\n")
    os.environ["DAGSTER_HOME"] = str(home.resolve())
    return home


def run_refresh_job(config_file: Path, state_dir: Path, force: bool = False,
                    debug: bool = False) -> dg.ExecuteInProcessResult:
    """Run the refresh job in-process with the persistent instance of the config's state folder."""
    dagster_home(state_dir)
    progress.use(progress.for_terminal())
    defs = load_definitions(config_file)
    job = defs.resolve_job_def(REFRESH_JOB)
    run_config = DEBUG_RUN_CONFIG if debug else QUIET_RUN_CONFIG
    tags = {FORCE_TAG: "true"} if force else None
    with dg.DagsterInstance.get() as instance:
        if load(resolve_config_path(config_file)).copy_.executor == "multiprocess":
            return run_distributed(config_file, instance, run_config, tags)
        result = job.execute_in_process(instance=instance, raise_on_error=False, run_config=run_config, tags=tags)
    runlock.let_go_run(result.run_id)  # the run is over: staging is free even if no hook concluded it
    return result


@dataclass
class RunResult:
    """A finished run as the CLI reads it (what ExecuteJobResult offers: run id, success, the run, its events)."""

    run_id: str
    success: bool
    dagster_run: dg.DagsterRun
    all_events: list

    @classmethod
    def read(cls, instance: dg.DagsterInstance, run_id: str) -> RunResult:
        run = instance.get_run_by_id(run_id)
        events = [e.dagster_event for e in instance.all_logs(run_id) if e.dagster_event is not None]
        return cls(run_id, run.status == dg.DagsterRunStatus.SUCCESS, run, events)


def run_distributed(config_file: Path, instance: dg.DagsterInstance, run_config: dict | None = None,
                    tags: dict | None = None) -> RunResult:
    """The per-step refresh job on the multiprocess executor, run by a fresh process of its own (as Dagster's run
    launcher does): its step processes fork from a server that imported this run's config and environment, never
    an earlier run's. Every step rebuilds the job from $PRODLIKE_CONFIG, set here to the run's config."""
    os.environ["PRODLIKE_CONFIG"] = str(Path(config_file).resolve())
    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    worker = ctx.Process(target=_run_worker, args=(send, run_config, tags), name="prodlike-run-worker")
    worker.start()
    send.close()
    try:
        run_id = receive.recv()
    except EOFError:
        raise RuntimeError(f"the run worker process ended without a run (exit code {worker.exitcode})") from None
    finally:
        worker.join()
    return RunResult.read(instance, run_id)


def _run_worker(send, run_config: dict | None, tags: dict | None) -> None:
    """In the run worker process: execute the job on the instance of $DAGSTER_HOME; send back the run id."""
    from prodlike.pipelines.definitions import refresh_job

    with dg.DagsterInstance.get() as instance:
        with dg.execute_job(dg.reconstructable(refresh_job), instance=instance, run_config=run_config, tags=tags,
                            raise_on_error=False) as result:
            send.send(result.run_id)


def outcome(result: dg.ExecuteInProcessResult, target_dsn: str) -> Outcome:
    """The run's outcome from staging's record of it (status, checks, error, pause); a run refused before it
    was recorded (paused, lock held, staging unreachable) from its failed step's error kind."""
    run, paused = _recorded(result.run_id, target_dsn)
    if run is not None and run["status"] in ("released", "halted", "failed"):
        return _from_record(run, paused)
    if (result.dagster_run.tags.get(OUTCOME_TAG) or "").startswith("refused"):
        return Outcome("refused", EXIT_HALTED, paused_reason(target_dsn) or "refreshes are paused", paused)
    if result.success:
        return Outcome("released", EXIT_OK, "released", paused)
    kind, message = step_failure(result)
    if kind == "refused":
        return Outcome("halted", EXIT_HALTED, message, paused)
    return Outcome("failed", EXIT_ERROR, message, paused)


def _recorded(run_id: str, target_dsn: str) -> tuple[dict | None, bool]:
    try:
        with psycopg.connect(target_dsn, connect_timeout=10) as conn:
            if control.current_version(conn) == 0:
                return None, False
            return control.get_run(conn, run_id), bool(control.state(conn)["paused"])
    except psycopg.Error:
        return None, False


def _from_record(run: dict, paused: bool) -> Outcome:
    results = [c for c in run["checks"] if isinstance(c, dict)]
    if run["status"] == "released":
        return Outcome("released", EXIT_OK, "released", paused, results)
    if run["status"] == "failed":
        return Outcome("failed", EXIT_ERROR, _error_text(run), paused, results)
    errors = tally.failing(results)
    if not errors:
        return Outcome("halted", EXIT_HALTED, _error_text(run), paused, results)
    lines = []
    for check, table in errors:
        first = next(c for c in results if c["check"] == check and c.get("table") == table
                     and c.get("verdict") == "error")
        lines.append(f"{table or 'run'} {check}: {first.get('explanation') or ''}")
    return Outcome("halted", EXIT_HALTED, f"{len(errors)} check(s) failed, staging keeps the last release:\n  "
                   + "\n  ".join(lines), paused, results)


def _error_text(run: dict) -> str:
    """The recorded error without the class name prefix the control schema keeps."""
    error = run.get("error") or "the refresh run failed (see the Dagster run log)"
    name, sep, rest = error.partition(": ")
    return rest if sep and name.isidentifier() else error


def step_failure(result: dg.ExecuteInProcessResult) -> tuple[str, str]:
    """(error kind, message) of the run's first failed step: kinds come from the error root (`Refused`,
    `Transient`), tagged on the step's failure by the assets."""
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
            user = event.step_failure_data.user_failure_data
            tagged = user.metadata.get("error_kind") if user else None
            message = user.description if user and user.description else event.step_failure_data.error.message
            return (tagged.value if tagged else "error"), message.strip()
    return "error", "the refresh run failed (see the Dagster run log)"


def paused_reason(target_dsn: str) -> str | None:
    """Why a refresh must not start (refreshes are paused), with the commands that help; None: it may start."""
    with connections.staging(target_dsn, autocommit=True) as conn:
        if control.current_version(conn) < 2 or not (st := control.state(conn))["paused"]:
            return None
    return (f"refreshes are paused since {st['paused_at']:%Y-%m-%d %H:%M:%S %Z} by {st['paused_by']}: "
            f"{st['paused_reason']}. Inspect with `prodlike status`, then `prodlike resume --note TEXT`; "
            f"or run once anyway with `prodlike refresh --force` (recorded)")

"""The Dagster code location: definitions built from the config alone (works while production is down).
`DEMO_CONFIG` is re-exported for the code that looks for it here."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from prodlike.pipelines import quiet
from prodlike.pipelines.config.model import Config, config_path, load
from prodlike.pipelines.demo import DEMO_CONFIG
from prodlike.pipelines.orchestration import automation, distributed
from prodlike.pipelines.orchestration.assets import build_assets, build_resource
from prodlike.pipelines.orchestration.sealed import SEALED_IO_MANAGER, sealed_outputs

REFRESH_JOB = "refresh"


def resolve_config_path(path: str | Path | None = None) -> Path:
    """The config to build from: the argument, $PRODLIKE_CONFIG, ./prodlike.yaml, else the demo's."""
    p = config_path(path)
    return p if p.exists() else DEMO_CONFIG


def build_definitions(cfg: Config, path: Path) -> dg.Definitions:
    assets = build_assets(cfg)
    hooks = {automation.conclude_on_release, automation.conclude_on_failure}
    if cfg.copy_.executor == "multiprocess":  # one step per table and slice, on Dagster's distributed executors
        job = distributed.build_job(cfg, hooks)
    else:
        job = dg.define_asset_job(REFRESH_JOB, selection=dg.AssetSelection.assets(*assets),
                                  hooks=hooks,
                                  # one process for the whole run: its staging session holds the refresh lock from
                                  # the copy to the conclusion (the copy itself is parallel inside its step)
                                  executor_def=dg.in_process_executor,
                                  description="Copy production into staging's shadow schema, validate, release; "
                                              "a halt pauses the refresh and alerts.")
    schedules = [automation.build_schedule(cfg, job)] if cfg.schedule else []
    return dg.Definitions(assets=assets, jobs=[job], schedules=schedules, sensors=automation.build_sensors(cfg, job),
                          resources={"prodlike": build_resource(path.resolve()),
                                     SEALED_IO_MANAGER: sealed_outputs})


def cluster_definitions(executor: dg.ExecutorDefinition, path: str | Path | None = None) -> dg.Definitions:
    """The definitions with the per-step refresh job on a cluster executor (dagster-k8s's k8s_job_executor,
    dagster-celery's celery_executor): the code location a cluster loads (README, Running on a cluster)."""
    p = resolve_config_path(path)
    cfg = load(p)
    defs = build_definitions(cfg, p)
    hooks = {automation.conclude_on_release, automation.conclude_on_failure}
    job = distributed.build_job(cfg, hooks, executor)
    return dg.Definitions(assets=defs.assets, jobs=[job], sensors=automation.build_sensors(cfg, job),
                          schedules=[automation.build_schedule(cfg, job)] if cfg.schedule else [],
                          resources=defs.resources)


def load_definitions(path: str | Path | None = None) -> dg.Definitions:
    p = resolve_config_path(path)
    return build_definitions(load(p), p)


def refresh_job() -> dg.JobDefinition:
    """The refresh job of $PRODLIKE_CONFIG (or the default config): what `dg.reconstructable` rebuilds in every
    step process of the multiprocess executor."""
    return load_definitions().resolve_job_def(REFRESH_JOB)


quiet.install()
defs = load_definitions()

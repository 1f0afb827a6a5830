"""The Dagster code location: definitions built from the config alone (works while production is down)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from prodlike.pipelines import quiet
from prodlike.pipelines.config.model import Config, config_path, load
from prodlike.pipelines.orchestration import automation
from prodlike.pipelines.orchestration.assets import build_assets, build_resource

DEMO_CONFIG = Path(__file__).parent / "demo" / "demo.yaml"
REFRESH_JOB = "refresh"


def resolve_config_path(path: str | Path | None = None) -> Path:
    """The config to build from: the argument, $PRODLIKE_CONFIG, ./prodlike.yaml, else the demo's."""
    p = config_path(path)
    return p if p.exists() else DEMO_CONFIG


def build_definitions(cfg: Config, path: Path) -> dg.Definitions:
    assets = build_assets(cfg)
    job = dg.define_asset_job(REFRESH_JOB, selection=dg.AssetSelection.assets(*assets),
                              hooks={automation.conclude_on_release, automation.conclude_on_failure},
                              description="Copy production into staging's shadow schema, validate, release; "
                                          "a halt pauses the refresh and alerts.")
    schedules = [automation.build_schedule(cfg, job)] if cfg.schedule else []
    return dg.Definitions(assets=assets, jobs=[job], schedules=schedules, sensors=automation.build_sensors(cfg, job),
                          resources={"prodlike": build_resource(cfg, path.resolve())})


def load_definitions(path: str | Path | None = None) -> dg.Definitions:
    p = resolve_config_path(path)
    return build_definitions(load(p), p)


quiet.install()
defs = load_definitions()

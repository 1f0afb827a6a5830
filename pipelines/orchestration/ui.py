"""`make ui`: the Dagster UI of the config the CLI would use (README order), on that config's own instance."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def ui_environment(config_arg: str | None = None) -> dict[str, str]:
    """PRODLIKE_CONFIG and DAGSTER_HOME for the config found in the README's order: $PRODLIKE_CONFIG,
    ./prodlike.yaml, the demo's (./.prodlike/demo/demo.yaml), else the packaged demo config."""
    from prodlike.pipelines.config.model import load
    from prodlike.pipelines.definitions import resolve_config_path
    from prodlike.pipelines.orchestration.launch import dagster_home

    path = resolve_config_path(config_arg).resolve()
    home = dagster_home(load(path).state_path(path.parent))
    return {"PRODLIKE_CONFIG": str(path), "DAGSTER_HOME": str(home.resolve())}


def main(argv: list[str]) -> None:
    """Replace this process by `dagster dev`, started inside DAGSTER_HOME (so Dagster finds no other
    dagster.yaml in its working folder) with the config's environment."""
    env = ui_environment()
    print(f"prodlike: Dagster UI of {env['PRODLIKE_CONFIG']} (DAGSTER_HOME={env['DAGSTER_HOME']})", flush=True)
    os.environ.update(env)
    os.chdir(env["DAGSTER_HOME"])
    dagster = Path(sys.executable).with_name("dagster")
    os.execv(str(dagster), [str(dagster), "dev", "-m", "prodlike.pipelines.definitions", *argv])


if __name__ == "__main__":
    main(sys.argv[1:])

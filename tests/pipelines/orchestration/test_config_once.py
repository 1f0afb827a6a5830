"""One refresh parses its config once: the definitions, the resource of every step and the on-call hooks share
one Config."""

from __future__ import annotations

import dagster as dg

from prodlike.pipelines.config import model
from prodlike.pipelines.definitions import load_definitions


def test_one_refresh_parses_its_config_once(demo_env, demo_dbs, monkeypatch):
    path, env, _ = demo_env
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    parsed, real = [], model.load_text
    monkeypatch.setattr(model, "load_text", lambda text, source="<config>": parsed.append(source) or
                        real(text, source))
    job = load_definitions(path).resolve_job_def("refresh")
    result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    assert result.success
    assert parsed == [str(path)]

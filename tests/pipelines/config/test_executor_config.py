"""copy.executor: in_process (the default: the one-step asset job, unchanged) or multiprocess (the per-step job on
the multiprocess executor, copies bounded per production server); a bad value names the key."""

from __future__ import annotations

import dagster as dg
import pytest

from prodlike.pipelines.config.model import ConfigError, load_text
from prodlike.pipelines.definitions import build_definitions
from prodlike.pipelines.engine.seal import sealer
from prodlike.pipelines.orchestration.distributed import PRODUCTION_TAG, executor_config

CONFIG = """
version: 1
source: {dsn: "${PL_EXEC_SOURCE}"}
target: {dsn: "${PL_EXEC_TARGET}"}
anonymization: {key: "${PL_EXEC_KEY}", tables: {public.t: keep}}
"""


@pytest.fixture(autouse=True)
def env(monkeypatch):
    monkeypatch.setenv("PL_EXEC_SOURCE", "postgresql://reader:secret@db.internal:5433/shop")
    monkeypatch.setenv("PL_EXEC_TARGET", "postgresql://writer@staging.internal/shop")
    monkeypatch.setenv("PL_EXEC_KEY", "k" * 40)


def _job(text: str, tmp_path) -> dg.JobDefinition:
    return build_definitions(load_text(text), tmp_path / "prodlike.yaml").resolve_job_def("refresh")


@pytest.mark.parametrize("value", ["k8s", "in-process", "1"])
def test_a_bad_executor_names_the_key_and_the_choices(value):
    with pytest.raises(ConfigError, match=r"copy\.executor: Input should be 'in_process' or 'multiprocess'"):
        load_text(CONFIG + f"copy: {{executor: {value!r}}}\n")


def test_the_default_is_the_in_process_asset_job(tmp_path):
    cfg = load_text(CONFIG)
    assert cfg.copy_.executor == "in_process"
    job = _job(CONFIG, tmp_path)
    assert job.executor_def.name == "in_process"
    assert "copy_tables" in {n.name for n in job.nodes}


def test_multiprocess_is_the_per_step_job_bounded_per_production_server(tmp_path):
    job = _job(CONFIG + "copy: {executor: multiprocess, workers: 3}\n", tmp_path)
    assert {n.name for n in job.nodes} == {"hold_snapshot", "plan_copy", "copy_slice", "finish_copy", "parity",
                                           "staging__release"}
    copy = job.graph.node_named("copy_slice").definition
    label = "production-db.internal:5433/shop"  # host, port and database; never the password
    assert copy.tags[PRODUCTION_TAG] == label and copy.pool == label
    assert job.executor_def.name == "prodlike_multiprocess"
    limits = executor_config(load_text(CONFIG + "copy: {executor: multiprocess, workers: 3}\n"))
    assert limits["tag_concurrency_limits"] == [{"key": PRODUCTION_TAG, "value": label, "limit": 3}]
    assert limits["max_concurrent"] == 5  # the copies, the holder and the plan
    assert "secret" not in repr(copy.tags)


def test_sealing_needs_the_anonymization_key():
    with pytest.raises(ConfigError, match=r"copy\.executor: multiprocess seals .* anonymization\.key"):
        sealer(None)
    box = sealer("k" * 40)
    assert box.decrypt(box.encrypt(b"rows")) == b"rows"


def test_the_readmes_cluster_run_configs_parse_and_use_the_jobs_tag():
    import re

    import yaml

    from tests.conftest import ROOT

    section = (ROOT / "README.md").read_text().split("## Running on a cluster", 1)[1].split("\n## ", 1)[0]
    blocks = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", section, re.S)]
    k8s, celery = blocks
    limits = k8s["execution"]["config"]["tag_concurrency_limits"]
    assert limits[0]["key"] == PRODUCTION_TAG and limits[0]["value"].startswith("production-")
    assert k8s["execution"]["config"]["max_concurrent"] >= limits[0]["limit"] + 2
    assert "broker" in celery["execution"]["config"]

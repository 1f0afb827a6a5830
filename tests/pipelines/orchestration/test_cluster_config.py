"""The README's cluster run configs (Running on a cluster), read from the README itself, are valid run config of the
per-step refresh job on dagster-k8s's and dagster-celery's executors, and name the tag, queue and pool the job's copy
steps carry. No cluster here: this checks the YAML a team copies, not a deployment."""

from __future__ import annotations

import re
from pathlib import Path

import dagster as dg
import pytest
import yaml

from prodlike.pipelines.definitions import cluster_definitions
from prodlike.pipelines.orchestration.distributed import CELERY_QUEUE_TAG, PRODUCTION_TAG

ROOT = Path(__file__).resolve().parents[3]
CONFIG = """
version: 1
source: {dsn: "${CLUSTER_SOURCE_DSN}"}
target: {dsn: "${CLUSTER_TARGET_DSN}"}
anonymization:
  key: "${CLUSTER_ANON_KEY}"
  tables: {public.customers: keep}
copy: {executor: multiprocess, workers: 8}
"""
README_TAG_VALUE = "production-db.internal:5432/shop"  # what the README's YAML names


def _readme_block(after: str, lang: str) -> str:
    """The first ```lang block of the README's cluster section after the line starting with `after`."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Running on a cluster"):]
    rest = section[section.index(after):]
    return re.search(rf"```{lang}\n(.*?)```", rest, re.S).group(1)


@pytest.fixture
def cluster_config(tmp_path, monkeypatch) -> Path:
    """A multiprocess config reading the README's example production server."""
    monkeypatch.setenv("CLUSTER_SOURCE_DSN", "postgresql://prodlike_reader@db.internal:5432/shop")
    monkeypatch.setenv("CLUSTER_TARGET_DSN", "postgresql://prodlike@staging.internal:5432/shop")
    monkeypatch.setenv("CLUSTER_ANON_KEY", "k" * 40)
    path = tmp_path / "prodlike.yaml"
    path.write_text(CONFIG)
    return path


def _copy_step(job: dg.JobDefinition) -> dg.OpDefinition:
    return next(node.definition for node in job.graph.node_dict.values() if node.definition.name == "copy_slice")


def test_k8s_run_config_of_the_readme_is_valid_and_limits_copies_per_production(cluster_config):
    from dagster_k8s import k8s_job_executor

    job = cluster_definitions(k8s_job_executor, cluster_config).resolve_job_def("refresh")
    run_config = yaml.safe_load(_readme_block("Run config for `dagster-k8s`", "yaml"))
    assert dg.validate_run_config(job, run_config)
    limits = run_config["execution"]["config"]["tag_concurrency_limits"]
    assert [(x["key"], x["value"]) for x in limits] == [(PRODUCTION_TAG, README_TAG_VALUE)]
    copy = _copy_step(job)
    assert copy.tags[PRODUCTION_TAG] == README_TAG_VALUE == copy.pool
    assert run_config["execution"]["config"]["max_concurrent"] >= limits[0]["limit"] + 2  # holder and plan/finish


def test_celery_run_config_of_the_readme_is_valid_and_its_queue_is_the_copies_queue(cluster_config):
    from dagster_celery import celery_executor

    job = cluster_definitions(celery_executor, cluster_config).resolve_job_def("refresh")
    run_config = yaml.safe_load(_readme_block("Run config for `dagster-celery`", "yaml"))
    assert dg.validate_run_config(job, run_config)
    workers = _readme_block("Run config for `dagster-celery`", "sh")
    queues = re.findall(r"-Q '([^']+)'", workers)
    assert _copy_step(job).tags[CELERY_QUEUE_TAG] in queues


def test_a_wrong_key_in_a_cluster_run_config_is_refused(cluster_config):
    from dagster_k8s import k8s_job_executor

    job = cluster_definitions(k8s_job_executor, cluster_config).resolve_job_def("refresh")
    with pytest.raises(dg.DagsterInvalidConfigError, match="max_concurent"):
        dg.validate_run_config(job, {"execution": {"config": {"max_concurent": 10}}})

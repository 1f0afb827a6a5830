"""Config: the example loads; every error names the key path, the bad value and the fix; the README's
reference is generated from the model."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from prodlike.pipelines.config import model as cfgmod
from prodlike.pipelines.config.reference import reference, transformer_reference
from prodlike.pipelines.config.secrets import MissingSecretError, redact, resolve
from tests.conftest import ROOT

MINIMAL = "source: {dsn: '${SRC}'}\ntarget: {dsn: '${DST}'}\n"

CASES = [
    # (yaml, expected message fragment)
    ("source: {dsn: 'postgresql://u:secret@h/db'}\ntarget: {dsn: '${DST}'}",
     "source.dsn: secrets are read from the environment only: write a ${ENV_VAR} reference"),
    ("target: {dsn: '${DST}'}", "source: required key is missing"),
    (MINIMAL + "keep_previus: true", "keep_previus: unknown key; check its spelling"),
    (MINIMAL + "copy: {workers: 0}", "copy.workers: Input should be greater than or equal to 1 (got 0)"),
    (MINIMAL + "distribution_sample_rows: -1",
     "distribution_sample_rows: Input should be greater than or equal to 0 (got -1)"),
    (MINIMAL + "copy: {lock_timeout: soon}", "copy.lock_timeout: expected a duration such as 5s, 30m, 2h or 1d"),
    (MINIMAL + "schedule: {cron: 'hourly'}", "schedule.cron: expected 5 cron fields"),
    (MINIMAL + "schedule: {cron: '0 * * * *', timezone: Mars/Base}", "schedule.timezone: unknown timezone 'Mars/Base'"),
    (MINIMAL + "anonymization: {tables: {customers: keep}}", "table 'customers' must be written schema.table"),
    (MINIMAL + "anonymization: {tables: {sales.orders: keep}}",
     "schema 'sales' is not in schemas ['public']; add it to schemas or remove the table"),
    (MINIMAL + "schemas: [prodlike]", "schemas: Value error, schema 'prodlike' is reserved"),
    (MINIMAL + "version: 2", "version: Input should be 1"),
    ("- just\n- a list", "expected a mapping of keys at the top level"),
    ("source: [unclosed", "not valid YAML"),
]


@pytest.mark.parametrize("text, message", CASES, ids=[
    "inline-secret", "missing-source", "typo-key", "workers-zero", "negative-sample", "bad-duration", "bad-cron",
    "bad-timezone",
    "unqualified-table", "table-outside-schemas", "reserved-schema", "bad-version", "not-a-mapping", "bad-yaml"])
def test_bad_config_names_the_key(text, message):
    with pytest.raises(cfgmod.ConfigError, match=re.escape(message).replace("Value\\ error,\\ ", "")):
        cfgmod.load_text(text, "prodlike.yaml")


def test_example_and_demo_configs_load():
    ex = cfgmod.load(ROOT / "prodlike.example.yaml")
    assert ex.copy_.lock_timeout == timedelta(seconds=5)
    assert ex.copy_.batch_bytes == 8 * 1024**2
    assert ex.anonymization.tables["public.customers"].columns["birth_date"].params == {"keep": "year"}
    demo = cfgmod.load(ROOT / "pipelines" / "demo" / "demo.yaml")
    assert demo.anonymization.tables["public.products"].keep


def test_missing_env_var_names_variable_and_key(monkeypatch):
    monkeypatch.delenv("PL_NOT_SET", raising=False)
    with pytest.raises(MissingSecretError, match=re.escape(
            "source.dsn: environment variable PL_NOT_SET is not set (the config reads it as ${PL_NOT_SET}); "
            "export PL_NOT_SET=... before running")):
        resolve("${PL_NOT_SET}", "source.dsn")


def test_missing_config_file_says_what_to_do(tmp_path):
    with pytest.raises(cfgmod.ConfigError, match="config file not found; pass -c FILE, set PRODLIKE_CONFIG"):
        cfgmod.load(tmp_path / "nope.yaml")


@pytest.mark.parametrize("dsn, shown", [
    ("postgresql://u:s3cret@h:5432/db", "postgresql://u:***@h:5432/db"),
    ("host=h password=s3cret dbname=db", "host=h password=*** dbname=db"),
    ("postgresql+psycopg2://u:p%40ss@h/db", "postgresql+psycopg2://u:***@h/db"),
])
def test_dsn_redaction(dsn, shown):
    assert redact(dsn) == shown


def test_readme_config_reference_is_generated_from_the_model():
    readme = (ROOT / "README.md").read_text()
    assert reference() in readme, "run: python -m prodlike.pipelines.readme README.md"
    assert transformer_reference() in readme, "run: python -m prodlike.pipelines.readme README.md"

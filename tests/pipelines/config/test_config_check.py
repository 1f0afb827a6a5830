"""`prodlike config check` judges everything it can without connecting and names each key; a refused config
never echoes a secret or dumps itself."""

from __future__ import annotations

import pytest
import yaml

from prodlike.pipelines.config.model import ConfigError, load_text
from tests.pipelines.cli.test_cli import run_cli

BASE = {"source": {"dsn": "${PL_CHECK_SOURCE}"}, "target": {"dsn": "${PL_CHECK_TARGET}"}}
SET = {"PL_CHECK_SOURCE": "postgresql://a@127.0.0.1:1/a", "PL_CHECK_TARGET": "postgresql://a@127.0.0.1:1/b"}


def test_config_check_finds_every_offline_problem(tmp_path):
    cfg = dict(BASE, anonymization={"key": "${PL_CHECK_ANON_KY}", "tables": {"public.customers": {"columns": {
        "email": "emial",                                    # a misspelled transformer
        "name": {"transformer": "mask", "keep_frist": 1},    # a misspelled parameter
        "id": "keep"}}}},
        thresholds={"ks": {"warn": 0.5, "error": 0.2},       # warn above error
                    "tables": {"public.customers": {"columns": {"email": {"format": {"warn": 0.3, "error": 0.1}}}}}})
    path = tmp_path / "prodlike.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = run_cli("config", "check", "-c", str(path), env=SET)
    assert out.returncode == 1, out.stdout + out.stderr
    text = " ".join(out.stdout.split())
    for expected in (
        "anonymization.tables.public.customers.columns.email: unknown transformer 'emial'; did you mean 'email'",
        "anonymization.tables.public.customers.columns.name: transformer 'mask' has no parameter 'keep_frist'; "
        "did you mean 'keep_first'?",
        "thresholds.ks: warn (0.5) is above error (0.2)",
        "thresholds.tables.public.customers.columns.email.format: warn (0.3) is above error (0.1)",
        "anonymization.key: environment variable PL_CHECK_ANON_KY is not set (the config reads it as "
        "${PL_CHECK_ANON_KY})",
    ):
        assert expected in text, text
    assert "config OK" not in out.stdout and "\"source\"" not in out.stdout  # no JSON dump, no OK


def test_config_check_says_ok_first_and_dumps_only_when_asked(tmp_path):
    path = tmp_path / "prodlike.yaml"
    path.write_text(yaml.safe_dump(BASE))
    out = run_cli("config", "check", "-c", str(path), env=SET)
    assert out.returncode == 0 and out.stdout.startswith("config OK"), out.stdout + out.stderr
    assert "{" not in out.stdout
    shown = run_cli("config", "check", "-c", str(path), "--show", env=SET)
    assert shown.stdout.startswith("config OK") and '"source"' in shown.stdout


@pytest.mark.parametrize("where", ["source", "alerts"])
def test_an_inline_secret_is_refused_without_echoing_it(where):
    secret = "postgresql://app:S3cr3t-pw@db.internal/prod"
    cfg = dict(BASE)
    if where == "source":
        cfg["source"] = {"dsn": secret}
    else:
        cfg["alerts"] = {"pagerduty": [{"routing_key": "R0ut1ngK3y-inline"}]}
    with pytest.raises(ConfigError) as err:
        load_text(yaml.safe_dump(cfg))
    assert "S3cr3t" not in str(err.value) and "R0ut1ngK3y" not in str(err.value)
    assert "secrets are read from the environment only" in str(err.value)


def test_a_bad_cron_names_the_key_and_never_dumps_the_config():
    with pytest.raises(ConfigError) as err:
        load_text(yaml.safe_dump(dict(BASE, schedule={"cron": "0 25 * * *"})))
    assert "schedule.cron: hour '25': out of range (0-23)" in str(err.value)
    assert "PL_CHECK_SOURCE" not in str(err.value)  # nothing of the rest of the config

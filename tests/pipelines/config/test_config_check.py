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


# what `prodlike init` writes for two FK columns: one left to inherit (a comment), one integer key kept
INIT_WRITTEN = """\
source: {dsn: "${PL_CHECK_SOURCE}"}
target: {dsn: "${PL_CHECK_TARGET}"}
anonymization:
  tables:
    public.customers:
      columns:
        id: keep                 # integer; integer key
        email: email             # review: text; 3/3 look like e-mail
    public.orders:
      columns:
        id: keep                 # integer; integer key
        customer_id: keep        # integer; integer key; foreign key to public.customers.id (inherits its transform)
        %s
        # buyer_email: text; foreign key: gets exactly the transform of public.customers.email (do not set one here)
"""


@pytest.mark.parametrize("line, expected", [
    ("buyer_email: hash", "anonymization.tables.public.orders.columns.buyer_email: a foreign key to "
                          "public.customers.email, which uses email, but this column is given hash; remove this rule"),
    # the inheriting column left as init wrote it: nothing to report
    ("", None),
])
def test_config_check_compares_fk_rules_recorded_by_init_offline(tmp_path, line, expected):
    path = tmp_path / "prodlike.yaml"
    path.write_text(INIT_WRITTEN % line)
    out = run_cli("config", "check", "-c", str(path), env=SET)
    text = " ".join(out.stdout.split())
    if expected:
        assert out.returncode == 1 and expected in text, out.stdout + out.stderr
    else:
        assert out.returncode == 0, out.stdout + out.stderr
        assert "foreign keys: not read from production; 2 FK column(s) recorded" in text
        assert "prodlike config check --connect" in text


def test_config_check_connect_compares_every_fk_with_production(dbs, tmp_path):
    """A hand-written config records no FK: offline it says it did not compare them; --connect reads the catalog
    and names both keys and the fix."""
    with dbs.src() as conn:
        conn.execute("CREATE TABLE customers (id int PRIMARY KEY, email text UNIQUE);"
                     "CREATE TABLE orders (id int PRIMARY KEY, buyer_email text REFERENCES customers (email))")
    cfg = dict(BASE, anonymization={"tables": {
        "public.customers": {"columns": {"id": "keep", "email": "email"}},
        "public.orders": {"columns": {"id": "keep", "buyer_email": "hash"}}}})
    path = tmp_path / "prodlike.yaml"
    path.write_text(yaml.safe_dump(cfg))
    env = {"PL_CHECK_SOURCE": dbs.source, "PL_CHECK_TARGET": dbs.target}
    offline = run_cli("config", "check", "-c", str(path), env=env)
    assert offline.returncode == 0, offline.stdout + offline.stderr
    assert "foreign keys: not read from production; 0 FK column(s)" in " ".join(offline.stdout.split())
    out = run_cli("config", "check", "--connect", "-c", str(path), env=env)
    text = " ".join(out.stdout.split())
    assert out.returncode == 1, out.stdout + out.stderr
    assert "found with production's catalog" in text
    assert ("public.orders.buyer_email references public.customers.email, which uses email; public.orders.buyer_email "
            "must use exactly the same transform (remove its rule" in text), text

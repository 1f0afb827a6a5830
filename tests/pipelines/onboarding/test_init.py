"""`prodlike init` on the demo production database writes a config that refreshes with no edits; its PII
suggestions are active and marked for review, free text is never kept, FK columns inherit their key's rule."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from prodlike.pipelines.config import model as config_mod
from tests.conftest import ROOT, TEST_KEY


def run_cli(*args: str, env: dict, cwd=ROOT, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "prodlike.pipelines.cli", *args], env={**os.environ, **env},
                          cwd=cwd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def init_env(demo_dbs, tmp_path):
    return {"MY_PROD_DSN": demo_dbs.source, "MY_STAGING_DSN": demo_dbs.target, "PRODLIKE_ANON_KEY": TEST_KEY.decode()}


def test_init_then_refresh_succeeds_with_no_edits(init_env, demo_dbs, tmp_path):
    path = tmp_path / "prodlike.yaml"
    out = run_cli("init", "--source-dsn-env", "MY_PROD_DSN", "--target-dsn-env", "MY_STAGING_DSN", "-o", str(path),
                  env=init_env)
    assert out.returncode == 0, out.stdout + out.stderr[-3000:]
    text = path.read_text()
    cfg = config_mod.load(path)
    assert cfg.source.dsn == "${MY_PROD_DSN}" and cfg.target.dsn == "${MY_STAGING_DSN}"
    customers = cfg.anonymization.tables["public.customers"].columns
    assert customers["email"].transformer == "email"
    assert customers["preferences"].transformer == "json"  # jsonb without a reviewed rule: redacted, not kept
    tickets = cfg.anonymization.tables["public.support_tickets"].columns
    assert tickets["body"].transformer == "regex_redact" and tickets["subject"].transformer == "regex_redact"
    assert "email: email" in text and "# review:" in text
    assert cfg.workload == "workload.sql" and (tmp_path / "workload.sql").read_text().count(";") >= 3
    assert cfg.schedule is not None and cfg.schedule.enabled is False
    assert "freshness:" in text
    with demo_dbs.src() as src:  # the config holds no production value
        for (email,) in src.execute("SELECT email FROM customers LIMIT 50"):
            assert email not in text

    check = run_cli("config", "check", "-c", str(path), env=init_env)
    assert check.returncode == 0, check.stdout + check.stderr[-2000:]
    refresh = run_cli("refresh", "-c", str(path), env=init_env, cwd=tmp_path)
    assert refresh.returncode == 0, refresh.stdout[-3000:] + refresh.stderr[-3000:]
    assert "released" in refresh.stdout
    with demo_dbs.dst() as dst:  # a fresh copy is not "released with warnings" for artifacts of being fresh
        checks = dst.execute("SELECT checks FROM prodlike.runs ORDER BY started_at DESC LIMIT 1").fetchone()[0]
    warned = [f"{c['check']} {c.get('table')} {c.get('column')}: {c['explanation']}" for c in checks
              if c["verdict"] != "pass"]
    assert warned == [], "\n".join(warned)


def test_init_refuses_to_overwrite(init_env, tmp_path):
    path = tmp_path / "prodlike.yaml"
    path.write_text("# mine\n")
    out = run_cli("init", "--source-dsn-env", "MY_PROD_DSN", "-o", str(path), env=init_env)
    assert out.returncode == 1
    assert "prodlike.yaml exists; pass --force to overwrite it" in out.stdout
    assert path.read_text() == "# mine\n"


def test_init_names_a_missing_variable(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "NOT_SET_DSN"}
    out = subprocess.run([sys.executable, "-m", "prodlike.pipelines.cli", "init", "--source-dsn-env", "NOT_SET_DSN",
                          "-o", str(tmp_path / "p.yaml")], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert "environment variable NOT_SET_DSN is not set" in out.stdout


def test_a_table_whose_only_column_inherits_from_its_key_is_written_as_an_empty_map():
    """synapse's partial_state_rooms (one FK column) was written as `columns:` with only a comment: null, refused."""
    import yaml

    from prodlike.pipelines.onboarding.init import ColumnLine, TableBlock, _tables_yaml

    block = TableBlock("public.partial_state_rooms", [
        ColumnLine("room_id", None, "text; foreign key: gets exactly the transform of public.rooms.room_id")])
    text = "tables:\n" + "\n".join(_tables_yaml([block]))
    assert yaml.safe_load(text)["tables"]["public.partial_state_rooms"] == {"columns": {}}
    assert "# room_id: text; foreign key" in text

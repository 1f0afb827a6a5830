"""No production PII, anonymization key or password anywhere in the state folder after the demo and
a failed refresh (Dagster storage, logs, compute logs, staging's data files), except production's own
server folder and the secret store: the servers' password files and the demo config's env file (its DSNs, so
that every command finds the demo), which must be readable by their owner only."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import yaml

from prodlike.pipelines.definitions import DEMO_CONFIG
from prodlike.pipelines.demo import embedded
from tests.conftest import STATE as TEST_STATE
from tests.pipelines.cli.test_cli import run_cli

STATE = TEST_STATE / "pii-demo"
SECRET_KEY = "pii-test-key-never-written-anywhere-7f3a9c1e55"


def _needles(prod_dsn: str) -> dict[str, bytes]:
    with psycopg.connect(prod_dsn) as conn:
        rows = conn.execute(
            "(SELECT 'email', email::text FROM customers ORDER BY id LIMIT 40) UNION ALL "
            "(SELECT 'phone', phone FROM customers WHERE phone IS NOT NULL ORDER BY id LIMIT 40) UNION ALL "
            "(SELECT 'ip', host(signup_ip) FROM customers WHERE (id % 997) = 3 ORDER BY id LIMIT 10) UNION ALL "
            "(SELECT 'card', '4111 1111 1111 1111') UNION ALL "
            "(SELECT 'street', street FROM addresses ORDER BY id LIMIT 5)"
        ).fetchall()
    return {f"{kind}:{value}": value.encode() for kind, value in rows}


def _files(root: Path):
    for path in root.rglob("*"):
        rel = path.relative_to(root).parts
        if rel[:2] == ("servers", "production") or (len(rel) == 3 and rel[0] == "servers" and rel[2] == "password"):
            continue
        if rel[0] == "demo" and path.suffix == ".env" and not path.stat().st_mode & 0o077:  # owner-only secrets
            continue
        if path.is_file() and not path.is_symlink():
            yield path


def test_no_pii_or_secret_at_rest(tmp_path):
    shutil.rmtree(STATE, ignore_errors=True)
    STATE.mkdir(parents=True)
    try:
        demo = run_cli("demo", "--rows", "20000", "--state-dir", str(STATE))
        assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
        prod = embedded.server(STATE, "production")
        stage = embedded.server(STATE, "staging")
        cfg = yaml.safe_load(DEMO_CONFIG.read_text())
        cfg.update(state_dir=str(STATE), workload=str(DEMO_CONFIG.with_name("workload.sql")),
                   post_load_sql=["SELECT 1 / 0"])
        cfg["anonymization"]["key"] = "${PL_PII_KEY}"
        path = tmp_path / "failing.yaml"
        path.write_text(yaml.safe_dump(cfg))
        env = {"PRODLIKE_DEMO_SOURCE_DSN": prod.dsn("shop", user="prodlike_reader"),
               "PRODLIKE_DEMO_TARGET_DSN": stage.dsn("shop_staging"), "PL_PII_KEY": SECRET_KEY}
        failed = run_cli("refresh", "-c", str(path), env=env)
        assert failed.returncode == 1, failed.stdout[-2000:] + failed.stderr[-2000:]
        assert "division by zero" in failed.stdout

        needles = _needles(prod.dsn("shop"))
        needles["anon key"] = SECRET_KEY.encode()
        needles["production password"] = prod.password.encode()
        needles["staging password"] = stage.password.encode()
        assert len(needles) > 90
        control = b"SKU-0000042"  # a kept, non-PII value: proves staging's data files are really searched
        found, scanned, control_seen = [], 0, False
        for f in _files(STATE):
            data = f.read_bytes()
            scanned += 1
            control_seen |= control in data
            found += [f"{name} in {f.relative_to(STATE)}" for name, needle in needles.items() if needle in data]
        assert scanned > 100 and control_seen
        assert found == [], found[:20]
    finally:
        embedded.stop_all(STATE)
        shutil.rmtree(STATE, ignore_errors=True)


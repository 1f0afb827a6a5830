"""The fault suite's database, its child refresh process and the invariants every fault must leave intact."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import psycopg

from prodlike.pipelines.engine import control
from prodlike.pipelines.oncall import loop as oncall
from tests.conftest import ROOT, make_config

SHOP = """
CREATE TABLE customers (id integer PRIMARY KEY, email text NOT NULL UNIQUE, name text);
CREATE TABLE orders (id integer PRIMARY KEY, customer_id integer NOT NULL REFERENCES customers,
                     amount numeric(10,2), note text);
CREATE INDEX orders_customer ON orders (customer_id);
CREATE INDEX orders_amount ON orders (amount);
INSERT INTO customers SELECT g, 'c' || g || '@shop.example', 'Name ' || g FROM generate_series(1, 4000) g;
INSERT INTO orders SELECT g, 1 + g % 4000, (g % 997) / 7.0, repeat(md5(g::text), 3) FROM generate_series(1, 8000) g;
ANALYZE;
"""
CHANGE = """
INSERT INTO customers SELECT g, 'c' || g || '@shop.example', 'Name ' || g FROM generate_series(4001, 4300) g;
INSERT INTO orders SELECT g, 1 + g % 4300, (g % 991) / 3.0, md5(g::text) FROM generate_series(8001, 8600) g;
UPDATE orders SET amount = amount + 1 WHERE id % 10 = 0;
ANALYZE;
"""
POLICY = {"public.customers": {"columns": {"email": "email", "name": "full_name"}}, "public.orders": "keep"}
TABLES = ("public.customers", "public.orders")
SETTLE_WAIT_S = 30  # a killed process's sessions and children are gone well within this (polled, not slept)


def shop_config(dbs, monkeypatch, tmp_path, **copy):
    with dbs.src() as src:
        src.execute(SHOP)
    return make_config(dbs, monkeypatch, POLICY, state_dir=str(tmp_path / "state"),
                       copy={"batch_bytes": 65536, "transform_processes": 2, "lock_timeout": "1s", **copy})


def fingerprint(conn: psycopg.Connection) -> dict[str, str | None]:
    """md5 of every live table's rows (sorted), so a release is compared byte for byte."""
    out = {}
    for q in TABLES:
        schema, table = q.split(".")
        exists = conn.execute("SELECT to_regclass(%s)", (q,)).fetchone()[0]
        out[q] = conn.execute(psycopg.sql.SQL("SELECT md5(string_agg(t::text, E'\\n' ORDER BY t::text)) FROM {} t")
                              .format(psycopg.sql.Identifier(schema, table))).fetchone()[0] if exists else None
    return out


@dataclass
class Killed:
    """A refresh child process that died by SIGKILL at a fault."""

    run_id: str
    marker: str
    returncode: int
    stderr: str = field(repr=False, default="")


def run_child(cfg, run_id: str, **env: str) -> Killed:
    """Run tests/faults/driver.py as its own process; its descendants carry a marker in their environment."""
    marker = uuid.uuid4().hex
    child_env = dict(os.environ, FAULT_CONFIG=json.dumps(cfg.model_dump(mode="json", by_alias=True)),
                     FAULT_RUN_ID=run_id, FAULT_MARKER=marker, **env)
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"prodlike-fault-{marker}.log"
    with log.open("w") as out:  # a file, not a pipe: the child's own death ends the wait, whatever survives it
        child = subprocess.Popen([sys.executable, "-m", "tests.faults.driver"], cwd=ROOT, env=child_env,
                                 stdout=out, stderr=subprocess.STDOUT)
        try:
            code = child.wait(timeout=300)
        except subprocess.TimeoutExpired:
            child.kill()
            code = child.wait()
    text = log.read_text()[-3000:]
    log.unlink()
    return Killed(run_id, marker, code, text)


def survivors(marker: str) -> list[int]:
    """Processes still alive that descend from a child carrying marker (forkserver, transform workers)."""
    found = []
    for p in psutil.process_iter(["pid"]):
        try:
            if p.environ().get("FAULT_MARKER") == marker and p.status() != psutil.STATUS_ZOMBIE:
                found.append(p.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def eventually(what, condition) -> None:
    """Poll condition until true; fail naming what never became true (a bound, never a timing assertion)."""
    deadline = time.monotonic() + SETTLE_WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never: {what}")
        time.sleep(0.2)


def kill_survivors(marker: str) -> None:
    for pid in survivors(marker):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def context(cfg, dbs, tmp_path) -> oncall.Context:
    return oncall.Context(cfg, dbs.target, tmp_path / "state")


def alerts(tmp_path: Path) -> list[dict]:
    log = tmp_path / "state" / "alerts.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def assert_settled(killed: Killed, cfg, dbs, tmp_path, before: dict, before_release: int) -> str:
    """The invariants after a killed run; returns the killed run's final status."""
    from prodlike.pipelines.engine.runlock import SETTLED

    assert killed.returncode == -signal.SIGKILL, killed.stderr
    eventually("no process of the killed run left (forkserver, workers)", lambda: not survivors(killed.marker))
    with dbs.dst() as dst:
        eventually("the refresh lock freed", lambda: not control.refresh_running(dst))
    status = oncall.status(context(cfg, dbs, tmp_path))  # settles the dead run (and alerts) as it reads
    with dbs.dst() as dst:
        run = control.get_run(dst, killed.run_id)
        live, latest = fingerprint(dst), control.live_release(dst)
        assert not control.refresh_running(dst)
    if run is not None and run["status"] == "released":  # killed after its swap committed: the new release is live
        assert latest["run_id"] == killed.run_id and live != before
    else:  # killed before its swap committed: staging serves the last release, byte for byte
        assert latest["id"] == before_release and live == before
        if run is not None:
            assert run["status"] == "failed" and run["error"] == SETTLED, run
            assert status["last_run"]["run_id"] == killed.run_id and status["last_run"]["status"] == "failed"
            assert any(a["event"] == "refresh.failed" and a["run_id"] == killed.run_id for a in alerts(tmp_path))
    return run["status"] if run else "never started"

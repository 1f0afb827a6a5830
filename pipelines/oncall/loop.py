"""The on-call loop without Dagster: conclude a run (pause, alert, report), the freshness SLA, `status`,
`resume` and `rollback`; all state lives in staging's control schema so the CLI reads it directly."""

from __future__ import annotations

import difflib
import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from prodlike.pipelines.checks import registry, tally
from prodlike.pipelines.config.model import Config, format_duration, human_age
from prodlike.pipelines.engine import control, runlock
from prodlike.pipelines.engine.audit import actor  # noqa: F401 (re-exported: oncall.actor)
from prodlike.pipelines.engine.release import rollback as swap_back
from prodlike.pipelines.errors import ProdlikeError, safe_message
from prodlike.pipelines.oncall import alerts
from prodlike.pipelines.report.page import write_report

log = logging.getLogger("prodlike.oncall")
PAUSE_AFTER_FAILURES = 3
REFRESH, WARNED, FRESHNESS = "refresh", "warned", "freshness"
LEVELS = {"ok": 0, "warn": 1, "breached": 2}
OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
STATES = {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL", UNKNOWN: "UNKNOWN"}


class OnCallError(ProdlikeError, ValueError):
    """An on-call command cannot do what was asked (no note, a check that cannot be accepted)."""


@dataclass
class Context:
    """What every on-call action needs: the config, its file, staging's DSN and the state folder."""

    cfg: Config
    target_dsn: str
    state_dir: Path
    config_file: Path | None = None

    @property
    def alert_log(self) -> Path:
        return self.state_dir / "alerts.jsonl"

    def command(self, text: str) -> str:
        return f"prodlike {text}" + (f" -c {self.config_file}" if self.config_file else "")

    def run_url(self, run_id: str | None) -> str | None:
        base = self.cfg.webserver_base_url
        return f"{base.rstrip('/')}/runs/{run_id}" if base and run_id else None

    def connect(self) -> psycopg.Connection:
        conn = psycopg.connect(self.target_dsn, autocommit=True, connect_timeout=10, application_name="prodlike")
        control.migrate(conn)
        return conn


def _dedup_key(conn: psycopg.Connection, incident: dict) -> str:
    where = f"{conn.info.host}:{conn.info.port}/{conn.info.dbname}"
    return f"prodlike/{hashlib.sha256(where.encode()).hexdigest()[:12]}/{incident['key']}/{incident['id']}"


def _age(conn: psycopg.Connection, now: datetime | None = None) -> int | None:
    rel = control.live_release(conn)
    if rel is None:
        return None
    return int(((now or datetime.now(UTC)) - rel["snapshot_time"]).total_seconds())


def _failing(checks: list[dict], verdicts: tuple[str, ...]) -> list[dict]:
    """The checks with those verdicts, without their details (plan SQL and plot data stay in the report)."""
    return [{k: v for k, v in c.items() if k != "details"} for c in checks if c.get("verdict") in verdicts]


def _signature(checks: list[dict]) -> str:
    return ",".join(sorted({f"{c['check']}:{c.get('table') or ''}:{c.get('column') or ''}" for c in checks}))


# ---- conclude a run ---------------------------------------------------------------------------

def conclude(ctx: Context, run_id: str, failure: str | None = None) -> str | None:
    """Settle a finished run once (the run's hooks and the catch-up sensors both call it): halted -> pause
    and page; failed -> count, pause after three; released -> recover; warnings -> one alert per incident.
    Returns the run's final status, or None when it was concluded already or has no record."""
    try:
        conn = ctx.connect()
    except psycopg.Error as err:
        _unreachable(ctx, run_id, failure, err)
        return None
    with conn:
        _conclude_settled(ctx, conn, but=run_id)
        return _conclude_one(ctx, conn, run_id, failure)


def settle(ctx: Context) -> list[str]:
    """Runs whose process died (still `running`/`copied` while no run holds staging) concluded `failed`, with
    their alert; `status`, `history`, the settle sensor and every run's conclusion call it. Their ids."""
    with ctx.connect() as conn:
        runlock.settle_if_free(conn)
        return _conclude_settled(ctx, conn)


def _conclude_settled(ctx: Context, conn: psycopg.Connection, but: str | None = None) -> list[str]:
    """Conclude the runs settled as dead (by the next refresh or settle()) that nobody concluded yet."""
    rows = conn.execute("SELECT run_id FROM prodlike.runs WHERE status = 'failed' AND concluded_at IS NULL "
                        "AND error = %s AND run_id IS DISTINCT FROM %s ORDER BY started_at",
                        (runlock.SETTLED, but)).fetchall()
    return [r[0] for r in rows if _conclude_one(ctx, conn, r[0], None)]


def _conclude_one(ctx: Context, conn: psycopg.Connection, run_id: str, failure: str | None) -> str | None:
    """Claim the run's conclusion (once) and act on its final status."""
    if failure is not None:  # a run that died mid-way has no final status of its own
        conn.execute("UPDATE prodlike.runs SET status = 'failed', error = coalesce(error, %s), "
                     "finished_at = coalesce(finished_at, now()) WHERE run_id = %s "
                     "AND status IN ('running', 'copied')", (failure[:2000], run_id))
    claimed = conn.execute(
        "UPDATE prodlike.runs SET concluded_at = now() WHERE run_id = %s AND concluded_at IS NULL "
        "AND status IN ('released', 'halted', 'failed') RETURNING status", (run_id,)).fetchone()
    if claimed is None:
        return None
    run = control.get_run(conn, run_id)
    report = _write_report(ctx, run_id)
    {"released": _released, "halted": _halted, "failed": _failed}[run["status"]](ctx, conn, run, report)
    return run["status"]


def _write_report(ctx: Context, run_id: str) -> str | None:
    """The run's HTML parity report (never breaks the conclusion)."""
    try:
        return str(write_report(ctx.target_dsn, run_id, ctx.state_dir / "reports", ctx.cfg))
    except Exception as err:
        log.warning("could not write the parity report of run %s: %s", run_id, safe_message(err))
        return None


def _alert(ctx: Context, conn: psycopg.Connection, event: str, summary: str, incident: dict, run: dict | None,
           *, send: bool = True, checks: list[dict] | None = None, report: str | None = None,
           details: str | None = None, commands: list[str] | None = None) -> alerts.Alert:
    st = control.state(conn)
    alert = alerts.Alert(event=event, summary=summary, incident=_dedup_key(conn, incident),
                         run_id=run["run_id"] if run else None, run_url=ctx.run_url(run["run_id"] if run else None),
                         checks=checks or [], age_seconds=_age(conn), paused=st["paused"], report=report,
                         details=details, commands=commands if commands is not None else _commands(ctx, run, st))
    alerts.send(ctx.cfg, alert, ctx.alert_log, deduplicated=not send)
    return alert


def _commands(ctx: Context, run: dict | None, st: dict) -> list[str]:
    out = [ctx.command("status")]
    if run:
        out.append(ctx.command(f"report {run['run_id']} --open"))
    if st["paused"]:
        out += [resume_command(ctx, run["checks"] if run else []), ctx.command("rollback")]
    return out


def resume_command(ctx: Context, results: list[dict]) -> str:
    """The exact `prodlike resume` that lets the next run release despite the checks that failed (once): each
    failing check with its schema-qualified table; with no failing check (a refusal), the plain resume."""
    return ctx.command(f'resume --note "WHY"{tally.accept_arguments(results)}')


def _released(ctx: Context, conn: psycopg.Connection, run: dict, report: str | None) -> None:
    control.reset_failures(conn)
    control.consume_acceptance(conn, run["run_id"])
    incident = control.resolve_incident(conn, REFRESH)
    if incident:
        _alert(ctx, conn, "refresh.released", f"staging released again after the {incident['level']} "
               f"incident of run {incident['run_id']}", incident, run, report=report)
    warned = _failing(run["checks"], ("warn",))
    if warned:
        incident, new = control.raise_incident(conn, WARNED, "warn", run["run_id"], _signature(warned))
        _alert(ctx, conn, "refresh.warned", f"run {run['run_id']} released with {len(warned)} warning(s)",
               incident, run, send=new, checks=warned, report=report)
    else:
        control.resolve_incident(conn, WARNED)
    check_freshness(ctx)


def _halted(ctx: Context, conn: psycopg.Connection, run: dict, report: str | None) -> None:
    errors = _failing(run["checks"], ("error",))
    named = [f"{check} on {table}" if table else check for check, table in tally.failing(run["checks"])]
    what = (f"{len(named)} check(s) failed: " + "; ".join(named[:5])) if errors else \
        f"preflight refused: {(run.get('error') or '').split(': ', 1)[-1][:300]}"
    control.pause(conn, "prodlike", f"run {run['run_id']} halted: {what}", run["run_id"])
    incident, new = control.raise_incident(conn, REFRESH, "halted", run["run_id"], _signature(errors) or "preflight")
    _alert(ctx, conn, "refresh.halted", f"run {run['run_id']} halted, staging keeps the last release; {what}",
           incident, run, send=new, checks=errors, report=report,
           details=None if errors else (run.get("error") or "")[:1000])


def _failed(ctx: Context, conn: psycopg.Connection, run: dict, report: str | None) -> None:
    failures = control.count_failure(conn)
    paused = failures >= PAUSE_AFTER_FAILURES and control.pause(
        conn, "prodlike", f"{failures} consecutive failed runs; last: {run.get('error') or 'unknown'}", run["run_id"])
    incident, new = control.raise_incident(conn, REFRESH, "paused" if paused else "failed", run["run_id"])
    tail = f"; refreshes PAUSED after {failures} consecutive failures" if paused else \
        f" ({failures} consecutive; pauses after {PAUSE_AFTER_FAILURES})"
    _alert(ctx, conn, "refresh.failed", f"run {run['run_id']} failed with an error, staging keeps the last "
           f"release{tail}", incident, run, send=new, report=report, details=(run.get("error") or "")[:1000])


def _unreachable(ctx: Context, run_id: str, failure: str | None, err: Exception) -> None:
    """Staging cannot be read: alert anyway (no deduplication possible) and say so."""
    alert = alerts.Alert(event="refresh.failed", summary=f"run {run_id} failed and staging is unreachable",
                         incident=f"prodlike/unreachable/{run_id}", run_id=run_id, run_url=ctx.run_url(run_id),
                         details=f"{failure or ''}\nstaging: {safe_message(err)}"[:1000],
                         commands=[ctx.command("status")])
    alerts.send(ctx.cfg, alert, ctx.alert_log)


# ---- freshness --------------------------------------------------------------------------------

def freshness_level(cfg: Config, age_seconds: int | None) -> str | None:
    """ok / warn / breached against the SLA (None: no SLA or no release yet)."""
    if cfg.freshness is None or age_seconds is None:
        return None
    if age_seconds >= cfg.freshness.error_after.total_seconds():
        return "breached"
    return "warn" if age_seconds >= cfg.freshness.warn_after.total_seconds() else "ok"


def check_freshness(ctx: Context, now: datetime | None = None) -> str | None:
    """Evaluate the SLA; alert once per crossing (warn, breached) and once on recovery. Returns the level."""
    with ctx.connect() as conn:
        age = _age(conn, now)
        level = freshness_level(ctx.cfg, age)
        if level is None:
            return None
        current = control.open_incident(conn, FRESHNESS)
        sla = ctx.cfg.freshness
        limits = f"warn after {format_duration(sla.warn_after)}, breached after {format_duration(sla.error_after)}"
        if level == "ok":
            if current:
                incident = control.resolve_incident(conn, FRESHNESS)
                _alert(ctx, conn, "freshness.recovered", f"staging is fresh again ({human_age(age)} old; "
                       f"{limits})", incident, None, commands=[ctx.command("status")])
            return level
        if current and LEVELS[current["level"]] >= LEVELS[level]:
            return level
        incident, _ = control.raise_incident(conn, FRESHNESS, level, None)
        event = "freshness.breached" if level == "breached" else "freshness.warn"
        _alert(ctx, conn, event, f"staging is {human_age(age)} old ({limits})", incident,
               _last_run(conn))
        return level


def _last_run(conn: psycopg.Connection) -> dict | None:
    rows = control.runs(conn, 1)
    return rows[0] if rows else None


# ---- status, resume, rollback -----------------------------------------------------------------

def status(ctx: Context, now: datetime | None = None) -> dict:
    """The monitoring view: state (OK/WARNING/CRITICAL/UNKNOWN) with its exit code and the reasons."""
    try:
        conn = ctx.connect()
    except psycopg.Error as err:
        return {"state": "UNKNOWN", "code": UNKNOWN, "reasons": [f"staging unreachable: {safe_message(err)}"]}
    with conn:
        runlock.settle_if_free(conn)  # a run whose process died is told as failed, not as running
        _conclude_settled(ctx, conn)
        rel, st, last = control.live_release(conn), control.state(conn), _last_run(conn)
        age = _age(conn, now)
        out: dict = {"release": None, "paused": None, "last_run": None, "freshness": None, "reasons": []}
        code = OK
        if rel:
            out["release"] = {"id": rel["id"], "kind": rel["kind"], "run_id": rel["run_id"],
                              "snapshot_time": rel["snapshot_time"].isoformat(), "age_seconds": age,
                              "released_at": rel["released_at"].isoformat()}
        else:
            code = UNKNOWN
            out["reasons"].append("no release yet: run `prodlike refresh`")
        level = freshness_level(ctx.cfg, age)
        if level:
            out["freshness"] = {"level": level, "warn_after": format_duration(ctx.cfg.freshness.warn_after),
                                "error_after": format_duration(ctx.cfg.freshness.error_after)}
            if level != "ok":
                code = max(code, CRITICAL if level == "breached" else WARNING) if code != UNKNOWN else code
                out["reasons"].append(f"staging is {human_age(age)} old: freshness {level}")
        if st["paused"]:
            out["paused"] = {"since": st["paused_at"].isoformat(), "by": st["paused_by"],
                             "reason": st["paused_reason"], "run_id": st["paused_run_id"]}
            code = CRITICAL
            out["reasons"].append(f"refreshes paused since {st['paused_at']:%Y-%m-%d %H:%M:%S %Z}: "
                                  f"{st['paused_reason']}")
        if last:
            failing = _failing(last["checks"], ("error", "warn"))
            out["last_run"] = {"run_id": last["run_id"], "status": last["status"],
                               "started_at": last["started_at"].isoformat(),
                               "error": last["error"], "failing_checks": failing}
            if last["status"] in ("failed", "halted") and code == OK:  # never OK beside an error row
                code = WARNING
                why = last["error"] or "; ".join(f"{check} on {table or 'the run'}" for check, table
                                                   in tally.failing(last["checks"])[:5])
                out["reasons"].append(f"the last run {last['status']}: {why}")
        if st["accept"]:
            out["accepted_once"] = st["accept"]
        out["state"], out["code"] = STATES[code], code
        return out


def parse_accept(values: list[str]) -> list[dict]:
    """`CHECK[:TABLE]` arguments of resume --accept, validated against the blocking checks of the registry."""
    accepted = registry.blocking_names()
    out = []
    for v in values:
        check, _, table = v.partition(":")
        if check not in accepted:
            close = difflib.get_close_matches(check, accepted, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise OnCallError(f"--accept {v!r}: unknown check {check!r}{hint} (checks that block a release: "
                             f"{', '.join(accepted)})")
        if table and "." not in table:
            raise OnCallError(f"--accept {v!r}: write the table as schema.table, e.g. {check}:public.{table}")
        out.append({"check": check, "table": table or None})
    return out


def resume(ctx: Context, note: str, accept: list[str], who: str | None = None) -> dict:
    """Clear the pause (recorded with who and why) and send `refresh.resumed` (not when nothing was paused or
    accepted)."""
    if not note.strip():
        raise OnCallError("resume needs --note TEXT saying why it is safe to resume")
    accepted = parse_accept(accept)
    who = who or actor()
    with ctx.connect() as conn:
        before = control.resume(conn, who, note, accepted)
        if not before["paused"] and not accepted:  # nothing changed: recorded, nobody to tell
            return before
        incident = control.open_incident(conn, REFRESH) or {"key": REFRESH, "id": 0}
        extra = (" accepting once: " + ", ".join(f"{a['check']}:{a['table'] or '*'}" for a in accepted)) \
            if accepted else ""
        was = f"paused since {before['paused_at']:%Y-%m-%d %H:%M:%S %Z} ({before['paused_reason']})" \
            if before["paused"] else "not paused"
        _alert(ctx, conn, "refresh.resumed", f"{who} resumed refreshes: {note}.{extra} Was {was}.", incident,
               None, commands=[ctx.command("status"), ctx.command("refresh")])
        return before


def rollback(ctx: Context, who: str | None = None) -> dict:
    """Swap the previous release back in (one transaction), record it, and pause the refresh."""
    who = who or actor()
    with ctx.connect() as conn:
        with control.refresh_lock(conn, "rollback"):
            restored = swap_back(conn, ctx.cfg.schemas, ctx.cfg.copy_.lock_timeout)
        control.event(conn, "rollback", who, None, restored["run_id"], release_id=restored["id"])
        control.pause(conn, who, f"rolled back to the release of run {restored['run_id']} "
                                 f"(production snapshot {restored['snapshot_time']:%Y-%m-%d %H:%M:%S %Z})",
                      restored["run_id"])
        incident = control.open_incident(conn, REFRESH) or {"key": REFRESH, "id": 0}
        _alert(ctx, conn, "refresh.rolled_back", f"{who} rolled staging back to the release of run "
               f"{restored['run_id']}; refreshes are paused", incident, None)
        return restored

"""The `prodlike` command line: demo, refresh, preflight, status, history, config."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import webbrowser
from pathlib import Path

import psycopg
from psycopg import sql
from rich.console import Console
from rich.table import Table

from prodlike.pipelines import quiet
from prodlike.pipelines.checks import tally
from prodlike.pipelines.config import secrets
from prodlike.pipelines.config.model import Config, config_path, human_age, load
from prodlike.pipelines.engine import control, runlock
from prodlike.pipelines.errors import ProdlikeError, Refused
from prodlike.pipelines.oncall import loop as oncall
from prodlike.pipelines.report import terminal
from prodlike.pipelines.report.page import reports_dir, safe_file_name, write_report

EXIT_OK, EXIT_ERROR, EXIT_HALTED = 0, 1, 2
DEBUG = False  # set by --debug
console = Console(stderr=False, highlight=False, width=None if sys.stdout.isatty() else 140)
log = logging.getLogger("prodlike")


class CliError(ProdlikeError):
    """An expected failure: printed without a traceback (unless --debug), exit code attached."""

    def __init__(self, message: str, code: int = EXIT_ERROR):
        super().__init__(message)
        self.code = code


def exit_code(err: ProdlikeError) -> int:
    """A CliError's own code; a refusal exits 2 (halted); every other error 1."""
    if isinstance(err, CliError):
        return err.code
    return EXIT_HALTED if isinstance(err, Refused) else EXIT_ERROR


# ---- commands ---------------------------------------------------------------------------------

def cmd_demo(args) -> int:
    # the demo launches a Dagster run: imported here, where it is used, for the import cost of Dagster
    from prodlike.pipelines.demo import run as demo

    return demo.run(rows=args.rows, state_dir=Path(args.state_dir), reseed=args.reseed, console=console,
                    drift=args.drift)


def _config(args) -> tuple[Path, Config]:
    """The config file named by args (-c, $PRODLIKE_CONFIG, ./prodlike.yaml), parsed once for the command."""
    path = config_path(args.config)
    return path, load(path)


def cmd_refresh(args) -> int:
    # launching a Dagster run imports Dagster (seconds): only the commands that launch one pay for it
    from prodlike.pipelines.orchestration import launch

    path, cfg = _config(args)  # no file: a clear error (only the Dagster code location falls back to the demo's)
    target = cfg.target.resolve("target")
    cfg.source.resolve("source")
    if cfg.anonymization.key:  # named as the config names it, before Dagster reads it
        secrets.resolve(cfg.anonymization.key, "anonymization.key")
    if not getattr(args, "force", False) and (reason := launch.paused_reason(target)):
        console.print(f"[yellow]refused[/], nothing copied: {reason}", soft_wrap=True)
        return EXIT_HALTED  # refused before any Dagster run exists: nothing failed
    t0 = time.perf_counter()
    result = launch.run_refresh_job(path, cfg.state_path(path.parent.resolve()), getattr(args, "force", False),
                                    DEBUG)
    end = launch.outcome(result, target)
    if end.results:
        console.print(terminal.checks_table(end.results))
    ctx = oncall.Context(cfg, target, cfg.state_path(path.parent.resolve()), path if args.config else None)
    if end.status == "released":
        console.print(terminal.summary_table(result, target))
        console.print(f"[green]released[/] in {time.perf_counter() - t0:.1f}s (run {result.run_id})")
    elif end.status == "refused":
        console.print(f"[yellow]refused[/], nothing copied: {end.message}", soft_wrap=True)
    elif end.status == "halted":
        console.print(f"[red]halted[/]: {end.message}")
    else:
        console.print(f"[red]failed[/]: {end.message}")
    if end.paused and "refreshes are paused" not in end.message:
        console.print(f"refreshes are now [red]paused[/]: `{ctx.command('status')}` shows why; then "
                      f"`{oncall.resume_command(ctx, end.results)}` or `{ctx.command('rollback')}` "
                      f"(README: On call)", soft_wrap=True)
    if end.status != "released" or end.results:
        report = reports_dir(cfg, path.parent.resolve()) / f"{safe_file_name(result.run_id)}.html"
        if report.exists():
            console.print(f"parity report: {report} (`prodlike report {result.run_id} --open`)", soft_wrap=True)
    return end.code


def cmd_preflight(args) -> int:
    # the engine (pyarrow, the anonymizers) costs a second to import: only the commands that run it pay for it
    from prodlike.pipelines.engine.preflight import PreflightError
    from prodlike.pipelines.engine.refresh import Refresh

    _, cfg = _config(args)
    key = secrets.resolve(cfg.anonymization.key, "anonymization.key") if cfg.anonymization.key else None
    r = Refresh(cfg, cfg.source.resolve("source"), cfg.target.resolve("target"), "preflight",
                key.encode() if key else None)
    try:
        report = r.preflight()
    except PreflightError as err:
        raise CliError(str(err), EXIT_HALTED) from None
    console.print(f"preflight passed: {len(report.selection.copied)} tables to copy, "
                  f"{len(report.selection.schema_only)} structure only, {len(report.selection.excluded)} excluded")
    console.print(f"production size {report.production_bytes / 1e6:.1f} MB; staging needs about "
                  f"{report.staging_bytes_needed / 1e6:.1f} MB (live + shadow + previous release)")
    return EXIT_OK


def cmd_scan(args) -> int:
    # the scanner (pyarrow, sqlglot) costs a second to import: `status`, run by monitors every minute, never does
    from prodlike.pipelines.onboarding.scan import scan, write_suggestions

    path, cfg = _config(args)
    findings = scan(cfg, cfg.source.resolve("source"), args.sample)
    table = Table(title=f"scan of production ({len(findings)} columns; evidence from up to {args.sample} values each)")
    for col in ("column", "type", "classified as", "suggestion", "evidence"):
        table.add_column(col)
    unclassified = 0
    for f in findings:
        current = f.current or "[red]unclassified[/]"
        unclassified += f.current is None
        differs = f.current and f.current.split()[0] not in (f.suggestion, "(from") and f.suggestion != "keep"
        table.add_row(f"{f.table}.{f.column}", f.type_sql, current,
                      f"[yellow]{f.suggestion}[/]" if differs else f.suggestion, f.evidence)
    console.print(table)
    if args.write:
        n = write_suggestions(path, findings)
        console.print(f"appended {n} commented suggestion(s) to {path}; review them and uncomment")
    elif unclassified:
        console.print(f"{unclassified} unclassified column(s): `prodlike scan --write` appends suggestions "
                      f"to {path} for review")
    return EXIT_OK


def _oncall(args) -> oncall.Context:
    """The on-call context of the config named by args (-c), staging's DSN resolved."""
    path, cfg = _config(args)
    return oncall.Context(cfg, cfg.target.resolve("target"), cfg.state_path(path.parent.resolve()),
                          path if args.config else None)


def cmd_status(args) -> int:
    try:
        out = oncall.status(_oncall(args))
    except ProdlikeError as err:  # a monitor must read UNKNOWN, not a generic error
        out = {"state": "UNKNOWN", "code": 3, "reasons": [str(err)]}
        print(json.dumps(out) if args.json else f"UNKNOWN - {err}")
        return 3
    if args.json:
        print(json.dumps(out, default=str))
        return out["code"]
    print(status_line(out))  # the monitoring-plugin convention: the first line says it all, plainly
    if out["state"] == "UNKNOWN" and not out.get("release"):
        return out["code"]
    console.print(_status_table(out))
    if out["paused"]:
        ctx = _oncall(args)
        failing = (out["last_run"] or {}).get("failing_checks", [])
        console.print(f"inspect: `{ctx.command('report --open')}`, `{ctx.command('history')}`; then "
                      f"`{oncall.resume_command(ctx, failing)}` or `{ctx.command('rollback')}` "
                      f"(runbook: README, On call)", soft_wrap=True)
    return out["code"]


def status_line(out: dict) -> str:
    """`STATE - reason; reason` (Nagios style), or `OK - ...` with the live release's age."""
    reasons = out["reasons"]
    if not reasons and out.get("release"):
        reasons = [f"live release {out['release']['id']} of run {out['release']['run_id']}, staging "
                   f"{human_age(out['release']['age_seconds'])} old"]
    return f"{out['state']} - " + "; ".join(reasons)


def _status_table(out: dict) -> Table:
    """The details under the status line; each fact once (the reasons are in the first line)."""
    table = Table(show_header=False)
    table.add_column("what")
    table.add_column("value")
    rel = out["release"]
    if rel:
        table.add_row("live release", f"{rel['id']} ({rel['kind']}) of run {rel['run_id']}, released "
                                      f"{rel['released_at'][:19]}")
        table.add_row("production snapshot", f"{rel['snapshot_time'][:19]} (staging age "
                                             f"{human_age(rel['age_seconds'])})")
    if out["freshness"]:
        f = out["freshness"]
        table.add_row("freshness SLA", f"{f['level']} (warn after {f['warn_after']}, "
                                       f"breached after {f['error_after']})")
    p = out["paused"]
    table.add_row("refreshes", f"[red]PAUSED[/] since {p['since'][:19]} by {p['by']}" if p else "active")
    last = out["last_run"]
    if last:
        error = last["error"] if last["error"] and not (p and last["error"] in p["reason"]) else None
        table.add_row("last run", f"{last['run_id']} {last['status']} (started {last['started_at'][:19]})"
                      + (f": {error}" if error else ""))
        for c in last["failing_checks"][:10]:
            where = ".".join(x for x in (c.get("table"), c.get("column")) if x) or "run"
            table.add_row(f"  {c['verdict']}", f"{c['check']} on {where}: {c['explanation']}")
    if out.get("accepted_once"):
        table.add_row("accepted once", ", ".join(f"{a['check']}:{a['table'] or '*'}" for a in out["accepted_once"]))
    return table


def cmd_resume(args) -> int:
    ctx = _oncall(args)
    before = oncall.resume(ctx, args.note, args.accept or [])
    console.print("resumed" + ("" if before["paused"] else " (was not paused; no alert sent)")
                  + (f"; the next run may release despite: {', '.join(args.accept)} (once)" if args.accept else ""))
    if args.run:
        return cmd_refresh(args)
    return EXIT_OK


def cmd_rollback(args) -> int:
    try:
        restored = oncall.rollback(_oncall(args))
    except ProdlikeError as err:
        raise CliError(f"rollback refused, staging unchanged: {err}") from None
    console.print(f"rolled back: live is now the release of run {restored['run_id']} (production snapshot "
                  f"{restored['snapshot_time']:%Y-%m-%d %H:%M:%S %Z}); refreshes are paused until "
                  f"`prodlike resume --note TEXT`")
    return EXIT_OK


def cmd_history(args) -> int:
    _, cfg = _config(args)
    with psycopg.connect(cfg.target.resolve("target"), connect_timeout=10, autocommit=True) as conn:
        runlock.settle_if_free(conn)  # a run whose process died is listed as failed, not as running
        rels = control.releases(conn, args.limit)
        halted = control.runs(conn, args.limit, ("halted", "failed", "running", "copied"))
        checks_of = _run_checks(conn, [r["run_id"] for r in rels])
    entries = [(r["released_at"], r["kind"], str(r["id"]), r["snapshot_time"], r["run_id"],
                f"{len(r['tables'])} tables, {sum(t.get('rows', 0) for t in r['tables'].values()):,} rows",
                tally.text(checks_of.get(r["run_id"], []) if r["kind"] == "release" else [])) for r in rels]
    entries += [(r["started_at"], r["status"], "-", r["snapshot_time"], r["run_id"],
                 (r["error"] or "")[:80] or _failing_text(r["checks"]), tally.text(r["checks"])) for r in halted]
    table = Table(title="history: every run (releases, halted, failed, in progress; newest first)")
    for col in ("when", "what", "release", "production snapshot", "run", "detail", "checks"):
        table.add_column(col, no_wrap=col in ("run", "checks"), min_width=36 if col == "run" else None)
    for when, kind, rid, snap, run_id, detail, counts in sorted(entries, key=lambda e: e[0], reverse=True)[:args.limit]:
        colour = {"halted": "red", "failed": "red", "rollback": "yellow", "running": "cyan",
                  "copied": "cyan"}.get(kind, "green")
        table.add_row(f"{when:%Y-%m-%d %H:%M:%S}", f"[{colour}]{kind}[/]", rid,
                      f"{snap:%Y-%m-%d %H:%M:%S}" if snap else "-", run_id, detail, counts)
    console.print(table)
    return 0


def _run_checks(conn: psycopg.Connection, run_ids: list[str]) -> dict[str, list[dict]]:
    """The recorded check results of these runs."""
    if not run_ids:
        return {}
    rows = conn.execute("SELECT run_id, checks FROM prodlike.runs WHERE run_id = ANY(%s)", (run_ids,)).fetchall()
    return {run_id: checks for run_id, checks in rows}


def _failing_text(checks: list[dict]) -> str:
    failing = [f"{check} {table or ''}".strip() for check, table in tally.failing(checks)]
    return ", ".join(failing[:3]) + (f" +{len(failing) - 3}" if len(failing) > 3 else "")


def resolve_run_id(dsn: str, prefix: str) -> str:
    """The full run id that prefix starts (a unique prefix is enough, as in git)."""
    with psycopg.connect(dsn, connect_timeout=10) as conn:
        if control.current_version(conn) == 0:
            raise CliError("staging has no prodlike control schema yet: run `prodlike refresh` first")
        pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        found = [r[0] for r in conn.execute(
            sql.SQL("SELECT run_id FROM prodlike.runs WHERE run_id LIKE {} ORDER BY started_at DESC LIMIT 6").format(
                sql.Literal(pattern))).fetchall()]
    if len(found) == 1:
        return found[0]
    if not found:
        raise CliError(f"no run {prefix!r} in staging's prodlike.runs; `prodlike history` lists the runs")
    raise CliError(f"run id prefix {prefix!r} is ambiguous: it starts {', '.join(found[:5])}"
                   + (" and more" if len(found) > 5 else "") + "; give more characters")


def cmd_init(args) -> int:
    # onboarding (pyarrow, sqlglot, the engine) costs a second to import: imported by the command that uses it
    from prodlike.pipelines.onboarding.init import init

    written, workload, review = init(Path(args.output), args.source_dsn_env, args.target_dsn_env, args.key_env,
                                     args.force)
    console.print(f"wrote {written}" + (f" and {workload}" if workload else ""), soft_wrap=True)
    console.print(f"{review} column(s) marked `# review`: check them, then `prodlike config check -c {written}`, "
                  f"`prodlike preflight -c {written}` and `prodlike refresh -c {written}`", soft_wrap=True)
    return EXIT_OK


def cmd_report(args) -> int:
    path, cfg = _config(args)
    target = cfg.target.resolve("target")
    run_id = resolve_run_id(target, args.run_id) if args.run_id else None
    written = write_report(target, run_id, reports_dir(cfg, path.parent.resolve()), cfg)
    console.print(f"parity report: {written}", soft_wrap=True)
    if args.open:
        webbrowser.open(written.resolve().as_uri())
    return EXIT_OK


def cmd_config_check(args) -> int:
    # the transformer registry (pyarrow, numpy) costs a second to import: only this command needs it
    from prodlike.pipelines.config import foreign_keys
    from prodlike.pipelines.config.check import catalog_problems, offline_problems

    path, cfg = _config(args)
    text = path.read_text()
    problems = offline_problems(cfg, text)
    connected = args.connect and not any(p.startswith("source.dsn:") for p in problems)
    if connected:
        problems += [p for p in catalog_problems(cfg) if p not in problems]
    elif args.connect:
        problems.append("--connect: production's catalog was not read, since source.dsn does not resolve (above)")
    where = "with production's catalog" if connected else "without connecting"
    if problems:
        raise CliError(f"{path}: {len(problems)} problem(s) found {where}:\n"
                       + "\n".join(f"  - {p}" for p in problems))
    console.print(f"[green]config OK[/]: {path} ({len(cfg.anonymization.tables)} tables in the policy; "
                  f"`prodlike preflight` compares it with production)", soft_wrap=True)
    if not args.connect:
        _, compared = foreign_keys.mismatches(text, cfg)
        console.print(f"foreign keys: not read from production; {compared} FK column(s) recorded in this file's "
                      "`prodlike init` notes compared with their key's rule; `prodlike config check --connect` "
                      "compares every FK column with its key (reads production's catalog, no data)", soft_wrap=True)
    if args.show:
        console.print(secrets.redact(json.dumps(cfg.model_dump(mode="json", by_alias=True), indent=2)))
    return 0


def cmd_config_schema(args) -> int:
    print(json.dumps(Config.model_json_schema(by_alias=True), indent=2))
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="prodlike", description="Keep staging production-like.")
    p.add_argument("--debug", action="store_true", help="show tracebacks of expected failures")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="embedded production + staging, seeded, refreshed through Dagster")
    d.add_argument("--rows", type=int, default=1_000_000, help="rows in all demo tables (default 1,000,000)")
    d.add_argument("--reseed", action="store_true", help="rebuild the demo production database")
    d.add_argument("--state-dir", default=".prodlike", help="state folder (default .prodlike)")
    d.add_argument("--drift", action="store_true", help="make production and staging drift for real and show the "
                                                        "refresh halting while staging keeps its last release")
    d.set_defaults(func=cmd_demo)

    for name, func, text in (("refresh", cmd_refresh, "run one refresh against the configured servers"),
                             ("preflight", cmd_preflight, "check the config against production; copy nothing"),
                             ("history", cmd_history, "every run (released, halted, failed, running) with its checks"),
                             ("rollback", cmd_rollback, "swap the previous release back in and pause refreshes")):
        c = sub.add_parser(name, help=text)
        c.add_argument("-c", "--config", help="config file (default $PRODLIKE_CONFIG or prodlike.yaml)")
        c.set_defaults(func=func)
        if name == "history":
            c.add_argument("--limit", type=int, default=20)
        if name == "refresh":
            c.add_argument("--force", action="store_true", help="run even while refreshes are paused (recorded)")

    r = sub.add_parser("resume", help="clear the pause (recorded), optionally accepting failures once")
    r.add_argument("-c", "--config")
    r.add_argument("--note", required=True, help="why it is safe to resume (recorded and alerted)")
    r.add_argument("--accept", action="append", metavar="CHECK[:TABLE]",
                   help="let the next run release despite this failing check (once); repeatable")
    r.add_argument("--run", action="store_true", help="start a refresh right after resuming")
    r.set_defaults(func=cmd_resume)

    sc = sub.add_parser("scan", help="classify production's columns: current rule, or a suggestion and evidence")
    sc.add_argument("-c", "--config")
    sc.add_argument("--write", action="store_true", help="append commented suggestions for unclassified columns")
    sc.add_argument("--sample", type=int, default=200, help="non-NULL values sampled per column (default 200)")
    sc.set_defaults(func=cmd_scan)

    s = sub.add_parser("status", help="live release, age vs SLA, pause, last run (exit 0 OK, 1 WARNING, "
                                      "2 CRITICAL, 3 UNKNOWN)")
    s.add_argument("-c", "--config")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_status)

    it = sub.add_parser("init", help="write a starter prodlike.yaml (and workload.sql) from production's catalog")
    it.add_argument("--source-dsn-env", default="PRODLIKE_SOURCE_DSN", metavar="VAR",
                    help="environment variable holding production's DSN (default PRODLIKE_SOURCE_DSN)")
    it.add_argument("--target-dsn-env", default="PRODLIKE_TARGET_DSN", metavar="VAR",
                    help="environment variable holding staging's DSN (default PRODLIKE_TARGET_DSN)")
    it.add_argument("--key-env", default="PRODLIKE_ANON_KEY", metavar="VAR",
                    help="environment variable holding the anonymization key (default PRODLIKE_ANON_KEY)")
    it.add_argument("-o", "--output", default="prodlike.yaml", help="config file to write (default prodlike.yaml)")
    it.add_argument("--force", action="store_true", help="overwrite existing files")
    it.set_defaults(func=cmd_init)

    rp = sub.add_parser("report", help="write the HTML parity report of a run (default: the newest run)")
    rp.add_argument("run_id", nargs="?", metavar="RUN_ID", help="run id (default: the newest run)")
    rp.add_argument("-c", "--config")
    rp.add_argument("--open", action="store_true", help="open the report in a web browser")
    rp.set_defaults(func=cmd_report)

    cfg = sub.add_parser("config", help="validate the config or print its JSON Schema")
    cfg_sub = cfg.add_subparsers(dest="config_command", required=True)
    chk = cfg_sub.add_parser("check", help="validate a config without connecting: keys, transformers and their "
                                           "parameters, thresholds, ${ENV} variables, schedule")
    chk.add_argument("-c", "--config")
    chk.add_argument("--connect", action="store_true", help="also compare the policy with production's catalog "
                     "(every FK column's rule with its key's, columns that exist); reads the catalog, no data")
    chk.add_argument("--show", action="store_true", help="also print the config as resolved (secrets redacted)")
    chk.set_defaults(func=cmd_config_check)
    cfg_sub.add_parser("schema", help="print the JSON Schema of prodlike.yaml").set_defaults(func=cmd_config_schema)
    return p


def main(argv: list[str] | None = None) -> int:
    quiet.install()
    args = parser().parse_args(argv)
    global DEBUG
    DEBUG = args.debug
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    logging.getLogger("prodlike").setLevel(logging.DEBUG if args.debug else logging.INFO)
    try:
        return args.func(args)
    except ProdlikeError as err:  # every expected failure: its message names the fix, no traceback
        if args.debug:
            raise
        console.print(f"[red]error[/]: {err}", soft_wrap=True)
        return exit_code(err)


if __name__ == "__main__":
    sys.exit(main())

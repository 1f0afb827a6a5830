"""The `prodlike` command line: demo, refresh, preflight, status, history, config."""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

EXIT_OK, EXIT_ERROR, EXIT_HALTED = 0, 1, 2
# Dagster's console logger: quiet in the terminal (our progress, tables and messages say it; expected failures
# print no traceback); --debug shows everything. The run's event log (the UI) keeps every record either way.
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
DEBUG_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "DEBUG"}}}}
DEBUG = False  # set by --debug
HALT_ERRORS = {"PreflightError", "PolicyError", "RefreshPausedError"}
console = Console(stderr=False, highlight=False, width=None if sys.stdout.isatty() else 140)
log = logging.getLogger("prodlike")


class CliError(Exception):
    """An expected failure: printed without a traceback (unless --debug), exit code attached."""

    def __init__(self, message: str, code: int = EXIT_ERROR):
        super().__init__(message)
        self.code = code


# ---- Dagster glue -----------------------------------------------------------------------------

def dagster_home(state_dir: Path) -> Path:
    """DAGSTER_HOME under the state folder, with the project's dagster.yaml in it."""
    home = state_dir / "dagster"
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    for candidate in (Path.cwd() / "dagster.yaml", Path(__file__).resolve().parents[2] / "dagster.yaml"):
        if candidate.exists():
            if not target.exists() or target.read_text() != candidate.read_text():
                shutil.copyfile(candidate, target)
            break
    else:
        if not target.exists():
            target.write_text("telemetry:\n  enabled: false\n")
    os.environ["DAGSTER_HOME"] = str(home.resolve())
    return home


def run_refresh_job(config_file: Path, state_dir: Path, force: bool = False) -> tuple[int, str, object]:
    """Run the refresh job in-process with the persistent instance; (exit code, message, result)."""
    dagster_home(state_dir)
    import dagster as dg

    from prodlike.pipelines.engine import progress

    progress.use(progress.for_terminal())
    from prodlike.pipelines.definitions import REFRESH_JOB, load_definitions

    defs = load_definitions(config_file)
    job = defs.resolve_job_def(REFRESH_JOB)
    from prodlike.pipelines.orchestration.assets import FORCE_TAG, OUTCOME_TAG

    if not force and (paused := _paused_reason(config_file)):
        return EXIT_HALTED, paused, None  # refused before any Dagster run exists: nothing failed
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False,
                                        run_config=DEBUG_RUN_CONFIG if DEBUG else QUIET_RUN_CONFIG,
                                        tags={FORCE_TAG: "true"} if force else None)
        outcome = instance.get_run_by_id(result.run_id).tags.get(OUTCOME_TAG)
    failed_checks = [e for e in result.get_asset_check_evaluations()
                     if not e.passed and e.severity.value == "ERROR"]
    if failed_checks:
        lines = [f"{'/'.join(e.asset_key.path)} {e.check_name}: {e.description}" for e in failed_checks]
        return EXIT_HALTED, "validation failed, staging keeps the last release:\n  " + "\n  ".join(lines), result
    if outcome and outcome.startswith("refused"):
        return EXIT_HALTED, _paused_reason(config_file) or "refreshes are paused", result
    if outcome == "halted":
        return EXIT_HALTED, _halt_error(config_file, result.run_id), result
    if result.success:
        return EXIT_OK, "released", result
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
            err = event.step_failure_data.error
            user = event.step_failure_data.user_failure_data
            tagged = user.metadata.get("error_class") if user else None
            cls = tagged.value if tagged else err.cls_name
            message = user.description if user and user.description else err.message
            return (EXIT_HALTED if cls in HALT_ERRORS else EXIT_ERROR), message.strip(), result
    return EXIT_ERROR, "the refresh run failed (see the Dagster run log)", result


def _paused_reason(config_file: Path) -> str | None:
    """Why a refresh must not start (refreshes paused), in the engine's words; None: it may start."""
    from prodlike.pipelines.config.model import load
    from prodlike.pipelines.engine import control
    from prodlike.pipelines.postgres import connections

    with connections.staging(load(config_file).target.resolve("target"), autocommit=True) as conn:
        if control.current_version(conn) < 2 or not (st := control.state(conn))["paused"]:
            return None
    return (f"refreshes are paused since {st['paused_at']:%Y-%m-%d %H:%M:%S %Z} by {st['paused_by']}: "
            f"{st['paused_reason']}. Inspect with `prodlike status`, then `prodlike resume --note TEXT`; "
            f"or run once anyway with `prodlike refresh --force` (recorded)")


def _halt_error(config_file: Path, run_id: str) -> str:
    """The recorded reason of a run halted without a failing check (the preflight refused)."""
    from prodlike.pipelines.config.model import load
    from prodlike.pipelines.engine import control
    from prodlike.pipelines.postgres import connections

    with connections.staging(load(config_file).target.resolve("target"), autocommit=True) as conn:
        run = control.get_run(conn, run_id) or {}
    return (run.get("error") or "halted (see the Dagster run log)").split(": ", 1)[-1]


def _summary(result, stage_dsn: str | None = None) -> Table:
    table = Table(title="refresh summary")
    for col in ("table", "rows (production)", "rows (staging)", "MB", "seconds", "rows/s"):
        table.add_column(col, justify="left" if col == "table" else "right")
    staged = _staging_counts(stage_dsn) if stage_dsn else {}
    for mat in result.get_asset_materialization_events():
        m = mat.materialization
        key = m.asset_key.path
        if len(key) != 3:
            continue
        md = m.metadata
        q = f"{key[1]}.{key[2]}"
        table.add_row(q, f"{md['rows'].value:,}", f"{staged.get(q, 0):,}" if staged else "-",
                      f"{md['bytes'].value / 1e6:.1f}", f"{md['copy_seconds'].value:.2f}",
                      f"{md['rows_per_second'].value:,.0f}")
    return table


def _checks_table(result) -> Table | str:
    """The run's checks: a count of those that passed, and every warning and error with its explanation."""
    evaluations = result.get_asset_check_evaluations()
    failed = [e for e in evaluations if not e.passed]
    errors = sum(e.severity.value == "ERROR" for e in failed)
    title = f"checks: {len(evaluations) - len(failed)} passed, {len(failed) - errors} warned, {errors} failed"
    if not failed:
        return f"[green]{title}[/]"
    table = Table(title=title)
    for col in ("asset", "check", "verdict", "explanation"):
        table.add_column(col)
    for e in sorted(failed, key=lambda e: (e.severity.value != "ERROR", e.asset_key.path)):
        verdict = "[red]ERROR[/]" if e.severity.value == "ERROR" else "[yellow]warn[/]"
        table.add_row("/".join(e.asset_key.path[1:]), e.check_name, verdict, (e.description or "")[:300])
    return table


def _staging_counts(dsn: str) -> dict[str, int]:
    import psycopg

    from prodlike.pipelines.engine.control import live_release

    with psycopg.connect(dsn) as conn:
        rel = live_release(conn)
        if not rel:
            return {}
        out = {}
        for q in rel["tables"]:
            schema, name = q.split(".", 1)
            out[q] = conn.execute(f'SELECT count(*) FROM "{schema}"."{name}"').fetchone()[0]
        return out


# ---- commands ---------------------------------------------------------------------------------

def cmd_demo(args) -> int:
    from prodlike.pipelines.demo import run as demo

    return demo.run(rows=args.rows, state_dir=Path(args.state_dir), reseed=args.reseed, console=console,
                    drift=args.drift)


def cmd_refresh(args) -> int:
    from prodlike.pipelines.config.model import config_path, load

    path = config_path(args.config)
    cfg = load(path)  # no file: a clear error (only the Dagster code location falls back to the demo's)
    for ref, key in ((cfg.source.dsn, "source"), (cfg.target.dsn, "target")):
        from prodlike.pipelines.config.secrets import resolve

        resolve(ref, key)
    t0 = time.perf_counter()
    code, message, result = run_refresh_job(path, cfg.state_path(path.parent.resolve()), getattr(args, "force", False))
    if result is not None and result.get_asset_check_evaluations():
        console.print(_checks_table(result))
    if code == EXIT_OK:
        console.print(_summary(result, cfg.target.resolve("target")))
        console.print(f"[green]released[/] in {time.perf_counter() - t0:.1f}s (run {result.run_id})")
    elif code == EXIT_HALTED and message.startswith("refreshes are paused"):
        console.print(f"[yellow]refused[/], nothing copied: {message}")
    elif code == EXIT_HALTED:
        console.print(f"[red]halted[/]: {message}")
        if "refreshes are paused" not in message:
            console.print("refreshes are now [red]paused[/]: `prodlike status` shows why; `prodlike resume --note "
                          "TEXT [--accept CHECK:TABLE]` or `prodlike rollback` (README: On call)")
    else:
        console.print(f"[red]failed[/]: {message}")
    if result is not None:
        _print_report_path(cfg, path, result.run_id)
    return code


def _print_report_path(cfg, config_file: Path, run_id: str) -> None:
    """Where the run's parity report was written (when its conclusion wrote one)."""
    from prodlike.pipelines.report.page import reports_dir, safe_file_name

    report = reports_dir(cfg, config_file.parent.resolve()) / f"{safe_file_name(run_id)}.html"
    if report.exists():
        console.print(f"parity report: {report} (`prodlike report {run_id} --open`)", soft_wrap=True)


def cmd_preflight(args) -> int:
    from prodlike.pipelines.config.model import load
    from prodlike.pipelines.config.secrets import env_name
    from prodlike.pipelines.engine.preflight import PreflightError
    from prodlike.pipelines.engine.refresh import Refresh

    cfg = load(args.config)
    key = os.environ.get(env_name(cfg.anonymization.key)) if cfg.anonymization.key else None
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
    from prodlike.pipelines.config.model import config_path, load
    from prodlike.pipelines.onboarding.scan import scan, write_suggestions

    path = config_path(args.config)
    cfg = load(path)
    findings = scan(cfg, cfg.source.resolve("source"), args.sample)
    table = Table(title=f"scan of production ({len(findings)} columns; evidence from up to {args.sample} rows)")
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


def _oncall(args):
    """The on-call context of the config named by args (-c), staging's DSN resolved."""
    from prodlike.pipelines.config.model import config_path, load
    from prodlike.pipelines.oncall.loop import Context

    path = config_path(args.config)
    cfg = load(path)
    return Context(cfg, cfg.target.resolve("target"), cfg.state_path(path.parent.resolve()),
                   path if args.config else None)


def cmd_status(args) -> int:
    from prodlike.pipelines.config.model import ConfigError
    from prodlike.pipelines.config.secrets import MissingSecretError
    from prodlike.pipelines.oncall.loop import status

    try:
        out = status(_oncall(args))
    except (ConfigError, MissingSecretError) as err:  # a monitor must read UNKNOWN, not a generic error
        out = {"state": "UNKNOWN", "code": 3, "reasons": [str(err)]}
        print(json.dumps(out) if args.json else f"UNKNOWN: {err}")
        return 3
    if out["state"] == "UNKNOWN" and not out.get("release") and not args.json:
        console.print("UNKNOWN: " + "; ".join(out["reasons"]))
        return out["code"]
    if args.json:
        print(json.dumps(out, default=str))
        return out["code"]
    colour = {"OK": "green", "WARNING": "yellow", "CRITICAL": "red", "UNKNOWN": "magenta"}[out["state"]]
    table = Table(title=f"prodlike status: [{colour}]{out['state']}[/]", show_header=False)
    table.add_column("what")
    table.add_column("value")
    rel = out["release"]
    if rel:
        table.add_row("live release", f"{rel['id']} ({rel['kind']}) of run {rel['run_id']}, released "
                                      f"{rel['released_at'][:19]}")
        table.add_row("production snapshot", f"{rel['snapshot_time'][:19]} (staging age "
                                             f"{_human(rel['age_seconds'])})")
    if out["freshness"]:
        f = out["freshness"]
        table.add_row("freshness SLA", f"{f['level']} (warn after {f['warn_after']}, "
                                       f"breached after {f['error_after']})")
    p = out["paused"]
    table.add_row("refreshes", f"[red]PAUSED[/] since {p['since'][:19]} by {p['by']}: {p['reason']}" if p else "active")
    last = out["last_run"]
    if last:
        table.add_row("last run", f"{last['run_id']} {last['status']} (started {last['started_at'][:19]})"
                      + (f": {last['error']}" if last["error"] else ""))
        for c in last["failing_checks"][:10]:
            where = ".".join(x for x in (c.get("table"), c.get("column")) if x) or "run"
            table.add_row(f"  {c['verdict']}", f"{c['check']} on {where}: {c['explanation']}")
    if out.get("accepted_once"):
        table.add_row("accepted once", ", ".join(f"{a['check']}:{a['table'] or '*'}" for a in out["accepted_once"]))
    for r in out["reasons"]:
        table.add_row("reason", r)
    console.print(table)
    if p:
        console.print("inspect: `prodlike report --open`, `prodlike history`; then `prodlike resume --note TEXT` "
                      "or `prodlike rollback` (runbook: README, On call)")
    return out["code"]


def cmd_resume(args) -> int:
    from prodlike.pipelines.oncall.loop import resume

    ctx = _oncall(args)
    try:
        before = resume(ctx, args.note, args.accept or [])
    except ValueError as err:
        raise CliError(str(err)) from None
    console.print("resumed" + ("" if before["paused"] else " (was not paused)")
                  + (f"; the next run may release despite: {', '.join(args.accept)} (once)" if args.accept else ""))
    if args.run:
        return cmd_refresh(args)
    return EXIT_OK


def cmd_rollback(args) -> int:
    from prodlike.pipelines.engine.release import ReleaseError
    from prodlike.pipelines.oncall.loop import rollback

    try:
        restored = rollback(_oncall(args))
    except ReleaseError as err:
        raise CliError(f"rollback refused, staging unchanged: {err}") from None
    console.print(f"rolled back: live is now the release of run {restored['run_id']} (production snapshot "
                  f"{restored['snapshot_time']:%Y-%m-%d %H:%M:%S %Z}); refreshes are paused until "
                  f"`prodlike resume --note TEXT`")
    return EXIT_OK


def cmd_history(args) -> int:
    import psycopg

    from prodlike.pipelines.config.model import load
    from prodlike.pipelines.engine.control import releases, runs

    cfg = load(args.config)
    with psycopg.connect(cfg.target.resolve("target"), connect_timeout=10) as conn:
        rels, halted = releases(conn, args.limit), runs(conn, args.limit, ("halted", "failed"))
    entries = [(r["released_at"], r["kind"], str(r["id"]), r["snapshot_time"], r["run_id"],
                f"{len(r['tables'])} tables, {sum(t.get('rows', 0) for t in r['tables'].values()):,} rows",
                _check_counts(r["checks"])) for r in rels]
    entries += [(r["started_at"], r["status"], "-", r["snapshot_time"], r["run_id"],
                 (r["error"] or "")[:80] or _failing_text(r["checks"]), _check_counts(r["checks"])) for r in halted]
    table = Table(title="history: releases, halted and failed runs (newest first)")
    for col in ("when", "what", "release", "production snapshot", "run", "detail", "checks"):
        table.add_column(col)
    for when, kind, rid, snap, run_id, detail, counts in sorted(entries, key=lambda e: e[0], reverse=True)[:args.limit]:
        colour = {"halted": "red", "failed": "red", "rollback": "yellow"}.get(kind, "green")
        table.add_row(f"{when:%Y-%m-%d %H:%M:%S}", f"[{colour}]{kind}[/]", rid,
                      f"{snap:%Y-%m-%d %H:%M:%S}" if snap else "-", run_id, detail, counts)
    console.print(table)
    return 0


def _check_counts(checks: list[dict]) -> str:
    verdicts = [c.get("verdict") for c in checks]
    return " ".join(f"{n} {v}" for v in ("pass", "warn", "error", "skipped") if (n := verdicts.count(v))) or "-"


def _failing_text(checks: list[dict]) -> str:
    failing = [f"{c['check']} {c.get('table') or ''}".strip() for c in checks if c.get("verdict") == "error"]
    return ", ".join(failing[:3]) + (f" +{len(failing) - 3}" if len(failing) > 3 else "")


def cmd_init(args) -> int:
    from prodlike.pipelines.onboarding.init import InitError, init

    try:
        written, workload, review = init(Path(args.output), args.source_dsn_env, args.target_dsn_env, args.key_env,
                                         args.force)
    except InitError as err:
        raise CliError(str(err)) from None
    console.print(f"wrote {written}" + (f" and {workload}" if workload else ""), soft_wrap=True)
    console.print(f"{review} column(s) marked `# review`: check them, then `prodlike config check -c {written}`, "
                  f"`prodlike preflight -c {written}` and `prodlike refresh -c {written}`", soft_wrap=True)
    return EXIT_OK


def cmd_report(args) -> int:
    from prodlike.pipelines.config.model import config_path, load
    from prodlike.pipelines.report.page import ReportError, reports_dir, write_report

    path = config_path(args.config)
    cfg = load(path)
    try:
        written = write_report(cfg.target.resolve("target"), args.run_id, reports_dir(cfg, path.parent.resolve()), cfg)
    except ReportError as err:
        raise CliError(str(err)) from None
    console.print(f"parity report: {written}", soft_wrap=True)
    if args.open:
        import webbrowser

        webbrowser.open(written.resolve().as_uri())
    return EXIT_OK


def cmd_config_check(args) -> int:
    from prodlike.pipelines.config.model import load
    from prodlike.pipelines.config.secrets import redact

    cfg = load(args.config)
    console.print(redact(json.dumps(cfg.model_dump(mode="json", by_alias=True), indent=2)))
    console.print("[green]config OK[/]")
    return 0


def cmd_config_schema(args) -> int:
    from prodlike.pipelines.config.model import Config

    print(json.dumps(Config.model_json_schema(by_alias=True), indent=2))
    return 0


def _human(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


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
                             ("history", cmd_history, "releases, halted and failed runs with their checks"),
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
    sc.add_argument("--sample", type=int, default=200, help="rows sampled per table (default 200)")
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
    chk = cfg_sub.add_parser("check", help="validate a config and print what it resolved (secrets redacted)")
    chk.add_argument("-c", "--config")
    chk.set_defaults(func=cmd_config_check)
    cfg_sub.add_parser("schema", help="print the JSON Schema of prodlike.yaml").set_defaults(func=cmd_config_schema)
    return p


def main(argv: list[str] | None = None) -> int:
    from prodlike.pipelines import quiet

    quiet.install()
    args = parser().parse_args(argv)
    global DEBUG
    DEBUG = args.debug
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    logging.getLogger("prodlike").setLevel(logging.DEBUG if args.debug else logging.INFO)
    from prodlike.pipelines.config.model import ConfigError
    from prodlike.pipelines.config.secrets import MissingSecretError
    from prodlike.pipelines.engine.control import RefreshLockedError
    from prodlike.pipelines.postgres.connections import UnreachableServerError

    try:
        return args.func(args)
    except CliError as err:
        if args.debug:
            raise
        console.print(f"[red]error[/]: {err}")
        return err.code
    except (ConfigError, MissingSecretError, UnreachableServerError, RefreshLockedError) as err:
        if args.debug:
            raise
        console.print(f"[red]error[/]: {err}")
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())

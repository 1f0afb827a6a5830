"""Copy throughput in one run: raw binary COPY server to server, pg_dump | pg_restore, prodlike all-keep,
prodlike with 3 anonymized columns; rows/s, ratios to raw COPY, time per stage, peak RSS of the copy. With
`--executor multiprocess --slices N [N ...]`, also the all-keep copy as the per-step Dagster job on the multiprocess
executor (the table in N slices, each its own step process), timed from the run's first step to the end of
its copy phase (keys and indexes included, checks excluded, as for the in-process path)."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from prodlike.pipelines.demo import embedded  # noqa: E402

STATE = ROOT / ".prodlike" / "bench"
TABLE_SQL = """
CREATE TABLE bench (
    id bigint PRIMARY KEY, email text NOT NULL, full_name text NOT NULL, phone text,
    amount numeric(12,2), created_at timestamptz NOT NULL, status text NOT NULL
)"""
FILL_SQL = """
INSERT INTO bench
SELECT g, 'user' || g || '@mail' || (g %% 97) || '.example.org', 'Name' || (g %% 5000) || ' Surname' || (g %% 7919),
       CASE WHEN g %% 10 = 0 THEN NULL ELSE '+49 30 ' || lpad((g %% 10000000)::text, 7, '0') END,
       round((random() * 1000)::numeric, 2), timestamptz '2024-01-01' + g * interval '1 second',
       (ARRAY['new','paid','shipped','done'])[1 + g %% 4]
FROM generate_series(%s, %s) g
"""
POLICIES = {
    "prodlike_keep": {"public.bench": "keep"},
    "prodlike_anonymized": {"public.bench": {"columns": {"email": "email", "full_name": "full_name",
                                                         "phone": "phone", "amount": "keep", "created_at": "keep",
                                                         "status": "keep"}}},
}
KEY = "benchmark-key-not-secret-0123456789abcdef"


PRELOAD = {"shared_preload_libraries": "pg_stat_statements"}  # production's side of the query-time check
# the application's queries on production, for the query-time check: (statement, parameter sets)
WORKLOAD = [
    ("SELECT * FROM bench WHERE id = %s", [(i * 7919 % 900_000 + 1,) for i in range(40)]),
    ("SELECT id, full_name FROM bench WHERE email = %s", [(f"user{i * 104_729 % 900_000 + 1}@mail"
                                                           f"{(i * 104_729 % 900_000 + 1) % 97}.example.org",)
                                                          for i in range(40)]),
    ("SELECT count(*) FROM bench WHERE created_at >= %s AND created_at < %s",
     [("2024-01-02", "2024-01-03"), ("2024-01-05", "2024-01-06")] * 5),
    ("SELECT status, count(*), sum(amount) FROM bench GROUP BY status", [()] * 5),
    ("SELECT id, amount FROM bench WHERE status = %s ORDER BY amount DESC LIMIT %s", [("paid", 20), ("new", 20)] * 5),
]


def servers():
    STATE.mkdir(parents=True, exist_ok=True)
    prod = embedded.server(STATE, "production").start(PRELOAD)
    with psycopg.connect(prod.dsn(), autocommit=True) as conn:
        loaded = conn.execute("SELECT current_setting('shared_preload_libraries')").fetchone()[0]
    if loaded != PRELOAD["shared_preload_libraries"]:  # started earlier without it
        prod.stop()
        prod.start(PRELOAD)
    stage = embedded.server(STATE, "staging").start()
    return prod, stage


def run_workload(prod) -> None:
    """Fill production's pg_stat_statements for the bench database with the application's queries."""
    with psycopg.connect(prod.dsn("bench"), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        conn.execute("SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = "
                     "current_database()), 0)")
        for statement, params in WORKLOAD:
            for args in params:
                conn.execute(statement, args)


def build(prod, rows: int) -> None:
    embedded.create_database(prod.dsn(), "bench")
    with psycopg.connect(prod.dsn("bench"), autocommit=True) as conn:
        have = conn.execute("SELECT to_regclass('bench') IS NOT NULL AND "
                            "(SELECT count(*) FROM bench) = %s", (rows,)).fetchone()[0] \
            if conn.execute("SELECT to_regclass('bench')").fetchone()[0] else False
        if have:
            return
        conn.execute("DROP TABLE IF EXISTS bench")
        conn.execute(TABLE_SQL)
        step = 1_000_000
        for lo in range(1, rows + 1, step):
            conn.execute(FILL_SQL, (lo, min(lo + step - 1, rows)))
        conn.execute("VACUUM ANALYZE bench")


def fresh_db(stage, name: str) -> str:
    with psycopg.connect(stage.dsn(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return stage.dsn(name)


def raw_copy(prod, stage) -> dict:
    dst = fresh_db(stage, "bench_raw")
    with psycopg.connect(dst, autocommit=True) as conn:
        conn.execute(TABLE_SQL.replace(" PRIMARY KEY", ""))
    t0 = time.perf_counter()
    with psycopg.connect(prod.dsn("bench")) as s, psycopg.connect(dst) as d:
        with s.cursor().copy("COPY bench TO STDOUT (FORMAT binary)") as cin, \
                d.cursor().copy("COPY bench FROM STDIN (FORMAT binary)") as cout:
            for chunk in cin:
                cout.write(chunk)
        d.commit()
    return {"seconds": time.perf_counter() - t0}


def dump_restore(prod, stage) -> dict:
    dst = fresh_db(stage, "bench_dump")
    bins = embedded.bin_dir()
    t0 = time.perf_counter()
    dump = subprocess.Popen([str(bins / "pg_dump"), "-Fc", "-t", "bench", "-d", prod.dsn("bench")],
                            stdout=subprocess.PIPE)
    subprocess.run([str(bins / "pg_restore"), "-d", dst, "--no-owner"], stdin=dump.stdout, check=True)
    dump.wait()
    return {"seconds": time.perf_counter() - t0}


def prodlike(method: str, prod, stage) -> dict:
    """Run prodlike's copy in a separate process so its peak RSS is its own."""
    dst = fresh_db(stage, f"bench_{method}")
    env = dict(os.environ, BENCH_SOURCE=prod.dsn("bench"), BENCH_TARGET=dst, BENCH_KEY=KEY,
               BENCH_POLICY=json.dumps(POLICIES[method]), BENCH_METHOD=method)
    out = subprocess.run([sys.executable, __file__, "--worker"], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{method} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def multiprocess(prod, stage, slices: int) -> dict:
    """The all-keep copy as the per-step Dagster job, the table in `slices` slices, in a process of its own."""
    dst = fresh_db(stage, f"bench_multiprocess_{slices}")
    home = STATE / f"multiprocess_{slices}"
    env = dict(os.environ, BENCH_SOURCE=prod.dsn("bench"), BENCH_TARGET=dst, BENCH_KEY=KEY,
               BENCH_POLICY=json.dumps(POLICIES["prodlike_keep"]), BENCH_SLICES=str(slices), BENCH_HOME=str(home))
    out = subprocess.run([sys.executable, __file__, "--worker-multiprocess"], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"multiprocess with {slices} slice(s) failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def worker_multiprocess() -> None:
    import shutil

    import dagster as dg
    import yaml

    from prodlike.pipelines.orchestration import launch
    from prodlike.pipelines.orchestration.distributed import CHECKS_BESIDE, COPY_COMPLETE

    home = Path(os.environ["BENCH_HOME"])
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    with psycopg.connect(os.environ["BENCH_SOURCE"]) as conn:
        size = conn.execute("SELECT pg_relation_size('bench')").fetchone()[0]
    slices = int(os.environ["BENCH_SLICES"])
    config = {"version": 1, "source": {"dsn": "${BENCH_SOURCE}"}, "target": {"dsn": "${BENCH_TARGET}"},
              "anonymization": {"key": "${BENCH_KEY}", "tables": json.loads(os.environ["BENCH_POLICY"])},
              "copy": {"executor": "multiprocess", "slice_bytes": max(64 * 1024, -(-size // slices) + 1),
                       "workers": max(slices, 1)},
              "query_time": {"enabled": False}, "state_dir": str(home / "state")}
    path = home / "prodlike.yaml"
    path.write_text(yaml.safe_dump(config))
    launch.dagster_home(home / "state")
    with dg.DagsterInstance.get() as instance:
        result = launch.run_distributed(path, instance, launch.QUIET_RUN_CONFIG)
        if not result.success:
            raise SystemExit("the multiprocess refresh failed: " + "; ".join(
                e.message or "" for e in result.all_events if e.is_failure)[:3000])
        logs = instance.all_logs(result.run_id)
    started = min(e.timestamp for e in logs if e.dagster_event and e.dagster_event.event_type_value == "STEP_START")
    done = next(e for e in logs if COPY_COMPLETE in (e.user_message or ""))
    # the table checks interleave with the finish's index builds; the in-process copy time excludes them
    copied = done.timestamp - float(re.search(rf"{CHECKS_BESIDE} ([\d.]+)s", done.user_message).group(1))
    with psycopg.connect(os.environ["BENCH_TARGET"]) as conn:
        rows = conn.execute("SELECT count(*) FROM public.bench").fetchone()[0]
    steps = sum(1 for e in logs if e.dagster_event and e.dagster_event.event_type_value == "STEP_SUCCESS"
                and (e.step_key or "").startswith("copy_slice["))
    rss = [float(m.group(1)) for e in logs if (m := re.search(r"step peak RSS (\d+) MB", e.user_message or ""))]
    print(json.dumps({"seconds": copied - started, "rows": rows, "copy_steps": steps,
                      "phases_s": phases(logs, started, copied),
                      "copy_step_peak_rss_mb": max(rss, default=0.0),
                      "run_seconds": max(e.timestamp for e in logs) - started}))


def phases(logs, started: float, copied: float) -> dict:
    """Where the multiprocess run's copy phase went: until the plan emitted the copy steps, from the first copy
    step's start to the last one's success, and from then to the end of keys and indexes (the finish)."""
    def times(kind: str, prefix: str) -> list[float]:
        return [e.timestamp for e in logs if e.dagster_event and e.dagster_event.event_type_value == kind
                and (e.step_key or "").startswith(prefix)]

    planned = max(times("STEP_SUCCESS", "plan_copy"))
    first_copy, last_copy = min(times("STEP_START", "copy_slice[")), max(times("STEP_SUCCESS", "copy_slice["))
    return {"to_plan": round(planned - started, 2), "plan_to_first_copy": round(first_copy - planned, 2),
            "copies": round(last_copy - first_copy, 2), "finish": round(copied - last_copy, 2)}


def peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM; ru_maxrss would include the parent's size across exec)."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024


def worker() -> None:
    from prodlike.pipelines.config.model import Config
    from prodlike.pipelines.engine.refresh import Refresh

    cfg = Config.model_validate({"source": {"dsn": "${BENCH_SOURCE}"}, "target": {"dsn": "${BENCH_TARGET}"},
                                 "anonymization": {"key": "${BENCH_KEY}",
                                                   "tables": json.loads(os.environ["BENCH_POLICY"])}})
    r = Refresh(cfg, os.environ["BENCH_SOURCE"], os.environ["BENCH_TARGET"], "bench", os.environ["BENCH_KEY"].encode())
    t0 = time.perf_counter()
    tables = list(r.copy())
    total = time.perf_counter() - t0
    leaf = tables[0].leaves[0]
    copy_rss_mb = peak_rss_mb()  # before validation imports Great Expectations (pandas, SQLAlchemy)
    profile = os.environ.get("BENCH_PROFILE")
    if profile:  # --profile-validation: pyinstrument's tree of the validation phase, every thread
        from pyinstrument import Profiler

        profiler = Profiler(async_mode="disabled")
        profiler.start()
    validation = validate(cfg, os.environ["BENCH_TARGET"], tables[0])
    if profile:
        profiler.stop()
        Path(f"{profile}.{os.environ['BENCH_METHOD']}.txt").write_text(profiler.output_text(show_all=False))
    print(json.dumps({"seconds": total, "rows": tables[0].rows, "copy_s": leaf.seconds, "read_s": leaf.read_s,
                      "transform_s": leaf.transform_s, "write_s": leaf.write_s, "post_data_s": tables[0].post_data_s,
                      "profile_s": leaf.profile_s, **validation, "peak_rss_mb": copy_rss_mb}))


CHECKS = ("count", "distribution", "leak", "integrity", "query_time")


def validate(cfg, target: str, tr) -> dict:
    """Wall time of the table's validation after its copy, as the copy asset runs it (the leak check beside the row
    count and distributions; Great Expectations and integrity once all tables are copied), and each check's own
    wall time; the budget (issue 4) is 25% of the copy's wall time, with GX and without."""
    from concurrent.futures import ThreadPoolExecutor

    from prodlike.pipelines.checks import query_time
    from prodlike.pipelines.checks.distribution import distribution
    from prodlike.pipelines.checks.expectations import expectations
    from prodlike.pipelines.checks.integrity import integrity
    from prodlike.pipelines.checks.leak import leak
    from prodlike.pipelines.checks.runner import count_shadow

    seconds: dict[str, float] = {}

    def timed(name: str, check, *args):
        t0 = time.perf_counter()
        found = check(*args)
        seconds[name] = time.perf_counter() - t0
        return found

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=1) as side:
        leaking = side.submit(timed, "leak", leak, tr, target)
        timed("count", count_shadow, target, tr.table)
        found = timed("distribution", distribution, cfg, target, tr)
        leaks = leaking.result()
    expected = timed("great_expectations", expectations, cfg, target, [tr])
    timed("integrity", integrity, cfg, target, [tr.table])
    timing = timed("query_time", query_time.check, cfg, os.environ["BENCH_SOURCE"], target, "bench")
    total = time.perf_counter() - t0
    return {"validate_s": total - seconds["great_expectations"], "validate_with_gx_s": total,
            "great_expectations_s": seconds["great_expectations"], "checks_s": seconds,
            "distribution_verdicts": sorted({r.verdict.value for r in found}),
            "leak_verdicts": sorted({r.verdict.value for r in leaks}),
            "expectation_verdicts": sorted({r.verdict.value for rs in expected.values() for r in rs}),
            "query_time_verdicts": [timing[0].verdict.value], "query_time": timing[0].explanation}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--only", nargs="*", help="methods to run besides raw_copy (default: all)")
    p.add_argument("--profile-validation", metavar="PREFIX", help="write a pyinstrument profile of each "
                   "prodlike method's validation to PREFIX.<method>.txt (needs `pip install pyinstrument`)")
    p.add_argument("--executor", choices=["in_process", "multiprocess"], default="in_process",
                   help="multiprocess: also run the all-keep copy as the per-step Dagster job")
    p.add_argument("--slices", type=int, nargs="+", default=[2],
                   help="with --executor multiprocess: the slice counts to run the table in (one run each)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--worker-multiprocess", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.profile_validation:
        os.environ["BENCH_PROFILE"] = str(Path(args.profile_validation).resolve())
    if args.worker:
        return worker()
    if args.worker_multiprocess:
        return worker_multiprocess()
    prod, stage = servers()
    t0 = time.perf_counter()
    build(prod, args.rows)
    build_s = time.perf_counter() - t0
    run_workload(prod)
    wanted = set(args.only or ["pg_dump_restore", *POLICIES])
    results = {"raw_copy": raw_copy(prod, stage)}
    if "pg_dump_restore" in wanted:
        results["pg_dump_restore"] = dump_restore(prod, stage)
    methods = [m for m in POLICIES if m in wanted]
    for method in methods:
        results[method] = prodlike(method, prod, stage)
    distributed = {}
    if args.executor == "multiprocess":
        for n in args.slices:
            distributed[f"prodlike_keep_multiprocess_{n}_slices"] = results[f"prodlike_keep_multiprocess_{n}_slices"] \
                = multiprocess(prod, stage, n)
    rows_per_s = {m: args.rows / r["seconds"] for m, r in results.items()}
    ratio = {m: v / rows_per_s["raw_copy"] for m, v in rows_per_s.items()}
    report = {
        "rows": args.rows,
        "rows_per_s": {m: round(v) for m, v in rows_per_s.items()},
        "ratio_to_raw_copy": {m: round(v, 3) for m, v in ratio.items()},
        "peak_rss_mb": round(max((results[m]["peak_rss_mb"] for m in methods), default=0), 1),
        "peak_rss_mb_by_method": {m: round(results[m]["peak_rss_mb"], 1) for m in methods},
        "stages_s": {m: {k: round(results[m][k], 3) for k in ("copy_s", "read_s", "transform_s", "write_s",
                                                               "post_data_s", "profile_s")} for m in methods},
        "validation_s": {m: round(results[m]["validate_s"], 3) for m in methods},
        "validation_share_of_copy": {m: round(results[m]["validate_s"] / results[m]["seconds"], 3) for m in methods},
        "great_expectations_s": {m: round(results[m]["great_expectations_s"], 3) for m in methods},
        "validation_with_gx_s": {m: round(results[m]["validate_with_gx_s"], 3) for m in methods},
        "validation_with_gx_share_of_copy": {m: round(results[m]["validate_with_gx_s"] / results[m]["seconds"], 3)
                                             for m in methods},
        "checks_s": {m: {k: round(v, 3) for k, v in results[m]["checks_s"].items()} for m in methods},
        "verdicts": {m: {k: results[m][f"{k}_verdicts"] for k in ("distribution", "leak", "expectation",
                                                                  "query_time")}
                     for m in methods},
        "build_s": round(build_s, 1),
    }
    if distributed:
        base = rows_per_s.get("prodlike_keep")
        report["multiprocess"] = {m: {"copy_steps": r["copy_steps"], "seconds": round(r["seconds"], 2),
                                      "copy_step_peak_rss_mb": r["copy_step_peak_rss_mb"],
                                      "run_seconds": round(r["run_seconds"], 2), "rows_copied": r["rows"],
                                      "phases_s": r["phases_s"],
                                      "ratio_to_in_process_keep": round(rows_per_s[m] / base, 3) if base else None}
                                  for m, r in distributed.items()}
    if args.json:
        print(json.dumps(report))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"copy throughput, {args.rows:,} rows (same run, same two servers)")
    for col in ("method", "seconds", "rows/s", "ratio to raw COPY", "peak RSS MB"):
        table.add_column(col, justify="right" if col != "method" else "left")
    for m, r in results.items():
        table.add_row(m, f"{r['seconds']:.2f}", f"{rows_per_s[m]:,.0f}", f"{ratio[m]:.2f}x",
                      f"{r['peak_rss_mb']:.0f}" if "peak_rss_mb" in r else "-")
    Console().print(table)
    stages = Table(title="prodlike time per stage (s): copy = read + transform + write; then keys/indexes/ANALYZE")
    for col in ("method", "copy", "read", "transform", "write", "post-data"):
        stages.add_column(col, justify="right" if col != "method" else "left")
    for m in methods:
        s = report["stages_s"][m]
        stages.add_row(m, *(f"{s[k]:.2f}" for k in ("copy_s", "read_s", "transform_s", "write_s", "post_data_s")))
    Console().print(stages)
    for m, r in report.get("multiprocess", {}).items():
        print(f"{m}: {r['copy_steps']} copy step(s), copy phase {r['seconds']:.2f}s (whole run with checks "
              f"{r['run_seconds']:.2f}s), {r['ratio_to_in_process_keep']}x the in-process all-keep path; phases (s): "
              + ", ".join(f"{k} {v}" for k, v in r["phases_s"].items()))
    checks = Table(title="validation after the copy (s): each check's own wall time (the leak check runs beside count "
                         "and distribution), the whole; budget: 25% of the copy's wall time")
    for col in ("method", "copy", *CHECKS, "validation", "share", "GX", "with GX", "share with GX"):
        checks.add_column(col, justify="right" if col != "method" else "left")
    for m in methods:
        done = report["checks_s"][m]
        checks.add_row(m, f"{results[m]['seconds']:.2f}", *(f"{done[k]:.2f}" for k in CHECKS),
                       f"{report['validation_s'][m]:.2f}", f"{report['validation_share_of_copy'][m]:.1%}",
                       f"{report['great_expectations_s'][m]:.2f}", f"{report['validation_with_gx_s'][m]:.2f}",
                       f"{report['validation_with_gx_share_of_copy'][m]:.1%}")
    Console(width=max(Console().width, 140)).print(checks)
    for m in methods:
        print(f"verdicts {m}: " + "; ".join(f"{k} {'/'.join(v)}" for k, v in report["verdicts"][m].items()))
        print(f"query_time {m}: {results[m]['query_time']}")


if __name__ == "__main__":
    main()

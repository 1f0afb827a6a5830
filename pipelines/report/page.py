"""The parity report: one self-contained HTML page (inline CSS and SVG, no script, no network) per run, its
sections built from the run's check results; the checks section lists the check registry."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prodlike.pipelines.checks import registry, tally
from prodlike.pipelines.report import query_time as query_time_chart
from prodlike.pipelines.report.charts import (
    distribution_svg,
    esc,
    human_seconds,
    line_chart_svg,
    number,
)
from prodlike.pipelines.report.data import ReportError, freshness_windows, read
from prodlike.validators import query_time as qt

__all__ = ["ReportError", "render", "reports_dir", "safe_file_name", "write_report"]
SEVERITY = {"error": 0, "warn": 1, "skipped": 2, "pass": 3}


def resume_command(checks: list[dict]) -> str:
    """The exact resume that accepts this run's failing checks once, each with its schema-qualified table."""
    return f'prodlike resume --note "WHY"{tally.accept_arguments(checks)}'


def run_checks() -> tuple[str, ...]:
    """Run-level checks (no table of their own), from the registry."""
    return registry.run_level_names()


def badge(verdict: str) -> str:
    v = str(verdict or "skipped")
    return f'<span class="badge {esc(v)}">{esc(v)}</span>'


def worst(verdicts: list[str]) -> str:
    return min(verdicts, key=lambda v: SEVERITY.get(v, 2)) if verdicts else "pass"


def threshold_text(threshold: dict | None) -> str:
    t = threshold or {}
    parts = [f"{k} &gt; {number(t[k])}" for k in ("warn", "error") if t.get(k) is not None]
    return ", ".join(parts) or "per item"


# ---- sections ---------------------------------------------------------------------------------

def headline(run: dict, checks: list[dict]) -> tuple[str, str]:
    """(verdict text, css class) of the run: released, released with warnings, halted, failed, in progress."""
    status = run["status"]
    warned = any(c.get("verdict") in ("warn", "skipped") for c in checks)
    if status == "released":
        return ("released with warnings", "warn") if warned else ("released", "pass")
    if status in ("halted", "failed"):
        return status, "error"
    return f"in progress ({status})", "skipped"


def _fact(label: str, value: str, note: str = "", cls: str = "") -> str:
    return (f'<div class="fact {cls}"><div class="label">{esc(label)}</div><div class="value">{value}</div>'
            f'<div class="note">{note}</div></div>')


def _age_fact(live: dict | None, now: datetime, cfg: Any) -> str:
    if live is None:
        return _fact("staging age", "-", "no release yet")
    age = now - live["snapshot_time"]
    warn_after, error_after = freshness_windows(cfg)
    snap = live["snapshot_time"].astimezone(UTC)
    cls, note = "", f"release #{esc(live['id'])}, snapshot {snap:%Y-%m-%d %H:%M} UTC"
    if error_after is not None and age > error_after:
        cls, note = "error", note + f"; SLA breached (error after {esc(human_seconds(error_after.total_seconds()))})"
    elif warn_after is not None and age > warn_after:
        cls, note = "warn", note + f"; past warn window ({esc(human_seconds(warn_after.total_seconds()))})"
    elif error_after is not None:
        note += f"; within SLA ({esc(human_seconds(error_after.total_seconds()))})"
    else:
        note += "; no freshness SLA configured"
    return _fact("staging age", esc(human_seconds(age.total_seconds())), note, cls)


def header_section(run: dict, checks: list[dict], live: dict | None, now: datetime, cfg: Any) -> str:
    verdict, cls = headline(run, checks)
    tables = run.get("tables") or {}
    rows = sum(t.get("rows", 0) for t in tables.values())
    nbytes = sum(t.get("bytes", 0) for t in tables.values())
    duration = ((run["finished_at"] or now) - run["started_at"]).total_seconds()
    snap = run["snapshot_time"].astimezone(UTC) if run.get("snapshot_time") else None
    started = run["started_at"].astimezone(UTC)
    counts = {v: 0 for v in SEVERITY} | tally.tally(checks)  # one per check and table, as everywhere
    facts = [
        _fact("production snapshot", esc(f"{snap:%Y-%m-%d %H:%M:%S} UTC" if snap else "-"),
              "all tables read from this one snapshot"),
        _age_fact(live, now, cfg),
        _fact("duration", esc(human_seconds(duration)), f"started {started:%Y-%m-%d %H:%M:%S} UTC"),
        _fact("copied", f"{rows:,} rows", f"{len(tables)} tables, {nbytes / 1e6:,.1f} MB"),
        _fact("throughput", f"{rows / duration:,.0f} rows/s" if duration else "-", "end to end, whole run"),
        _fact("checks", f"{counts['pass']} passed", f"{counts['warn']} warned, {counts['error']} failed, "
                                                     f"{counts['skipped']} skipped"),
    ]
    outcome = {"released": "staging now serves this copy",
               "halted": "a blocking check failed: staging keeps serving the last release; refreshes pause "
                         f"until on-call runs `{resume_command(checks)}` (keep an --accept only where production "
                         "really changed) or `prodlike rollback` (README: On call)",
               "failed": "the run failed before validation: staging keeps serving the last release"}
    note = outcome.get(run["status"], "")
    error = f'<p class="run-error">{esc(run.get("error"))}</p>' if run.get("error") else ""
    return (f'<header class="verdict {cls}"><div class="big">{esc(verdict)}</div>'
            f'<div>{esc(note)}</div></header>{error}<section class="facts">{"".join(facts)}</section>')


def _divergence(c: dict) -> float:
    value = c.get("divergence")
    return float(value) if isinstance(value, (int, float)) else 0.0


def _where(c: dict) -> str:
    parts = [c.get("table"), c.get("column")]
    if c.get("check") == "infrastructure" and not c.get("column"):
        return str(c.get("statistic") or "run")
    return ".".join(str(p) for p in parts if p) or "run"


def attention_section(checks: list[dict]) -> str:
    failing = sorted((c for c in checks if c.get("verdict") in ("error", "warn")),
                     key=lambda c: (SEVERITY.get(c.get("verdict"), 2), -_divergence(c)))
    if not failing:
        return ('<section><h2>What needs attention</h2><p class="ok">Nothing: every check passed '
                'or was skipped.</p></section>')
    rows = "".join(
        f"<tr class=\"{esc(c.get('verdict'))}\"><td>{badge(c.get('verdict'))}</td><td>{esc(c.get('check'))}</td>"
        f"<td>{esc(_where(c))}</td><td class=\"num\">{number(c.get('divergence'))}</td>"
        f"<td>{threshold_text(c.get('threshold'))}</td><td>{esc(c.get('explanation'))}</td></tr>"
        for c in failing[:60])
    more = f'<p class="muted">and {len(failing) - 60} more</p>' if len(failing) > 60 else ""
    return (f'<section><h2>What needs attention <span class="count">{len(failing)}</span></h2>'
            f'<table><thead><tr><th>verdict</th><th>check</th><th>where</th><th>divergence</th>'
            f'<th>threshold</th><th>explanation</th></tr></thead><tbody>{rows}</tbody></table>{more}</section>')


def checks_section(checks: list[dict], cfg: Any = None) -> str:
    """Every check of the registry (those the config runs): what it compares, whether it blocks, and this run's
    verdicts; a check the run did not reach says so."""
    rows = []
    for check in registry.checks(cfg):
        verdicts = [c.get("verdict") or "skipped" for c in checks if c.get("check") == check.name]
        counts = ", ".join(f"{verdicts.count(v)} {v}" for v in ("error", "warn", "skipped", "pass")
                           if verdicts.count(v)) or "not reached"
        rows.append(f"<tr><td>{esc(check.name)}</td><td>{badge(worst(verdicts)) if verdicts else '-'}</td>"
                    f"<td>{esc(counts)}</td><td>{'yes' if check.blocking else 'no'}</td>"
                    f"<td>{esc(check.description)}</td></tr>")
    return ('<section><h2>Checks</h2><table><thead><tr><th>check</th><th>verdict</th><th>results</th>'
            f'<th>blocks a release</th><th>what it compares</th></tr></thead><tbody>{"".join(rows)}</tbody>'
            '</table></section>')


def _table_verdicts(checks: list[dict], table: str) -> dict[str, str]:
    out: dict[str, list[str]] = {}
    for c in checks:
        if c.get("table") == table and c.get("check") not in run_checks():
            out.setdefault(c["check"], []).append(c.get("verdict") or "skipped")
    return {k: worst(v) for k, v in out.items()}


def tables_section(run: dict, checks: list[dict]) -> str:
    copied = run.get("tables") or {}
    counted = {c["table"]: c for c in checks if c.get("check") == "row_count" and c.get("table")}
    names = sorted(set(copied) | set(counted))
    if not names:
        return '<section><h2>Tables</h2><p class="muted">no table was copied in this run</p></section>'
    verdicts = {t: _table_verdicts(checks, t) for t in names}
    names.sort(key=lambda t: (SEVERITY.get(worst(list(verdicts[t].values())), 2), t))
    rows = []
    for t in names:
        info, count = copied.get(t, {}), counted.get(t, {})
        prod, stage = count.get("production", info.get("rows")), count.get("staging")
        cells = "".join(f"<span class=\"chk\">{esc(k.replace('_', ' '))} {badge(v)}</span>"
                        for k, v in sorted(verdicts[t].items()))
        differs = ' class="differs"' if prod is not None and stage is not None and prod != stage else ""
        rows.append(f"<tr><td>{esc(t)}</td><td class=\"num\">{number(prod)}</td>"
                    f"<td class=\"num\"{differs}>{number(stage)}</td>"
                    f"<td class=\"num\">{info.get('bytes', 0) / 1e6:,.1f}</td>"
                    f"<td class=\"num\">{info.get('seconds', 0):.2f}</td>"
                    f"<td class=\"num\">{info.get('post_data_s', 0):.2f}</td>"
                    f"<td class=\"num\">{number(info.get('rows_per_s'))}</td><td>{cells or '-'}</td></tr>")
    return ('<section><h2>Tables</h2><table><thead><tr><th>table</th><th>rows production</th>'
            '<th>rows in the copy</th><th>MB</th><th>copy s</th><th>index s</th><th>rows/s</th><th>checks</th>'
            f'</tr></thead><tbody>{"".join(rows)}</tbody></table></section>')


def _plot_of(check: dict) -> dict | None:
    details = check.get("details")
    if isinstance(details, dict) and details.get("plot"):
        return details
    for d in details or []:
        if isinstance(d, dict) and d.get("plot"):
            return d
    return None


def _numbers(c: dict) -> str:
    rows = [("statistic", esc(c.get("statistic"))), ("divergence", number(c.get("divergence"))),
            ("threshold", threshold_text(c.get("threshold")))]
    rows += [(side, number(c.get(side))) for side in ("production", "staging") if c.get(side) is not None]
    return "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)


def distributions_section(checks: list[dict], released: bool = True) -> str:
    found = [c for c in checks if c.get("check") == "distribution"]
    if not found:
        return ('<section><h2>Column distributions</h2><p class="muted">no distribution checks in this run'
                '</p></section>')
    found.sort(key=lambda c: (SEVERITY.get(c.get("verdict"), 2), -_divergence(c), _where(c)))
    cards = []
    for c in found:
        plot = _plot_of(c)
        where = _where(c)
        drawing = distribution_svg(plot, where) if plot else '<p class="muted">no plot data</p>'
        cards.append(
            f'<div class="card {esc(c.get("verdict"))}"><div class="card-head">{badge(c.get("verdict"))} '
            f'<b>{esc(where)}</b></div><div class="card-body"><div>{drawing}</div><dl>{_numbers(c)}</dl></div>'
            f'<p class="explain">{esc(c.get("explanation"))}</p></div>')
    failing = sum(c.get("verdict") not in ("pass", None) for c in found)
    shown, passing = cards[:failing], cards[failing:]
    body = f'<div class="cards">{"".join(shown)}</div>' if shown else ""
    if passing:
        opened = " open" if released and not shown else ""
        body += (f'<details class="passing"{opened}><summary>{len(passing)} column(s) within their thresholds'
                 f'</summary><div class="cards">{"".join(passing)}</div></details>')
    return (f'<section><h2>Column distributions <span class="count">{len(found)}</span></h2>'
            f'<p class="muted">production filled blue, staging outlined orange; columns that warned or failed '
            f'first</p>{body}</section>')


_PLAN_FIELD = re.compile(r"(?:^| )(Node Type|Join Type|Relation Name|Scan Direction|Sort Key|Parent Relationship|"
                         r"Strategy|Partial Mode|Index Name)=")
_PLAN_LABELS = {"Join Type": "join", "Relation Name": "on", "Scan Direction": "direction", "Sort Key": "sort",
                "Strategy": "strategy", "Partial Mode": "partial", "Index Name": "index"}


def plan_node(line: str) -> tuple[int, str]:
    """(depth, readable HTML) of one line of a plan shape ('  Node Type=Index Scan Relation Name=t ...')."""
    depth = (len(line) - len(line.lstrip(" "))) // 2
    parts = _PLAN_FIELD.split(line.strip())
    fields = dict(zip(parts[1::2], parts[2::2]))
    node = fields.pop("Node Type", line.strip())
    fields.pop("Parent Relationship", None)
    if fields.get("Scan Direction", "").strip() == "Forward":
        del fields["Scan Direction"]
    extra = " ".join(f'<span class="k">{esc(_PLAN_LABELS.get(k, k))}</span> {esc(v.strip())}'
                     for k, v in fields.items())
    arrow = "\u21b3 " if depth else ""
    return depth, f"{arrow}<b>{esc(node)}</b>" + (f" {extra}" if extra else "")


def _plan_column(title: str, lines: list[str], differing: list[int]) -> str:
    marked = set(differing)
    body = ""
    for i, line in enumerate(lines):
        depth, node = plan_node(line)
        body += f'<div class="pl{" hl" if i in marked else ""}" style="padding-left:{8 + depth * 14}px">{node}</div>'
    return f'<div class="plan"><div class="plan-title">{esc(title)}</div><div class="tree">{body}</div></div>'


def _plan_trees(d: dict) -> str:
    if d.get("production_plan") is not None:
        diff = d.get("differing") or {}
        left = _plan_column("production", d["production_plan"], diff.get("production", []))
        right = _plan_column("staging", d.get("staging_plan") or [], diff.get("staging", []))
        return f'<div class="plans-side">{left}{right}</div>'
    if d.get("diff"):
        return f'<pre class="diff">{esc(d["diff"])}</pre>'
    return ""


def _not_reached(status: str) -> str:
    if status in ("halted", "failed"):
        return "not compared: the run stopped before its run-level checks"
    return "not compared in this run"


def _full_sql(d: dict) -> str:
    sql = str(d.get("sql", ""))
    return f'<pre class="sql">{esc(sql)}</pre>' if len(" ".join(sql.split())) > 140 or "\n" in sql.strip() else ""


def plans_section(checks: list[dict], status: str = "") -> str:
    found = [c for c in checks if c.get("check") == "plans"]
    if not found:
        return f'<section><h2>Query plans</h2><p class="muted">{_not_reached(status)}</p></section>'
    check = found[0]
    queries = [d for d in check.get("details") or [] if isinstance(d, dict)]
    order = {"error": 0, "different-shape": 1, "different-index": 2, "skipped": 3, "equivalent": 4, "identical": 5}
    queries.sort(key=lambda d: order.get(d.get("verdict"), 3))
    blocks = []
    for d in queries:
        v = d.get("verdict", "")
        cls = {"identical": "pass", "equivalent": "pass", "different-index": "warn", "different-shape": "error",
               "error": "error"}.get(v, "skipped")
        reason = f'<p class="explain">{esc(d.get("reason"))}</p>' if d.get("reason") else ""
        trees = _plan_trees(d) if v not in ("identical", "skipped") else ""
        opened = " open" if trees and v != "equivalent" else ""  # equivalent: explained, folded
        blocks.append(f'<details class="query {cls}"{opened}><summary><span class="badge {cls}">{esc(v)}</span> '
                      f'<code>{esc(d.get("fingerprint"))}</code> <span class="sql-short">'
                      f'{esc(" ".join(str(d.get("sql", "")).split())[:140])}</span></summary>'
                      f'{_full_sql(d)}{reason}{trees}</details>')
    return (f'<section><h2>Query plans {badge(check.get("verdict"))}</h2><p>{esc(check.get("explanation"))}; '
            f'threshold: {threshold_text(check.get("threshold"))} (share differing).</p>{"".join(blocks)}</section>')


def _query_numbers(d: dict) -> str:
    """A replayed query's numbers on both sides, in one line."""
    prod = (f"production: {number(d.get('production_mean_ms'))} ms mean "
            f"(stddev {number(d.get('production_stddev_ms'))}) over {number(d.get('calls'))} calls, "
            f"{number(d.get('production_rows_per_call'))} rows/call, "
            f"hit ratio {_percent(d.get('production_hit_ratio'))}")
    if d.get("staging_ms") is None:
        return prod
    return (f"{prod}; staging: {number(d.get('staging_ms'))} ms median of {number(d.get('runs'))} runs, "
            f"{number(d.get('staging_rows_per_call'))} rows/call, hit ratio {_percent(d.get('staging_hit_ratio'))}; "
            f"ratio {number(d.get('ratio'))}, {number(d.get('time_factor'))}x off the median")


def _percent(value: Any) -> str:
    return "-" if value is None else f"{float(value):.0%}"


def query_time_section(checks: list[dict], status: str = "") -> str:
    """Production's top queries replayed on staging: the dot plot around the median ratio, then every query
    (outliers first, each with both plans)."""
    found = [c for c in checks if c.get("check") == qt.CHECK and c.get("statistic") == qt.SUMMARY]
    if not found:
        return f'<section><h2>Query time</h2><p class="muted">{_not_reached(status)}</p></section>'
    summary = found[0]
    queries = [d for d in summary.get("details") or [] if isinstance(d, dict)]
    median = summary.get("staging")
    blocks = []
    for d in queries:
        v = str(d.get("verdict"))
        cls = v if v in ("pass", "warn", "error") else "error" if v == "failed" else "skipped"
        reason = f'<p class="explain">{esc(d.get("reason"))}</p>' if d.get("reason") else ""
        trees = ""
        if v in ("warn", "error"):
            plans = {**d, "production_plan": d.get("production_plan") or ["(not planned on production)"]}
            trees = _plan_trees(plans)
        blocks.append(f'<details class="query {cls}"{" open" if trees else ""}><summary><span class="badge {cls}">'
                      f'{esc(v)}</span> <code>{esc(d.get("fingerprint"))}</code> <span class="sql-short">'
                      f'{esc(" ".join(str(d.get("sql", "")).split())[:140])}</span></summary>{_full_sql(d)}'
                      f'<p class="explain">{esc(_query_numbers(d))}</p>{reason}{trees}</details>')
    plot = query_time_chart.dot_plot_svg(queries, median, summary.get("threshold") or {}) if median else ""
    return (f'<section><h2>Query time {badge(summary.get("verdict"))}</h2><p>{esc(summary.get("explanation"))}; '
            f'threshold: {threshold_text(summary.get("threshold"))} (times off the median ratio, either way).</p>'
            f'<p class="muted">Each of production\'s top queries (pg_stat_statements) replayed on the copy with '
            f'values from staging\'s own data, in a read-only transaction that is rolled back; a dot is the query\'s '
            f'staging/production time ratio over the workload\'s median ratio (1 = like the rest).</p>'
            f'{plot}{"".join(blocks)}</section>')


def infrastructure_section(checks: list[dict], status: str = "") -> str:
    found = [c for c in checks if c.get("check") == "infrastructure"]
    if not found:
        return f'<section><h2>Infrastructure parity</h2><p class="muted">{_not_reached(status)}</p></section>'
    found.sort(key=lambda c: (SEVERITY.get(c.get("verdict"), 2), str(c.get("statistic"))))
    rows = "".join(
        f"<tr><td>{badge(c.get('verdict'))}</td><td>{esc(c.get('statistic'))}</td>"
        f"<td><code>{esc(c.get('production'))}</code></td><td><code>{esc(c.get('staging'))}</code></td>"
        f"<td>{esc(c.get('explanation'))}</td></tr>" for c in found)
    return ('<section><h2>Infrastructure parity</h2><table><thead><tr><th>verdict</th><th>item</th>'
            '<th>production</th><th>staging</th><th>explanation</th></tr></thead>'
            f'<tbody>{rows}</tbody></table></section>')


def _share_equal_plans(checks: list[dict] | None) -> float | None:
    for c in checks or []:
        if c.get("check") == "plans" and c.get("staging"):
            return float(c.get("production") or 0) / float(c["staging"])
    return None


def _changing_tables(points: list[tuple[str, dict, Any]], limit: int = 4) -> list[str]:
    """The tables whose row counts moved most across the points (then the largest)."""
    def movement(t: str) -> tuple[float, int]:
        counts = [tabs[t].get("rows", 0) for _, tabs, _ in points if t in tabs]
        return (max(counts) - min(counts)) / max(max(counts), 1), max(counts)

    names = {t for _, tabs, _ in points for t in tabs}
    return sorted(names, key=lambda t: tuple(-x for x in movement(t)))[:limit]


def _releases_text(n: int) -> str:
    return {0: "no release yet", 1: "the only release so far"}.get(n, f"the last {n} releases")


def trend_section(trend: list[dict], run: dict) -> str:
    points = [(f"#{r['id']}", r["tables"] or {}, r["checks"]) for r in trend]
    if run["run_id"] not in {r["run_id"] for r in trend} and run.get("tables"):
        points.append(("this run", run["tables"], run.get("checks")))
    if not points:
        return '<section><h2>Release trend</h2><p class="muted">no release yet</p></section>'
    rows = [(label, float(sum(t.get("rows", 0) for t in tables.values()))) for label, tables, _ in points]
    plans = [(label, _share_equal_plans(checks)) for label, _, checks in points]
    halted = points[-1][0] == "this run"
    charts = [line_chart_svg(rows, "rows copied (all tables)", last_halted=halted),
              line_chart_svg(plans, "share of workload queries with equal plans", "{:.0%}", ceiling=1.0,
                             last_halted=halted)]
    ratios = [(label, qt.median_ratio(checks or [])) for label, _, checks in points]
    if any(v is not None for _, v in ratios):
        charts.append(line_chart_svg(ratios, "median staging/production query-time ratio", "{:.2f}",
                                     floor_zero=False, last_halted=halted))
    charts += [line_chart_svg([(label, float(tabs[t]["rows"]) if t in tabs else None) for label, tabs, _ in points],
                              f"rows of {t}", last_halted=halted)
               for t in _changing_tables(points)]
    return (f'<section><h2>Release trend</h2><p class="muted">{_releases_text(len(trend))}, oldest left'
            f'{"; the last point is this run" if points[-1][0] == "this run" else ""}</p>'
            f'<div class="trends">{"".join(charts)}</div></section>')


# ---- the page ---------------------------------------------------------------------------------

CSS = """
:root { --pass:#15803d; --warn:#b45309; --error:#b91c1c; --skipped:#6b7280; --line:#e5e7eb; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color:#111827; margin:0;
       background:#f9fafb; }
main { max-width: 1200px; margin: 0 auto; padding: 16px 24px 48px; }
h1 { font-size: 18px; margin: 8px 0 12px; color:#374151; font-weight:600; }
h2 { font-size: 17px; margin: 0 0 10px; }
section { background:#fff; border:1px solid var(--line); border-radius:8px; padding:14px 16px; margin:14px 0; }
.verdict { border-radius:8px; padding:14px 18px; color:#fff; }
.verdict .big { font-size:26px; font-weight:700; text-transform:uppercase; letter-spacing:.03em; }
.verdict.pass { background:var(--pass); } .verdict.warn { background:var(--warn); }
.verdict.error { background:var(--error); } .verdict.skipped { background:var(--skipped); }
.run-error { background:#fef2f2; border:1px solid #fecaca; padding:8px 12px; border-radius:6px; }
.facts { display:grid; grid-template-columns:repeat(auto-fit, minmax(170px, 1fr)); gap:10px; }
.fact { border-left:4px solid var(--line); padding:2px 10px; }
.fact.warn { border-color:var(--warn); } .fact.error { border-color:var(--error); }
.fact .label { color:#6b7280; font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
.fact .value { font-size:18px; font-weight:600; } .fact .note { color:#6b7280; font-size:12px; }
table { border-collapse:collapse; width:100%; }
th, td { text-align:left; padding:5px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
th { font-size:12px; color:#6b7280; font-weight:600; white-space:nowrap; }
td.num { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
td.differs { color:var(--error); font-weight:700; }
td code { font-size:12px; word-break:break-all; }
.badge { display:inline-block; padding:0 7px; border-radius:9px; font-size:11px; font-weight:700; color:#fff;
         text-transform:uppercase; white-space:nowrap; background:var(--skipped); }
.badge.pass { background:var(--pass); } .badge.warn { background:var(--warn); }
.badge.error { background:var(--error); }
.chk { margin-right:10px; white-space:nowrap; font-size:12px; }
.count { background:#e5e7eb; border-radius:9px; padding:0 8px; font-size:13px; }
.muted { color:#6b7280; } .small { font-size:11px; } .ok { color:var(--pass); font-weight:600; }
.cards { display:grid; grid-template-columns:repeat(auto-fill, minmax(520px, 1fr)); gap:12px; }
.card { border:1px solid var(--line); border-left:5px solid var(--pass); border-radius:6px; padding:8px 10px; }
.card.warn { border-left-color:var(--warn); } .card.error { border-left-color:var(--error); }
.card.skipped { border-left-color:var(--skipped); }
.card-body { display:flex; gap:12px; align-items:flex-start; }
.card dl { display:grid; grid-template-columns:auto 1fr; gap:2px 8px; margin:0; font-size:12px; min-width:180px; }
.card dt { color:#6b7280; } .card dd { margin:0; font-variant-numeric:tabular-nums; word-break:break-word; }
.explain { color:#374151; font-size:12px; margin:6px 0 0; }
svg.plot { font: 10px system-ui, sans-serif; fill:#374151; background:#fff; }
svg.plot text.small { font-size:9px; }
details.query { border:1px solid var(--line); border-left:5px solid var(--pass); border-radius:6px;
                margin:6px 0; padding:4px 10px; }
details.query.warn { border-left-color:var(--warn); } details.query.error { border-left-color:var(--error); }
details.query.skipped { border-left-color:var(--skipped); }
summary { cursor:pointer; } .sql-short { font-family:ui-monospace, monospace; font-size:12px; color:#374151; }
pre { font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, monospace; white-space:pre-wrap; margin:6px 0; }
pre.sql { background:#f3f4f6; padding:6px 8px; border-radius:4px; }
.plans-side { display:grid; grid-template-columns:minmax(0, 1fr) minmax(0, 1fr); gap:10px; margin:6px 0; }
.plan-title { font-weight:600; font-size:12px; color:#6b7280; }
.tree { font: 12px/1.5 ui-monospace, SFMono-Regular, Menlo, monospace; background:#f9fafb;
        border:1px solid var(--line); border-radius:4px; padding:4px 0; }
.pl { padding:1px 8px; overflow-wrap:anywhere; } .pl .k { color:#6b7280; font-size:11px; }
.pl.hl { background:#fee2e2; color:#7f1d1d; } .pl.hl .k { color:#991b1b; }
.trends { display:flex; flex-wrap:wrap; gap:14px; }
details.passing > summary { margin:8px 0; font-weight:600; }
figure.trend { margin:0; } figcaption { font-size:12px; color:#374151; font-weight:600; max-width:360px; }
figcaption .change { font-weight:400; color:#6b7280; }
footer { color:#6b7280; font-size:12px; margin-top:18px; }
"""


def render(run: dict, trend: list[dict], live: dict | None, cfg: Any = None, now: datetime | None = None) -> str:
    """The whole report page for one run."""
    now = now or datetime.now(UTC)
    checks = [c for c in run.get("checks") or [] if isinstance(c, dict)]
    body = "".join([
        header_section(run, checks, live, now, cfg),
        attention_section(checks),
        checks_section(checks, cfg),
        tables_section(run, checks),
        distributions_section(checks, run["status"] == "released"),
        plans_section(checks, run["status"]),
        query_time_section(checks, run["status"]),
        infrastructure_section(checks, run["status"]),
        trend_section(trend, run),
    ])
    title = f"prodlike parity report: run {run['run_id']}"
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{esc(title)}</title><link rel="icon" href="data:,"><style>{CSS}</style></head>'
            f'<body><main><h1>{esc(title)}</h1>{body}'
            f'<footer>Generated {now:%Y-%m-%d %H:%M:%S} UTC by prodlike from staging\'s control schema '
            f'(statistics, plan shapes and the workload\'s own text; no production rows).</footer>'
            f'</main></body></html>\n')


def safe_file_name(run_id: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in run_id)[:120] or "run"


def write_report(target_dsn: str, run_id: str | None, out_dir: Path, cfg: Any = None) -> Path:
    """Write out_dir/<run_id>.html (run_id None: the newest run) and out_dir/latest.html; returns the first."""
    run, trend, live = read(target_dsn, run_id)
    page = render(run, trend, live, cfg)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{safe_file_name(run['run_id'])}.html"
    path.write_text(page, encoding="utf-8")
    (out_dir / "latest.html").write_text(page, encoding="utf-8")
    return path


def reports_dir(cfg: Any, config_dir: Path | None = None) -> Path:
    """Where reports go: <state_dir>/reports."""
    return cfg.state_path(config_dir) / "reports"

"""The parity report: one self-contained HTML page (inline CSS and SVG, no script, no network) per run."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from prodlike.pipelines.engine import control
from prodlike.pipelines.postgres import connections
from prodlike.pipelines.report import query_time as query_time_chart
from prodlike.validators import query_time as qt

TREND_RELEASES = 12
SEVERITY = {"error": 0, "warn": 1, "skipped": 2, "pass": 3}
PROD_COLOR, STAGE_COLOR = "#2563eb", "#f97316"
# run-level checks; every other check with a table is the table's
RUN_CHECKS = ("infrastructure", "plans", "query_time")


class ReportError(RuntimeError):
    """The report cannot be written (no such run, no control schema)."""


# ---- reading the control schema ---------------------------------------------------------------

def _rows(conn: psycopg.Connection, sql: str, params: tuple = ()) -> list[dict]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(sql, params).fetchall()


def load_run(conn: psycopg.Connection, run_id: str | None) -> dict:
    """The run's row (run_id None: the newest run)."""
    if control.current_version(conn) == 0:
        raise ReportError("staging has no prodlike control schema yet: run `prodlike refresh` first")
    if run_id:
        run = control.get_run(conn, run_id)
        if run is None:
            raise ReportError(f"no run {run_id!r} in staging's prodlike.runs; `prodlike history` lists releases")
        return run
    rows = _rows(conn, "SELECT * FROM prodlike.runs ORDER BY started_at DESC LIMIT 1")
    if not rows:
        raise ReportError("no refresh has run against this staging database yet: run `prodlike refresh` first")
    return rows[0]


def load_trend(conn: psycopg.Connection, limit: int = TREND_RELEASES) -> list[dict]:
    """The last releases (oldest first) with their run's check results."""
    rows = _rows(conn, "SELECT r.id, r.run_id, r.released_at, r.snapshot_time, r.tables, u.checks "
                       "FROM prodlike.releases r LEFT JOIN prodlike.runs u USING (run_id) "
                       "WHERE r.kind = 'release' ORDER BY r.id DESC LIMIT %s", (limit,))
    return rows[::-1]


def freshness_windows(cfg: Any) -> tuple[timedelta | None, timedelta | None]:
    """(warn_after, error_after) of the config's freshness block, when the config has one."""
    block = getattr(cfg, "freshness", None)
    if block is None:
        return None, None
    return getattr(block, "warn_after", None), getattr(block, "error_after", None)


# ---- formatting helpers -----------------------------------------------------------------------

def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def human_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.1f} s"


def number(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return esc("-" if value is None else value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4g}"
    return esc(value)


def badge(verdict: str) -> str:
    v = str(verdict or "skipped")
    return f'<span class="badge {esc(v)}">{esc(v)}</span>'


def worst(verdicts: list[str]) -> str:
    return min(verdicts, key=lambda v: SEVERITY.get(v, 2)) if verdicts else "pass"


def threshold_text(threshold: dict | None) -> str:
    t = threshold or {}
    parts = [f"{k} &gt; {number(t[k])}" for k in ("warn", "error") if t.get(k) is not None]
    return ", ".join(parts) or "per item"


# ---- SVG plots --------------------------------------------------------------------------------

def _label(value: Any) -> str:
    text = str(value)
    if len(text) >= 10 and text[4:5] == "-" and text[7:8] == "-":
        return text[:10]  # an ISO date or timestamp: the day is enough on an axis
    try:
        return f"{float(text):.4g}"
    except ValueError:
        return text[:12]


def _legend(x: float, y: float) -> str:
    return (f'<rect x="{x}" y="{y - 8}" width="10" height="10" fill="{PROD_COLOR}" fill-opacity=".45"/>'
            f'<text x="{x + 14}" y="{y + 1}">production</text>'
            f'<rect x="{x + 90}" y="{y - 8}" width="10" height="10" fill="none" stroke="{STAGE_COLOR}" '
            f'stroke-width="2"/><text x="{x + 104}" y="{y + 1}">staging</text>')


def histogram_svg(edges: list, production: list[float], staging: list[float], title: str = "",
                  width: int = 320, height: int = 150) -> str:
    """Production as filled bars, staging as an outlined step line over them, on one scale."""
    n = min(len(production), len(staging), max(len(edges) - 1, 0))
    if n == 0:
        return '<p class="muted">no bins</p>'
    left, right, top, bottom = 8, 8, 18, 22
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([*production[:n], *staging[:n], 1e-9])
    bar_w = plot_w / n
    parts = [f'<svg class="plot" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
             f'aria-label="{esc(title or "histogram")}">', _legend(left, 11)]
    for i in range(n):
        h = production[i] / peak * plot_h
        parts.append(f'<rect x="{left + i * bar_w:.1f}" y="{top + plot_h - h:.1f}" width="{max(bar_w - 1, 0.5):.1f}" '
                     f'height="{h:.1f}" fill="{PROD_COLOR}" fill-opacity=".45"/>')
    points = []
    for i in range(n):
        y = top + plot_h - staging[i] / peak * plot_h
        points += [f"{left + i * bar_w:.1f},{y:.1f}", f"{left + (i + 1) * bar_w:.1f},{y:.1f}"]
    parts.append(f'<polyline points="{" ".join(points)}" fill="none" stroke="{STAGE_COLOR}" stroke-width="2"/>')
    base = top + plot_h
    parts.append(f'<line x1="{left}" y1="{base}" x2="{width - right}" y2="{base}" stroke="#9ca3af"/>')
    parts.append(f'<text x="{left}" y="{height - 6}">{esc(_label(edges[0]))}</text>')
    parts.append(f'<text x="{width - right}" y="{height - 6}" text-anchor="end">{esc(_label(edges[n]))}</text>')
    if n >= 4:
        parts.append(f'<text x="{left + plot_w / 2}" y="{height - 6}" text-anchor="middle">'
                     f'{esc(_label(edges[n // 2]))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def categories_svg(labels: list, production: list[float], staging: list[float], title: str = "",
                   width: int = 320) -> str:
    """Top-K categories as pairs of horizontal bars (production filled, staging outlined)."""
    k = min(len(labels), len(production), len(staging))
    if k == 0:
        return '<p class="muted">no categories</p>'
    label_w, row_h, top = 96, 18, 18
    bar_max = width - label_w - 48
    peak = max([*production[:k], *staging[:k], 1e-9])
    height = top + k * row_h + 4
    parts = [f'<svg class="plot" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
             f'aria-label="{esc(title or "categories")}">', _legend(label_w, 11)]
    for i in range(k):
        y = top + i * row_h
        label = str(labels[i])
        short = label if len(label) <= 14 else label[:13] + "\u2026"
        parts.append(f'<text x="{label_w - 4}" y="{y + 12}" text-anchor="end"><title>{esc(label)}</title>'
                     f'{esc(short)}</text>')
        pw, sw = production[i] / peak * bar_max, staging[i] / peak * bar_max
        parts.append(f'<rect x="{label_w}" y="{y + 2}" width="{pw:.1f}" height="7" fill="{PROD_COLOR}" '
                     f'fill-opacity=".45"/>')
        parts.append(f'<rect x="{label_w}" y="{y + 9}" width="{sw:.1f}" height="7" fill="none" '
                     f'stroke="{STAGE_COLOR}" stroke-width="1.5"/>')
        parts.append(f'<text x="{label_w + max(pw, sw) + 4:.1f}" y="{y + 13}" class="small">'
                     f'{production[i]:.0%}/{staging[i]:.0%}</text>')
    parts.append("</svg>")
    return "".join(parts)


def null_fraction_svg(prod: float, stage: float, width: int = 320) -> str:
    """Two horizontal bars: the share of NULLs in production and in staging."""
    bar_max = width - 150
    rows = [("NULL production", prod, f'fill="{PROD_COLOR}" fill-opacity=".45"'),
            ("NULL staging", stage, f'fill="none" stroke="{STAGE_COLOR}" stroke-width="1.5"')]
    parts = [f'<svg class="plot" viewBox="0 0 {width} 40" width="{width}" height="40" role="img" '
             f'aria-label="null fraction">']
    for i, (label, value, style) in enumerate(rows):
        y = 4 + i * 18
        parts.append(f'<text x="96" y="{y + 11}" text-anchor="end">{label}</text>')
        parts.append(f'<rect x="100" y="{y + 2}" width="{max(value * bar_max, 0.5):.1f}" height="11" {style}/>')
        parts.append(f'<text x="{104 + value * bar_max:.1f}" y="{y + 12}" class="small">{value:.1%}</text>')
    parts.append("</svg>")
    return "".join(parts)


def distribution_svg(plot: dict, title: str = "") -> str:
    """The plot dict of a distribution check, drawn; an unknown kind is named, not guessed."""
    kind = plot.get("plot")
    prod, stage = list(plot.get("production") or []), list(plot.get("staging") or [])
    if kind == "histogram":
        return histogram_svg(list(plot.get("edges") or []), prod, stage, title)
    if kind == "categories":
        return categories_svg(list(plot.get("labels") or []), prod, stage, title)
    if kind == "lengths":
        svg = histogram_svg(list(plot.get("edges") or []), prod, stage, title)
        nulls = plot.get("null_fraction") or []
        if len(nulls) == 2:
            svg += null_fraction_svg(float(nulls[0] or 0), float(nulls[1] or 0))
        return '<div class="muted small">value lengths (characters)</div>' + svg
    return f'<p class="muted">no plot of kind {esc(kind)}</p>'


def line_chart_svg(points: list[tuple[str, float | None]], title: str, fmt: str = "{:,.0f}",
                   width: int = 360, height: int = 140, floor_zero: bool = True, ceiling: float | None = None,
                   last_halted: bool = False) -> str:
    """A small line chart of one number across releases (x: release labels, oldest left)."""
    values = [v for _, v in points if v is not None]
    head = f'<figure class="trend"><figcaption>{esc(title)}</figcaption>'
    if not values:
        return head + '<p class="muted">no data yet</p></figure>'
    left, right, top, bottom = 56, 12, 10, 22
    plot_w, plot_h = width - left - right, height - top - bottom
    low, high = (0 if floor_zero else min(values)), (ceiling if ceiling is not None else max(values))
    if high == low:  # a constant: a flat line in the middle, not on the axis
        low, high = low - max(abs(low) * 0.05, 1), high + max(abs(high) * 0.05, 1)
    span = (high - low) or max(abs(high), 1)
    step = plot_w / max(len(points) - 1, 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        x = left + plot_w / 2 if len(points) == 1 else left + i * step
        return x, top + plot_h - (v - low) / span * plot_h

    parts = [f'<svg class="plot" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
             f'aria-label="{esc(title)}">',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" stroke="#9ca3af"/>',
             f'<text x="{left - 4}" y="{top + 8}" text-anchor="end">{esc(fmt.format(high))}</text>',
             f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end">{esc(fmt.format(low))}</text>']
    line = [xy(i, v) for i, (_, v) in enumerate(points) if v is not None]
    parts.append('<polyline points="' + " ".join(f"{x:.1f},{y:.1f}" for x, y in line)
                 + f'" fill="none" stroke="{PROD_COLOR}" stroke-width="2"/>')
    for (x, y), (label, v) in zip(line, [p for p in points if p[1] is not None]):
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{PROD_COLOR}"><title>{esc(label)}: '
                     f'{esc(fmt.format(v))}</title></circle>')
    if len(points) == 1:
        parts.append(f'<text x="{left + plot_w / 2}" y="{height - 6}" text-anchor="middle">{esc(points[0][0])}</text>')
    else:
        parts.append(f'<text x="{left}" y="{height - 6}">{esc(points[0][0])}</text>')
        parts.append(f'<text x="{width - right}" y="{height - 6}" text-anchor="end">{esc(points[-1][0])}</text>')
    last_x, last_y = line[-1]
    if last_halted and points[-1][1] is not None:
        parts.append(f'<circle cx="{last_x:.1f}" cy="{last_y:.1f}" r="5" fill="#fff" stroke="#b91c1c" '
                     f'stroke-width="2"><title>this run (not released)</title></circle>')
    parts.append(f'<text x="{min(last_x + 5, width - right):.1f}" y="{max(last_y - 6, 9):.1f}" text-anchor="end" '
                 f'class="small">{esc(fmt.format(values[-1]))}</text>')
    parts.append("</svg></figure>")
    return head + "".join(parts)


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
    counts = {v: sum(c.get("verdict") == v for c in checks) for v in SEVERITY}
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
                         "until on-call runs `prodlike resume --note TEXT` (add `--accept CHECK:TABLE` when "
                         "production really changed) or `prodlike rollback` (README: On call)",
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


def _table_verdicts(checks: list[dict], table: str) -> dict[str, str]:
    out: dict[str, list[str]] = {}
    for c in checks:
        if c.get("table") == table and c.get("check") not in RUN_CHECKS:
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
    order = {"error": 0, "different-shape": 1, "different-index": 2, "skipped": 3, "identical": 4}
    queries.sort(key=lambda d: order.get(d.get("verdict"), 3))
    blocks = []
    for d in queries:
        v = d.get("verdict", "")
        cls = {"identical": "pass", "different-index": "warn", "different-shape": "error",
               "error": "error"}.get(v, "skipped")
        reason = f'<p class="explain">{esc(d.get("reason"))}</p>' if d.get("reason") else ""
        trees = _plan_trees(d) if v not in ("identical", "skipped") else ""
        opened = " open" if trees else ""
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
    charts = [line_chart_svg(rows, "rows copied (all tables)", floor_zero=False, last_halted=halted),
              line_chart_svg(plans, "share of workload queries with equal plans", "{:.0%}", ceiling=1.0,
                             last_halted=halted)]
    ratios = [(label, qt.median_ratio(checks or [])) for label, _, checks in points]
    if any(v is not None for _, v in ratios):
        charts.append(line_chart_svg(ratios, "median staging/production query-time ratio", "{:.2f}",
                                     floor_zero=False, last_halted=halted))
    charts += [line_chart_svg([(label, float(tabs[t]["rows"]) if t in tabs else None) for label, tabs, _ in points],
                              f"rows of {t}", floor_zero=False, last_halted=halted)
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
figure.trend { margin:0; } figcaption { font-size:12px; color:#374151; font-weight:600; }
footer { color:#6b7280; font-size:12px; margin-top:18px; }
"""


def render(run: dict, trend: list[dict], live: dict | None, cfg: Any = None, now: datetime | None = None) -> str:
    """The whole report page for one run."""
    now = now or datetime.now(UTC)
    checks = [c for c in run.get("checks") or [] if isinstance(c, dict)]
    body = "".join([
        header_section(run, checks, live, now, cfg),
        attention_section(checks),
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
    with connections.staging(target_dsn) as conn:
        run = load_run(conn, run_id)
        trend = load_trend(conn)
        live = control.live_release(conn)
    page = render(run, trend, live, cfg)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{safe_file_name(run['run_id'])}.html"
    path.write_text(page, encoding="utf-8")
    (out_dir / "latest.html").write_text(page, encoding="utf-8")
    return path


def reports_dir(cfg: Any, config_dir: Path | None = None) -> Path:
    """Where reports go: <state_dir>/reports."""
    return cfg.state_path(config_dir) / "reports"

"""The query-time section's dot plot: each replayed query's staging/production time ratio, divided by the
workload's median ratio, on a log axis (one row per query, outliers first; inline SVG)."""

from __future__ import annotations

import html
import math

COLORS = {"pass": "#15803d", "warn": "#b45309", "error": "#b91c1c"}
SPAN = 10.0  # the axis runs from SPAN times faster to SPAN times slower than the median; beyond, at the edge


def _esc(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def relative(d: dict, median: float) -> float | None:
    """A query's ratio divided by the workload's median ratio (above 1: slower on staging than the rest)."""
    r = d.get("ratio")
    return None if r is None or not median else float(r) / median


def _x(value: float, left: float, width: float) -> float:
    clamped = min(max(value, 1 / SPAN), SPAN)
    return left + (math.log10(clamped) + math.log10(SPAN)) / (2 * math.log10(SPAN)) * width


def _guides(levels: dict, left: float, plot_w: float, top: float, bottom: float) -> list[str]:
    out = []
    for name, dash in (("warn", "4 3"), ("error", "2 2")):
        level = levels.get(name)
        if level is None or level <= 1:
            continue
        for v in (level, 1 / level):
            x = _x(v, left, plot_w)
            out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}" stroke="{COLORS[name]}" '
                       f'stroke-dasharray="{dash}"><title>{name} at {level:g}x off the median</title></line>')
    return out


def dot_plot_svg(details: list[dict], median: float | None, levels: dict, width: int = 760) -> str:
    """One row per timed query (in the given order): its label, and a dot at its ratio over the median."""
    rows = [(d, v) for d in details if median and (v := relative(d, median)) is not None]
    if not rows:
        return '<p class="muted">no query was timed on staging</p>'
    label_w, right, top, row_h = 300, 40, 26, 18
    plot_w = width - label_w - right
    height = top + row_h * len(rows) + 8
    parts = [f'<svg class="plot" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
             f'aria-label="query time ratio over the median, per query">']
    for tick in (1 / SPAN, 1 / 3, 1, 3, SPAN):
        x = _x(tick, label_w, plot_w)
        text = "median" if tick == 1 else (f"{tick:g}x slower" if tick > 1 else f"{1 / tick:g}x faster")
        parts.append(f'<text x="{x:.1f}" y="12" text-anchor="middle">{text}</text>')
        parts.append(f'<line x1="{x:.1f}" y1="16" x2="{x:.1f}" y2="{height - 4}" stroke="#e5e7eb"/>')
    x1 = _x(1, label_w, plot_w)
    parts.append(f'<line x1="{x1:.1f}" y1="16" x2="{x1:.1f}" y2="{height - 4}" stroke="#374151"/>')
    parts += _guides(levels, label_w, plot_w, 16, height - 4)
    for i, (d, v) in enumerate(rows):
        y = top + i * row_h + row_h / 2
        sql = " ".join(str(d.get("sql", "")).split())
        short = sql if len(sql) <= 38 else sql[:37] + "\u2026"
        parts.append(f'<text x="{label_w - 8}" y="{y + 4:.1f}" text-anchor="end"><title>{_esc(sql)}</title>'
                     f'{_esc(d.get("fingerprint", "")[:8])} {_esc(short)}</text>')
        color = COLORS.get(d.get("verdict"), "#6b7280")
        x = _x(v, label_w, plot_w)
        parts.append(f'<line x1="{x1:.1f}" y1="{y:.1f}" x2="{x:.1f}" y2="{y:.1f}" stroke="{color}" '
                     f'stroke-opacity=".35" stroke-width="2"/>')
        edge = " (beyond the axis)" if v > SPAN or v < 1 / SPAN else ""
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{color}"><title>{v:.2f}x the median ratio'
                     f'{edge}: {d.get("staging_ms")} ms on staging, {d.get("production_mean_ms")} ms on production'
                     f'</title></circle>')
    parts.append("</svg>")
    return "".join(parts)

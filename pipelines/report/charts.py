"""The report's drawings and number formats: inline SVG histograms, category bars, null fractions and trend lines
(no script, no network)."""

from __future__ import annotations

import html
from typing import Any

PROD_COLOR, STAGE_COLOR = "#2563eb", "#f97316"


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
    """A small line chart of one number across releases (x: release labels, oldest left); the caption states the
    last change in numbers, so a 3% dip on a zoomed axis is read as 3%, not as a cliff."""
    values = [v for _, v in points if v is not None]
    head = f'<figure class="trend"><figcaption>{esc(title)}{_change_text(values, fmt)}</figcaption>'
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

def _change_text(values: list[float], fmt: str) -> str:
    """' (200,000 -> 194,400, -2.8%)': the last two values and the relative change."""
    if len(values) < 2:
        return ""
    before, after = values[-2], values[-1]
    relative = f", {(after - before) / before:+.1%}" if before else ""
    return (f' <span class="change">({esc(fmt.format(before))} \u2192 {esc(fmt.format(after))}'
            f'{relative})</span>')

